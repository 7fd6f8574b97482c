"""Every reason the operator writes: condition reasons and Event reasons, as types.

The planner is the only code that picks them; the kubectl plugin explains each (a test compares the
sets), and the runbook documents them. Validation rules have reasons of their own (`RuleCode`, the
codes of their `Finding`s, such as `ResetDateOnHoliday`), which a SpecValid=False condition carries.
"""

from __future__ import annotations

from enum import StrEnum

from rollover.api.models import Phase


class Reason(StrEnum):
    """The reason of a status condition."""

    ACCEPTED = "Accepted"
    SPEC_INVALID = "SpecInvalid"
    LOCKED_AFTER_ARCHIVE_STARTED = "LockedAfterArchiveStarted"
    NOT_SUSPENDED = "NotSuspended"
    SUSPENDED_BY_SPEC = "SuspendedBySpec"
    SUSPENDED = "Suspended"
    WAITING_FOR_PAUSE_DATE = "WaitingForPauseDate"
    NOT_YET_PAUSED = "NotYetPaused"
    PAUSING = "Pausing"
    PAUSED = "Paused"
    WAITING_FOR_RESET_DATE = "WaitingForResetDate"
    WAITING_FOR_SYNC_DRAIN = "WaitingForSyncDrain"
    SYNC_DRAIN_TIMEOUT = "SyncDrainTimeout"
    ARCHIVING = "Archiving"
    ARCHIVE_SUCCEEDED = "ArchiveSucceeded"
    ARCHIVE_FAILED = "ArchiveFailed"
    RESETTING = "Resetting"
    RESET_SUCCEEDED = "ResetSucceeded"
    RESET_FAILED = "ResetFailed"
    RESUMING = "Resuming"
    RESUMED = "Resumed"
    ROLLOVER_COMPLETED = "RolloverCompleted"
    WAITING_FOR_RESET_JOBS = "WaitingForResetJobs"
    RESTORING_ON_DELETE = "RestoringOnDelete"
    # Trust boundaries: what another tenant's objects cannot make us do.
    DISTRICT_NOT_OWNED = "DistrictNotOwned"
    DISTRICT_CLAIMED = "DistrictClaimed"
    JOB_NAME_TAKEN = "JobNameTaken"
    CLAIMING = "Claiming"
    # Notices (condition NotificationsDelivered): never part of the rollover's own progress.
    NOTIFICATIONS_DELIVERED = "NotificationsDelivered"
    NOTIFICATION_FAILED = "NotificationFailed"
    NOTIFY_CHANNEL_UNKNOWN = "NotifyChannelUnknown"
    # The district's readiness checklist and the preflight (docs/preflight.md).
    ALL_ITEMS_ACKNOWLEDGED = "AllItemsAcknowledged"
    READINESS_ITEMS_OPEN = "ReadinessItemsOpen"
    ARCHIVE_WAITS_FOR_READINESS = "ArchiveWaitsForReadiness"
    PREFLIGHT_SCHEDULED = "PreflightScheduled"
    PREFLIGHT_RUNNING = "PreflightRunning"
    PREFLIGHT_SUCCEEDED = "PreflightSucceeded"
    PREFLIGHT_FAILED = "PreflightFailed"
    # Certificates, retention and legal hold (docs/retention.md).
    CERTIFYING = "Certifying"
    CERTIFIED = "Certified"
    CERTIFY_FAILED = "CertifyFailed"
    RETENTION_OUT_OF_BOUNDS = "RetentionOutOfBounds"
    LEGAL_HOLD_SET = "LegalHoldSet"
    LEGAL_HOLD_RELEASED = "LegalHoldReleased"
    RESET_SKIPPED_FOR_LEGAL_HOLD = "ResetSkippedForLegalHold"


