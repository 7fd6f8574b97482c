"""Which rollovers a watch event wakes: the cache's routing rules, without a cluster."""

from __future__ import annotations

from typing import Any

import pytest

from rollover.api.models import SyncTargetKind
from rollover.controller.cache import Cache
from rollover.labels import LABEL_ROLLOVER, ORIGINAL_STATE_ANNOTATION
from rollover.observed import OriginalState

pytestmark = pytest.mark.unit

NS = "district-il"
SELECTOR = {"matchLabels": {"app": "roster-sync"}}


def rollover(name: str, selector: dict[str, Any] | None = SELECTOR) -> dict[str, Any]:
    return {
        "metadata": {"namespace": NS, "name": name, "resourceVersion": "1"},
        "spec": {"districtId": name.upper(), "syncSelector": selector},
    }


def cronjob(
    name: str, rv: str, labels: dict[str, str], annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "metadata": {
            "namespace": NS,
            "name": name,
            "resourceVersion": rv,
            "labels": labels,
            "annotations": annotations or {},
        },
        "spec": {"suspend": False},
    }


def job(
    name: str, rv: str, labels: dict[str, str] | None = None, owner_kind: str | None = None
) -> dict[str, Any]:
    owners = [{"kind": owner_kind, "name": "nightly", "uid": "u1"}] if owner_kind else []
    return {
        "metadata": {
            "namespace": NS,
            "name": name,
            "resourceVersion": rv,
            "labels": labels or {},
            "ownerReferences": owners,
        },
        "status": {},
    }


@pytest.fixture
def cache() -> Cache:
    cache = Cache()
    cache.put_rollover(rollover("springfield"))
    cache.put_rollover(rollover("shelbyville", selector={"matchLabels": {"app": "csv-import"}}))
    return cache


def test_a_target_wakes_the_rollovers_whose_selector_matches_it(cache: Cache) -> None:
    woken = cache.target_changed(
        SyncTargetKind.CRON_JOB, "ADDED", cronjob("sync", "5", {"app": "roster-sync"})
    )
    assert woken == [(NS, "springfield")]


def test_a_target_wakes_the_rollover_that_paused_it_even_if_no_longer_selected(cache: Cache) -> None:
    paused = OriginalState("shelbyville", "2025-2026", suspend=False).to_annotation()
    body = cronjob("sync", "5", {"app": "other"}, {ORIGINAL_STATE_ANNOTATION: paused})
    assert cache.target_changed(SyncTargetKind.CRON_JOB, "MODIFIED", body) == [(NS, "shelbyville")]


def test_a_replayed_target_event_wakes_nobody(cache: Cache) -> None:
    body = cronjob("sync", "5", {"app": "roster-sync"})
    cache.target_changed(SyncTargetKind.CRON_JOB, "ADDED", body)
    assert cache.target_changed(SyncTargetKind.CRON_JOB, "MODIFIED", body) == []


def test_a_deleted_target_leaves_the_cache_and_wakes_its_rollovers(cache: Cache) -> None:
    body = cronjob("sync", "5", {"app": "roster-sync"})
    cache.target_changed(SyncTargetKind.CRON_JOB, "ADDED", body)
    assert cache.target_changed(SyncTargetKind.CRON_JOB, "DELETED", body) == [(NS, "springfield")]
    assert cache.targets[NS] == {}


def test_our_job_wakes_its_rollover_only(cache: Cache) -> None:
    woken = cache.job_changed("ADDED", job("springfield-archive", "7", {LABEL_ROLLOVER: "springfield"}))
    assert woken == [(NS, "springfield")]


def test_a_sync_job_wakes_every_rollover_of_its_namespace(cache: Cache) -> None:
    woken = cache.job_changed("ADDED", job("nightly-123", "7", owner_kind="CronJob"))
    assert sorted(woken) == [(NS, "shelbyville"), (NS, "springfield")]


def test_an_unrelated_job_wakes_nobody(cache: Cache) -> None:
    assert cache.job_changed("ADDED", job("migrate", "7")) == []


def test_a_deleted_job_wakes_every_rollover_of_its_namespace_it_may_have_held_one_of_their_names(
    cache: Cache,
) -> None:
    cache.job_changed("ADDED", job("springfield-2026-2027-archive-imagine-math", "7"))
    woken = cache.job_changed("DELETED", job("springfield-2026-2027-archive-imagine-math", "8"))
    assert sorted(woken) == sorted(cache.rollovers_in(NS))


def test_a_stale_job_event_wakes_nobody(cache: Cache) -> None:
    cache.job_changed("ADDED", job("springfield-archive", "9", {LABEL_ROLLOVER: "springfield"}))
    assert (
        cache.job_changed("MODIFIED", job("springfield-archive", "8", {LABEL_ROLLOVER: "springfield"})) == []
    )


def test_a_target_change_the_planner_does_not_read_wakes_nobody_and_one_it_reads_wakes(cache: Cache) -> None:
    cache.target_changed(SyncTargetKind.CRON_JOB, "ADDED", cronjob("sync", "5", {"app": "roster-sync"}))
    scheduled = cronjob("sync", "6", {"app": "roster-sync"}) | {
        "status": {"lastScheduleTime": "2027-01-01T03:00:00Z"}
    }
    assert cache.target_changed(SyncTargetKind.CRON_JOB, "MODIFIED", scheduled) == []
    suspended = cronjob("sync", "7", {"app": "roster-sync"}) | {"spec": {"suspend": True}}
    assert cache.target_changed(SyncTargetKind.CRON_JOB, "MODIFIED", suspended) == [(NS, "springfield")]


def test_a_job_status_update_the_planner_does_not_read_wakes_nobody_and_its_end_wakes_its_rollover(
    cache: Cache,
) -> None:
    labels = {LABEL_ROLLOVER: "springfield"}
    cache.job_changed("ADDED", job("springfield-archive", "7", labels))
    running = job("springfield-archive", "8", labels) | {"status": {"active": 1, "ready": 0}}
    assert cache.job_changed("MODIFIED", running) == []
    complete = {"conditions": [{"type": "Complete", "status": "True"}]}
    assert cache.job_changed("MODIFIED", job("springfield-archive", "9", labels) | {"status": complete}) == [
        (NS, "springfield")
    ]
