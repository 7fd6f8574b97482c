"""The cache's label indexes answer exactly what checking every selector against every target would."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollover.api.models import SyncTargetKind
from rollover.controller.cache import Cache
from rollover.labels import ORIGINAL_STATE_ANNOTATION
from rollover.observed import OriginalState
from rollover.selectors import matches

pytestmark = pytest.mark.unit

NS = "district-il"
ROLLOVERS = [f"r{i}" for i in range(4)]
keys, values = st.sampled_from(["app", "district", "tier"]), st.sampled_from(["a", "b", "c"])
labels = st.dictionaries(keys, values, max_size=3)
expression = st.fixed_dictionaries(
    {
        "key": keys,
        "operator": st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist", "Bogus"]),
        "values": st.lists(values, max_size=2),
    }
)
selector = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={"matchLabels": labels, "matchExpressions": st.lists(expression, max_size=2)},
    ),
)
TARGETS = ["t0", "t1", "t2", "t3", "t4"]
target = st.tuples(st.sampled_from(TARGETS), labels, st.sampled_from([None, *ROLLOVERS]))


def rollover(name: str, sync_selector: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "metadata": {"namespace": NS, "name": name, "resourceVersion": "1"},
        "spec": {"districtId": name, "syncSelector": sync_selector},
    }


def cronjob(name: str, target_labels: dict[str, str], paused_by: str | None) -> dict[str, Any]:
    annotations = {}
    if paused_by is not None:
        original = OriginalState(paused_by, "2026-2027", suspend=False)
        annotations[ORIGINAL_STATE_ANNOTATION] = original.to_annotation()
    return {
        "metadata": {"namespace": NS, "name": name, "labels": target_labels, "annotations": annotations},
        "spec": {},
    }


@settings(max_examples=200, deadline=None)
@given(
    selectors=st.lists(selector, min_size=len(ROLLOVERS), max_size=len(ROLLOVERS)),
    writes=st.lists(target, max_size=12),
    deleted=st.sets(st.sampled_from(TARGETS)),
)
def test_indexes_agree_with_a_scan_of_every_target_and_rollover(
    selectors: list[dict[str, Any] | None],
    writes: list[tuple[str, dict[str, str], str | None]],
    deleted: set[str],
) -> None:
    cache = Cache()
    for name, sync_selector in zip(ROLLOVERS, selectors, strict=True):
        cache.put_rollover(rollover(name, sync_selector))
    current: dict[str, tuple[dict[str, str], str | None]] = {}
    for name, target_labels, paused_by in writes:  # later writes of a name replace earlier ones
        cache.put_target(SyncTargetKind.CRON_JOB, cronjob(name, target_labels, paused_by))
        current[name] = (target_labels, paused_by)
    for name in deleted:
        cache.drop_target(SyncTargetKind.CRON_JOB, NS, name)
        current.pop(name, None)

    for name, sync_selector in zip(ROLLOVERS, selectors, strict=True):
        seen = {t.name: t.matches_selector for t in cache.observe(rollover(name, sync_selector)).targets}
        expected = {
            t: matches(sync_selector, target_labels)
            for t, (target_labels, paused_by) in current.items()
            if matches(sync_selector, target_labels) or paused_by == name
        }
        assert seen == expected
    for target_labels, paused_by in current.values():
        woken = cache.rollovers_for_target(NS, target_labels, paused_by)
        expected_woken = [
            (NS, name)
            for name, sync_selector in sorted(zip(ROLLOVERS, selectors, strict=True))
            if name == paused_by or matches(sync_selector, target_labels)
        ]
        assert woken == expected_woken


def test_indexes_keep_nothing_of_what_is_gone() -> None:
    cache = Cache()
    cache.put_rollover(rollover("r0", {"matchLabels": {"app": "a"}}))
    cache.put_target(SyncTargetKind.CRON_JOB, cronjob("t0", {"app": "a"}, "r0"))
    cache.put_target(SyncTargetKind.CRON_JOB, cronjob("t0", {"app": "b"}, None))  # relabelled, restored
    assert cache._targets_by_label == {NS: {("app", "b"): {("CronJob", "t0")}}}
    assert cache._targets_paused_by == {}
    cache.drop_target(SyncTargetKind.CRON_JOB, NS, "t0")
    cache.drop_rollover(NS, "r0")
    assert (cache._targets_by_label, cache._targets_paused_by, cache._rollovers_by_label) == ({}, {}, {})