class EventReason(StrEnum):
    """The reason of a Kubernetes Event on a DistrictRollover."""

    DATE_ACCEPTED = "DateAccepted"
    SPEC_INVALID = "SpecInvalid"
    SCHEDULED = "Scheduled"
    PAUSE_RESCHEDULED = "PauseRescheduled"
    SYNC_PAUSED = "SyncPaused"
    TARGET_OWNED_ELSEWHERE = "TargetOwnedElsewhere"
    DRIFT_REPAIRED = "DriftRepaired"
    RETRY_REQUESTED = "RetryRequested"
    ARCHIVE_STARTED = "ArchiveStarted"
    RESET_STARTED = "ResetStarted"
    ARCHIVE_FAILED = "ArchiveFailed"
    RESET_FAILED = "ResetFailed"
    ROLLOVER_COMPLETED = "RolloverCompleted"
    DISTRICT_CLAIMED = "DistrictClaimed"
    JOB_NAME_TAKEN = "JobNameTaken"
    ORIGINAL_STATE_IGNORED = "OriginalStateIgnored"
    EXCEPTION_APPROVED = "ExceptionApproved"
    PREFLIGHT_STARTED = "PreflightStarted"
    PREFLIGHT_PASSED = "PreflightPassed"
    PREFLIGHT_FAILED = "PreflightFailed"
    ARCHIVE_WAITS_FOR_READINESS = "ArchiveWaitsForReadiness"
    CERTIFY_STARTED = "CertifyStarted"
    CERTIFY_FAILED = "CertifyFailed"
    PURGE_STARTED = "PurgeStarted"
    ARCHIVE_PURGED = "ArchivePurged"
    PURGE_FAILED = "PurgeFailed"
    LEGAL_HOLD_SET = "LegalHoldSet"
    LEGAL_HOLD_RELEASED = "LegalHoldReleased"
    RESET_SKIPPED_FOR_LEGAL_HOLD = "ResetSkippedForLegalHold"
    # The bare phase change, said only when nothing more telling was (one event per transition).
    PHASE_PENDING = "PhasePending"
    PHASE_SCHEDULED = "PhaseScheduled"
    PHASE_PAUSED = "PhasePaused"
    PHASE_ARCHIVING = "PhaseArchiving"
    PHASE_RESETTING = "PhaseResetting"
    PHASE_RESUMING = "PhaseResuming"
    PHASE_COMPLETED = "PhaseCompleted"
    PHASE_FAILED = "PhaseFailed"

    @classmethod
    def phase_change(cls, phase: Phase) -> EventReason:
        """The bare event for entering `phase`."""
        return cls(f"Phase{phase.value}")


class RuleCode(StrEnum):
    """The code of a broken validation rule (a `Finding`'s): the reason of SpecValid=False, and the
    title of `rollover lint`'s annotations."""

    # The document: kind, apiVersion and metadata.
    KIND_UNEXPECTED = "KindUnexpected"
    API_VERSION_UNSUPPORTED = "ApiVersionUnsupported"
    METADATA_MISSING = "MetadataMissing"
    NAME_MISSING = "NameMissing"
    NAME_INVALID = "NameInvalid"
    NAMESPACE_INVALID = "NamespaceInvalid"
    # A field as the models read it (pydantic_findings.py).
    FIELD_REQUIRED = "FieldRequired"
    FIELD_UNKNOWN = "FieldUnknown"
    FIELD_INVALID = "FieldInvalid"
    # The spec's rules.
    SCHOOL_YEAR_INVALID = "SchoolYearInvalid"
    PRODUCT_DUPLICATE = "ProductDuplicate"
    PRODUCT_UNKNOWN = "ProductUnknown"
    SELECTOR_MATCHES_BY_ABSENCE = "SelectorMatchesByAbsence"
    READINESS_ITEM_UNKNOWN = "ReadinessItemUnknown"
    READINESS_ITEM_ACKNOWLEDGED_TWICE = "ReadinessItemAcknowledgedTwice"
    READINESS_DUE = "ReadinessDue"
    # The dates and the calendar.
    RESET_DATE_ON_WEEKEND = "ResetDateOnWeekend"
    RESET_DATE_ON_HOLIDAY = "ResetDateOnHoliday"
    RESET_DATE_ON_CLOSURE = "ResetDateOnClosure"
    RESET_DATE_OUTSIDE_WINDOW = "ResetDateOutsideWindow"
    RESET_DATE_WRONG_YEAR = "ResetDateWrongYear"
    RESET_DATE_NOT_IN_FUTURE = "ResetDateNotInFuture"
    RESET_DATE_NOT_AFTER_SCHOOL_YEAR_END = "ResetDateNotAfterSchoolYearEnd"
    RESET_DATE_NOT_AFTER_SUMMER_SCHOOL_END = "ResetDateNotAfterSummerSchoolEnd"
    PAUSE_BEFORE_SUMMER_SCHOOL_END = "PauseBeforeSummerSchoolEnd"
    PAUSE_ALREADY_STARTED = "PauseAlreadyStarted"
    TIME_ZONE_UNKNOWN = "TimeZoneUnknown"
    COUNTRY_UNKNOWN = "CountryUnknown"
    SUBDIVISION_UNKNOWN = "SubdivisionUnknown"
    # Across documents (rollover lint).
    DISTRICT_ID_DUPLICATE = "DistrictIdDuplicate"
    DISTRICT_DATES_DIVERGE = "DistrictDatesDiverge"
