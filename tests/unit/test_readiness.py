"""The readiness checklist: open items, the spec's warnings, `rollover lint` near the pause, and the
ReadinessAcknowledged condition and the archive gate in the planner."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollover.api.models import ConditionType, DistrictRolloverStatus, JobState, Phase, Step, parse_spec
from rollover.calendar import BusinessCalendar
from rollover.cli.main import main
from rollover.observed import Observed
from rollover.planner import CreateJob, PauseTarget, Rollover, Settings, plan
from rollover.readiness import DEFAULT_ITEMS, business_days_until, open_items, required_items
from rollover.validation import readiness_due_findings, validate_spec
from tests.unit.test_planner import (
    CREATED,
    PAUSE_AT,
    RESET_AT,
    cond,
    cronjob,
    job,
    mine,
    ours,
    spec,
)

pytestmark = pytest.mark.unit

BLOCKING = Settings(readiness_blocks_archive=True)
ITEMS = tuple(DEFAULT_ITEMS)


def ack(item: str) -> dict[str, str]:
    return {"item": item, "by": "registrar@district.example.org", "at": "2027-07-01"}


def readiness_spec(*acknowledged: str, items: list[str] | None = None) -> dict[str, Any]:
    readiness: dict[str, Any] = {"acknowledged": [ack(i) for i in acknowledged]}
    if items is not None:
        readiness["items"] = items
    return spec(readiness=readiness)


def test_the_default_checklist_is_the_guides_four_items() -> None:
    assert ITEMS == ("grades-finalized", "reports-exported", "summer-school-imported", "id-plan-confirmed")
    assert required_items(parse_spec(spec())) == ITEMS
    assert open_items(parse_spec(spec())) == ITEMS


@given(st.sets(st.sampled_from(ITEMS)))
def test_open_items_are_the_required_ones_nobody_acknowledged_in_checklist_order(done: set[str]) -> None:
    items = open_items(parse_spec(readiness_spec(*sorted(done))))

    assert items == tuple(i for i in ITEMS if i not in done)


def test_a_district_may_have_its_own_list_or_none() -> None:
    assert open_items(parse_spec(readiness_spec(items=[]))) == ()
    assert open_items(parse_spec(readiness_spec("rosters-reviewed", items=["rosters-reviewed"]))) == ()


def test_unknown_and_repeated_acknowledgements_are_warnings_with_their_field() -> None:
    findings = validate_spec(
        parse_spec(readiness_spec("grades-finalized", "grades-finalized", "lunch")), CREATED
    )

    found = {(f.field, f.code, f.severity) for f in findings}
    assert ("spec.readiness.acknowledged[1].item", "ReadinessItemAcknowledgedTwice", "warning") in found
    assert ("spec.readiness.acknowledged[2].item", "ReadinessItemUnknown", "warning") in found


@pytest.mark.parametrize(
    ("now", "warned"),
    [
        (dt.datetime(2027, 7, 7, 12, tzinfo=dt.UTC), False),  # 6 business days before Thu Jul 15
        (dt.datetime(2027, 7, 8, 12, tzinfo=dt.UTC), True),  # 5
        (PAUSE_AT + dt.timedelta(hours=1), True),  # paused, not yet archived
        (RESET_AT + dt.timedelta(hours=1), False),  # too late to matter
    ],
)
def test_lint_warns_within_n_business_days_of_the_pause(now: dt.datetime, warned: bool) -> None:
    findings = readiness_due_findings(parse_spec(spec()), now, 5)

    assert bool(findings) is warned
    if warned:
        assert findings[0].field == "spec.readiness" and "grades-finalized" in findings[0].message


def test_business_days_until_skips_weekends_and_holidays() -> None:
    calendar = BusinessCalendar(parse_spec(spec()).calendar)
    # Fri Jul 2 -> Thu Jul 8: Monday Jul 5 is Independence Day observed.
    assert business_days_until(calendar, dt.date(2027, 7, 2), dt.date(2027, 7, 8)) == 3
    assert business_days_until(calendar, dt.date(2027, 7, 8), dt.date(2027, 7, 8)) == 0


def test_rollover_lint_prints_the_open_items_at_their_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = tmp_path / "il.yaml"
    document.write_text(
        "apiVersion: rostering.k12.dev/v1alpha1\nkind: DistrictRollover\nmetadata:\n  name: one\n"
        "  namespace: district-il\nspec:\n  districtId: IL-1\n  schoolYear: 2026-2027\n"
        "  resetDate: 2027-07-16\n  timeZone: America/Chicago\n  calendar:\n    subdivision: IL\n"
        "  products: [imagine-math]\n  syncSelector:\n    matchLabels: {a: b}\n"
        "  readiness:\n    acknowledged:\n      - {item: grades-finalized, by: registrar, at: 2027-07-01}\n",
        encoding="utf-8",
    )

    status = main(["lint", "--now", "2027-07-09T12:00:00Z", str(document)])
    out = capsys.readouterr().out

    assert status == 0, "a warning, not an error"
    assert out.startswith(f"{document}:16:3: warning: ")
    assert "reports-exported, summer-school-imported, id-plan-confirmed" in out
    assert "grades-finalized" not in out
    assert main(["lint", "--now", "2027-07-09T12:00:00Z", "--readiness-days", "2", str(document)]) == 0
    assert capsys.readouterr().out == ""


# --- the planner ---------------------------------------------------------------------------------


def paused(raw_spec: dict[str, Any]) -> DistrictRolloverStatus:
    fresh = Rollover("district-il", "springfield", 1, raw_spec, DistrictRolloverStatus())
    accepted = plan(fresh, Observed(), CREATED).status
    return ours(cronjob("clever-sync", suspended=True, original=mine()), status=accepted)


def at_reset(raw_spec: dict[str, Any], settings: Settings, *jobs: Any) -> Any:
    target = cronjob("clever-sync", suspended=True, original=mine())
    rollover = Rollover("district-il", "springfield", 1, raw_spec, paused(raw_spec))
    return plan(rollover, Observed(targets=(target,), jobs=jobs), RESET_AT, settings)


def test_the_condition_lists_the_open_items() -> None:
    fresh = Rollover(
        "district-il", "springfield", 1, readiness_spec("grades-finalized"), DistrictRolloverStatus()
    )
    p = plan(fresh, Observed(), CREATED)

    status = p.status.condition(ConditionType.READINESS_ACKNOWLEDGED)
    assert status is not None and (status.status, status.reason) == ("False", "ReadinessItemsOpen")
    assert status.message.endswith("reports-exported, summer-school-imported, id-plan-confirmed")
    done = plan(
        Rollover("district-il", "springfield", 1, readiness_spec(*ITEMS), p.status), Observed(), CREATED
    )
    assert cond(done, ConditionType.READINESS_ACKNOWLEDGED) == ("True", "AllItemsAcknowledged")


def test_open_items_never_hold_the_pause_even_when_they_hold_the_archive() -> None:
    rollover = Rollover(
        "district-il", "springfield", 1, spec(), paused(spec()).model_copy(update={"sync_targets": []})
    )

    p = plan(rollover, Observed(targets=(cronjob("clever-sync"),)), PAUSE_AT, BLOCKING)

    assert [a.name for a in p.actions if isinstance(a, PauseTarget)] == ["clever-sync"]


def test_with_the_option_open_items_stall_the_archive_and_acknowledging_them_starts_it() -> None:
    p = at_reset(spec(), BLOCKING)

    assert p.status.phase is Phase.PAUSED
    assert cond(p, ConditionType.STALLED) == ("True", "ArchiveWaitsForReadiness")
    assert not [a for a in p.actions if isinstance(a, CreateJob)]
    assert [a.reason for a in p.actions if getattr(a, "type", "") == "Warning"] == [
        "ArchiveWaitsForReadiness"
    ]

    done = at_reset(readiness_spec(*ITEMS), BLOCKING)
    assert {a.step for a in done.actions if isinstance(a, CreateJob)} == {Step.ARCHIVE}
    assert done.status.phase is Phase.ARCHIVING


def test_without_the_option_open_items_archive_as_before() -> None:
    p = at_reset(spec(), Settings())

    assert p.status.phase is Phase.ARCHIVING
    assert cond(p, ConditionType.READINESS_ACKNOWLEDGED)[0] == "False"


def test_an_archive_under_way_is_never_stopped_by_the_checklist() -> None:
    running = tuple(job(Step.ARCHIVE, p, JobState.RUNNING) for p in ("imagine-math", "twig-science"))

    p = at_reset(spec(), BLOCKING, *running)

    assert p.status.phase is Phase.ARCHIVING
    assert cond(p, ConditionType.STALLED)[0] == "False"
