"""The Lease decision: when a replica may take or keep leadership (pure; no API)."""

from __future__ import annotations

import asyncio
import time

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollover.controller.leader import Holder, LeaderElector, Timing, may_acquire

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


class _Renewals(LeaderElector):
    """An elector whose renewals follow a script: True (renewed), or an exception (this round's
    failure). Only the campaign's control flow is under test; the Lease calls are tested on the real
    apiserver in tests/integration/test_leader_election.py."""

    def __init__(self, script: list[bool | BaseException], timing: Timing) -> None:
        super().__init__(client=None, namespace="ns", name="lease", identity="me", timing=timing)  # type: ignore[arg-type]
        self.script = script

    async def _acquire_or_renew(self) -> bool:
        step = self.script.pop(0) if self.script else BrokenPipeError("apiserver gone")
        if isinstance(step, BaseException):
            raise step
        return step


def _throttled() -> httpx2.HTTPStatusError:
    request = httpx2.Request("PUT", "https://127.0.0.1/apis/coordination.k8s.io/v1/leases")
    response = httpx2.Response(429, text="Too many requests", headers={"Retry-After": "1"}, request=request)
    return httpx2.HTTPStatusError("429", request=request, response=response)


@pytest.mark.parametrize(
    "failure",
    [_throttled(), RuntimeError("a bug"), httpx2.ConnectError("refused")],
    ids=["plain-text 429", "unexpected exception", "connection refused"],
)
async def test_any_failure_to_renew_stops_acting_before_the_lease_can_expire(failure: BaseException) -> None:
    timing = Timing(lease_s=0.6)  # renew deadline 0.4 s, a round every 0.08 s
    elector = _Renewals([True, failure, failure, failure, failure, failure, failure, failure], timing)
    events: list[tuple[str, float]] = []
    started = time.monotonic()
    await asyncio.wait_for(
        elector.run(
            lambda: events.append(("started", time.monotonic() - started)),
            lambda: events.append(("lost", time.monotonic() - started)),
        ),
        timeout=5,
    )
    assert [e for e, _ in events] == ["started", "lost"]
    assert events[1][1] < timing.lease_s  # stopped before a standby could take the lease
    assert not elector.leading


async def test_a_renewal_that_hangs_is_cut_off_at_the_renew_deadline() -> None:
    timing = Timing(lease_s=0.6)

    class Hanging(_Renewals):
        async def _acquire_or_renew(self) -> bool:
            if self.script:
                return bool(self.script.pop(0))
            await asyncio.sleep(3600)
            return True

    elector = Hanging([True], timing)
    lost: list[float] = []
    started = time.monotonic()
    await asyncio.wait_for(elector.run(lambda: None, lambda: lost.append(time.monotonic() - started)), 5)
    assert lost and lost[0] < timing.lease_s
