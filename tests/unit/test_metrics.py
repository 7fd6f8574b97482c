"""Per-rollover metrics are built at scrape time from one entry per rollover."""

from __future__ import annotations

import datetime as dt

import pytest
from prometheus_client import REGISTRY, generate_latest

from rollover.api.models import DistrictRolloverStatus, Phase
from rollover.controller import metrics

pytestmark = pytest.mark.unit

NEXT = dt.datetime(2027, 7, 15, 5, tzinfo=dt.UTC)


def phase(name: str, value: Phase) -> float | None:
    return REGISTRY.get_sample_value(
        "rollover_phase", {"namespace": "ns-m", "name": name, "phase": value.value}
    )


def next_transition(name: str) -> float | None:
    return REGISTRY.get_sample_value(
        "rollover_next_transition_timestamp_seconds", {"namespace": "ns-m", "name": name}
    )


def test_every_phase_is_reported_with_one_for_the_current_one_and_the_next_transition() -> None:
    scheduled = DistrictRolloverStatus(phase=Phase.SCHEDULED, next_transition_at=NEXT)
    metrics.record("ns-m", "a", DistrictRolloverStatus(), scheduled)
    assert {p: phase("a", p) for p in Phase} == {p: float(p is Phase.SCHEDULED) for p in Phase}
    assert next_transition("a") == NEXT.timestamp()


def test_a_rollover_with_no_next_transition_has_no_such_series_and_a_deleted_one_none_at_all() -> None:
    scheduled = DistrictRolloverStatus(phase=Phase.SCHEDULED, next_transition_at=NEXT)
    metrics.record("ns-m", "b", DistrictRolloverStatus(), scheduled)
    metrics.record("ns-m", "b", scheduled, DistrictRolloverStatus(phase=Phase.COMPLETED))
    assert phase("b", Phase.COMPLETED) == 1.0
    assert next_transition("b") is None
    metrics.forget("ns-m", "b")
    assert phase("b", Phase.COMPLETED) is None


def test_a_scrape_of_the_workqueue_gauges_alone_builds_no_per_rollover_series(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def never(self: metrics.RolloverStates) -> None:
        raise AssertionError("per-rollover series were built for a scrape that did not ask for them")

    metrics.follow_reconciler(depth=lambda: 3, armed=lambda: 15000)
    monkeypatch.setattr(metrics.RolloverStates, "collect", never)
    scrape = generate_latest(
        REGISTRY.restricted_registry(["rollover_wakeups_armed", "rollover_workqueue_depth"])
    )
    assert b"rollover_wakeups_armed 15000.0" in scrape
    assert b"rollover_workqueue_depth 3.0" in scrape
