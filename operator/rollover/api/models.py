"""The DistrictRollover API (rostering.k12.dev/v1alpha1): the one source of truth.

The CRD's OpenAPI schema (`rollover.api.crd`), the editor JSON Schema (`rollover schema`) and the
reference docs are generated from these models; tests check that the committed copies agree.
Field names are camelCase on the wire (aliases) and snake_case in Python.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, StringConstraints
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

DISTRICT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
SCHOOL_YEAR_PATTERN = r"^[0-9]{4}-[0-9]{4}$"
CONDITION_REASON_PATTERN = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
PRODUCT_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
COUNTRY_PATTERN = r"^[A-Z]{2,3}$"
SUBDIVISION_PATTERN = r"^[A-Z0-9]{1,3}$"
NON_BLANK_PATTERN = r"\S"  # at least one non-whitespace character (search semantics everywhere)
#: Kubernetes object names (DNS-1123 subdomain) and namespaces (DNS-1123 label).
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
NAMESPACE_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
LABEL_KEY_MAX = 317  # optional 253-char DNS prefix, '/', 63-char name
LABEL_KEY_PREFIX_MAX = 253
LABEL_NAME_MAX = 63  # a label key's name part, and a label value
#: A Kubernetes label key (qualified name): an optional DNS-1123 subdomain prefix and '/', then a name of
#: 1-63 characters. The prefix's own limit (253) is a separate rule: a regular expression cannot count it.
LABEL_KEY_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$"
)
LABEL_VALUE_PATTERN = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
#: An email address as a district contact writes one: local@domain, a dotted domain, no spaces,
#: no display name, no angle brackets (nothing that could add a header or a second recipient).
EMAIL_PATTERN = (
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)+$"
)
#: The name of a webhook channel of the operator configuration (a DNS-1123 label).
CHANNEL_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
_DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _wire_date(value: Any) -> Any:
    """A date as the apiserver takes one (`format: date`): a YYYY-MM-DD string, or a date a YAML loader
    already parsed. Never a date-time or a number, which pydantic's lax mode would turn into a date."""
    if isinstance(value, dt.datetime):
        raise PydanticCustomError("date_type", "Input should be a date, not a date-time")
    if isinstance(value, dt.date) or (isinstance(value, str) and _DATE_TEXT.fullmatch(value)):
        return value  # pydantic parses the text, refusing e.g. February 30
    raise PydanticCustomError("date_type", "Input should be a date YYYY-MM-DD")


#: A spec date: typed strictly, like the CRD's `format: date` (the status keeps pydantic's dates).
SpecDate = Annotated[dt.date, BeforeValidator(_wire_date)]
LabelKey = Annotated[
    str, StringConstraints(min_length=1, max_length=LABEL_KEY_MAX, pattern=LABEL_KEY_PATTERN)
]
LabelValue = Annotated[str, StringConstraints(max_length=LABEL_NAME_MAX, pattern=LABEL_VALUE_PATTERN)]


