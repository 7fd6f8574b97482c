"""What `kubectl rollover` says about DistrictRollovers: status, next step, what blocks, explanations,
the calendar and whether a retry makes sense. Pure: objects (as kubectl returns them) and `now` in, text
out; `kubectl_plugin` fetches the objects."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from rollover import notice_text
from rollover.api.models import (
    CertificateLink,
    Condition,
    ConditionType,
    DistrictRolloverStatus,
    JobRecord,
    JobState,
    Phase,
    Step,
    parse_spec,
    parse_status,
)
from rollover.cli.explanations import PHASES, RUNBOOK, meaning
from rollover.cli.tables import by_date, by_date_table, columns

RECENT_EVENTS = 10


@dataclass(frozen=True)
class View:
    """What the plugin shows of one DistrictRollover."""

    namespace: str
    name: str
    district: str
    zone: ZoneInfo | None
    spec: dict[str, Any]
    status: DistrictRolloverStatus
    status_readable: bool = True

    @classmethod
    def of(cls, obj: dict[str, Any]) -> View:
        meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
        try:
            status, readable = parse_status(obj.get("status")), True
        except ValidationError:
            status, readable = DistrictRolloverStatus(), False
        try:
            zone: ZoneInfo | None = ZoneInfo(str(spec.get("timeZone", "")))
        except (ZoneInfoNotFoundError, ValueError):
            zone = None
        district = str(spec.get("districtId", ""))
        return cls(meta.get("namespace", ""), meta.get("name", ""), district, zone, spec, status, readable)

    def condition(self, type_: ConditionType) -> Condition | None:
        return self.status.condition(type_)

    def is_true(self, type_: ConditionType) -> bool:
        found = self.condition(type_)
        return found is not None and found.status == "True"

    def local(self, moment: dt.datetime | None, now: dt.datetime | None = None) -> str:
        """`Thu 2027-07-15 00:00 CDT` in the district's zone, with `(in 3d 4h)` when `now` is given."""
        if moment is None:
            return "-"
        shown = moment.astimezone(self.zone) if self.zone else moment
        text = notice_text.local(shown).strip()  # a time without a zone has no %Z
        if now is not None and moment > now:
            text += f" (in {_duration(moment - now)})"
        return text


