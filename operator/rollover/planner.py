"""The rollover state machine: `plan(rollover, observed, now)` decides what to do, and nothing else.

Pure: no clock, no I/O. Given the spec, the last status, what is observed in the cluster and `now`,
it returns the actions to apply (idempotently), the status to write, and when to wake up next.
Every path — the operator, `rollover plan`, the accelerated demo clock, the tests — goes through it,
and because it is a function of state rather than of event history, any restart converges.

The safety rules live here, in one place:
- nothing is reset unless every archive Job of the cycle succeeded;
- a sync target is only ever restored to the state recorded when *we* paused it;
- an invalid spec freezes the rollover where it is (no new actions) until it is fixed;
- once archiving started, resetDate, schoolYear and products are locked to the accepted values;
- neither the preflight nor the readiness checklist ever holds up the pause;
- the certificate of deletion is written only after every reset Job of the cycle succeeded;
- a legal hold blocks every deletion: a reset not yet started when it comes is skipped for good (roster
  sync resumes, so a later reset could delete the new year's data), and no purge runs while it is set;
- an archive is purged only once its retention date, fixed when the cycle completed, has passed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError

from rollover.api.models import (
    CertificateLink,
    ConditionStatus,
    ConditionType,
    DistrictRolloverSpec,
    DistrictRolloverStatus,
    HistoryEntry,
    JobRecord,
    JobState,
    Phase,
    PreviewTable,
    ProductPreview,
    Step,
    SyncTarget,
    SyncTargetKind,
    SyncTargetState,
)
from rollover.calendar import (
    BusinessCalendar,
    Schedule,
    compute_schedule,
    next_business_day_start,
    preflight_window,
    purge_not_before,
    start_of_day,
    time_zone,
)
from rollover.claims import Holder
from rollover.conditions import merge_conditions
from rollover.findings import Finding
from rollover.labels import DISTRICTS_ANNOTATION
from rollover.notice_text import local
from rollover.notices import (
    ChannelScopes,
    Delivery,
    deliveries,
    due_notices,
    kept_records,
    next_notice_at,
    unknown_channels,
)
from rollover.observed import Observed, ObservedJob, ObservedTarget, OriginalState
from rollover.readiness import open_items
from rollover.reasons import EventReason, Reason, RuleCode
from rollover.validation import name_findings, validate_document, validate_spec

JOB_NAME_MAX = 63
_IN_FLIGHT = (JobState.PENDING, JobState.RUNNING)
_HOLDS_FINALIZER = frozenset({Phase.PAUSED, Phase.ARCHIVING, Phase.RESETTING, Phase.RESUMING, Phase.FAILED})
_STARTED = {
    Step.PREFLIGHT: (EventReason.PREFLIGHT_STARTED, "They check the store and the archive; nothing changes."),
    Step.ARCHIVE: (
        EventReason.ARCHIVE_STARTED,
        "Student data is reset only after every archive Job succeeds.",
    ),
    Step.RESET: (EventReason.RESET_STARTED, "Roster sync resumes when every reset Job succeeds."),
    Step.CERTIFY: (EventReason.CERTIFY_STARTED, "It signs the certificate of deletion; nothing changes."),
    Step.PURGE: (EventReason.PURGE_STARTED, "It deletes the archive and signs the purge certificate."),
}
_PREVIEW_TABLES: TypeAdapter[list[PreviewTable]] = TypeAdapter(list[PreviewTable])  # untrusted input
#: How much of a failed preflight's error goes into the condition, per product.
_ERROR_SHOWN = 400
#: The longest certificate location taken from a Job's result into status.
_LOCATION_MAX = 2048
_FAILED = {
    Step.ARCHIVE: (Reason.ARCHIVE_FAILED, EventReason.ARCHIVE_FAILED),
    Step.RESET: (Reason.RESET_FAILED, EventReason.RESET_FAILED),
    Step.CERTIFY: (Reason.CERTIFY_FAILED, EventReason.CERTIFY_FAILED),
}
#: The steps that run for the whole cycle (one Job, all products), not per product.
_CYCLE_STEPS = (Step.CERTIFY, Step.PURGE)
#: A failed purge Job is run again this long after it failed.
PURGE_RETRY = dt.timedelta(days=1)
#: Finished cycles kept in status.history (plus any whose archive is not yet purged).
HISTORY_KEPT = 10


# --- inputs and outputs -----------------------------------------------------------------------


@dataclass(frozen=True)
class Rollover:
    """The DistrictRollover as the planner sees it."""

    namespace: str
    name: str
    generation: int
    spec: dict[str, Any]  # raw, camelCase: parsing is part of planning (a bad spec is a state)
    status: DistrictRolloverStatus
    uid: str = ""  # metadata.uid: which incarnation holds the district's claim


@dataclass(frozen=True)
class Settings:
    """Operator configuration that shapes decisions."""

    drain_timeout: dt.timedelta = dt.timedelta(hours=6)
    drain_poll: dt.timedelta = dt.timedelta(seconds=30)
    #: The webhook channels of the operator configuration and who may name them; None when unknown
    #: (a local preview).
    notice_channels: ChannelScopes | None = None
    #: The preflight starts this many business days before the pause; None: no preflight.
    preflight_business_days: int | None = 5
    #: Unacknowledged readiness items hold the archive (never the pause).
    readiness_blocks_archive: bool = False
    #: A signing key is configured: each cycle ends with a certify Job, and expired archives are purged.
    certify: bool = False
    #: Days after the reset date archives are kept, and the bounds of spec.retentionDays.
    retention_days: int = 365
    min_retention_days: int = 30
    max_retention_days: int = 7 * 365


@dataclass(frozen=True)
class PauseTarget:
    """Suspend a CronJob / scale a Deployment to 0, writing `original` in the same PATCH."""

    kind: SyncTargetKind
    name: str
    original: OriginalState


@dataclass(frozen=True)
class RepairTarget:
    """Re-pause a target that drifted (its original-state annotation is already there)."""

    kind: SyncTargetKind
    name: str


@dataclass(frozen=True)
class RestoreTarget:
    """Put a target back exactly as recorded and drop the annotation, in one PATCH."""

    kind: SyncTargetKind
    name: str
    original: OriginalState


@dataclass(frozen=True)
class CreateJob:
    """Create (or adopt, on AlreadyExists) one Job of a step."""

    name: str
    step: Step
    product: str  # "" for the certify and purge Jobs, which cover `products`
    attempt: int
    school_year: str
    reset_date: dt.date
    products: tuple[str, ...] = ()
    retention_until: dt.date | None = None  # certify: the date the certificate promises


@dataclass(frozen=True)
class EmitEvent:
    """A Kubernetes Event on the rollover."""

    type: Literal["Normal", "Warning"]
    reason: EventReason
    message: str


@dataclass(frozen=True)
class ClaimDistrict:
    """Write the district's claim for a school year with these holders (create it when `version`
    is None, else change it only if it is still at `version`)."""

    district_id: str
    school_year: str
    holders: Mapping[str, Holder]
    version: str | None


Action = PauseTarget | RepairTarget | RestoreTarget | CreateJob | EmitEvent | ClaimDistrict


@dataclass(frozen=True)
class Plan:
    """The planner's answer."""

    status: DistrictRolloverStatus
    actions: tuple[Action, ...] = ()
    wake_at: dt.datetime | None = None
    #: Whether our finalizer must be on the rollover: only while there is something to undo or
    #: wait for on deletion (paused targets, Jobs in flight). Scheduled and Completed rollovers
    #: carry none, so they cost no extra write and delete instantly.
    hold_finalizer: bool = False
    release_finalizer: bool = False
    #: Notices owed to the district, in order; the notifier delivers the first (off this path).
    deliveries: tuple[Delivery, ...] = ()


# --- names --------------------------------------------------------------------------------------


def job_name(rollover: str, school_year: str, step: Step, product: str, attempt: int) -> str:
    """Deterministic Job name, at most 63 characters (a hash keeps truncated names unique)."""
    full = f"{rollover}-{school_year}-{step.value}" + (f"-{product}" if product else "")
    full += f"-r{attempt}" if attempt else ""
    if len(full) <= JOB_NAME_MAX:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:10]
    return f"{full[: JOB_NAME_MAX - len(digest) - 1].rstrip('-.')}-{digest}"


# --- the state machine --------------------------------------------------------------------------


