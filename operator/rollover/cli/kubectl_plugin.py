"""`kubectl rollover`: answers for CSMs from the cluster, without reading the operator's logs.

    kubectl rollover status [NAME | -A]           phase, next step and when (district time), what blocks
    kubectl rollover calendar --month 2026-07     how many districts pause and reset each day
    kubectl rollover retry NAME                   retry the failed step (sets rostering.k12.dev/retry)
    kubectl rollover explain NAME                 conditions and recent events in plain language

Installed as the `kubectl-rollover` console script, so kubectl finds it on PATH. It reads and writes
through `kubectl` itself (honouring --kubeconfig, --context and -n), so it authenticates exactly as
kubectl does. The text helpers are pure; `main` is the only part that runs kubectl.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from rollover import GROUP, KIND, PLURAL
from rollover.api.models import (
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
from rollover.cli.tables import by_date, by_date_table, columns
from rollover.labels import RETRY_ANNOTATION

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
RESOURCE = f"{PLURAL}.{GROUP}"
RECENT_EVENTS = 10
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

#: Condition reasons in plain language: what it means, and what to do (if anything).
#: docs/runbook.md says more about each; a test keeps both in step with the planner.
REASONS: dict[str, str] = {
    "Accepted": "The spec passed every rule; its dates are accepted for this school year.",
    "SpecInvalid": "The spec breaks a rule, so nothing changes in the cluster. Fix the YAML in git "
    "(`rollover lint` shows where).",
    "LockedAfterArchiveStarted": "resetDate, schoolYear or products were edited after archiving started; "
    "the operator keeps the accepted values. Revert the edit in git.",
    "NotSuspended": "spec.suspend is false: the operator acts on its schedule.",
    "SuspendedBySpec": "spec.suspend is true: the operator does nothing for this district. Set it back "
    "to false to continue.",
    "Suspended": "spec.suspend is true: the operator does nothing for this district. Set it back to "
    "false to continue.",
    "WaitingForPauseDate": "Waiting for the pause date. Nothing to do.",
    "NotYetPaused": "Roster sync has not been paused yet. Nothing to do.",
    "Pausing": "Suspending the district's roster-sync CronJobs and scaling its CSV imports to 0; this "
    "takes seconds. If it lasts, check the operator is running.",
    "Paused": "Every roster-sync CronJob and CSV import of the district is paused.",
    "WaitingForResetDate": "Roster sync is paused and archiving starts at the reset time. Nothing to do.",
    "WaitingForSyncDrain": "A roster-sync Job that started before the pause is still running; archiving "
    "waits for it to finish. Usually nothing to do.",
    "SyncDrainTimeout": "A roster-sync Job kept running past the drain timeout, so archiving has not "
    "started. Find out why that Job hangs, and delete it once it is safe: archiving then starts.",
    "Archiving": "Archive Jobs are running; nothing is deleted until every one succeeds.",
    "ArchiveSucceeded": "Every product's archive Job succeeded.",
    "ArchiveFailed": "An archive Job failed; nothing was deleted and roster sync stays paused. Read the "
    "Job's message, fix the cause, then run `kubectl rollover retry NAME`.",
    "Resetting": "Reset Jobs are deleting last year's data, after re-checking the archive.",
    "ResetSucceeded": "Every product's reset Job succeeded.",
    "ResetFailed": "A reset Job failed; its transaction rolled back, so nothing of that product was "
    "deleted, and roster sync stays paused. Read the Job's message, fix the cause, then run "
    "`kubectl rollover retry NAME`.",
    "Resuming": "Restoring roster sync to exactly the state it was in before the pause.",
    "Resumed": "Roster sync is restored for the new school year.",
    "RolloverCompleted": "The school year is archived and reset, and roster sync runs again.",
    "WaitingForResetJobs": "The rollover is being deleted; deletion waits for running reset Jobs.",
    "RestoringOnDelete": "The rollover is being deleted; roster sync is restored first.",
}
#: Reasons of SpecValid=False other than the above are validation rules (ResetDateOnHoliday, ...).
SPEC_RULE = "The spec breaks this rule, so nothing changes in the cluster. Fix the YAML in git."


class PluginError(Exception):
    """A kubectl call failed, or the request makes no sense; the message says which."""


# --- kubectl --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kubectl:
    """Runs kubectl with the user's --kubeconfig/--context."""

    kubeconfig: str | None = None
    context: str | None = None

    def run(self, *args: str) -> str:
        command = ["kubectl"]
        if self.kubeconfig:
            command.append(f"--kubeconfig={self.kubeconfig}")
        if self.context:
            command.append(f"--context={self.context}")
        try:
            done = subprocess.run([*command, *args], capture_output=True, text=True, check=False)
        except FileNotFoundError:
            raise PluginError("kubectl is not on PATH") from None
        if done.returncode != 0:
            raise PluginError(done.stderr.strip() or f"kubectl {' '.join(args)} failed")
        return done.stdout

    def json(self, *args: str) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.run(*args, "-o", "json"))
        return parsed


