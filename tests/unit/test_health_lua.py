"""The Argo CD health check (charts/district-rollover/health.lua) in a real Lua 5.1 runtime (Argo CD's
gopher-lua is Lua 5.1), against the statuses the planner really writes in every phase."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import lupa.lua51 as lua51
import pytest

from rollover.api.models import DistrictRolloverStatus, JobState, Phase, Step, dump
from rollover.observed import Observed
from tests.unit.test_planner import (
    CREATED,
    NAME,
    PAUSE_AT,
    RESET_AT,
    cronjob,
    job,
    mine,
    rollover,
    spec,
    step_through,
)

pytestmark = pytest.mark.unit

CHART = Path(__file__).resolve().parents[2] / "charts" / "district-rollover"
HEALTH_LUA = CHART / "health.lua"
PRODUCT = "imagine-math"
ONE_PRODUCT: dict[str, Any] = {"products": [PRODUCT]}


def _settle(
    status: DistrictRolloverStatus, observed: Observed, now: dt.datetime, **overrides: Any
) -> DistrictRolloverStatus:
    """The status after two reconciles (the second sees the first's write), as the operator would."""
    return step_through(rollover(status, **ONE_PRODUCT, **overrides), observed, now).status


def _statuses() -> dict[str, DistrictRolloverStatus]:
    scheduled = _settle(DistrictRolloverStatus(), Observed(targets=(cronjob("clever-sync"),)), CREATED)
    paused_targets = (cronjob("clever-sync", suspended=True, original=mine()),)
    pausing = _settle(scheduled, Observed(targets=(cronjob("clever-sync"),)), PAUSE_AT)  # records the pause
    paused = _settle(pausing, Observed(targets=paused_targets), PAUSE_AT + dt.timedelta(hours=1))
    draining = Observed(targets=paused_targets, active_sync_jobs=("clever-sync-29001",))
    archiving = _settle(paused, Observed(targets=paused_targets), RESET_AT + dt.timedelta(minutes=1))
    archived = (job(Step.ARCHIVE, PRODUCT, JobState.SUCCEEDED),)
    resetting = _settle(
        archiving, Observed(targets=paused_targets, jobs=archived), RESET_AT + dt.timedelta(hours=1)
    )
    all_done = (*archived, job(Step.RESET, PRODUCT, JobState.SUCCEEDED))
    later = RESET_AT + dt.timedelta(hours=2)
    resuming = _settle(resetting, Observed(targets=paused_targets, jobs=all_done), later)

    def failed(step: Step, before: DistrictRolloverStatus, *done: Any) -> DistrictRolloverStatus:
        failure = job(step, PRODUCT, JobState.FAILED, message="archive destination unreachable")
        return _settle(before, Observed(targets=paused_targets, jobs=(*done, failure)), later)

    return {
        "Pending": DistrictRolloverStatus(),
        "SpecInvalid": _settle(DistrictRolloverStatus(), Observed(), CREATED, resetDate="2027-07-17"),
        "Scheduled": scheduled,
        "Suspended": _settle(scheduled, Observed(), CREATED, suspend=True),
        "Paused": paused,
        "WaitingForSyncDrain": _settle(paused, draining, RESET_AT + dt.timedelta(minutes=1)),
        "SyncDrainTimeout": _settle(paused, draining, RESET_AT + dt.timedelta(hours=7)),
        "Archiving": archiving,
        "ArchiveFailed": failed(Step.ARCHIVE, archiving),
        "Resetting": resetting,
        "ResetFailed": failed(Step.RESET, resetting, *archived),
        "Resuming": resuming,
        "Completed": _settle(resuming, Observed(targets=(cronjob("clever-sync"),), jobs=all_done), later),
    }


STATUSES = _statuses()


def rollover_in(state: str, *, generation: int = 1, **overrides: Any) -> dict[str, Any]:
    """A DistrictRollover object (as kubectl/Argo CD read it) in one of the states of STATUSES."""
    status = STATUSES[state]
    suspended = {"suspend": True} if state == "Suspended" else {}
    obj: dict[str, Any] = {
        "apiVersion": "rostering.k12.dev/v1alpha1",
        "kind": "DistrictRollover",
        "metadata": {"name": NAME, "namespace": "district-il", "generation": generation},
        "spec": spec(**ONE_PRODUCT | suspended | overrides),
    }
    if status != DistrictRolloverStatus():
        obj["status"] = dump(status)
    return obj


def health(obj: dict[str, Any]) -> tuple[str, str]:
    """Run health.lua on `obj` as Argo CD does (a global `obj`; the script returns {status, message})."""
    lua = lua51.LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute(HEALTH_LUA.read_text())
    return str(result["status"]), str(result["message"])


def test_the_fixtures_cover_every_phase() -> None:
    assert {s.phase for s in STATUSES.values()} == set(Phase)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("Pending", "Progressing"),
        ("SpecInvalid", "Degraded"),
        ("Scheduled", "Healthy"),
        ("Suspended", "Suspended"),
        ("Paused", "Healthy"),
        ("WaitingForSyncDrain", "Progressing"),
        ("SyncDrainTimeout", "Degraded"),
        ("Archiving", "Progressing"),
        ("ArchiveFailed", "Degraded"),
        ("Resetting", "Progressing"),
        ("ResetFailed", "Degraded"),
        ("Resuming", "Progressing"),
        ("Completed", "Healthy"),
    ],
)
def test_health_of_each_state(state: str, expected: str) -> None:
    status, message = health(rollover_in(state))
    assert status == expected, message
    assert message


def test_messages_say_the_phase_and_why() -> None:
    assert health(rollover_in("ArchiveFailed"))[1].startswith(
        "Failed: ArchiveFailed: imagine-math: Job springfield-2026-2027-archive-imagine-math failed: archive "
        "destination unreachable"
    )
    assert health(rollover_in("Scheduled"))[1].startswith(
        "Scheduled: WaitingForPauseDate: Roster sync pauses"
    )


def test_a_status_older_than_the_spec_is_progressing() -> None:
    assert health(rollover_in("Completed", generation=2)) == (
        "Progressing",
        "Waiting for the operator to observe generation 2",
    )


def test_suspend_wins_even_before_the_operator_saw_it() -> None:
    assert health(rollover_in("Archiving", generation=2, suspend=True))[0] == "Suspended"


def test_the_chart_readme_ships_this_exact_script_for_argocd_cm() -> None:
    readme = (CHART / "README.md").read_text()
    key = "resource.customizations.health.rostering.k12.dev_DistrictRollover: |"
    assert key in readme
    block = readme.split(key, 1)[1].split("```", 1)[0]
    script = "\n".join(re.sub(r"^    ", "", line) for line in block.strip("\n").splitlines())
    assert script.strip() == HEALTH_LUA.read_text().strip(), "copy health.lua into the chart README again"