@dataclass
class _Draft:
    """The status under construction plus what this pass decided."""

    rollover: Rollover
    now: dt.datetime
    status: DistrictRolloverStatus
    actions: list[Action] = field(default_factory=list)
    conditions: list[tuple[ConditionType, ConditionStatus, str, str]] = field(default_factory=list)
    wake_at: dt.datetime | None = None

    def condition(
        self, type_: ConditionType, status: ConditionStatus, reason: Reason | RuleCode, message: str = ""
    ) -> None:
        """Set a condition; `reason` is a `Reason`, or a broken rule's code for SpecValid=False."""
        self.conditions.append((type_, status, reason, message))

    def event(self, type_: Literal["Normal", "Warning"], reason: EventReason, message: str) -> None:
        self.actions.append(EmitEvent(type_, reason, message))

    def finish(self, phase: Phase, *, release_finalizer: bool = False) -> Plan:
        status = self.status.model_copy(
            update={
                "phase": phase,
                "observed_generation": self.rollover.generation,
                "next_transition_at": self.wake_at if phase in (Phase.SCHEDULED, Phase.PAUSED) else None,
                "conditions": merge_conditions(
                    self.status.conditions, self.conditions, now=self.now, generation=self.rollover.generation
                ),
            }
        )
        old_phase = self.rollover.status.phase
        said = any(isinstance(a, EmitEvent) and a.type == "Normal" for a in self.actions)
        if phase != old_phase and phase is not Phase.PENDING and not said:
            # One event per transition: a specific one (SyncPaused, ArchiveStarted...) says it better.
            self.event("Normal", EventReason.phase_change(phase), f"{old_phase.value} -> {phase.value}")
        hold = phase in _HOLDS_FINALIZER or any(
            isinstance(a, PauseTarget | RepairTarget | RestoreTarget) for a in self.actions
        )
        return Plan(
            status, tuple(self.actions), self.wake_at, hold and not release_finalizer, release_finalizer
        )


def plan(rollover: Rollover, observed: Observed, now: dt.datetime, settings: Settings | None = None) -> Plan:
    """Decide the next actions for one rollover at time `now`, and the notices that are owed."""
    settings = settings or Settings()
    spec, findings = _parse(rollover, now)
    decided = _decide(rollover, spec, findings, observed, now, settings)
    return _with_notices(decided, rollover, spec, observed, now, settings)


def _decide(
    rollover: Rollover,
    spec: DistrictRolloverSpec | None,
    findings: list[Finding],
    observed: Observed,
    now: dt.datetime,
    settings: Settings,
) -> Plan:
    draft = _Draft(rollover, now, rollover.status)
    if observed.deleting:
        return _plan_deletion(draft, observed)
    if spec is None:
        return _frozen(draft, findings)
    if unusable := _errors(name_findings(rollover.name)):
        # Its Jobs could never be created (the name labels them), even in a cycle already under way.
        return _frozen(draft, [*unusable, *_errors(findings)])
    if not_owned := _not_owned(spec, observed):
        # Another namespace's district: nothing may be touched, not even in a cycle under way.
        return _frozen(draft, [not_owned])
    if spec.suspend:
        return _suspended(draft)

    findings = [*findings, *_retention_findings(spec, settings)]
    cycle = _cycle(draft, spec, observed, findings)
    if cycle is None:
        return _frozen(draft, findings)
    if claiming := _claim(draft, cycle, observed):
        return _with_retention(claiming, rollover.name, spec, observed, now)
    return _with_retention(_advance(draft, cycle, observed, settings), rollover.name, spec, observed, now)


def _with_notices(
    decided: Plan,
    rollover: Rollover,
    spec: DistrictRolloverSpec | None,
    observed: Observed,
    now: dt.datetime,
    settings: Settings,
) -> Plan:
    """Record what the notifier delivered, list the notices still owed, and wake up for PauseAhead.
    Decided after the rollover's own plan and never changing it: notices cannot hold it up. `spec`
    is the one `_decide` was given: None when the spec does not parse."""
    if not rollover.spec.get("notify") and not decided.status.notices and not observed.delivered:
        return decided  # the common case costs nothing more
    if spec is None:
        return decided
    status = decided.status
    recorded = [*status.notices, *(r for r in observed.delivered if r not in status.notices)]
    status = status.model_copy(update={"notices": kept_records(recorded, spec.school_year)})
    if spec.notify is None or observed.deleting:
        return replace(decided, status=status)
    channels = settings.notice_channels
    unknown = unknown_channels(spec, channels, rollover.namespace) if channels is not None else []
    unknown_names = {name for _, name in unknown}
    owed = [
        d
        for d in deliveries(due_notices(rollover.namespace, rollover.name, spec, status, now), spec, recorded)
        if d.channel.removeprefix("webhook:") not in unknown_names
    ]
    update: tuple[ConditionType, ConditionStatus, str, str] | None = None
    if unknown:
        named = "; ".join(
            f"{path}: no channel {name!r} for this namespace in the operator configuration"
            for path, name in unknown
        )
        update = (ConditionType.NOTIFICATIONS_DELIVERED, "False", Reason.NOTIFY_CHANNEL_UNKNOWN, named)
    elif observed.notice_error is not None:
        update = (
            ConditionType.NOTIFICATIONS_DELIVERED,
            "False",
            Reason.NOTIFICATION_FAILED,
            f"{observed.notice_error}; retrying with backoff ({len(owed)} delivery(ies) waiting)",
        )
    elif not owed:
        update = (
            ConditionType.NOTIFICATIONS_DELIVERED,
            "True",
            Reason.NOTIFICATIONS_DELIVERED,
            f"every notice due is delivered ({len(status.notices)} recorded)",
        )
    if update is not None:
        conditions = merge_conditions(status.conditions, [update], now=now, generation=rollover.generation)
        status = status.model_copy(update={"conditions": conditions})
    ahead = next_notice_at(spec, status, now)
    return replace(decided, status=status, deliveries=tuple(owed), wake_at=_earliest(decided.wake_at, ahead))


def _not_owned(spec: DistrictRolloverSpec, observed: Observed) -> Finding | None:
    allowed = observed.namespace_districts
    if allowed is None or spec.district_id in allowed:
        return None
    listed = ", ".join(sorted(allowed)) or "none"
    return Finding.error(
        "spec.districtId",
        Reason.DISTRICT_NOT_OWNED,
        f"district {spec.district_id!r} is not one this namespace may roll over (its annotation "
        f"{DISTRICTS_ANNOTATION} lists: {listed}); the platform team adds the district to that "
        "annotation on the Namespace",
    )


def _claim(draft: _Draft, cycle: _Cycle, observed: Observed) -> Plan | None:
    """Hold the district's claim for the cycle's products before acting; a Plan when that is all
    this pass may do (claiming, or refused because another rollover holds a product)."""
    view = observed.claims
    status = draft.status
    if view is None or (status.phase is Phase.COMPLETED and status.school_year == cycle.spec.school_year):
        return None
    rollover = draft.rollover
    me = Holder(rollover.namespace, rollover.name, rollover.uid)
    district, year = cycle.spec.district_id, cycle.spec.school_year
    holders = dict(view.claim.holders) if view.claim else {}
    live = {product: holder for product, holder in holders.items() if holder not in view.gone}
    taken = {
        product: holder for product, holder in live.items() if product in cycle.products and holder != me
    }
    if taken:
        rivals = "; ".join(
            f"{product} by DistrictRollover {holder}" for product, holder in sorted(taken.items())
        )
        message = (
            f"district {district} is already claimed for school year {year}: {rivals}. Only one rollover "
            "may archive and reset a district's product in a school year; remove the product here or "
            "delete the other rollover"
        )
        if _condition_reason(rollover.status, ConditionType.SPEC_VALID) != Reason.DISTRICT_CLAIMED:
            draft.event("Warning", EventReason.DISTRICT_CLAIMED, message)
        draft.condition(ConditionType.SPEC_VALID, "False", Reason.DISTRICT_CLAIMED, message)
        _mark_stalled(draft, Reason.DISTRICT_CLAIMED, message)
        return draft.finish(draft.status.phase if status.school_year else Phase.PENDING)
    # Exactly our products (an edit may have dropped one), beside the other holders' products.
    wanted = {p: h for p, h in live.items() if h != me} | {product: me for product in cycle.products}
    if wanted == holders:
        return None
    draft.actions.append(ClaimDistrict(district, year, wanted, view.version))
    # Nothing else this pass: no target may be paused before the claim is known to be ours.
    return _progressing(
        draft, draft.status.phase, Reason.CLAIMING, f"claiming district {district} for {year}"
    )


def _condition_reason(status: DistrictRolloverStatus, type_: ConditionType) -> str | None:
    condition = status.condition(type_)
    return condition.reason if condition is not None else None


@dataclass(frozen=True)
class _Cycle:
    """The values this cycle runs with: the spec's, or the locked ones once archiving started."""

    spec: DistrictRolloverSpec
    schedule: Schedule
    products: tuple[str, ...]
    locked: bool


