"""The watch cache's rules for stale events and target lookups."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rollover.controller.cache import Cache

pytestmark = pytest.mark.unit

KEY = ("district-il", "springfield")


def version(rv: str) -> dict[str, Any]:
    return {"metadata": {"namespace": KEY[0], "name": KEY[1], "resourceVersion": rv}}


def test_an_event_older_than_our_own_write_is_stale_whatever_order_they_arrive_in() -> None:
    cache = Cache()
    assert cache.changed("DistrictRollover", version("100"))  # an event
    assert cache.changed("DistrictRollover", version("120"))  # our status write returned 120
    assert not cache.changed("DistrictRollover", version("110"))  # an event from before our write
    assert not cache.changed("DistrictRollover", version("120"))  # our own write's event: known
    assert cache.changed("DistrictRollover", version("130"))  # someone else's later change


def test_non_integer_versions_are_compared_for_equality_only() -> None:
    cache = Cache()
    assert cache.changed("CronJob", version("200"))
    assert cache.changed("CronJob", version("opaque-1"))
    assert not cache.changed("CronJob", version("opaque-1"))


def test_kinds_keep_separate_versions() -> None:
    cache = Cache()
    assert cache.changed("CronJob", version("500"))
    assert cache.changed("Job", version("400"))


def test_forgetting_an_object_resets_its_version() -> None:
    cache = Cache()
    cache.changed("DistrictRollover", version("500"))
    cache.forget("DistrictRollover", *KEY)
    assert cache.changed("DistrictRollover", version("3"))  # recreated object, new history


def test_cached_rollovers_drop_what_the_operator_never_reads() -> None:
    cache = Cache()
    cache.put_rollover(
        {
            "metadata": {
                "namespace": KEY[0],
                "name": KEY[1],
                "uid": "u",
                "managedFields": [{"manager": "kubectl"}],
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}", "keep": "me"},
            },
            "spec": {"districtId": "IL-1"},
        }
    )
    cached = cache.rollover(KEY)
    assert cached is not None
    assert cached["metadata"] == {
        "namespace": KEY[0],
        "name": KEY[1],
        "uid": "u",
        "annotations": {"keep": "me"},
    }
    assert cached["spec"] == {"districtId": "IL-1"}


def test_a_cached_rollover_is_held_compressed_and_read_back_as_a_fresh_copy() -> None:
    cache = Cache()
    conditions = [{"type": t, "status": "False", "reason": "WaitingForPauseDate"} for t in "ABCDEFGH"]
    body = {"metadata": {"namespace": KEY[0], "name": KEY[1]}, "status": {"conditions": conditions}}
    cache.put_rollover(body)
    entry = cache.rollovers[KEY[0]][KEY[1]]
    assert len(entry.document) < len(json.dumps(body)) / 2
    first = cache.rollover(KEY)
    assert first == body
    assert first is not None
    first["status"]["conditions"].clear()  # a reader's change is its own
    assert cache.rollover(KEY) == body
