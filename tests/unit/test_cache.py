"""The watch cache's rules for stale events and target lookups."""

from __future__ import annotations

import pytest

from rollover.controller.cache import Cache

pytestmark = pytest.mark.unit

KEY = ("district-il", "springfield")


def test_an_event_older_than_our_own_write_is_stale_whatever_order_they_arrive_in() -> None:
    cache = Cache()
    assert cache.observe_revision(KEY, "100")  # an event
    assert cache.observe_revision(KEY, "120")  # our status write returned 120
    assert not cache.observe_revision(KEY, "110")  # an event from before our write: stale
    assert cache.observe_revision(KEY, "120")  # the event of our own write
    assert cache.observe_revision(KEY, "130")  # someone else's later change (e.g. a deletion)


def test_non_integer_versions_are_never_judged_stale() -> None:
    cache = Cache()
    assert cache.observe_revision(KEY, "200")
    assert cache.observe_revision(KEY, "opaque-1")


def test_forgetting_a_rollover_resets_its_revision() -> None:
    cache = Cache()
    cache.observe_revision(KEY, "500")
    cache.forget("DistrictRollover", *KEY)
    assert cache.observe_revision(KEY, "3")  # recreated object, new history
