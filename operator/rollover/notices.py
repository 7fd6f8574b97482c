"""District notices: which are due at `now`, to whom, and which are already delivered. Pure.

A notice is due while the state it tells of holds (PauseAhead from the business day before the
pause until the pause; Paused while roster sync is paused; Completed, Held, Failed, Stalled and
PreflightFailed while the status says so), once per cycle: its id is stable (namespace, name, school
year, kind), and a notice recorded in `status.notices` for a channel is never due there again. The
planner asks this module; the notifier (controller/notifier.py) delivers, one at a time per rollover,
and the reconciler records each delivery before the next is handed out.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from rollover.api.models import (
    ConditionType,
    DistrictRolloverSpec,
    DistrictRolloverStatus,
    JobRecord,
    JobState,
    NoticeRecord,
    Phase,
    Step,
)
from rollover.calendar import BusinessCalendar, CalendarError, time_zone
from rollover.readiness import describe, open_items
from rollover.reasons import Reason

EMAIL_CHANNEL = "email"
WEBHOOK_PREFIX = "webhook:"
#: PauseAhead goes out at this district-local time of the business day before the pause: the start
#: of a working day, not the midnight the pause itself keeps.
PAUSE_AHEAD_TIME = dt.time(9, 0)
#: status.notices keeps the records of the current and the previous cycle, no more.
KEEP_CYCLES = 2
_PAUSED_PHASES = frozenset({Phase.PAUSED, Phase.ARCHIVING, Phase.RESETTING, Phase.RESUMING})
_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]*@")


class NoticeKind(StrEnum):
    """The notices of one cycle, in the order a rollover meets them."""

    PREFLIGHT_FAILED = "PreflightFailed"
    PAUSE_AHEAD = "PauseAhead"
    PAUSED = "Paused"
    STALLED = "Stalled"
    FAILED = "Failed"
    COMPLETED = "Completed"
    HELD = "Held"

    @property
    def slug(self) -> str:
        """`pause-ahead`: the kind in ids and CloudEvent types."""
        return re.sub(r"(?<!^)(?=[A-Z])", "-", self.value).lower()


@dataclass(frozen=True)
class ProductOutcome:
    """What the cycle archived and deleted for one product (from its Jobs' results)."""

    product: str
    archive: str  # where the archive is, credentials removed; "" when not known
    archived_rows: int | None
    deleted_rows: int | None


@dataclass(frozen=True)
class Notice:
    """One notice, with everything its texts say (times are aware, in the district's zone)."""

    kind: NoticeKind
    id: str
    namespace: str
    name: str
    district_id: str
    district_name: str
    school_year: str
    pause_at: dt.datetime
    reset_at: dt.datetime
    occurred_at: dt.datetime
    open_items: tuple[str, ...] = ()
    outcomes: tuple[ProductOutcome, ...] = ()
    problem: str = ""
    next_step: str = ""
    #: Held: who placed the legal hold the reset was skipped for, and why.
    hold: str = ""


@dataclass(frozen=True)
class Delivery:
    """One notice on one channel: `email` (to every district contact at once) or `webhook:NAME`."""

    notice: Notice
    channel: str
    recipients: tuple[str, ...] = ()


def notice_id(namespace: str, name: str, school_year: str, kind: NoticeKind) -> str:
    """The stable id of a notice: the same after any restart, distinct per rollover, cycle and kind."""
    return f"{kind.slug}.{school_year}.{name}.{namespace}"


def webhook(name: str) -> str:
    """The channel of a webhook, as recorded."""
    return f"{WEBHOOK_PREFIX}{name}"


def pause_ahead_at(spec: DistrictRolloverSpec, pause_date: dt.date) -> dt.datetime | None:
    """When PauseAhead is due: 09:00 district time on the business day before the pause date
    (None if the calendar is unknown, which an invalid spec reports elsewhere)."""
    try:
        zone = time_zone(spec.time_zone)
        day = BusinessCalendar(spec.calendar).subtract_business_days(pause_date, 1)
    except CalendarError:
        return None
    return dt.datetime.combine(day, PAUSE_AHEAD_TIME, tzinfo=zone)


def due_notices(
    namespace: str,
    name: str,
    spec: DistrictRolloverSpec,
    status: DistrictRolloverStatus,
    now: dt.datetime,
) -> list[Notice]:
    """The notices the status (as just decided) calls for at `now`, in order."""
    if status.school_year != spec.school_year or status.pause_at is None or status.reset_at is None:
        return []
    zone = time_zone(spec.time_zone)
    pause_at, reset_at = status.pause_at.astimezone(zone), status.reset_at.astimezone(zone)
    district_name = spec.display_name or spec.district_id

    def notice(kind: NoticeKind, **facts: object) -> Notice:
        return Notice(
            kind,
            notice_id(namespace, name, spec.school_year, kind),
            namespace,
            name,
            spec.district_id,
            district_name,
            spec.school_year,
            pause_at,
            reset_at,
            now.astimezone(zone),
            **facts,  # type: ignore[arg-type]
        )

    due = []
    preflight = status.condition(ConditionType.PREFLIGHT_PASSED)
    if preflight is not None and preflight.status == "False" and status.phase is Phase.SCHEDULED:
        due.append(
            notice(
                NoticeKind.PREFLIGHT_FAILED,
                problem=preflight.message,
                next_step="Fix what the preflight found before the pause; it runs again each business day.",
            )
        )
    ahead = status.pause_date and pause_ahead_at(spec, status.pause_date)
    if status.phase is Phase.SCHEDULED and ahead and ahead <= now < status.pause_at:
        due.append(notice(NoticeKind.PAUSE_AHEAD, open_items=tuple(map(describe, open_items(spec)))))
    if status.phase in _PAUSED_PHASES:
        due.append(notice(NoticeKind.PAUSED))
    stalled = status.condition(ConditionType.STALLED)
    if status.phase is Phase.FAILED and stalled is not None:
        problem = "; ".join([stalled.message, *_job_errors(status.jobs)])
        due.append(notice(NoticeKind.FAILED, problem=problem, next_step=_next_step(stalled.reason)))
    elif stalled is not None and stalled.status == "True" and status.phase in _PAUSED_PHASES:
        due.append(notice(NoticeKind.STALLED, problem=stalled.message, next_step=_next_step(stalled.reason)))
    if status.phase is Phase.COMPLETED and status.reset_skipped_by is not None:
        # A cycle whose reset a legal hold skipped was not "archived and reset": it is Held.
        due.append(
            notice(
                NoticeKind.HELD,
                outcomes=outcomes(status.jobs),
                hold=status.reset_skipped_by,
                next_step=_after_the_hold(_retention_until(status, spec.school_year)),
            )
        )
    elif status.phase is Phase.COMPLETED:
        due.append(notice(NoticeKind.COMPLETED, outcomes=outcomes(status.jobs)))
    return due


def _after_the_hold(retention_until: dt.date | None) -> str:
    """What follows a Held cycle (docs/retention.md, "Legal hold")."""
    archive = (
        f"The archive is kept while the hold stands; once it is released, the archive is deleted after "
        f"{retention_until.isoformat()}, the end of its retention."
        if retention_until is not None
        else "The archive is kept until it is removed by hand."
    )
    return (
        "Nothing of the district's is deleted while the hold stands. This school year's reset will not run "
        "later, even once the hold is released: roster sync has resumed and brings in the new year's data, "
        f"so removing last year's data is a decision your CSM takes with you. {archive}"
    )


def _retention_until(status: DistrictRolloverStatus, school_year: str) -> dt.date | None:
    """The retention date the cycle's history entry fixed, if any (none without a signing key)."""
    entry = next((e for e in reversed(status.history) if e.school_year == school_year), None)
    return entry.retention_until if entry is not None else None


def _next_step(reason: str) -> str:
    """What the CSM does next, for a Stalled or Failed reason."""
    steps: dict[str, str] = {
        Reason.ARCHIVE_FAILED: "Roster sync stays paused and nothing was deleted. The CSM fixes the cause "
        "(see the Job's message), then runs `kubectl rollover retry` to archive again.",
        Reason.RESET_FAILED: "Roster sync stays paused; every archive is complete. The CSM fixes the cause, "
        "then runs `kubectl rollover retry` to reset again.",
        Reason.SYNC_DRAIN_TIMEOUT: "A roster sync is still running, so archiving has not started. The CSM "
        "finds out why the sync Job runs so long and stops it; archiving then starts by itself.",
        Reason.ARCHIVE_WAITS_FOR_READINESS: "Roster sync is paused; archiving waits for the district's "
        "readiness checklist. The district finishes the open items and the platform team records each in "
        "spec.readiness.acknowledged; archiving then starts by itself.",
        Reason.JOB_NAME_TAKEN: "A Job the rollover did not create holds the name of one of its Jobs. The CSM "
        "deletes or renames it; the rollover then goes on by itself.",
    }
    return steps.get(
        reason,
        "The CSM runs `kubectl rollover explain` for the details and fixes the cause.",
    )


def _job_errors(jobs: Iterable[JobRecord]) -> list[str]:
    """What each failed Job said went wrong (its result's `error`, already redacted by the Job)."""
    return [
        f"{job.product} {job.step.value}: {job.result['error']}"
        for job in jobs
        if job.state is JobState.FAILED and job.result and isinstance(job.result.get("error"), str)
    ]


def outcomes(jobs: Iterable[JobRecord]) -> tuple[ProductOutcome, ...]:
    """Per product, what its latest successful archive and reset Jobs reported."""
    results: dict[tuple[str, Step], JobRecord] = {}
    for job in jobs:
        if job.state is JobState.SUCCEEDED:
            results[(job.product, job.step)] = job
    products = sorted({product for product, _ in results})
    return tuple(
        ProductOutcome(
            product,
            _archive_location(results.get((product, Step.ARCHIVE))),
            _row_total(results.get((product, Step.ARCHIVE)), "rows"),
            _row_total(results.get((product, Step.RESET)), "deleted"),
        )
        for product in products
    )


def _archive_location(job: JobRecord | None) -> str:
    manifest = (job.result or {}).get("manifest") if job else None
    return _CREDENTIALS.sub("", manifest) if isinstance(manifest, str) else ""


def _row_total(job: JobRecord | None, key: str) -> int | None:
    value = (job.result or {}).get(key) if job else None
    if isinstance(value, dict):
        return sum(v for v in value.values() if isinstance(v, int))
    return value if isinstance(value, int) else None


def deliveries(
    due: Iterable[Notice], spec: DistrictRolloverSpec, recorded: Iterable[NoticeRecord]
) -> list[Delivery]:
    """The deliveries still owed, in order: each due notice on each channel of spec.notify that has
    no record yet."""
    notify = spec.notify
    if notify is None:
        return []
    done = {(r.id, r.channel) for r in recorded}
    owed = []
    for notice in due:
        if notify.emails and (notice.id, EMAIL_CHANNEL) not in done:
            owed.append(Delivery(notice, EMAIL_CHANNEL, tuple(notify.emails)))
        owed.extend(
            Delivery(notice, webhook(name))
            for name in notify.channels
            if (notice.id, webhook(name)) not in done
        )
    return owed


def next_notice_at(
    spec: DistrictRolloverSpec, status: DistrictRolloverStatus, now: dt.datetime
) -> dt.datetime | None:
    """When a notice becomes due by time alone (PauseAhead), if later than `now`: a wake-up."""
    if spec.notify is None or status.phase is not Phase.SCHEDULED or status.pause_date is None:
        return None
    ahead = pause_ahead_at(spec, status.pause_date)
    return ahead if ahead is not None and ahead > now else None


def kept_records(records: Sequence[NoticeRecord], school_year: str) -> list[NoticeRecord]:
    """The records worth keeping: this cycle's and the one before (ids carry the school year)."""
    years = sorted({r.id.split(".")[1] for r in records if r.id.count(".") >= 3} | {school_year})
    keep = set(years[-KEEP_CYCLES:])
    return [r for r in records if r.id.count(".") < 3 or r.id.split(".")[1] in keep]


#: The operator configuration's webhook channels: each name, and the namespaces whose rollovers may
#: name it (None: every namespace).
ChannelScopes = Mapping[str, frozenset[str] | None]


def usable_channels(scopes: ChannelScopes, namespace: str | None) -> set[str]:
    """The channels a rollover in `namespace` may name: those for every namespace and those listing
    it; `namespace` None (a file not yet applied anywhere): every configured one."""
    return {
        name
        for name, allowed in scopes.items()
        if allowed is None or namespace is None or namespace in allowed
    }


def unknown_channels(
    spec: DistrictRolloverSpec, scopes: ChannelScopes, namespace: str | None
) -> list[tuple[str, str]]:
    """(field path, name) of each channel in spec.notify that a rollover in `namespace` may not use:
    not configured, or configured for other namespaces only (told apart nowhere, so a district learns
    nothing of another's channels)."""
    known = usable_channels(scopes, namespace)
    channels = spec.notify.channels if spec.notify else []
    return [(f"spec.notify.channels[{i}]", c) for i, c in enumerate(channels) if c not in known]