def _parse(rollover: Rollover, now: dt.datetime) -> tuple[DistrictRolloverSpec | None, list[Finding]]:
    try:
        spec = DistrictRolloverSpec.model_validate(rollover.spec)
    except ValidationError:
        return None, [f for f in validate_document(_as_document(rollover), now) if f.severity == "error"]
    status = rollover.status
    chosen = (spec.school_year, spec.reset_date) != (status.school_year, status.reset_date)
    return spec, validate_spec(spec, now, date_chosen=chosen)


def _as_document(rollover: Rollover) -> dict[str, Any]:
    return {
        "apiVersion": "rostering.k12.dev/v1alpha1",
        "kind": "DistrictRollover",
        "metadata": {"name": rollover.name, "namespace": rollover.namespace},
        "spec": rollover.spec,
    }


def _errors(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "error"]


def _cycle(
    draft: _Draft, spec: DistrictRolloverSpec, observed: Observed, findings: list[Finding]
) -> _Cycle | None:
    """Accept the spec's dates, keep the locked ones, or (None) refuse an invalid spec."""
    status = draft.status
    archived = [
        j.product
        for j in (_merged_jobs(status, observed, status.school_year) if status.school_year else [])
        if j.step is Step.ARCHIVE
    ]
    new_year = status.phase is Phase.COMPLETED and spec.school_year != status.school_year
    if archived and not new_year:
        assert status.school_year is not None and status.reset_date is not None
        recorded = any(j.step is Step.ARCHIVE for j in status.jobs)
        # Archive Jobs in the cluster but none in status: a pass died between creating one and
        # recording them all. It was archiving every product of the spec, not only those it reached.
        locked_products = tuple(sorted(set(archived) | (set() if recorded else set(spec.products))))
        locked = spec.model_copy(update={"school_year": status.school_year, "reset_date": status.reset_date})
        changed = [
            name
            for name, ours, theirs in (
                ("resetDate", status.reset_date, spec.reset_date),
                ("schoolYear", status.school_year, spec.school_year),
                ("products", locked_products, tuple(sorted(spec.products))),
            )
            if ours != theirs
        ]
        if changed:
            draft.condition(
                ConditionType.SPEC_VALID,
                "False",
                Reason.LOCKED_AFTER_ARCHIVE_STARTED,
                f"spec.{', spec.'.join(changed)} changed after archiving started; keeping "
                f"resetDate={status.reset_date}, schoolYear={status.school_year}, "
                f"products={','.join(locked_products)}",
            )
        else:
            draft.condition(ConditionType.SPEC_VALID, "True", Reason.ACCEPTED, "")
        return _Cycle(
            locked, _locked_schedule(status) or compute_schedule(locked), locked_products, locked=True
        )

    errors = _errors(findings)
    if errors:
        return None
    if (
        new_year
        or status.school_year is None
        or (spec.school_year, spec.reset_date) != (status.school_year, status.reset_date)
    ):
        previous_year = status.school_year
        draft.status = status.model_copy(
            update={"school_year": spec.school_year, "reset_date": spec.reset_date}
            | (
                {
                    "jobs": [],
                    "preview": [],
                    "sync_targets": [],
                    "retry_token": None,
                    "phase": Phase.PENDING,
                    "certificate": None,
                    "reset_skipped_by": None,
                }
                if new_year
                else {}
            )
        )
        if previous_year is not None:
            draft.event(
                "Normal",
                EventReason.DATE_ACCEPTED,
                f"Reset date {spec.reset_date} accepted for school year {spec.school_year}",
            )
    _record_exception(draft, spec)
    warnings = [f for f in findings if f.severity == "warning"]
    draft.condition(
        ConditionType.SPEC_VALID,
        "True",
        Reason.ACCEPTED,
        "; ".join(f"{w.field}: {w.message}" for w in warnings),
    )
    return _Cycle(spec, compute_schedule(spec), tuple(spec.products), locked=False)


def _record_exception(draft: _Draft, spec: DistrictRolloverSpec) -> None:
    """Who approved the exception the accepted dates rely on: in status, and said once."""
    approved_by = spec.exception.approved_by if spec.exception else None
    if approved_by == draft.status.exception_approved_by:
        return
    draft.status = draft.status.model_copy(update={"exception_approved_by": approved_by})
    if spec.exception is not None:
        draft.event(
            "Normal",
            EventReason.EXCEPTION_APPROVED,
            f"Reset date {spec.reset_date} accepted under an exception approved by "
            f"{spec.exception.approved_by}: {spec.exception.reason}",
        )


def _locked_schedule(status: DistrictRolloverStatus) -> Schedule | None:
    """The schedule accepted with the locked dates (a later timeZone edit must not move it)."""
    if status.pause_date is None or status.pause_at is None or status.reset_at is None:
        return None
    return Schedule(status.pause_date, status.pause_at, status.reset_at)


def _frozen(draft: _Draft, findings: list[Finding]) -> Plan:
    """An invalid spec: report it, change nothing in the cluster, wait for an edit."""
    errors = _errors(findings) or [Finding.error("spec", Reason.SPEC_INVALID, "spec is invalid")]
    message = "; ".join(f"{f.field}: {f.message}" for f in errors)
    draft.condition(ConditionType.SPEC_VALID, "False", errors[0].code, message)
    draft.condition(ConditionType.STALLED, "True", errors[0].code, message)
    draft.condition(
        ConditionType.READY, "False", errors[0].code, "fix the spec; nothing is changed until then"
    )
    draft.condition(ConditionType.RECONCILING, "False", Reason.SPEC_INVALID, "")
    if draft.rollover.status.condition(ConditionType.SPEC_VALID) is None or (
        draft.rollover.status.condition(ConditionType.SPEC_VALID).status != "False"  # type: ignore[union-attr]
    ):
        draft.event("Warning", EventReason.SPEC_INVALID, message)
    phase = draft.status.phase if draft.status.school_year else Phase.PENDING
    return draft.finish(phase)


def _suspended(draft: _Draft) -> Plan:
    draft.condition(
        ConditionType.SUSPENDED, "True", Reason.SUSPENDED_BY_SPEC, "spec.suspend is true: no actions"
    )
    draft.condition(ConditionType.READY, "False", Reason.SUSPENDED, "spec.suspend is true")
    draft.condition(ConditionType.RECONCILING, "False", Reason.SUSPENDED, "")
    draft.condition(ConditionType.STALLED, "False", Reason.SUSPENDED, "")
    return draft.finish(draft.status.phase)


# --- sync targets -------------------------------------------------------------------------------


def _trusted_record(record: SyncTarget | None, target: ObservedTarget) -> SyncTarget | None:
    """Our status record of having paused this very object, if there is one.

    Status is written only by us (the status subresource), so the record, not the target's annotation,
    is what makes a target ours and says what to restore. A record without a UID was written before
    UIDs were recorded: it is taken to describe the object it names now.
    """
    if record is None or record.state is not SyncTargetState.PAUSED or record.uid not in (None, target.uid):
        return None
    return record


def _recorded_original(record: SyncTarget, rollover: str, school_year: str) -> OriginalState:
    return OriginalState(
        rollover, school_year, suspend=record.original_suspend, replicas=record.original_replicas
    )


def _names_us(target: ObservedTarget, rollover: Rollover) -> bool:
    return target.original is not None and target.original.rollover == rollover.name


def _agrees(draft: _Draft, target: ObservedTarget, recorded: OriginalState) -> bool:
    """Whether the target's annotation states what we recorded; a Warning when it states otherwise
    (the record wins: the annotation is written back by pausing, dropped by restoring, so once)."""
    if target.original is None:
        return False
    if (target.original.suspend, target.original.replicas) == (recorded.suspend, recorded.replicas):
        return True
    draft.event(
        "Warning",
        EventReason.ORIGINAL_STATE_IGNORED,
        f"{target.kind.value} {target.name}: its original-state annotation was changed after the pause; "
        f"the state recorded in status is used ({_describe_state(recorded)})",
    )
    return False


def _describe_state(state: OriginalState) -> str:
    return f"suspend={state.suspend}" if state.replicas is None else f"replicas={state.replicas}"


def _ignore_annotation(
    draft: _Draft, records: dict[tuple[SyncTargetKind, str], SyncTarget], target: ObservedTarget
) -> None:
    """An original-state annotation naming us that we have no record of writing on this object: forged,
    copied onto another object, or left on one recreated with the name (a pause's record is written
    before the pause, so no crash of ours leaves one). It is never restored from; said once, recorded
    as Ignored."""
    old = records.get((target.kind, target.name))
    if old is None or old.state is not SyncTargetState.IGNORED or old.uid != target.uid:
        draft.event(
            "Warning",
            EventReason.ORIGINAL_STATE_IGNORED,
            f"{target.kind.value} {target.name} carries an original-state annotation naming this rollover "
            "that the operator did not write there (no status record of pausing this object); it is "
            "ignored, and the object is never restored from it",
        )
    records[(target.kind, target.name)] = SyncTarget(
        kind=target.kind, name=target.name, uid=target.uid, state=SyncTargetState.IGNORED
    )