class _Model(BaseModel):
    """Base: camelCase on the wire, unknown fields rejected, immutable values."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


# --- spec -------------------------------------------------------------------------------------


class SelectorOperator(StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class LabelSelectorRequirement(_Model):
    """One matchExpressions entry of a Kubernetes label selector."""

    key: LabelKey = Field(description="The label key the requirement applies to.")
    operator: SelectorOperator = Field(description="How the key relates to the values.")
    values: list[LabelValue] = Field(
        default_factory=list,
        max_length=64,
        description="Values for In and NotIn (at least one); empty for Exists and DoesNotExist.",
    )


class LabelSelector(_Model):
    """Selects the district's roster-sync CronJobs and CSV-import Deployments in the namespace.
    At least one of matchLabels and matchExpressions is required: an empty selector selects nothing."""

    match_labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict, max_length=32, description="Labels an object must have, all of them."
    )
    match_expressions: list[LabelSelectorRequirement] = Field(
        default_factory=list,
        max_length=32,
        description="Label requirements an object must meet, all of them.",
    )


class CalendarSpec(_Model):
    """Which days are business days for this district."""

    country: Annotated[str, StringConstraints(pattern=COUNTRY_PATTERN)] = Field(
        default="US", description="Country code of the `holidays` package (ISO 3166-1 alpha-2)."
    )
    subdivision: Annotated[str, StringConstraints(pattern=SUBDIVISION_PATTERN)] | None = Field(
        default=None, description="State/territory code of the `holidays` package, e.g. IL, AZ, GU."
    )
    closures: list[SpecDate] = Field(
        default_factory=list, max_length=366, description="District closure days; not business days."
    )


class PauseSpec(_Model):
    """When roster sync pauses relative to the reset date."""

    business_days_before: StrictInt = Field(
        default=1, ge=1, le=10, description="Business days before resetDate that roster sync pauses."
    )


class ExceptionSpec(_Model):
    """A CSM-approved exception to the June 1 - October 1 reset window."""

    approved_by: Annotated[
        str, StringConstraints(min_length=1, max_length=128, pattern=NON_BLANK_PATTERN)
    ] = Field(description="Who approved it, e.g. csm:jane.doe.")
    reason: Annotated[str, StringConstraints(min_length=1, max_length=1024, pattern=NON_BLANK_PATTERN)] = (
        Field(description="Why the district needs a date outside the rules.")
    )


class NotifySpec(_Model):
    """Who hears about the rollover: district contacts by email, and webhook channels by name. A
    channel's URL lives in the operator configuration, never here."""

    emails: list[Annotated[str, StringConstraints(max_length=254, pattern=EMAIL_PATTERN)]] = Field(
        default_factory=list,
        max_length=20,
        description="District contacts who get every notice by email.",
        json_schema_extra={"uniqueItems": True},
    )
    channels: list[Annotated[str, StringConstraints(max_length=63, pattern=CHANNEL_PATTERN)]] = Field(
        default_factory=list,
        max_length=8,
        description="Webhook channels (names from the operator configuration) that get every notice.",
        json_schema_extra={"uniqueItems": True},
    )


#: A readiness item's name: lower-case words joined by hyphens, like a product.
READINESS_ITEM_PATTERN = PRODUCT_PATTERN


class ReadinessAcknowledgement(_Model):
    """A district team member's word that one readiness item is done (reviewed in the pull request)."""

    item: Annotated[str, StringConstraints(max_length=63, pattern=READINESS_ITEM_PATTERN)] = Field(
        description="The item acknowledged, one of readiness.items."
    )
    by: Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=NON_BLANK_PATTERN)] = Field(
        description="Who acknowledged it, e.g. registrar@district.example.org."
    )
    at: SpecDate = Field(description="The day it was acknowledged.")


class ReadinessSpec(_Model):
    """What the district must finish before its freeze, and who said each is done."""

    items: list[Annotated[str, StringConstraints(max_length=63, pattern=READINESS_ITEM_PATTERN)]] | None = (
        Field(
            default=None,
            max_length=32,
            description="The items to finish before the pause; default: grades-finalized, "
            "reports-exported, summer-school-imported, id-plan-confirmed. An empty list requires none.",
            json_schema_extra={"uniqueItems": True},
        )
    )
    acknowledged: list[ReadinessAcknowledgement] = Field(
        default_factory=list, max_length=64, description="One entry per finished item."
    )


class LegalHoldSpec(_Model):
    """A legal hold: while set, nothing of the district's data is deleted (no reset, no purge)."""

    by: Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=NON_BLANK_PATTERN)] = Field(
        description="Who placed the hold, e.g. counsel:jane.doe."
    )
    reason: Annotated[str, StringConstraints(min_length=1, max_length=1024, pattern=NON_BLANK_PATTERN)] = (
        Field(description="Why, e.g. the litigation or records request it preserves data for.")
    )


