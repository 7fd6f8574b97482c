"""`kubectl rollover`: what it says about a rollover (pure), its kubectl calls, and its vocabulary kept
in step with the reasons the operator writes and the CSM runbook."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest

from rollover.api.models import Condition, ConditionType, Phase
from rollover.cli import kubectl, status_text
from rollover.cli import kubectl_plugin as plugin
from rollover.cli.explanations import PHASES, REASONS, SPEC_RULE, meaning
from rollover.cli.status_text import View
from rollover.reasons import EventReason, Reason, RuleCode
from tests.unit.test_health_lua import rollover_in

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
RUNBOOK = REPO / "docs" / "runbook.md"
NOW = dt.datetime(2027, 7, 1, 12, tzinfo=dt.UTC)


def spec_valid_false(reason: str) -> Condition:
    return Condition(type=ConditionType.SPEC_VALID, status="False", reason=reason, last_transition_time=NOW)


def test_the_plugin_explains_every_phase_and_condition_reason() -> None:
    assert set(PHASES) == set(Phase)
    assert set(REASONS) == set(Reason)


def test_a_condition_reason_is_found_by_its_string() -> None:
    assert meaning(spec_valid_false("SpecInvalid")) == REASONS[Reason.SPEC_INVALID]


def test_validation_rule_codes_are_explained_as_a_broken_rule() -> None:
    for code in RuleCode:
        assert code.value not in set(Reason), f"{code} is both a rule code and a condition reason"
        assert meaning(spec_valid_false(code)) == SPEC_RULE, code


def test_an_unknown_reason_of_another_condition_is_not_explained() -> None:
    unknown = spec_valid_false("FromANewerOperator").model_copy(update={"type": ConditionType.STALLED})
    assert meaning(unknown) is None


def test_the_runbook_covers_every_phase_reason_event_and_rule() -> None:
    text = RUNBOOK.read_text()
    documented = set(re.findall(r"`([A-Za-z]+)`", text))
    # The bare phase-change events are one row of the runbook: `PhaseScheduled`, `PhasePaused`, ...
    phase_changes = {EventReason.phase_change(phase) for phase in Phase}
    for what, names in (
        ("phase", {p.value for p in Phase}),
        ("condition reason", {r.value for r in Reason}),
        ("event reason", {r.value for r in set(EventReason) - phase_changes}),
        ("validation rule", {r.value for r in RuleCode}),
    ):
        missing = names - documented
        assert not missing, f"docs/runbook.md lacks the {what}(s) {sorted(missing)}"


# --- status -----------------------------------------------------------------------------------------


def view(state: str, **spec: Any) -> View:
    return View.of(rollover_in(state, **spec))


@pytest.mark.parametrize(
    ("state", "step", "when"),
    [
        ("Scheduled", "pause roster sync", "Thu 2027-07-15 00:00 CDT (in 13d 17h)"),
        ("Paused", "archive", "Fri 2027-07-16 00:00 CDT (in 14d 17h)"),
        ("Archiving", "reset", "when every archive Job succeeds"),
        ("Resetting", "resume roster sync", "when every reset Job succeeds"),
        ("ArchiveFailed", "retry the failed step", "after `kubectl rollover retry springfield`"),
        ("Suspended", "nothing while spec.suspend is true", "-"),
        ("Pending", "plan the rollover", "when the spec is valid"),
    ],
)
def test_next_step_and_when_in_the_district_time_zone(state: str, step: str, when: str) -> None:
    assert status_text.next_step(view(state), NOW) == (step, when)


def test_times_are_shown_in_the_districts_own_zone() -> None:
    phoenix = view("Scheduled", timeZone="America/Phoenix")
    assert phoenix.local(phoenix.status.pause_at) == "Wed 2027-07-14 22:00 MST"


@pytest.mark.parametrize(
    ("state", "blocked_by"),
    [
        ("Scheduled", "-"),
        ("Completed", "-"),
        ("Archiving", "waiting for Job(s) springfield-2026-2027-archive-imagine-math"),
        ("WaitingForSyncDrain", "waiting for sync Job(s) clever-sync-29001 to finish before archiving"),
        ("SyncDrainTimeout", "SyncDrainTimeout: sync Job(s) clever-sync-29001 still running"),
        (
            "ArchiveFailed",
            "ArchiveFailed: imagine-math: Job springfield-2026-2027-archive-imagine-math failed",
        ),
        ("SpecInvalid", "ResetDateOnWeekend: spec.resetDate: 2027-07-17 is a Saturday"),
        ("Suspended", "SuspendedBySpec: spec.suspend is true"),
        ("Pending", "no status yet: is the operator running and watching this namespace?"),
    ],
)
def test_what_is_blocking(state: str, blocked_by: str) -> None:
    assert status_text.blocking(view(state)).startswith(blocked_by)


def test_the_status_table_has_one_row_per_rollover_and_namespaces_with_all() -> None:
    views = [
        view("Scheduled"),
        View.of(rollover_in("Archiving") | {"metadata": {"name": "a", "namespace": "x"}}),
    ]
    table = status_text.status_table(views, namespaces=True, now=NOW).splitlines()
    assert table[0].split() == ["NAMESPACE", "NAME", "DISTRICT", "PHASE", "NEXT", "WHEN", "BLOCKING"]
    assert table[1].split()[:4] == ["district-il", "springfield", "IL-0631950", "Scheduled"]
    assert table[2].split()[:4] == ["x", "a", "IL-0631950", "Archiving"]
    assert status_text.status_table(views, namespaces=False, now=NOW).startswith("NAME ")


def test_the_detail_lists_schedule_next_step_and_jobs() -> None:
    detail = status_text.status_detail(view("ArchiveFailed"), NOW)
    assert "Rollover:" in detail and "district-il/springfield" in detail
    assert "Reset at:    Fri 2027-07-16 00:00 CDT" in detail
    assert "Phase:       Failed: a Job failed" in detail
    assert detail.endswith(
        "Jobs:\n  springfield-2026-2027-archive-imagine-math  archive imagine-math: Failed: "
        "archive destination unreachable"
    )


def test_an_unreadable_status_is_said_so() -> None:
    broken = rollover_in("Scheduled") | {"status": {"phase": "Sideways"}}
    assert "unreadable" in status_text.blocking(View.of(broken))


# --- explain ----------------------------------------------------------------------------------------


def event(reason: str, message: str, at: str, type_: str = "Normal", count: int = 1) -> dict[str, Any]:
    return {"type": type_, "reason": reason, "message": message, "lastTimestamp": at, "count": count}


def test_explain_says_what_each_condition_means_and_lists_recent_events() -> None:
    events = [event(f"Phase{i}", f"event {i}", f"2027-07-16T0{i}:00:00Z") for i in range(9)]
    events.append(event("ArchiveFailed", "imagine-math: Job failed", "2027-07-16T09:30:00Z", "Warning", 3))
    events.append(event("SyncPaused", "Roster sync paused", "2027-07-15T05:00:00Z"))
    text = status_text.explain(view("ArchiveFailed"), events)
    assert text.startswith("district-il/springfield (district IL-0631950) is Failed: a Job failed;")
    assert "Stalled=True (ArchiveFailed) since" in text
    assert "-> An archive Job failed; nothing was deleted" in text
    assert "`kubectl rollover retry springfield`" in text
    assert "Recent events (10 of 11, oldest first):" in text
    assert "Fri 2027-07-16 04:30 CDT  Warning ArchiveFailed (x3): imagine-math: Job failed" in text
    assert "Roster sync paused" not in text, "only the ten most recent"
    assert text.rstrip().endswith("docs/runbook.md")


def test_explain_of_an_invalid_spec_points_at_the_rule() -> None:
    text = status_text.explain(view("SpecInvalid"), [])
    assert "SpecValid=False (ResetDateOnWeekend)" in text
    assert SPEC_RULE in text
    assert "none (events expire after an hour by default)" in text


# --- calendar ---------------------------------------------------------------------------------------


def test_the_calendar_counts_pauses_and_resets_per_district_day() -> None:
    objects = [
        rollover_in("Scheduled"),  # accepted dates from the status: pause Jul 15, reset Jul 16
        rollover_in("Pending", resetDate="2027-07-23"),  # not yet planned: from the spec
        rollover_in("Pending", resetDate="2027-08-02"),  # a Monday: its pause is Friday Jul 30
        rollover_in("Pending", timeZone="Mars/Olympus"),  # cannot be placed
    ]
    rows, unplanned = status_text.calendar_rows(objects)
    assert len(rows) == 3
    assert unplanned == [
        "district-il/springfield: 'Mars/Olympus' is not an IANA time zone, e.g. America/Chicago"
    ]
    table = status_text.calendar_table(rows, "2027-07").splitlines()
    assert [line.split()[:3] for line in table] == [
        ["DATE", "PAUSES", "RESETS"],
        ["2027-07-15", "1", "0"],
        ["2027-07-16", "0", "1"],
        ["2027-07-22", "1", "0"],
        ["2027-07-23", "0", "1"],
        ["2027-07-30", "1", "0"],
        ["2027-07:", "3", "pauses,"],
    ]
    assert status_text.calendar_table(rows, "2027-12") == "no district pauses or resets in 2027-12"


def test_a_month_must_be_a_month() -> None:
    with pytest.raises(SystemExit):
        plugin.build_parser().parse_args(["calendar", "--month", "July"])


# --- retry and the kubectl calls --------------------------------------------------------------------


def test_retry_is_refused_unless_failed() -> None:
    assert status_text.retry_refusal(view("ArchiveFailed")) is None
    refusal = status_text.retry_refusal(view("Archiving"))
    assert refusal == "district-il/springfield is Archiving, not Failed: there is no failed step to retry"


class FakeKubectl:
    """Answers `get` with canned objects and records every call."""

    def __init__(self, obj: dict[str, Any]) -> None:
        self.obj = obj
        self.calls: list[tuple[str, ...]] = []

    def run(self, *args: str) -> str:
        self.calls.append(args)
        if args[0] == "get" and args[1] == "events":
            return json.dumps({"items": []})
        return json.dumps(self.obj) if args[0] == "get" else ""


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeKubectl:
    fake_kubectl = FakeKubectl(rollover_in("ArchiveFailed"))
    monkeypatch.setattr(kubectl.Kubectl, "run", fake_kubectl.run)
    return fake_kubectl


def test_retry_annotates_with_a_new_token(fake: FakeKubectl, capsys: pytest.CaptureFixture[str]) -> None:
    assert plugin.main(["retry", "springfield", "-n", "district-il", "--context", "prod"]) == plugin.EXIT_OK
    annotate = fake.calls[-1]
    assert annotate[:5] == ("annotate", plugin.RESOURCE, "springfield", "--namespace", "district-il")
    assert re.fullmatch(r"rostering\.k12\.dev/retry=\d+", annotate[5]) and annotate[6] == "--overwrite"
    assert "retry requested" in capsys.readouterr().out


def test_a_refused_retry_exits_1_and_writes_nothing(
    fake: FakeKubectl, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.obj = rollover_in("Scheduled")
    assert plugin.main(["retry", "springfield"]) == plugin.EXIT_ERROR
    assert [c[0] for c in fake.calls] == ["get"]
    assert "not Failed" in capsys.readouterr().err


def test_explain_asks_for_the_rollovers_events(fake: FakeKubectl) -> None:
    assert plugin.main(["explain", "springfield", "-n", "district-il"]) == plugin.EXIT_OK
    assert fake.calls[-1][:6] == (
        "get",
        "events",
        "--namespace",
        "district-il",
        "--field-selector",
        "involvedObject.kind=DistrictRollover,involvedObject.name=springfield",
    )


def test_the_calendar_reads_every_namespace_unless_told(fake: FakeKubectl) -> None:
    fake.obj = {"items": [rollover_in("Scheduled")]}
    plugin.main(["calendar", "--month", "2027-07"])
    plugin.main(["calendar", "--month", "2027-07", "-n", "district-il"])
    assert [c[2:] for c in fake.calls] == [
        ("--all-namespaces", "-o", "json"),
        ("--namespace", "district-il", "-o", "json"),
    ]


def test_kubectl_flags_are_passed_through(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []

    def run(command: list[str], **_: Any) -> Any:
        seen.append(command)
        raise FileNotFoundError

    monkeypatch.setattr(kubectl.subprocess, "run", run)
    assert plugin.main(["status", "-A", "--kubeconfig", "/k", "--context", "c"]) == plugin.EXIT_ERROR
    assert seen[0][:3] == ["kubectl", "--kubeconfig=/k", "--context=c"]


def test_status_and_explain_list_the_notices_delivered_and_a_failing_one() -> None:
    base = rollover_in("Paused", notify={"emails": ["it@springfield.k12.il.us"], "channels": ["ops"]})
    base["status"]["notices"] = [
        {
            "id": "pause-ahead.2026-2027.springfield.district-il",
            "channel": "email",
            "sentAt": "2027-07-14T14:00:00Z",
        }
    ]
    base["status"]["conditions"].append(
        {
            "type": "NotificationsDelivered",
            "status": "False",
            "reason": "NotificationFailed",
            "message": "webhook ops: the receiver answered HTTP 500",
            "lastTransitionTime": "2027-07-14T14:00:00Z",
        }
    )
    detail = status_text.status_detail(View.of(base), NOW)
    assert "Notices:\n  Wed 2027-07-14 09:00 CDT  pause-ahead -> email" in detail
    assert "not delivered: webhook ops: the receiver answered HTTP 500" in detail
    assert "pause-ahead -> email" in status_text.explain(View.of(base), [])
    assert "Notices:" not in status_text.status_detail(view("Paused"), NOW)