def _pause_targets(draft: _Draft, cycle: _Cycle, observed: Observed) -> bool:
    """Pause every matching target and repair drift; True when all are observed paused.

    What to restore comes from our status record of the pause, never from a target's annotation: a
    target we hold no record of is paused from the state it is in now, so we never resume what we
    did not suspend, whatever its annotation claims."""
    rollover, all_paused = draft.rollover, True
    records = {(t.kind, t.name): t for t in draft.status.sync_targets}
    for target in observed.targets:
        key = (target.kind, target.name)
        if target.original is not None and not _names_us(target, rollover):
            if target.matches_selector:  # another rollover's target is none of our business
                draft.event(
                    "Warning",
                    EventReason.TARGET_OWNED_ELSEWHERE,
                    f"{target.kind.value} {target.name} was paused by rollover "
                    f"{target.original.rollover}; leaving it alone",
                )
            continue
        record = _trusted_record(records.get(key), target)
        if record is None:
            if target.original is not None:
                _ignore_annotation(draft, records, target)
            if not target.matches_selector:
                continue
            original = OriginalState(
                rollover.name,
                cycle.spec.school_year,
                suspend=target.suspended if target.kind is SyncTargetKind.CRON_JOB else None,
                replicas=target.replicas if target.kind is SyncTargetKind.DEPLOYMENT else None,
            )
            draft.actions.append(PauseTarget(target.kind, target.name, original))
            all_paused = False
        else:
            original = _recorded_original(record, rollover.name, cycle.spec.school_year)
            if not _agrees(draft, target, original):
                # Our annotation was removed or edited: write the recorded one back (and pause).
                draft.actions.append(PauseTarget(target.kind, target.name, original))
                all_paused = False
            elif not target.paused:
                draft.actions.append(RepairTarget(target.kind, target.name))
                draft.event(
                    "Warning",
                    EventReason.DRIFT_REPAIRED,
                    f"{target.kind.value} {target.name} was resumed during the pause; paused again",
                )
                all_paused = False
        records[key] = SyncTarget(
            kind=target.kind,
            name=target.name,
            uid=target.uid,
            original_suspend=original.suspend,
            original_replicas=original.replicas,
            state=SyncTargetState.PAUSED,
            paused_at=record.paused_at if record is not None and record.paused_at else draft.now,
        )
    draft.status = draft.status.model_copy(update={"sync_targets": sorted(records.values(), key=_target_key)})
    return all_paused


def _restore_targets(draft: _Draft, observed: Observed) -> bool:
    """Restore every target we paused; True when none is left paused by us.

    Restored: an object the status records as paused by us (same UID) whose annotation still names
    us, to the recorded state (the annotation may have been edited since). A record is marked
    Restored once its object no longer carries our annotation (restored, or gone)."""
    rollover, done = draft.rollover, True
    records = {(t.kind, t.name): t for t in draft.status.sync_targets}
    paused = set()
    for target in observed.targets:
        key = (target.kind, target.name)
        if not _names_us(target, rollover):
            continue
        record = _trusted_record(records.get(key), target)
        if record is None:
            _ignore_annotation(draft, records, target)
            continue
        original = _recorded_original(record, rollover.name, draft.status.school_year or "")
        _agrees(draft, target, original)  # only to warn: the recorded state is restored either way
        draft.actions.append(RestoreTarget(target.kind, target.name, original))
        paused.add(key)
        done = False
    restored = [
        r.model_copy(update={"state": SyncTargetState.RESTORED})
        if r.state is SyncTargetState.PAUSED and (r.kind, r.name) not in paused
        else r
        for r in records.values()
    ]
    draft.status = draft.status.model_copy(update={"sync_targets": sorted(restored, key=_target_key)})
    return done


def _target_key(t: SyncTarget) -> tuple[str, str]:
    return (t.kind.value, t.name)


def _describe_targets(actions: Iterable[Action]) -> str:
    cronjobs = [a.name for a in actions if isinstance(a, PauseTarget) and a.kind is SyncTargetKind.CRON_JOB]
    deployments = [
        a.name for a in actions if isinstance(a, PauseTarget) and a.kind is SyncTargetKind.DEPLOYMENT
    ]
    parts = []
    if cronjobs:
        parts.append(f"suspended CronJob(s) {', '.join(cronjobs)}")
    if deployments:
        parts.append(f"scaled Deployment(s) {', '.join(deployments)} to 0")
    return "; ".join(parts) or "no roster-sync targets matched spec.syncSelector"


# --- jobs ---------------------------------------------------------------------------------------


def _merged_jobs(status: DistrictRolloverStatus, observed: Observed, school_year: str) -> list[JobRecord]:
    """Job records of the cycle: observed state wins; a recorded Job that vanished keeps its record
    (a finished one's result is in it, so a TTL may delete the Job)."""
    records = {j.name: j for j in status.jobs}
    for job in observed.jobs:
        if job.school_year != school_year or job.step is Step.PURGE:  # a purge belongs to history
            continue
        records[job.name] = _merge_record(job, records.get(job.name), None)
    steps = list(Step)
    return sorted(records.values(), key=lambda j: (steps.index(j.step), j.product, j.attempt))


def _merge_record(observed: ObservedJob, old: JobRecord | None, started_at: dt.datetime | None) -> JobRecord:
    """The record of an observed Job: its observed state wins; its start, completion and (when the
    Job reports none) result come from `old`, our record of the same Job, if there is one (else it
    started at `started_at`)."""
    return JobRecord(
        name=observed.name,
        step=observed.step,
        product=observed.product,
        attempt=observed.attempt,
        state=observed.state,
        started_at=old.started_at if old else started_at,
        completed_at=old.completed_at if old else None,
        message=observed.message,
        result=observed.result if observed.result is not None else (old.result if old else None),
    )


def _reset_done(jobs: Iterable[JobRecord], cycle: _Cycle) -> bool:
    """Whether every product's reset Job succeeded, in the cycle's merged `jobs`."""
    latest = _latest(jobs, Step.RESET)
    return all(p in latest and latest[p].state is JobState.SUCCEEDED for p in cycle.products)


def _latest(jobs: Iterable[JobRecord], step: Step) -> dict[str, JobRecord]:
    latest: dict[str, JobRecord] = {}
    for job in jobs:
        if job.step is step and (job.product not in latest or job.attempt > latest[job.product].attempt):
            latest[job.product] = job
    return latest


def _run_step(
    draft: _Draft,
    cycle: _Cycle,
    step: Step,
    jobs: list[JobRecord],
    retry: bool,
    observed: Observed,
    *,
    for_cycle: bool = False,
    retention_until: dt.date | None = None,
) -> tuple[JobState, list[str]]:
    """Create the step's missing Jobs, one per product (`for_cycle`: one for all, product ""); the
    step's overall state (Succeeded only if all did), and the names it needs that Jobs not ours hold
    (then it creates nothing: the step cannot go on)."""
    latest = _latest(jobs, step)
    ours = {j.name for j in observed.jobs}
    states, creates = [], []
    year, reset_date = cycle.spec.school_year, cycle.spec.reset_date
    covers = cycle.products if for_cycle else ()
    for product in ("",) if for_cycle else cycle.products:
        job = latest.get(product)
        if job is not None and job.state in _IN_FLIGHT and job.name not in ours:
            # Recorded, but no Job of ours has the name: its create met a Job not ours, or it
            # vanished unfinished. Creating it again is safe (same name: AlreadyExists adopts ours).
            creates.append(
                CreateJob(job.name, step, product, job.attempt, year, reset_date, covers, retention_until)
            )
            states.append(job.state)
        elif job is None or (retry and job.state is JobState.FAILED):
            attempt = 0 if job is None else job.attempt + 1
            name = job_name(draft.rollover.name, year, step, product, attempt)
            creates.append(CreateJob(name, step, product, attempt, year, reset_date, covers, retention_until))
            states.append(JobState.PENDING)
        else:
            states.append(job.state)
    if taken := [c.name for c in creates if c.name in observed.foreign_job_names]:
        return JobState.PENDING, taken
    draft.actions.extend(creates)
    recorded = {j.name for j in jobs}
    jobs.extend(
        JobRecord(name=c.name, step=step, product=c.product, attempt=c.attempt, started_at=draft.now)
        for c in creates
        if c.name not in recorded
    )
    return _step_state(states), []


