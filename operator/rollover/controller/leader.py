"""Leader election with a coordination.k8s.io Lease, the way client-go's leaderelection does it.

Every replica watches and keeps its caches warm; only the Lease holder runs the reconciler, so a
standby never writes and takes over with a current view. Why not kopf peering: it pauses only kopf's
own handlers (not our timers and workers), pauses the standby's watches (a cold cache to re-LIST on
takeover) and waits 60 s for a dead peer; a Lease is the standard, visible (`kubectl get lease`),
least-privilege (one named object) mechanism.

Expiry is judged by the standby's own monotonic clock from when it last saw the record change, never
by comparing the holder's timestamps with ours, so clock skew between nodes cannot cause two leaders.
A leader that cannot renew within the renew deadline stops acting before its lease can expire.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from lightkube import ApiError, AsyncClient
from lightkube.models.coordination_v1 import LeaseSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.coordination_v1 import Lease

from rollover.controller import metrics
from rollover.controller.retry import RETRIABLE, describe

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Timing:
    """client-go's defaults for a 15 s lease: renew within 10 s, retry every 2 s."""

    lease_s: float = 15.0

    @property
    def renew_deadline_s(self) -> float:
        return self.lease_s * 2 / 3

    @property
    def retry_s(self) -> float:
        return self.lease_s / 7.5


@dataclass(frozen=True)
class Election:
    """Where the replicas of one operator (or one shard) meet: the Lease, and who this replica is."""

    namespace: str
    lease: str
    identity: str
    timing: Timing = field(default_factory=Timing)


@dataclass(frozen=True)
class Holder:
    """What a replica knows of the Lease: who holds it, for how long, and when it last changed."""

    identity: str | None
    lease_s: float
    version: str  # the record's resourceVersion: a change of it means the holder renewed
    seen_at: float  # our monotonic time when this version was first seen


def may_acquire(holder: Holder | None, me: str, now: float) -> bool:
    """Whether `me` may take or keep the lease at monotonic time `now`."""
    if holder is None or not holder.identity or holder.identity == me:
        return True
    return now - holder.seen_at >= holder.lease_s


@dataclass
class LeaderElector:
    """Acquires and renews one Lease; calls `on_started` on winning it and `on_lost` if it lapses."""

    client: AsyncClient
    namespace: str
    name: str
    identity: str
    timing: Timing = field(default_factory=Timing)
    leading: bool = False
    _holder: Holder | None = None
    _renewed_at: float = 0.0

    async def run(self, on_started: Callable[[], None], on_lost: Callable[[], None]) -> None:
        """Campaign until leading, then renew until stopped (cancelled) or the lease is lost."""
        log.info("leader election: campaigning for %s/%s as %s", self.namespace, self.name, self.identity)
        while True:
            try:
                # Bounded: a request hanging past the renew deadline must not keep us acting.
                held = await asyncio.wait_for(self._acquire_or_renew(), self._time_left())
            except Exception as exc:
                # Whatever went wrong (a 429 from API priority and fairness, a proxy's plain-text
                # 5xx, a timeout, a bug), this round did not renew. It is retried at the next
                # round; past the renew deadline the loop below stops acting, before the lease can
                # expire and a standby take it.
                log.warning("leader election: lease %s/%s: %s", self.namespace, self.name, describe(exc))
                held = False
            now = time.monotonic()
            if held:
                self._renewed_at = now
                if not self.leading:
                    self.leading = True
                    metrics.LEADER.set(1)
                    log.info("leader election: leading (lease %s/%s)", self.namespace, self.name)
                    on_started()
            elif self.leading and (
                now - self._renewed_at >= self.timing.renew_deadline_s
                or (self._holder is not None and self._holder.identity != self.identity)
            ):
                self.leading = False
                metrics.LEADER.set(0)
                log.error("leader election: lost lease %s/%s; stopping", self.namespace, self.name)
                on_lost()
                return
            await asyncio.sleep(self.timing.retry_s)

    def _time_left(self) -> float:
        """How long this round may take: while leading, what remains of the renew deadline (at least
        a moment, so the stop below is decided by the loop, not by a timeout); else one retry."""
        if not self.leading:
            return max(self.timing.retry_s, 1.0)
        left = self.timing.renew_deadline_s - (time.monotonic() - self._renewed_at)
        return max(0.1, left)

    async def release(self) -> None:
        """Give the lease up (graceful shutdown) so a standby takes over at its next retry."""
        if not self.leading:
            return
        self.leading = False
        metrics.LEADER.set(0)
        try:
            lease = await self.client.get(Lease, self.name, namespace=self.namespace)
            if lease.spec and lease.spec.holderIdentity == self.identity:
                lease.spec.holderIdentity = None
                lease.spec.leaseDurationSeconds = 1
                await self.client.replace(lease)
                log.info("leader election: released lease %s/%s", self.namespace, self.name)
        except RETRIABLE as exc:  # it expires on its own
            log.warning(
                "leader election: could not release lease %s/%s: %s", self.namespace, self.name, describe(exc)
            )

    async def _acquire_or_renew(self) -> bool:
        now = _micro_now()
        try:
            lease = await self.client.get(Lease, self.name, namespace=self.namespace)
        except ApiError as exc:
            if exc.status.code != 404:
                raise
            return await self._create(now)
        spec = lease.spec or LeaseSpec()
        assert lease.metadata is not None
        version = lease.metadata.resourceVersion or ""
        if self._holder is None or self._holder.version != version:
            lease_s = spec.leaseDurationSeconds or Timing.lease_s
            self._holder = Holder(spec.holderIdentity, lease_s, version, time.monotonic())
        if not may_acquire(self._holder, self.identity, time.monotonic()):
            return False
        if spec.holderIdentity != self.identity:
            spec.leaseTransitions = (spec.leaseTransitions or 0) + 1
            spec.acquireTime = now
            spec.holderIdentity = self.identity
        spec.leaseDurationSeconds = round(self.timing.lease_s)
        spec.renewTime = now
        lease.spec = spec
        try:  # replace carries the resourceVersion we read: a rival's write in between is a 409
            updated = await self.client.replace(lease)
        except ApiError as exc:
            if exc.status.code == 409:
                return False
            raise
        self._remember(updated)
        return True

    async def _create(self, now: dt.datetime) -> bool:
        lease = Lease(
            metadata=ObjectMeta(name=self.name, namespace=self.namespace),
            spec=LeaseSpec(
                holderIdentity=self.identity,
                leaseDurationSeconds=round(self.timing.lease_s),
                acquireTime=now,
                renewTime=now,
                leaseTransitions=0,
            ),
        )
        try:
            created = await self.client.create(lease)
        except ApiError as exc:
            if exc.status.code == 409:  # a rival created it first
                return False
            raise
        self._remember(created)
        return True

    def _remember(self, lease: Lease) -> None:
        assert lease.metadata is not None
        version = lease.metadata.resourceVersion or ""
        self._holder = Holder(self.identity, self.timing.lease_s, version, time.monotonic())


def _micro_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