def _duration(delta: dt.timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, hours, mins = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    return f"{hours}h {mins}m" if hours else f"{mins}m"


def _running_jobs(view: View) -> list[JobRecord]:
    return [j for j in view.status.jobs if j.state in (JobState.PENDING, JobState.RUNNING)]


def next_step(view: View, now: dt.datetime | None = None) -> tuple[str, str]:
    """(what the operator does next, when) for one rollover."""
    status, phase = view.status, view.status.phase
    if view.is_true(ConditionType.SUSPENDED):
        return "nothing while spec.suspend is true", "-"
    if phase is Phase.SCHEDULED:
        return "pause roster sync", view.local(status.pause_at, now)
    if phase is Phase.PAUSED:
        return "archive", view.local(status.reset_at, now)
    if phase is Phase.ARCHIVING:
        return "reset", "when every archive Job succeeds"
    if phase is Phase.RESETTING:
        return "resume roster sync", "when every reset Job succeeds"
    if phase is Phase.RESUMING:
        return "complete", "when roster sync is restored"
    if phase is Phase.FAILED:
        return "retry the failed step", f"after `kubectl rollover retry {view.name}`"
    if phase is Phase.COMPLETED:
        due = [e for e in status.history if e.purge_at is not None and e.purge is None]
        if due and not view.is_true(ConditionType.LEGAL_HOLD):
            return f"purge the {due[0].school_year} archive", view.local(due[0].purge_at, now)
        return "next school year", "when schoolYear and resetDate move on in git"
    return "plan the rollover", "when the spec is valid"


def blocking(view: View) -> str:
    """What stands in the way, in one line; `-` when nothing does."""
    if not view.status_readable:
        return "the status is unreadable (is the operator the right version?)"
    for type_ in (ConditionType.STALLED, ConditionType.SUSPENDED):
        found = view.condition(type_)
        if found is not None and found.status == "True":
            return f"{found.reason}: {found.message}" if found.message else found.reason
    spec_valid = view.condition(ConditionType.SPEC_VALID)
    if spec_valid is not None and spec_valid.status == "False":
        return f"{spec_valid.reason}: {spec_valid.message}"
    reconciling = view.condition(ConditionType.RECONCILING)
    if reconciling is not None and reconciling.status == "True":
        running = _running_jobs(view)
        if running:
            return f"waiting for Job(s) {', '.join(j.name for j in running)}"
        return reconciling.message or reconciling.reason
    if view.status.phase is Phase.PENDING and not view.status.conditions:
        return "no status yet: is the operator running and watching this namespace?"
    return "-"


def status_table(views: Sequence[View], *, namespaces: bool, now: dt.datetime | None = None) -> str:
    """`kubectl rollover status` for several rollovers."""
    header = ("NAMESPACE",) * namespaces + ("NAME", "DISTRICT", "PHASE", "NEXT", "WHEN", "BLOCKING")
    rows = []
    for view in sorted(views, key=lambda v: (v.namespace, v.name)):
        step, when = next_step(view, now)
        cells = (view.namespace,) * namespaces + (view.name, view.district, view.status.phase.value)
        rows.append((*cells, step, when, _one_line(blocking(view))))
    return columns([header, *rows])


def status_detail(view: View, now: dt.datetime | None = None) -> str:
    """`kubectl rollover status NAME`."""
    status = view.status
    step, when = next_step(view, now)
    lines = [
        ("Rollover", f"{view.namespace}/{view.name}"),
        ("District", view.district),
        ("School year", status.school_year or str(view.spec.get("schoolYear", "-"))),
        ("Time zone", str(view.spec.get("timeZone", "-"))),
        ("Phase", f"{status.phase.value}: {PHASES[status.phase]}"),
        ("Pause at", view.local(status.pause_at)),
        ("Reset at", view.local(status.reset_at)),
        ("Next", f"{step}, {when}"),
        ("Blocking", blocking(view)),
    ]
    preflight = view.condition(ConditionType.PREFLIGHT_PASSED)
    if preflight is not None:
        lines.append(("Preflight", f"{preflight.status} ({preflight.reason})"))
    width = max(len(key) for key, _ in lines)
    text = "\n".join(f"{key + ':':<{width + 1}} {value}" for key, value in lines)
    jobs = [
        f"  {j.name}  {j.step.value} {j.product}: {j.state.value}" + (f": {j.message}" if j.message else "")
        for j in status.jobs
    ]
    sections = [
        text,
        *(["Jobs:", *jobs] if jobs else []),
        *preview_lines(view),
        *retention_lines(view),
        *notices_lines(view),
    ]
    return "\n".join(sections)


def retention_lines(view: View) -> list[str]:
    """`Archives:`: the legal hold, this cycle's certificate, and per finished cycle its retention and
    purge (none while nothing was certified, held or retained)."""
    hold = view.condition(ConditionType.LEGAL_HOLD)
    lines = []
    if hold is not None and hold.status == "True":
        lines.append(f"  LEGAL HOLD: {hold.message}")
    if view.status.certificate is not None:
        lines.append(f"  {view.status.school_year} certificate of deletion: {_link(view.status.certificate)}")
    for entry in view.status.history:
        if entry.retention_until is None and entry.outcome != "Held":
            continue
        kept = f"kept until {entry.retention_until}" if entry.retention_until else "kept"
        said = f"  {entry.school_year} ({entry.outcome}): {kept}"
        if entry.purge is not None and entry.purge.state is JobState.SUCCEEDED:
            said += ", purged" + (f": {_link(entry.purge_certificate)}" if entry.purge_certificate else "")
        elif entry.purge is not None:
            said += f", purge Job {entry.purge.name} {entry.purge.state.value}"
        elif entry.purge_at is not None:
            said += f", purge due {view.local(entry.purge_at)}"
        lines.append(said)
    return ["Archives:", *lines] if lines else []


def _link(link: CertificateLink) -> str:
    return link.location + (f" (sha256 {link.sha256[:12]}…)" if link.sha256 else "")


def notices_lines(view: View) -> list[str]:
    """`Notices:` and one line per delivered notice and channel (none without spec.notify)."""
    notify = view.spec.get("notify") or {}
    if not notify and not view.status.notices:
        return []
    sent = [f"  {view.local(n.sent_at)}  {n.id.split('.')[0]} -> {n.channel}" for n in view.status.notices]
    delivered = view.condition(ConditionType.NOTIFICATIONS_DELIVERED)
    failing = [f"  not delivered: {delivered.message}"] if delivered and delivered.status == "False" else []
    return ["Notices:", *(sent or ["  none delivered yet"]), *failing]


def preview_lines(view: View) -> list[str]:
    """status.preview as a table: per product and table, the rows to archive, delete and keep."""
    preview = view.status.preview
    if not preview:
        return []
    rows: list[tuple[str, ...]] = [("PRODUCT", "TABLE", "ARCHIVE", "DELETE", "KEEP")]
    for product in preview:
        rows += [
            (product.product, t.table, str(t.archive), str(t.delete), str(t.keep)) for t in product.tables
        ]
    checked = max((p.checked_at for p in preview if p.checked_at), default=None)
    header = f"Preview (from the preflight, {view.local(checked)}): what the rollover will do"
    return [header, *("  " + line for line in columns(rows).splitlines())]


def explain(view: View, events: Sequence[dict[str, Any]]) -> str:
    """`kubectl rollover explain NAME`: each condition and the recent events, in plain language."""
    phase = view.status.phase
    out = [
        f"{view.namespace}/{view.name} (district {view.district or '?'}) is {phase.value}: {PHASES[phase]}."
    ]
    reason = blocking(view)
    if reason != "-":
        out.append(f"Blocking: {reason}")
    out.append("")
    out.append("Conditions:")
    if not view.status.conditions:
        out.append("  none yet: the operator has not reported on this rollover")
    explained: set[str] = set()
    for c in view.status.conditions:
        out.append(f"  {c.type}={c.status} ({c.reason}) since {view.local(c.last_transition_time)}")
        if c.message:
            out.append(f"      {c.message}")
        text = meaning(c)
        if text and c.reason not in explained:  # several conditions often share a reason
            explained.add(c.reason)
            out.append(f"      -> {text.replace('NAME', view.name)}")
    if preview := preview_lines(view):
        out += ["", *preview]
    if archives := retention_lines(view):
        out += ["", *archives]
    out.append("")
    recent = sorted(events, key=_event_time)[-RECENT_EVENTS:]
    out.append(f"Recent events ({len(recent)} of {len(events)}, oldest first):")
    if not recent:
        out.append("  none (events expire after an hour by default)")
    for event in recent:
        moment = _event_time(event)
        when = view.local(moment) if moment > _EPOCH else "-"
        count = event.get("count") or 1
        repeat = f" (x{count})" if count > 1 else ""
        out.append(
            f"  {when}  {event.get('type', '')} {event.get('reason', '')}{repeat}: {event.get('message', '')}"
        )
    notices = notices_lines(view)
    if notices:
        out.extend(["", *notices])
    out.append("")
    out.append(f"Runbook: {RUNBOOK}")
    return "\n".join(out)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _event_time(event: dict[str, Any]) -> dt.datetime:
    """When the event last happened (core/v1 events have lastTimestamp; newer ones eventTime)."""
    created = (event.get("metadata") or {}).get("creationTimestamp")
    value = event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp") or created
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else _EPOCH


def _one_line(text: str, width: int = 100) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


# --- calendar -------------------------------------------------------------------------------------


def _accepted_days(view: View) -> tuple[dt.date, dt.datetime, dt.date] | None:
    """The operator's accepted (pause day, reset instant, reset day), while they still apply: they
    are the spec's, or locked because archiving started."""
    status = view.status
    if not (status.pause_date and status.reset_at and status.reset_date):
        return None
    if status.school_year != view.spec.get("schoolYear"):
        return None
    locked = any(j.step is Step.ARCHIVE for j in status.jobs)
    if not locked and status.reset_date.isoformat() != view.spec.get("resetDate"):
        return None
    return status.pause_date, status.reset_at, status.reset_date


def calendar_rows(objects: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Each rollover's pause and reset day (district time), and the ones that cannot be placed:
    the operator's accepted dates, else the spec planned as the operator will plan it."""
    # Imported here: the holidays data it loads slows every other command of the plugin.
    from rollover.calendar import CalendarError, compute_schedule

    rows, unplanned = [], []
    for obj in objects:
        view = View.of(obj)
        days = _accepted_days(view)
        if days is None:
            try:
                spec = parse_spec(view.spec)
                schedule = compute_schedule(spec)
            except (ValidationError, CalendarError) as exc:
                unplanned.append(f"{view.namespace}/{view.name}: {_one_line(str(exc), 200)}")
                continue
            days = schedule.pause_date, schedule.reset_at, spec.reset_date
        pause_day, reset_at, reset_day = days
        rows.append(
            {
                "pauseDate": pause_day.isoformat(),
                "resetAt": reset_at.isoformat(),
                "resetDate": reset_day.isoformat(),
            }
        )
    return rows, unplanned


def calendar_table(rows: list[dict[str, Any]], month: str) -> str:
    """How many districts pause and reset each day of `month` (YYYY-MM): `rollover plan --by-date`."""
    days = [day for day in by_date(rows) if day["date"].startswith(month + "-")]
    if not days:
        return f"no district pauses or resets in {month}"
    pauses, resets = sum(d["pauses"] for d in days), sum(d["resets"] for d in days)
    return by_date_table(days) + f"\n{month}: {pauses} pauses, {resets} resets"


# --- retry ----------------------------------------------------------------------------------------


def retry_refusal(view: View) -> str | None:
    """Why a retry would be wrong now, or None when the rollover may be retried."""
    if view.status.phase is Phase.FAILED:
        return None
    # The operator acts on a new retry value only in Failed; a value set earlier would make a later
    # failure retry itself at once, so refuse instead of leaving that trap.
    return (
        f"{view.namespace}/{view.name} is {view.status.phase.value}, not Failed: there is no failed step "
        "to retry"
    )