def _step_state(states: list[JobState]) -> JobState:
    if JobState.FAILED in states:
        return JobState.FAILED
    if all(s is JobState.SUCCEEDED for s in states):
        return JobState.SUCCEEDED
    return JobState.RUNNING


def _stamp_completions(jobs: list[JobRecord], now: dt.datetime) -> list[JobRecord]:
    return [
        j.model_copy(update={"completed_at": now})
        if j.state in (JobState.SUCCEEDED, JobState.FAILED) and j.completed_at is None
        else j
        for j in jobs
    ]


# --- phases -------------------------------------------------------------------------------------


def _advance(draft: _Draft, cycle: _Cycle, observed: Observed, settings: Settings) -> Plan:
    schedule, now, status = cycle.schedule, draft.now, draft.status
    draft.status = status.model_copy(
        update={
            "pause_date": schedule.pause_date,
            "pause_at": schedule.pause_at,
            "reset_at": schedule.reset_at,
        }
    )
    draft.condition(ConditionType.SUSPENDED, "False", Reason.NOT_SUSPENDED, "")
    if status.phase is Phase.COMPLETED and status.school_year == cycle.spec.school_year:
        return _completed(draft)
    _readiness(draft, cycle.spec)
    if not cycle.locked and now < schedule.pause_at:
        return _scheduled(draft, cycle, observed, settings)
    if settings.preflight_business_days is not None:
        _preflight(draft, cycle, observed, settings.preflight_business_days, may_start=False)
    if cycle.locked:
        jobs = _merged_jobs(draft.status, observed, cycle.spec.school_year)
        if _reset_done(jobs, cycle) or _reset_skipped(draft, jobs, cycle):
            # Past the reset (or skipped for a legal hold): targets are being restored, so pausing
            # (or "drift repair") must stop.
            return _jobs_phases(draft, cycle, observed, settings)
    all_paused = _pause_targets(draft, cycle, observed)
    paused_now = [a for a in draft.actions if isinstance(a, PauseTarget)]
    if paused_now:
        draft.event(
            "Normal",
            EventReason.SYNC_PAUSED,
            f"Roster sync paused: {_describe_targets(paused_now)}. "
            f"Archiving starts {local(schedule.reset_at)}.",
        )
    paused = sum(t.state is SyncTargetState.PAUSED for t in draft.status.sync_targets)
    draft.condition(
        ConditionType.SYNC_PAUSED,
        "True" if all_paused else "False",
        Reason.PAUSED if all_paused else Reason.PAUSING,
        f"{paused} roster-sync target(s) paused",
    )
    if not cycle.locked and now < schedule.reset_at:
        draft.wake_at = schedule.reset_at
        return _waiting(
            draft,
            Phase.PAUSED,
            all_paused,
            Reason.WAITING_FOR_RESET_DATE,
            f"Roster sync paused; archiving starts {local(schedule.reset_at)}",
        )
    if not cycle.locked:
        if not all_paused:
            return _progressing(draft, Phase.PAUSED, Reason.PAUSING, "pausing roster sync before archiving")
        if observed.active_sync_jobs:
            return _draining(draft, observed, schedule, settings)
    return _jobs_phases(draft, cycle, observed, settings)


def _scheduled(draft: _Draft, cycle: _Cycle, observed: Observed, settings: Settings) -> Plan:
    draft.wake_at = cycle.schedule.pause_at
    restored = _restore_targets(draft, observed)
    if settings.preflight_business_days is not None:
        _preflight(draft, cycle, observed, settings.preflight_business_days, may_start=True)
    if not restored:
        draft.event(
            "Normal",
            EventReason.PAUSE_RESCHEDULED,
            f"Reset date moved; roster sync resumed until {local(cycle.schedule.pause_at)}",
        )
        return _progressing(
            draft, Phase.SCHEDULED, Reason.RESUMING, "resuming roster sync: the pause moved later"
        )
    draft.condition(
        ConditionType.SYNC_PAUSED,
        "False",
        Reason.NOT_YET_PAUSED,
        f"roster sync pauses {local(cycle.schedule.pause_at)}",
    )
    message = (
        f"Roster sync pauses {local(cycle.schedule.pause_at)}; "
        f"archive and reset {local(cycle.schedule.reset_at)}"
    )
    if draft.rollover.status.phase is not Phase.SCHEDULED:
        draft.event("Normal", EventReason.SCHEDULED, message)
    return _waiting(draft, Phase.SCHEDULED, True, Reason.WAITING_FOR_PAUSE_DATE, message)


def _readiness(draft: _Draft, spec: DistrictRolloverSpec) -> None:
    items = open_items(spec)
    if items:
        draft.condition(
            ConditionType.READINESS_ACKNOWLEDGED,
            "False",
            Reason.READINESS_ITEMS_OPEN,
            f"not yet acknowledged in spec.readiness.acknowledged: {', '.join(items)}",
        )
    else:
        draft.condition(ConditionType.READINESS_ACKNOWLEDGED, "True", Reason.ALL_ITEMS_ACKNOWLEDGED, "")


def _wake_by(draft: _Draft, moment: dt.datetime) -> None:
    """Wake up at `moment` at the latest."""
    draft.wake_at = _earliest(draft.wake_at, moment)


def _earliest(*times: dt.datetime | None) -> dt.datetime | None:
    """The earliest of the times given, None when none is."""
    return min((t for t in times if t is not None), default=None)


# --- preflight ----------------------------------------------------------------------------------


def _preflight(
    draft: _Draft, cycle: _Cycle, observed: Observed, business_days: int, *, may_start: bool
) -> None:
    """The read-only preflight, from its window's start until the pause (`may_start`): one Job per
    product, run again on each business day after a failure; its verdict in PreflightPassed, its
    counts in status.preview. After the pause nothing starts, but a Job still running then is heard
    out. It never holds anything up: the pause comes at its time whatever it says."""
    spec, now = cycle.spec, draft.now
    window = preflight_window(spec, cycle.schedule, business_days)
    if now < window.starts_at:
        _wake_by(draft, window.starts_at)
        draft.condition(
            ConditionType.PREFLIGHT_PASSED,
            "Unknown",
            Reason.PREFLIGHT_SCHEDULED,
            f"the preflight runs {local(window.starts_at)}",
        )
        return
    jobs = _merged_jobs(draft.status, observed, spec.school_year)
    latest = _latest(jobs, Step.PREFLIGHT)
    taken: list[str] = []
    if may_start:
        zone = time_zone(spec.time_zone)
        today = now.astimezone(zone).date()
        since = start_of_day(today, zone)
        # A failure is run again once per business day: a fixed problem turns green on the next one.
        # (No start recorded: a crash came between its create and the status write; run it again.)
        again = BusinessCalendar(spec.calendar).is_business_day(today) and any(
            j.state is JobState.FAILED and (j.started_at is None or j.started_at < since)
            for j in latest.values()
        )
        state, taken = _run_step(draft, cycle, Step.PREFLIGHT, jobs, again, observed)
        _announce_created(draft, Step.PREFLIGHT)
    elif latest:
        state = _step_state([latest[p].state if p in latest else JobState.PENDING for p in cycle.products])
    else:
        return  # first seen after its window closed: this cycle has no preflight
    jobs = _stamp_completions(jobs, now)
    draft.status = draft.status.model_copy(update={"jobs": jobs, "preview": _preview(jobs, cycle.products)})
    problems = _preflight_problems(jobs, observed)
    if taken:
        problems.append(
            f"Job(s) {', '.join(taken)} exist but are not controlled by this rollover; delete or rename them"
        )
    previous = draft.rollover.status.condition(ConditionType.PREFLIGHT_PASSED)
    if problems:
        message = "; ".join(problems)
        if previous is None or (previous.status, previous.message) != ("False", message):
            draft.event("Warning", EventReason.PREFLIGHT_FAILED, f"Preflight failed: {message}")
        draft.condition(ConditionType.PREFLIGHT_PASSED, "False", Reason.PREFLIGHT_FAILED, message)
        if state is JobState.FAILED and may_start:
            _wake_by(draft, next_business_day_start(spec, now))
    elif state is JobState.SUCCEEDED:
        message = _describe_preview(draft.status.preview)
        if previous is None or previous.status != "True":
            draft.event("Normal", EventReason.PREFLIGHT_PASSED, f"Preflight passed: {message}")
        draft.condition(ConditionType.PREFLIGHT_PASSED, "True", Reason.PREFLIGHT_SUCCEEDED, message)
    else:
        draft.condition(
            ConditionType.PREFLIGHT_PASSED, "Unknown", Reason.PREFLIGHT_RUNNING, "preflight Job(s) running"
        )


