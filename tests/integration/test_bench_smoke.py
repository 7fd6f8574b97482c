"""Small versions of the benchmarks, so they don't rot; the real runs are `make bench`."""

from __future__ import annotations

import pytest

from benchmarks.herd_bench import run as run_herd
from benchmarks.herd_bench import run_failover
from benchmarks.idle_bench import run as run_idle
from benchmarks.soak import soak

pytestmark = pytest.mark.integration


def test_idle_rollovers_cost_no_api_writes_and_a_restart_writes_nothing() -> None:
    result = run_idle(rollovers=40, namespaces=4, idle_seconds=10)
    assert result["idle_writes"] == 0, result["idle_requests"]
    assert result["idle_requests"] == {}, "waiting should cost no reads either"
    # First acceptance: the district claim, one status write, the Scheduled Event; the floor the same.
    assert result["cold_start_writes"] == {
        "PATCH districtrollovers/status": 40,
        "POST configmaps": 40,
        "POST events": 40,
    }, result["cold_start_writes"]
    assert result["cold_start_floor_requests"] == 120 and result["cold_start_floor_s"] > 0
    assert result["restart_writes"] == 0, result["restart_write_requests"]
    assert result["restart_armed"] == 40


def test_herd_is_timed_against_its_floor_with_the_minimum_requests_per_transition() -> None:
    # A simulated day in 43 s: the pause and its floor's three rounds (each beside a watcher process
    # started 3.5 s ahead) must end before the reset.
    result = run_herd(rollovers=30, namespaces=3, lead_s=25, rate=2000)
    assert result["tracebacks"] == 0
    assert result["herd_pause_floor_s"] > 0 and result["herd_archive_floor_s"] > 0
    # The minimum the design needs, per rollover: its 3 CronJob PATCHes and two status writes for
    # the pause (the record of what to restore goes first: a target's annotation is not trusted, so
    # no crash may leave it the only record; then the result), plus the finalizer, added before the
    # first pause; 2 Job creates and one status write for the archive. Events: one per transition.
    pause = result["pause_requests_per_rollover"]
    assert pause["PATCH cronjobs"] == 3 and pause["PATCH districtrollovers/status"] == 2, pause
    assert pause["PATCH districtrollovers"] == 1 and pause["POST events"] == 1, pause
    archive = result["archive_requests_per_rollover"]
    assert archive["POST jobs"] == 2 and archive["PATCH districtrollovers/status"] == 1, archive
    assert archive["POST events"] == 1, archive  # ArchiveStarted (the job controller's are not ours)


def test_failover_mid_herd_misses_nothing_and_duplicates_nothing() -> None:
    result = run_failover(rollovers=30, namespaces=3, lead_s=25, rate=3000, lease_s=4)
    assert result["violations"] == [] and result["tracebacks"] == 0
    assert 0 < result["failover_gap_s"] < 4 + 3, result


def test_soak_kills_and_restarts_keep_every_invariant_and_the_planned_failure_fails() -> None:
    result = soak(
        districts=3, kills=2, seed=20261129, apiserver_restarts=1, namespaces=1, rate=None, timeout=180
    )
    assert result["violations"] == [], result
    assert result["kills"] == 2 and result["apiserver_restarts"] == 1, result
    assert result["final_phases"] == {"Completed": 2, "Failed": 1}, result
    # One Job fails: the planned one. (Its pods may be two: across an apiserver restart the job
    # controller can start a second pod of a backoffLimit-0 Job before it sees the first fail.)
    assert len(result["jobs_failed"]) == 1 and "-archive-" in result["jobs_failed"][0], result