class DistrictRolloverSpec(_Model):
    """What a platform engineer declares for one district's yearly rollover."""

    district_id: Annotated[str, StringConstraints(max_length=63, pattern=DISTRICT_ID_PATTERN)] = Field(
        description="The district's ID in the SIS / rostering provider. Immutable."
    )
    display_name: Annotated[str, StringConstraints(max_length=256)] | None = Field(
        default=None, description="Human-readable district name."
    )
    school_year: Annotated[str, StringConstraints(max_length=9, pattern=SCHOOL_YEAR_PATTERN)] = Field(
        description="The school year being closed, YYYY-YYYY (consecutive years)."
    )
    reset_date: SpecDate = Field(description="The day last year's data is archived and reset.")
    time_zone: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="IANA time zone of the district; dates are midnights in this zone."
    )
    # `default: {}` in the schemas lets the apiserver apply the nested defaults (country, businessDaysBefore).
    calendar: CalendarSpec = Field(
        default_factory=CalendarSpec,
        description="Holidays and closures that make a day a non-business day.",
        json_schema_extra={"default": {}},
    )
    school_year_end: SpecDate | None = Field(default=None, description="Last day of the school year.")
    summer_school_end: SpecDate | None = Field(default=None, description="Last day of summer school.")
    pause: PauseSpec = Field(
        default_factory=PauseSpec,
        description="When roster sync pauses before resetDate.",
        json_schema_extra={"default": {}},
    )
    products: list[Annotated[str, StringConstraints(pattern=PRODUCT_PATTERN)]] = Field(
        min_length=1,
        max_length=16,
        description="Products rolled over, from the product catalog; each at most once.",
        json_schema_extra={"uniqueItems": True},
    )
    sync_selector: LabelSelector = Field(
        description="Selects the roster-sync CronJobs and CSV-import Deployments in this namespace."
    )
    exception: ExceptionSpec | None = Field(
        default=None, description="CSM-approved exception to the reset window and school-year rule."
    )
    readiness: ReadinessSpec = Field(
        default_factory=ReadinessSpec,
        description="The district's checklist before its freeze, each item acknowledged in YAML.",
        json_schema_extra={"default": {}},
    )
    suspend: StrictBool = Field(default=False, description="CSM kill switch: no further action while true.")
    notify: NotifySpec | None = Field(
        default=None, description="Notices to the district before, during and after the rollover."
    )
    legal_hold: LegalHoldSpec | None = Field(
        default=None,
        description="While set, no reset and no purge runs (docs/retention.md). A cycle whose reset had not "
        "started when the hold came resumes roster sync and never resets later.",
    )
    retention_days: StrictInt | None = Field(
        default=None,
        ge=1,
        le=36500,
        description="Days after resetDate the archive is kept before it is purged; default and bounds "
        "from the operator configuration (archives.retentionDays, min/maxRetentionDays).",
    )

    def school_year_bounds(self) -> tuple[int, int]:
        """The two calendar years of `schoolYear`."""
        first, second = self.school_year.split("-")
        return int(first), int(second)


# --- status -----------------------------------------------------------------------------------


class Phase(StrEnum):
    """Where a rollover is, for humans and printer columns."""

    PENDING = "Pending"  # not yet observed, or the spec is invalid
    SCHEDULED = "Scheduled"
    PAUSED = "Paused"
    ARCHIVING = "Archiving"
    RESETTING = "Resetting"
    RESUMING = "Resuming"
    COMPLETED = "Completed"
    FAILED = "Failed"