def _preflight_problems(jobs: Iterable[JobRecord], observed: Observed) -> list[str]:
    """What the preflight found wrong: the operator's own check (the selector selects something) and
    each failed Job's error (from its result, which names the cause, else the Job's condition)."""
    problems = []
    if not any(t.matches_selector for t in observed.targets):
        problems.append(
            "spec.syncSelector matches no CronJob or Deployment in this namespace: nothing would be paused"
        )
    for job in _latest(jobs, Step.PREFLIGHT).values():
        if job.state is JobState.FAILED:
            problems.append(f"{job.product}: Job {job.name} failed: {_job_error(job)}")
    return problems


def _preview(jobs: Iterable[JobRecord], products: Iterable[str]) -> list[ProductPreview]:
    """Per product, the table counts of its latest successful preflight (results that do not read
    as counts are left out: the planner never guesses)."""
    succeeded = _latest((j for j in jobs if j.state is JobState.SUCCEEDED), Step.PREFLIGHT)
    preview = []
    for product in products:
        found = succeeded.get(product)
        if found is None:
            continue
        try:
            tables = _PREVIEW_TABLES.validate_python((found.result or {}).get("tables"))
            preview.append(ProductPreview(product=product, checked_at=found.completed_at, tables=tables))
        except ValidationError:
            continue
    return preview


def _describe_preview(preview: Iterable[ProductPreview]) -> str:
    tables = [t for p in preview for t in p.tables]
    return (
        f"{sum(t.archive for t in tables)} rows to archive, {sum(t.delete for t in tables)} to delete, "
        f"{sum(t.keep for t in tables)} archived and kept (status.preview)"
    )


def _waiting(draft: _Draft, phase: Phase, settled: bool, reason: Reason, message: str) -> Plan:
    """Waiting for a date: Ready=True (GitOps must not hang for months), unless still applying."""
    if not settled:
        return _progressing(draft, phase, Reason.PAUSING, "applying the pause to roster-sync targets")
    draft.condition(ConditionType.READY, "True", reason, message)
    draft.condition(ConditionType.RECONCILING, "False", reason, "")
    draft.condition(ConditionType.STALLED, "False", reason, "")
    return draft.finish(phase)


def _mark_progressing(draft: _Draft, reason: Reason, message: str) -> None:
    draft.condition(ConditionType.READY, "False", reason, message)
    draft.condition(ConditionType.RECONCILING, "True", reason, message)
    draft.condition(ConditionType.STALLED, "False", reason, "")


def _progressing(draft: _Draft, phase: Phase, reason: Reason, message: str) -> Plan:
    _mark_progressing(draft, reason, message)
    return draft.finish(phase)


def _mark_stalled(draft: _Draft, reason: Reason, message: str) -> None:
    draft.condition(ConditionType.READY, "False", reason, message)
    draft.condition(ConditionType.RECONCILING, "False", reason, "")
    draft.condition(ConditionType.STALLED, "True", reason, message)


def _stalled(draft: _Draft, phase: Phase, reason: Reason, message: str) -> Plan:
    _mark_stalled(draft, reason, message)
    return draft.finish(phase)


def _draining(draft: _Draft, observed: Observed, schedule: Schedule, settings: Settings) -> Plan:
    running = ", ".join(observed.active_sync_jobs)
    if draft.now - schedule.reset_at > settings.drain_timeout:
        return _stalled(
            draft,
            Phase.PAUSED,
            Reason.SYNC_DRAIN_TIMEOUT,
            f"sync Job(s) {running} still running {settings.drain_timeout} after the reset time; "
            "archiving has not started",
        )
    draft.wake_at = draft.now + settings.drain_poll
    return _progressing(
        draft,
        Phase.PAUSED,
        Reason.WAITING_FOR_SYNC_DRAIN,
        f"waiting for sync Job(s) {running} to finish before archiving",
    )


@dataclass(frozen=True)
class _StepGate:
    """How one Job step of the cycle shows while it cannot go on yet."""

    condition: ConditionType
    failed: Reason
    running: Reason
    running_message: str
    progress_message: str
    phase: Phase  # while its Jobs run, or while Jobs not ours hold their names


_GATES = {
    Step.ARCHIVE: _StepGate(
        ConditionType.ARCHIVED,
        Reason.ARCHIVE_FAILED,
        Reason.ARCHIVING,
        "archive Job(s) running",
        "archive Job(s) running",
        Phase.ARCHIVING,
    ),
    Step.RESET: _StepGate(
        ConditionType.DATA_RESET,
        Reason.RESET_FAILED,
        Reason.RESETTING,
        "reset Job(s) running",
        "reset Job(s) running",
        Phase.RESETTING,
    ),
    Step.CERTIFY: _StepGate(
        ConditionType.CERTIFIED,
        Reason.CERTIFY_FAILED,
        Reason.CERTIFYING,
        "certify Job running",
        "roster sync resumed; certify Job running",
        Phase.RESUMING,
    ),
}


def _unfinished(
    draft: _Draft, step: Step, outcome: tuple[JobState, list[str]], jobs: list[JobRecord]
) -> Phase | None:
    """The phase to finish the pass with while `step` cannot go on (names taken, Jobs running or
    failed), its condition and progress marked; None once every one of its Jobs succeeded."""
    state, taken = outcome
    gate = _GATES[step]
    if taken:
        _mark_names_taken(draft, taken)
        return gate.phase
    _announce_created(draft, step)
    if state is JobState.FAILED:
        draft.condition(gate.condition, "False", gate.failed, _failures(jobs, step))
        _mark_failed(draft, step, _failures(jobs, step))
        return Phase.FAILED
    if state is not JobState.SUCCEEDED:
        draft.condition(gate.condition, "False", gate.running, gate.running_message)
        _mark_progressing(draft, gate.running, gate.progress_message)
        return gate.phase
    return None


def _jobs_phases(draft: _Draft, cycle: _Cycle, observed: Observed, settings: Settings) -> Plan:
    status = draft.status
    assert status.school_year is not None
    jobs = _merged_jobs(status, observed, status.school_year)
    retry = (
        status.phase is Phase.FAILED
        and observed.retry_token is not None
        and observed.retry_token != status.retry_token
    )
    if retry:
        draft.status = status.model_copy(update={"retry_token": observed.retry_token})
        draft.event(
            "Normal",
            EventReason.RETRY_REQUESTED,
            f"retry {observed.retry_token}: new Jobs for the failed step",
        )

    def finish_with(phase: Phase) -> Plan:
        draft.status = draft.status.model_copy(update={"jobs": _stamp_completions(jobs, draft.now)})
        return draft.finish(phase)

    archive_started = any(j.step is Step.ARCHIVE for j in jobs)
    if settings.readiness_blocks_archive and not archive_started and (items := open_items(cycle.spec)):
        _wait_for_readiness(draft, items)
        return finish_with(Phase.PAUSED)
    archive = _run_step(draft, cycle, Step.ARCHIVE, jobs, retry, observed)
    if (phase := _unfinished(draft, Step.ARCHIVE, archive, jobs)) is not None:
        return finish_with(phase)
    draft.condition(
        ConditionType.ARCHIVED, "True", Reason.ARCHIVE_SUCCEEDED, "every product's archive Job succeeded"
    )

    hold = cycle.spec.legal_hold
    if _reset_skipped(draft, jobs, cycle):
        return _held(draft, cycle, observed, jobs, settings)
    # Only here, after every archive Job succeeded, may a reset Job be created (a failed one is not
    # retried under a legal hold: roster sync stays paused, so the reset may still run once released).
    reset = _run_step(draft, cycle, Step.RESET, jobs, retry and hold is None, observed)
    if (phase := _unfinished(draft, Step.RESET, reset, jobs)) is not None:
        return finish_with(phase)
    draft.condition(
        ConditionType.DATA_RESET, "True", Reason.RESET_SUCCEEDED, "every product's reset Job succeeded"
    )

    if not _restore_targets(draft, observed):
        draft.condition(ConditionType.SYNC_PAUSED, "True", Reason.RESUMING, "restoring roster-sync targets")
        _mark_progressing(draft, Reason.RESUMING, "restoring roster-sync targets to their recorded state")
        return finish_with(Phase.RESUMING)
    draft.condition(
        ConditionType.SYNC_PAUSED, "False", Reason.RESUMED, "roster sync restored for the new year"
    )
    certificate = None
    if settings.certify:
        # Only here, after every reset Job succeeded (and roster sync resumed), the certificate.
        retention_until = _retention_until(cycle.spec, settings)
        certify = _run_step(
            draft, cycle, Step.CERTIFY, jobs, retry, observed, for_cycle=True, retention_until=retention_until
        )
        if (phase := _unfinished(draft, Step.CERTIFY, certify, jobs)) is not None:
            return finish_with(phase)
        certificate = _certificate_link(_latest(jobs, Step.CERTIFY).get(""))
        draft.condition(
            ConditionType.CERTIFIED,
            "True",
            Reason.CERTIFIED,
            f"certificate of deletion {certificate.location if certificate else '(location not reported)'}; "
            f"archive kept until {retention_until}",
        )
    draft.status = draft.status.model_copy(
        update={"jobs": _stamp_completions(jobs, draft.now), "certificate": certificate}
    )
    draft.status = _with_history(draft.status, cycle, draft.now, "Completed", settings)
    draft.event(
        "Normal",
        EventReason.ROLLOVER_COMPLETED,
        f"School year {cycle.spec.school_year} archived and reset; roster sync resumed"
        + (f"; certificate of deletion {certificate.location}" if certificate else ""),
    )
    return _completed(draft)