def _scope(namespace: str | None, all_namespaces: bool) -> list[str]:
    if all_namespaces:
        return ["--all-namespaces"]
    return ["--namespace", namespace] if namespace else []


# --- reading a rollover ---------------------------------------------------------------------------


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
        text = shown.strftime("%a %Y-%m-%d %H:%M %Z").strip()
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
    width = max(len(key) for key, _ in lines)
    text = "\n".join(f"{key + ':':<{width + 1}} {value}" for key, value in lines)
    jobs = [
        f"  {j.name}  {j.step.value} {j.product}: {j.state.value}" + (f": {j.message}" if j.message else "")
        for j in status.jobs
    ]
    return "\n".join([text, "Jobs:", *jobs]) if jobs else text


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
        meaning = REASONS.get(c.reason) or (SPEC_RULE if c.type == ConditionType.SPEC_VALID else None)
        if meaning and c.reason not in explained:  # several conditions often share a reason
            explained.add(c.reason)
            out.append(f"      -> {meaning.replace('NAME', view.name)}")
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


def _month(text: str) -> str:
    try:
        dt.date.fromisoformat(text + "-01")
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a month; expected YYYY-MM, e.g. 2026-07") from None
    return text


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


# --- commands -------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The `kubectl rollover` argument parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-n", "--namespace", help="the namespace (default: the context's)")
    common.add_argument("--context", help="the kubeconfig context to use")
    common.add_argument("--kubeconfig", help="the kubeconfig file to use")
    parser = argparse.ArgumentParser(
        prog="kubectl rollover", description="DistrictRollover answers for CSMs."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = commands.add_parser("status", parents=[common], help="phase, next step and when, what is blocking")
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    p.set_defaults(func=_status)
    p = commands.add_parser(
        "calendar",
        parents=[common],
        help="how many districts pause and reset each day (every namespace unless -n)",
    )
    p.add_argument("--month", type=_month, required=True, help="YYYY-MM")
    p.set_defaults(func=_calendar)
    p = commands.add_parser("retry", parents=[common], help="retry the failed step of a Failed rollover")
    p.add_argument("name", metavar="NAME")
    p.set_defaults(func=_retry)
    p = commands.add_parser(
        "explain", parents=[common], help="conditions and recent events in plain language"
    )
    p.add_argument("name", metavar="NAME")
    p.set_defaults(func=_explain)
    return parser


def _status(kubectl: Kubectl, args: argparse.Namespace) -> str:
    now = dt.datetime.now(dt.UTC)
    if args.name:
        if args.all_namespaces:
            raise PluginError("NAME and -A exclude each other")
        return status_detail(
            View.of(kubectl.json("get", RESOURCE, args.name, *_scope(args.namespace, False))), now
        )
    items = kubectl.json("get", RESOURCE, *_scope(args.namespace, args.all_namespaces))["items"]
    if not items:
        return "no DistrictRollovers found"
    return status_table([View.of(o) for o in items], namespaces=args.all_namespaces, now=now)


def _calendar(kubectl: Kubectl, args: argparse.Namespace) -> str:
    items = kubectl.json("get", RESOURCE, *_scope(args.namespace, not args.namespace))["items"]
    rows, unplanned = calendar_rows(items)
    for line in unplanned:
        print(f"kubectl rollover: warning: not counted: {line}", file=sys.stderr)
    return calendar_table(rows, args.month)


def _retry(kubectl: Kubectl, args: argparse.Namespace) -> str:
    scope = _scope(args.namespace, False)
    view = View.of(kubectl.json("get", RESOURCE, args.name, *scope))
    refusal = retry_refusal(view)
    if refusal:
        raise PluginError(refusal)
    token = str(int(time.time()))
    kubectl.run("annotate", RESOURCE, args.name, *scope, f"{RETRY_ANNOTATION}={token}", "--overwrite")
    return (
        f"{view.namespace}/{view.name}: retry requested ({RETRY_ANNOTATION}={token}); the operator creates "
        f"new Jobs for the failed step. Follow it with `kubectl rollover status {view.name}`."
    )


def _explain(kubectl: Kubectl, args: argparse.Namespace) -> str:
    scope = _scope(args.namespace, False)
    view = View.of(kubectl.json("get", RESOURCE, args.name, *scope))
    selector = f"involvedObject.kind={KIND},involvedObject.name={view.name}"
    events = kubectl.json("get", "events", "--namespace", view.namespace, "--field-selector", selector)[
        "items"
    ]
    return explain(view, events)


def main(argv: Sequence[str] | None = None) -> int:
    """Run `kubectl rollover`; the process exit code."""
    args = build_parser().parse_args(argv)
    handler: Callable[[Kubectl, argparse.Namespace], str] = args.func
    try:
        print(handler(Kubectl(args.kubeconfig, args.context), args))
    except PluginError as exc:
        print(f"kubectl rollover: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