class ConditionType(StrEnum):
    READY = "Ready"
    RECONCILING = "Reconciling"
    STALLED = "Stalled"
    SPEC_VALID = "SpecValid"
    SYNC_PAUSED = "SyncPaused"
    ARCHIVED = "Archived"
    DATA_RESET = "DataReset"
    SUSPENDED = "Suspended"
    NOTIFICATIONS_DELIVERED = "NotificationsDelivered"
    READINESS_ACKNOWLEDGED = "ReadinessAcknowledged"
    PREFLIGHT_PASSED = "PreflightPassed"
    CERTIFIED = "Certified"
    LEGAL_HOLD = "LegalHold"


ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(_Model):
    """A metav1.Condition."""

    type: Annotated[str, StringConstraints(max_length=316)]
    status: ConditionStatus
    reason: Annotated[str, StringConstraints(min_length=1, max_length=1024, pattern=CONDITION_REASON_PATTERN)]
    message: Annotated[str, StringConstraints(max_length=32768)] = ""
    last_transition_time: dt.datetime
    observed_generation: int | None = Field(default=None, ge=0)


class SyncTargetKind(StrEnum):
    CRON_JOB = "CronJob"
    DEPLOYMENT = "Deployment"


class SyncTargetState(StrEnum):
    PAUSED = "Paused"
    RESTORED = "Restored"
    #: Carries an original-state annotation naming this rollover that the operator did not write: never
    #: restored by us (recorded so the warning is said once).
    IGNORED = "Ignored"


class SyncTarget(_Model):
    """A roster-sync object we paused, with the state to restore it to (the trusted copy: the target's
    own annotation can be written by anyone who can write the target)."""

    kind: SyncTargetKind
    name: str
    uid: str | None = Field(
        default=None,
        description="metadata.uid when paused: that object is restored, never one recreated with its name.",
    )
    original_suspend: bool | None = Field(default=None, description="CronJob: spec.suspend before the pause.")
    original_replicas: int | None = Field(default=None, description="Deployment: replicas before the pause.")
    state: SyncTargetState = SyncTargetState.PAUSED
    paused_at: dt.datetime | None = None


class Step(StrEnum):
    #: Read-only checks and the preview, business days before the pause.
    PREFLIGHT = "preflight"
    ARCHIVE = "archive"
    RESET = "reset"
    #: One per cycle (all products): the signed certificate of deletion, after every reset.
    CERTIFY = "certify"
    #: One per cycle, when its retention expired: deletes the archives, signs the purge certificate.
    PURGE = "purge"


class JobState(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class JobRecord(_Model):
    """One preflight, archive or reset Job of this cycle."""

    name: str
    step: Step
    product: str
    attempt: int = Field(default=0, ge=0)
    state: JobState = JobState.PENDING
    started_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    message: str = ""
    result: dict[str, Any] | None = Field(default=None, description="The Job's JSON termination message.")


class NoticeRecord(_Model):
    """One notice delivered on one channel (recorded before the next is sent; never sent again)."""

    id: str = Field(description="The notice's stable id (the email Message-ID, the CloudEvent id).")
    channel: str = Field(description="`email`, or `webhook:` and the channel's name.")
    sent_at: dt.datetime


class PreviewTable(_Model):
    """What the rollover will do to one table of the roster store, as counted by the preflight."""

    table: Annotated[str, StringConstraints(max_length=128)]
    archive: int = Field(ge=0, description="Rows the archive step will export.")
    delete: int = Field(ge=0, description="Rows the reset step will delete (all of them archived first).")
    keep: int = Field(ge=0, description="Archived rows the reset keeps.")


class ProductPreview(_Model):
    """One product's preview, from its last successful preflight Job."""

    product: str
    checked_at: dt.datetime | None = Field(default=None, description="When that preflight Job finished.")
    tables: list[PreviewTable] = Field(default_factory=list, max_length=64)


class CertificateLink(_Model):
    """Where a signed certificate is, as its Job reported it (`rollover verify-certificate` checks it)."""

    location: Annotated[str, StringConstraints(max_length=2048)]
    sha256: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, description="SHA-256 of the certificate file, as the Job wrote it."
    )