def _reset_skipped(draft: _Draft, jobs: Iterable[JobRecord], cycle: _Cycle) -> bool:
    """Whether this cycle's reset is skipped for a legal hold: the skip is recorded (final even once the
    hold is released: roster sync may have brought in the new year's data since), or a hold is set and
    no reset Job was created (in the cycle's merged `jobs`)."""
    if draft.status.reset_skipped_by is not None:
        return True
    return cycle.spec.legal_hold is not None and not any(j.step is Step.RESET for j in jobs)


def _held(
    draft: _Draft, cycle: _Cycle, observed: Observed, jobs: list[JobRecord], settings: Settings
) -> Plan:
    """A legal hold came before the reset: the reset is skipped for good and roster sync resumes.
    Released later, it never runs: by then the tables hold the new year's data. The archive is kept
    (and its purge waits for the release)."""
    hold = cycle.spec.legal_hold
    draft.status = draft.status.model_copy(update={"jobs": _stamp_completions(jobs, draft.now)})
    if draft.status.reset_skipped_by is None:
        # Recorded (in status, written by us alone) before any target resumes: once syncs run, no
        # later pass may reset, whatever becomes of the hold. Restoring waits for the next pass.
        assert hold is not None
        draft.status = draft.status.model_copy(update={"reset_skipped_by": f"{hold.by} ({hold.reason})"})
        message = f"reset skipped for the legal hold by {draft.status.reset_skipped_by}; the archive is kept"
        draft.condition(ConditionType.DATA_RESET, "False", Reason.RESET_SKIPPED_FOR_LEGAL_HOLD, message)
        _mark_progressing(draft, Reason.RESUMING, "legal hold: no reset; roster sync resumes next")
        draft.wake_at = draft.now
        return draft.finish(Phase.RESUMING)
    message = f"reset skipped for the legal hold by {draft.status.reset_skipped_by}; the archive is kept"
    draft.condition(ConditionType.DATA_RESET, "False", Reason.RESET_SKIPPED_FOR_LEGAL_HOLD, message)
    if not _restore_targets(draft, observed):
        draft.condition(ConditionType.SYNC_PAUSED, "True", Reason.RESUMING, "restoring roster-sync targets")
        _mark_progressing(draft, Reason.RESUMING, "legal hold: restoring roster-sync targets, no reset")
        return draft.finish(Phase.RESUMING)
    draft.condition(ConditionType.SYNC_PAUSED, "False", Reason.RESUMED, "roster sync restored; no reset")
    draft.status = _with_history(draft.status, cycle, draft.now, "Held", settings)
    draft.event(
        "Warning",
        EventReason.RESET_SKIPPED_FOR_LEGAL_HOLD,
        f"School year {cycle.spec.school_year} archived, not reset: {message}; roster sync resumed",
    )
    draft.condition(ConditionType.READY, "True", Reason.RESET_SKIPPED_FOR_LEGAL_HOLD, message)
    draft.condition(ConditionType.RECONCILING, "False", Reason.RESET_SKIPPED_FOR_LEGAL_HOLD, "")
    draft.condition(ConditionType.STALLED, "False", Reason.RESET_SKIPPED_FOR_LEGAL_HOLD, "")
    return draft.finish(Phase.COMPLETED)


def _announce_created(draft: _Draft, step: Step) -> None:
    created = [a.name for a in draft.actions if isinstance(a, CreateJob) and a.step is step]
    if created:
        reason, after = _STARTED[step]
        draft.event("Normal", reason, f"Created {step.value} Job(s) {', '.join(created)}. {after}")


def _wait_for_readiness(draft: _Draft, items: Iterable[str]) -> None:
    """Stalled before the archive: the operator is configured to archive only a ready district."""
    message = (
        f"archiving waits until readiness item(s) {', '.join(items)} are acknowledged in "
        "spec.readiness.acknowledged (the operator's readiness.blockArchive); roster sync stays paused"
    )
    _stall_and_warn_once(
        draft, Reason.ARCHIVE_WAITS_FOR_READINESS, EventReason.ARCHIVE_WAITS_FOR_READINESS, message
    )


def _mark_names_taken(draft: _Draft, taken: list[str]) -> None:
    """Stalled: Jobs not ours hold the names of ours. They never count (as success or failure) and
    nothing is created for the step until they are gone; a Warning event the first time."""
    message = (
        f"Job(s) {', '.join(taken)} exist but are not controlled by this rollover; delete or rename "
        "them, then it creates its own"
    )
    _stall_and_warn_once(draft, Reason.JOB_NAME_TAKEN, EventReason.JOB_NAME_TAKEN, message)


def _stall_and_warn_once(draft: _Draft, reason: Reason, event: EventReason, message: str) -> None:
    """Stalled for `reason`, with a Warning event only when the rollover was not already stalled
    for it (each pass re-decides the condition; the event is for the transition)."""
    stalled = draft.rollover.status.condition(ConditionType.STALLED)
    if stalled is None or (stalled.status, stalled.reason) != ("True", reason):
        draft.event("Warning", event, message)
    _mark_stalled(draft, reason, message)


def _failures(jobs: Iterable[JobRecord], step: Step) -> str:
    failed = [j for j in _latest(jobs, step).values() if j.state is JobState.FAILED]
    return "; ".join(f"{j.product}: Job {j.name} failed: {_job_error(j)}" for j in failed)


def _mark_failed(draft: _Draft, step: Step, message: str) -> None:
    """Stalled with the step's failure; a Warning event the first time (syncs stay paused)."""
    reason, event_reason = _FAILED[step]
    if draft.rollover.status.phase is not Phase.FAILED:
        sync = "Roster sync has resumed" if step is Step.CERTIFY else "Roster sync stays paused"
        draft.event(
            "Warning",
            event_reason,
            f"{message}. {sync}. Fix the cause, then set annotation "
            f"rostering.k12.dev/retry to a new value to retry the failed step.",
        )
    _mark_stalled(draft, reason, message)


def _completed(draft: _Draft) -> Plan:
    draft.condition(
        ConditionType.READY,
        "True",
        Reason.ROLLOVER_COMPLETED,
        f"school year {draft.status.school_year} rolled over",
    )
    draft.condition(ConditionType.RECONCILING, "False", Reason.ROLLOVER_COMPLETED, "")
    draft.condition(ConditionType.STALLED, "False", Reason.ROLLOVER_COMPLETED, "")
    return draft.finish(Phase.COMPLETED)


def _with_history(
    status: DistrictRolloverStatus,
    cycle: _Cycle,
    now: dt.datetime,
    outcome: Literal["Completed", "Held"],
    settings: Settings,
) -> DistrictRolloverStatus:
    """The cycle's history entry; with a signing key configured, its retention date and purge time,
    fixed now (a later edit of spec.retentionDays does not move them)."""
    retention_until = _retention_until(cycle.spec, settings) if settings.certify else None
    entry = HistoryEntry(
        school_year=cycle.spec.school_year,
        reset_date=cycle.spec.reset_date,
        pause_at=cycle.schedule.pause_at,
        reset_at=cycle.schedule.reset_at,
        completed_at=now,
        outcome=outcome,
        jobs=[j.model_copy(update={"result": None}) for j in status.jobs],
        certificate=status.certificate,
        retention_until=retention_until,
        purge_at=purge_not_before(retention_until) if retention_until else None,
    )
    history = [*status.history, entry]
    kept = [e for i, e in enumerate(history) if i >= len(history) - HISTORY_KEPT or _purge_pending(e)]
    return status.model_copy(update={"history": kept})


# --- deletion -----------------------------------------------------------------------------------


