"""The Lease decision: when a replica may take or keep leadership (pure; no API)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollover.controller.leader import Holder, Timing, may_acquire

pytestmark = pytest.mark.unit


def held_by(identity: str | None, seen_at: float = 100.0, lease_s: float = 15.0) -> Holder:
    return Holder(identity, lease_s, version="7", seen_at=seen_at)


def test_a_missing_or_released_lease_is_free() -> None:
    assert may_acquire(None, "me", 0.0)
    assert may_acquire(held_by(None), "me", 100.0)
    assert may_acquire(held_by(""), "me", 100.0)


def test_the_holder_keeps_its_own_lease() -> None:
    assert may_acquire(held_by("me"), "me", 10_000.0)


def test_a_rivals_lease_is_respected_until_it_has_been_silent_for_its_duration() -> None:
    rival = held_by("rival", seen_at=100.0, lease_s=15.0)
    assert not may_acquire(rival, "me", 100.0)
    assert not may_acquire(rival, "me", 114.9)
    assert may_acquire(rival, "me", 115.0)


@given(seen_at=st.integers(0, 10**6), lease_s=st.integers(1, 300), waited=st.integers(0, 1000))
def test_expiry_depends_only_on_our_own_observation_time(seen_at: int, lease_s: int, waited: int) -> None:
    # No timestamps of the holder's clock enter the decision: skew between nodes cannot matter.
    # (Whole seconds: exact arithmetic at the boundary.)
    assert may_acquire(held_by("rival", seen_at, lease_s), "me", seen_at + waited) is (waited >= lease_s)


def test_timing_follows_client_go_ratios() -> None:
    assert (Timing().lease_s, Timing().renew_deadline_s, Timing().retry_s) == (15.0, 10.0, 2.0)
    short = Timing(4.0)
    assert short.retry_s < short.renew_deadline_s < short.lease_s