class HistoryEntry(_Model):
    """One finished cycle, and its archive's retention until it is purged."""

    school_year: str
    reset_date: dt.date
    pause_at: dt.datetime
    reset_at: dt.datetime
    completed_at: dt.datetime
    #: Held: a legal hold came before the reset, which was skipped for good (syncs resumed).
    outcome: Literal["Completed", "Failed", "Held"]
    jobs: list[JobRecord] = Field(default_factory=list)
    certificate: CertificateLink | None = Field(default=None, description="The certificate of deletion.")
    retention_until: dt.date | None = Field(
        default=None, description="The archive is kept through this day, then purged (unless on hold)."
    )
    purge_at: dt.datetime | None = Field(default=None, description="When the purge Job is due.")
    purge: JobRecord | None = Field(default=None, description="The latest purge Job of the cycle.")
    purge_certificate: CertificateLink | None = Field(
        default=None, description="The purge certificate: the archive destroyed."
    )


class DistrictRolloverStatus(_Model):
    """What the operator reports. Written only by the operator (status subresource)."""

    phase: Phase = Field(default=Phase.PENDING, description="Where the rollover is.")
    school_year: str | None = Field(default=None, description="The cycle these fields describe.")
    reset_date: dt.date | None = Field(
        default=None, description="The reset date accepted for this cycle (validated when it was chosen)."
    )
    pause_date: dt.date | None = Field(default=None, description="The day roster sync pauses.")
    pause_at: dt.datetime | None = Field(
        default=None, description="When roster sync pauses: pauseDate 00:00."
    )
    reset_at: dt.datetime | None = Field(default=None, description="When archive and reset start.")
    next_transition_at: dt.datetime | None = Field(default=None, description="When the operator acts next.")
    observed_generation: int | None = Field(
        default=None, description="The spec generation this status is for."
    )
    retry_token: str | None = Field(default=None, description="Last rostering.k12.dev/retry value acted on.")
    exception_approved_by: str | None = Field(
        default=None,
        description="Who approved the spec.exception this cycle runs under (admission lets only the "
        "configured approvers set it).",
    )
    legal_hold_by: str | None = Field(
        default=None,
        description="Who placed the spec.legalHold in force (admission lets only the configured approvers "
        "set or lift it); cleared when it is lifted.",
    )
    conditions: list[Condition] = Field(default_factory=list, description="Ready, SpecValid, Stalled, ...")
    sync_targets: list[SyncTarget] = Field(
        default_factory=list, description="Roster-sync objects paused this cycle."
    )
    jobs: list[JobRecord] = Field(
        default_factory=list, description="Preflight, archive and reset Jobs of this cycle."
    )
    preview: list[ProductPreview] = Field(
        default_factory=list,
        description="Per product and table, the rows the rollover will archive, delete and keep "
        "(from the preflight).",
    )
    certificate: CertificateLink | None = Field(
        default=None, description="This cycle's certificate of deletion (once Completed)."
    )
    reset_skipped_by: str | None = Field(
        default=None,
        description="The legal hold this cycle's reset was skipped for (recorded before roster sync "
        "resumes; the cycle is never reset later).",
    )
    history: list[HistoryEntry] = Field(default_factory=list, description="Finished cycles.")
    notices: list[NoticeRecord] = Field(
        default_factory=list, description="Notices delivered, in order (the current and the last cycle)."
    )

    def condition(self, type_: ConditionType | str) -> Condition | None:
        """The condition of that type, if set."""
        return next((c for c in self.conditions if c.type == type_), None)


def parse_spec(raw: dict[str, Any]) -> DistrictRolloverSpec:
    """Parse a spec from its wire form (camelCase)."""
    return DistrictRolloverSpec.model_validate(raw)


def parse_status(raw: dict[str, Any] | None) -> DistrictRolloverStatus:
    """Parse a status from its wire form; a missing status is the empty status."""
    return DistrictRolloverStatus.model_validate(raw or {})


def dump(model: BaseModel) -> dict[str, Any]:
    """A model's wire form: camelCase, JSON-compatible, no unset optionals."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)