def _plan_deletion(draft: _Draft, observed: Observed) -> Plan:
    """Deleting: wait for running reset Jobs, restore what we paused, then let go."""
    year = draft.status.school_year
    running_resets = [
        j.name
        for j in (_merged_jobs(draft.status, observed, year) if year else [])
        if j.step is Step.RESET and j.state in _IN_FLIGHT
    ]
    if running_resets:
        return _progressing(
            draft,
            draft.status.phase,
            Reason.WAITING_FOR_RESET_JOBS,
            f"deletion waits for reset Job(s) {', '.join(running_resets)}",
        )
    if not _restore_targets(draft, observed):
        return _progressing(
            draft, draft.status.phase, Reason.RESTORING_ON_DELETE, "restoring roster-sync targets"
        )
    return replace(draft.finish(draft.status.phase), release_finalizer=True)


# --- retention, purge and legal hold ------------------------------------------------------------


def _retention_findings(spec: DistrictRolloverSpec, settings: Settings) -> list[Finding]:
    days = spec.retention_days
    if days is None or settings.min_retention_days <= days <= settings.max_retention_days:
        return []
    return [
        Finding.error(
            "spec.retentionDays",
            Reason.RETENTION_OUT_OF_BOUNDS,
            f"{days} days is outside the operator's bounds {settings.min_retention_days}.."
            f"{settings.max_retention_days} (archives.minRetentionDays, archives.maxRetentionDays)",
        )
    ]


def _retention_until(spec: DistrictRolloverSpec, settings: Settings) -> dt.date:
    """The last day the cycle's archive is kept: the reset date plus its retention (an override
    outside the bounds, only possible in a cycle locked before it was set, is not used)."""
    days = spec.retention_days
    if days is None or _retention_findings(spec, settings):
        days = settings.retention_days
    return spec.reset_date + dt.timedelta(days=days)


def _certificate_link(job: JobRecord | None) -> CertificateLink | None:
    """The certificate a certify or purge Job reported (its result is untrusted text: only a string
    location is taken, and a hex SHA-256)."""
    result = (job.result if job else None) or {}
    location, digest = result.get("certificate"), result.get("sha256")
    if not isinstance(location, str) or not location or len(location) > _LOCATION_MAX:
        return None
    valid_digest = (
        isinstance(digest, str) and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)
    )
    return CertificateLink(location=location, sha256=digest if valid_digest else None)


def _purge_pending(entry: HistoryEntry) -> bool:
    return entry.purge_at is not None and (entry.purge is None or entry.purge.state is not JobState.SUCCEEDED)


def _with_retention(
    decided: Plan, rollover: str, spec: DistrictRolloverSpec, observed: Observed, now: dt.datetime
) -> Plan:
    """Purge each finished cycle's archive once its retention passed, unless a legal hold is set;
    report the hold and who placed it (status.legalHoldBy). Decided after the current cycle's plan,
    whatever its phase: a purge concerns a cycle of status.history only. Wakes up at the next purge
    due (one timer per rollover)."""
    status, hold = decided.status, spec.legal_hold
    updates: list[tuple[ConditionType, ConditionStatus, str, str]] = []
    actions: list[Action] = []
    held_by = hold.by if hold is not None else None
    if hold is not None:
        message = f"held by {hold.by}: {hold.reason}; no reset and no purge runs while spec.legalHold is set"
        updates.append((ConditionType.LEGAL_HOLD, "True", Reason.LEGAL_HOLD_SET, message))
        if (
            _condition_reason(decided.status, ConditionType.LEGAL_HOLD) != Reason.LEGAL_HOLD_SET
            or status.legal_hold_by != held_by
        ):
            actions.append(EmitEvent("Normal", EventReason.LEGAL_HOLD_SET, f"Legal hold {message}"))
    elif status.condition(ConditionType.LEGAL_HOLD) is not None:
        updates.append(
            (ConditionType.LEGAL_HOLD, "False", Reason.LEGAL_HOLD_RELEASED, "spec.legalHold removed")
        )
        if _condition_reason(decided.status, ConditionType.LEGAL_HOLD) != Reason.LEGAL_HOLD_RELEASED:
            released = f" placed by {status.legal_hold_by}" if status.legal_hold_by else ""
            actions.append(
                EmitEvent("Normal", EventReason.LEGAL_HOLD_RELEASED, f"Legal hold{released} released")
            )
    wake_at = decided.wake_at
    history = []
    for entry in status.history:
        if _purge_pending(entry) and hold is None:
            entry, due = _purge(rollover, entry, observed, now, actions)
            wake_at = _earliest(wake_at, due)
        history.append(entry)
    if not updates and history == status.history and not actions and status.legal_hold_by == held_by:
        return replace(decided, wake_at=wake_at)
    conditions = merge_conditions(status.conditions, updates, now=now, generation=status.observed_generation)
    status = status.model_copy(
        update={"history": history, "conditions": conditions, "legal_hold_by": held_by}
    )
    return replace(decided, status=status, actions=(*decided.actions, *actions), wake_at=wake_at)


def _purge(
    rollover: str, entry: HistoryEntry, observed: Observed, now: dt.datetime, actions: list[Action]
) -> tuple[HistoryEntry, dt.datetime | None]:
    """One finished cycle's purge: its entry as it stands now, and when to look again (None: when
    its running Job finishes, which the Job watch reports)."""
    assert entry.purge_at is not None
    if now < entry.purge_at:
        return entry, entry.purge_at
    job = _observed_purge(entry, observed, now)
    ours = {j.name for j in observed.jobs}
    retry_at = (
        job.completed_at + PURGE_RETRY if job and job.state is JobState.FAILED and job.completed_at else None
    )
    vanished = job is not None and job.state in _IN_FLIGHT and job.name not in ours
    if job is None or vanished or (retry_at is not None and now >= retry_at):
        # Vanished unfinished (or its create met a foreign Job): the same name again, adopted if ours.
        attempt = 0 if job is None else job.attempt if vanished else job.attempt + 1
        name = job_name(rollover, entry.school_year, Step.PURGE, "", attempt)
        if name in observed.foreign_job_names:
            return entry, None  # stays due; the name is free again once that Job is deleted
        products = tuple(sorted({j.product for j in entry.jobs if j.step is Step.ARCHIVE}))
        actions.append(
            CreateJob(name, Step.PURGE, "", attempt, entry.school_year, entry.reset_date, products)
        )
        if not vanished:
            event, after = _STARTED[Step.PURGE]
            actions.append(
                EmitEvent(
                    "Normal", event, f"Created purge Job {name} for school year {entry.school_year}. {after}"
                )
            )
        job, retry_at = (
            JobRecord(name=name, step=Step.PURGE, product="", attempt=attempt, started_at=now),
            None,
        )
    updated = entry.model_copy(update={"purge": job.model_copy(update={"result": None})})
    if job.state is JobState.SUCCEEDED:
        link = _certificate_link(job)
        updated = updated.model_copy(update={"purge_certificate": link})
        said = f"; purge certificate {link.location}" if link else ""
        actions.append(
            EmitEvent(
                "Normal",
                EventReason.ARCHIVE_PURGED,
                f"Archive of school year {entry.school_year} purged{said}",
            )
        )
    elif job.state is JobState.FAILED and (entry.purge is None or entry.purge.state is not JobState.FAILED):
        actions.append(
            EmitEvent(
                "Warning",
                EventReason.PURGE_FAILED,
                f"purge Job {job.name} for school year {entry.school_year} failed: {_job_error(job)}; "
                f"it runs again {PURGE_RETRY} later",
            )
        )
    return updated, retry_at


def _observed_purge(entry: HistoryEntry, observed: Observed, now: dt.datetime) -> JobRecord | None:
    """The entry's purge Job record, with what is observed of its newest Job (observed state wins;
    a finished Job deleted by its TTL keeps its record)."""
    job = entry.purge
    seen = [j for j in observed.jobs if j.step is Step.PURGE and j.school_year == entry.school_year]
    newest = max(seen, key=lambda j: j.attempt, default=None)
    if newest is not None and (job is None or newest.attempt >= job.attempt):
        same = job is not None and job.name == newest.name
        # A purge covers the whole cycle: its record has no product, whatever the Job's label says.
        job = _merge_record(replace(newest, product=""), job if same else None, now)
    if job is not None and job.state in (JobState.SUCCEEDED, JobState.FAILED) and job.completed_at is None:
        job = job.model_copy(update={"completed_at": now})
    return job


def _job_error(job: JobRecord) -> str:
    """What a failed Job said: its result's error (which names the cause), else its condition."""
    error = (job.result or {}).get("error")
    said = error if isinstance(error, str) and error else job.message or "no message"
    return said[:_ERROR_SHOWN]
