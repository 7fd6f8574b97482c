"""What the cache shows the planner of one rollover: the targets its selector selects, and those it paused."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from rollover.api.models import SyncTargetKind
from rollover.controller.cache import Cache
from rollover.labels import DISTRICTS_ANNOTATION, ORIGINAL_STATE_ANNOTATION
from rollover.observed import OriginalState
from rollover.planner import EmitEvent, Rollover, plan
from tests.unit.test_planner import PAUSE_AT, YEAR, accepted, spec

pytestmark = pytest.mark.unit

NAMESPACE = "district-il"
DISTRICTS = [f"district-{i}" for i in range(18)]


def rollover_body(name: str) -> dict[str, Any]:
    selector = {"matchLabels": {"district": name}}
    return {"metadata": {"namespace": NAMESPACE, "name": name}, "spec": spec(syncSelector=selector)}


def cronjob_body(name: str, labels: dict[str, str], paused_by: str | None = None) -> dict[str, Any]:
    annotations = {}
    if paused_by is not None:
        annotations[ORIGINAL_STATE_ANNOTATION] = OriginalState(paused_by, YEAR, suspend=False).to_annotation()
    return {
        "metadata": {"namespace": NAMESPACE, "name": name, "labels": labels, "annotations": annotations},
        "spec": {"suspend": paused_by is not None},
    }


def paused_namespace() -> Cache:
    """Every district's own roster sync, each paused by its own rollover."""
    cache = Cache()
    allowed = {DISTRICTS_ANNOTATION: spec()["districtId"]}
    cache.namespace_changed("ADDED", {"metadata": {"name": NAMESPACE, "annotations": allowed}})
    for name in DISTRICTS:
        cache.rollovers[NAMESPACE][name] = rollover_body(name)
        cache.put_target(SyncTargetKind.CRON_JOB, cronjob_body(f"sync-{name}", {"district": name}, name))
    return cache


def test_a_rollover_sees_only_its_own_targets_not_those_others_paused() -> None:
    cache = paused_namespace()

    observed = cache.observe(rollover_body("district-3"))

    assert [(t.name, t.matches_selector) for t in observed.targets] == [("sync-district-3", True)]


def test_a_target_it_paused_stays_in_view_after_its_selector_changed() -> None:
    cache = paused_namespace()
    moved = rollover_body("district-3")
    moved["spec"]["syncSelector"] = {"matchLabels": {"district": "elsewhere"}}

    observed = cache.observe(moved)

    assert [(t.name, t.matches_selector) for t in observed.targets] == [("sync-district-3", False)]


def test_a_target_it_selects_that_another_rollover_paused_is_in_view() -> None:
    cache = paused_namespace()
    cache.put_target(
        SyncTargetKind.CRON_JOB, cronjob_body("shared", {"district": "district-3"}, "district-4")
    )

    observed = cache.observe(rollover_body("district-3"))

    assert [t.name for t in observed.targets] == ["shared", "sync-district-3"]
    assert observed.targets[0].original is not None and observed.targets[0].original.rollover == "district-4"


def test_rollovers_sharing_a_namespace_post_no_warnings_about_each_other() -> None:
    cache = paused_namespace()

    warnings = [
        action
        for name in DISTRICTS
        for action in plan(
            Rollover(NAMESPACE, name, 1, rollover_body(name)["spec"], accepted()),
            cache.observe(rollover_body(name)),
            PAUSE_AT + dt.timedelta(hours=1),
        ).actions
        if isinstance(action, EmitEvent) and action.type == "Warning"
    ]

    assert warnings == []
