"""What `kubectl rollover` tells a CSM each phase and condition reason means, and what to do."""

from __future__ import annotations

from rollover.api.models import Condition, ConditionType, Phase
from rollover.reasons import Reason

RUNBOOK = "https://github.com/k12-dev/district-rollover/blob/main/docs/runbook.md"

#: What each phase means to a CSM.
PHASES: dict[Phase, str] = {
    Phase.PENDING: "not planned yet: the operator has not seen it, or the spec is invalid",
    Phase.SCHEDULED: "waiting for the pause date; roster sync runs as usual",
    Phase.PAUSED: "roster sync is paused; archive and reset start at the reset time",
    Phase.ARCHIVING: "archive Jobs are copying last year's data; nothing is deleted yet",
    Phase.RESETTING: "every archive succeeded; reset Jobs are deleting last year's data",
    Phase.RESUMING: "data reset; roster sync is being restored exactly as it was",
    Phase.COMPLETED: "the school year is rolled over and roster sync runs again",
    Phase.FAILED: "a Job failed; nothing more happens and roster sync stays paused until a retry",
}

#: Condition reasons in plain language: what it means, and what to do (if anything), one entry per
#: `Reason` in its order (a test compares the sets). docs/runbook.md says more about each.
REASONS: dict[Reason, str] = {
    Reason.ACCEPTED: "The spec passed every rule; its dates are accepted for this school year.",
    Reason.SPEC_INVALID: "The spec breaks a rule, so nothing changes in the cluster. Fix the YAML in git "
    "(`rollover lint` shows where).",
    Reason.LOCKED_AFTER_ARCHIVE_STARTED: "resetDate, schoolYear or products were edited after archiving "
    "started; the operator keeps the accepted values. Revert the edit in git.",
    Reason.NOT_SUSPENDED: "spec.suspend is false: the operator acts on its schedule.",
    Reason.SUSPENDED_BY_SPEC: "spec.suspend is true: the operator does nothing for this district. Set it "
    "back to false to continue.",
    Reason.SUSPENDED: "spec.suspend is true: the operator does nothing for this district. Set it back to "
    "false to continue.",
    Reason.WAITING_FOR_PAUSE_DATE: "Waiting for the pause date. Nothing to do.",
    Reason.NOT_YET_PAUSED: "Roster sync has not been paused yet. Nothing to do.",
    Reason.PAUSING: "Suspending the district's roster-sync CronJobs and scaling its CSV imports to 0; this "
    "takes seconds. If it lasts, check the operator is running.",
    Reason.PAUSED: "Every roster-sync CronJob and CSV import of the district is paused.",
    Reason.WAITING_FOR_RESET_DATE: "Roster sync is paused and archiving starts at the reset time. "
    "Nothing to do.",
    Reason.WAITING_FOR_SYNC_DRAIN: "A roster-sync Job that started before the pause is still running; "
    "archiving waits for it to finish. Usually nothing to do.",
    Reason.SYNC_DRAIN_TIMEOUT: "A roster-sync Job kept running past the drain timeout, so archiving has not "
    "started. Find out why that Job hangs, and delete it once it is safe: archiving then starts.",
    Reason.ARCHIVING: "Archive Jobs are running; nothing is deleted until every one succeeds.",
    Reason.ARCHIVE_SUCCEEDED: "Every product's archive Job succeeded.",
    Reason.ARCHIVE_FAILED: "An archive Job failed; nothing was deleted and roster sync stays paused. "
    "Read the Job's message, fix the cause, then run `kubectl rollover retry NAME`.",
    Reason.RESETTING: "Reset Jobs are deleting last year's data, after re-checking the archive.",
    Reason.RESET_SUCCEEDED: "Every product's reset Job succeeded.",
    Reason.RESET_FAILED: "A reset Job failed; its transaction rolled back, so nothing of that product was "
    "deleted, and roster sync stays paused. Read the Job's message, fix the cause, then run "
    "`kubectl rollover retry NAME`.",
    Reason.RESUMING: "Restoring roster sync to exactly the state it was in before the pause.",
    Reason.RESUMED: "Roster sync is restored for the new school year.",
    Reason.ROLLOVER_COMPLETED: "The school year is archived and reset, and roster sync runs again.",
    Reason.WAITING_FOR_RESET_JOBS: "The rollover is being deleted; deletion waits for running reset Jobs.",
    Reason.RESTORING_ON_DELETE: "The rollover is being deleted; roster sync is restored first.",
    Reason.DISTRICT_NOT_OWNED: "This namespace may not roll over this district: its Namespace's annotation "
    "rostering.k12.dev/districts does not list the districtId. Nothing is touched. The platform team adds "
    "the "
    "district to the annotation, or fix districtId.",
    Reason.DISTRICT_CLAIMED: "Another DistrictRollover (see the message) already holds this district and "
    "product for the school year; only the first proceeds. Remove the overlapping products or delete the "
    "other rollover.",
    Reason.JOB_NAME_TAKEN: "A Job with this rollover's Job name exists but is not owned by it, so it never "
    "counts. Find out who made it, delete it, and the operator creates its own.",
    Reason.CLAIMING: "Taking the district's claim for this school year before anything is paused.",
    Reason.NOTIFICATIONS_DELIVERED: "Every notice due so far reached every channel in spec.notify.",
    Reason.NOTIFICATION_FAILED: "A notice could not be delivered; it is retried with backoff. The rollover "
    "itself goes on regardless. Check the mail relay or the webhook receiver named in the message.",
    Reason.NOTIFY_CHANNEL_UNKNOWN: "spec.notify names a webhook channel the operator configuration does not "
    "define; notices to the other channels still go out. Fix the name, or ask the platform team to add it.",
    Reason.ALL_ITEMS_ACKNOWLEDGED: "The district acknowledged every readiness item in spec.readiness.",
    Reason.READINESS_ITEMS_OPEN: "Some readiness items (in the message) are not acknowledged yet. Ask the "
    "district to finish them and add `{item, by, at}` to spec.readiness.acknowledged in git.",
    Reason.ARCHIVE_WAITS_FOR_READINESS: "Roster sync is paused, but archiving waits: this operator archives "
    "only once every readiness item is acknowledged. Get the district's acknowledgements into "
    "spec.readiness.acknowledged; archiving starts as soon as the edit is applied.",
    Reason.PREFLIGHT_SCHEDULED: "The preflight (read-only checks and the preview) runs on the date in the "
    "message. Nothing to do.",
    Reason.PREFLIGHT_RUNNING: "Preflight Jobs are checking the roster store and the archive destination.",
    Reason.PREFLIGHT_SUCCEEDED: "Every check passed; status.preview shows what will be archived, deleted "
    "and kept.",
    Reason.PREFLIGHT_FAILED: "A preflight check failed (see the message): the rollover would fail the same "
    "way on reset day. Fix the cause; the preflight runs again each business day until the pause.",
    Reason.CERTIFYING: "Roster sync has resumed; the certify Job is signing the certificate of deletion.",
    Reason.CERTIFIED: "The certificate of deletion is written and linked in status.certificate; the "
    "message says until when the archive is kept.",
    Reason.CERTIFY_FAILED: "The certify Job failed (see the message; often the signing-key Secret). "
    "Roster sync has resumed and the data is already reset. Fix the cause, then run "
    "`kubectl rollover retry NAME`.",
    Reason.RETENTION_OUT_OF_BOUNDS: "spec.retentionDays is outside the operator's bounds (in the message). "
    "Fix the YAML in git.",
    Reason.LEGAL_HOLD_SET: "spec.legalHold is set: no reset and no purge runs. Roster sync still resumes. "
    "Remove it in git once counsel releases the hold.",
    Reason.LEGAL_HOLD_RELEASED: "The legal hold was removed; purges due run again.",
    Reason.RESET_SKIPPED_FOR_LEGAL_HOLD: "A legal hold came before the reset: the data was archived, not "
    "deleted, and roster sync resumed. This cycle is never reset later (the new year's data is in the "
    "tables by then).",
}
#: Reasons of SpecValid=False other than the above are validation rules (`RuleCode`: ResetDateOnHoliday, ...).
SPEC_RULE = "The spec breaks this rule, so nothing changes in the cluster. Fix the YAML in git."


def meaning(condition: Condition) -> str | None:
    """What the condition's reason means, or None for a reason we do not know."""
    if condition.reason in Reason.__members__.values():
        return REASONS.get(Reason(condition.reason))
    # The other reasons of SpecValid=False are validation rules' codes.
    return SPEC_RULE if condition.type == ConditionType.SPEC_VALID else None
