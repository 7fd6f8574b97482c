"""The reconcile loop: a de-duplicating work queue, per-rollover wake-up timers, and workers that
observe (from the watch caches), call the pure planner, apply its actions and write status.

Waiting costs nothing: a rollover months from its date holds one timer entry in memory; no API
call is made until its next transition or until something it depends on changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any

from lightkube import AsyncClient
from pydantic import ValidationError

from rollover import logs
from rollover.api.models import DistrictRolloverStatus, dump, parse_status
from rollover.cluster import apply, claims, events
from rollover.config import OperatorConfig
from rollover.controller import metrics
from rollover.controller.cache import Cache, Key, parse_termination_message
from rollover.controller.clock import SystemClock
from rollover.controller.notifier import Notifier
from rollover.controller.retry import RETRIABLE, Backoff, describe
from rollover.planner import (
    Action,
    ClaimDistrict,
    CreateJob,
    EmitEvent,
    PauseTarget,
    Plan,
    RepairTarget,
    RestoreTarget,
    Rollover,
    Settings,
    plan,
)

log = logging.getLogger(__name__)

#: Waits before reconciling a rollover again after a failed pass.
BACKOFF = Backoff(first=0.5, cap=300.0)
#: Plans per reconcile: a plan's writes, re-planned on what they returned, rarely need a third.
MAX_PASSES = 3
#: How long a graceful stop waits for the Events its last reconciles decided.
EVENT_DRAIN_SECONDS = 5.0


@dataclass
class Reconciler:
    """Drives every watched rollover through its plan."""

    client: AsyncClient
    cache: Cache
    config: OperatorConfig
    clock: SystemClock = field(default_factory=SystemClock)
    _queue: asyncio.Queue[Key] = field(default_factory=asyncio.Queue)
    _queued: set[Key] = field(default_factory=set)
    _running: set[Key] = field(default_factory=set)
    _dirty: set[Key] = field(default_factory=set)
    _timers: list[tuple[float, Key]] = field(default_factory=list)
    _due: dict[Key, float] = field(default_factory=dict)
    _timer_changed: asyncio.Event = field(default_factory=asyncio.Event)
    _failures: dict[Key, int] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    #: Events being posted behind the reconciles that decided them (see `_post_events`).
    _posting: set[asyncio.Task[None]] = field(default_factory=set)
    _event_slots: asyncio.Semaphore = field(init=False)
    notifier: Notifier = field(init=False)
    #: What of the (frozen) operator configuration shapes the planner's decisions.
    _settings: Settings = field(init=False)

    def __post_init__(self) -> None:
        # A delivery's outcome is recorded (or its error reported) by the next reconcile of its rollover.
        self.notifier = Notifier(self.config.notifications, self.clock, self.enqueue)
        self._event_slots = asyncio.Semaphore(self.config.workers)
        self._settings = Settings(
            drain_timeout=self.config.drain_timeout,
            drain_poll=self.config.drain_poll,
            notice_channels=self.config.notifications.channel_scopes(),
            preflight_business_days=(
                self.config.preflight.business_days_before if self.config.preflight.enabled else None
            ),
            readiness_blocks_archive=self.config.readiness.block_archive,
            certify=self.config.certificates is not None,
            retention_days=self.config.archives.retention_days,
            min_retention_days=self.config.archives.min_retention_days,
            max_retention_days=self.config.archives.max_retention_days,
        )

    # --- queueing -----------------------------------------------------------------------------

    def enqueue(self, key: Key) -> None:
        """Reconcile `key` soon (once, however often it is asked for)."""
        if key in self._running:
            self._dirty.add(key)  # it changed mid-reconcile: run again when this pass ends
        elif key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    def wake_after(self, key: Key, seconds: float) -> None:
        """Reconcile `key` after `seconds` of wall time (replacing a later wake-up)."""
        due = time.monotonic() + max(0.0, seconds)
        if key in self._due and self._due[key] <= due:  # an earlier wake-up is already set
            return
        self._due[key] = due
        heapq.heappush(self._timers, (due, key))
        self._timer_changed.set()

    def start(self) -> None:
        """Start the workers and the timer."""
        metrics.follow_reconciler(self._queue.qsize, lambda: len(self._due))
        self._tasks = [
            asyncio.create_task(self._worker(), name=f"reconcile-{i}") for i in range(self.config.workers)
        ]
        self._tasks.append(asyncio.create_task(self._timer(), name="wake-ups"))

    def start_leading(self) -> None:
        """Start acting after winning the election: every cached rollover is reconciled afresh, since
        the previous leader may have stopped anywhere (every step is safe to repeat)."""
        for namespace, rollovers in self.cache.rollovers.items():
            for name in rollovers:
                self.enqueue((namespace, name))
        self.start()

    def halt(self) -> None:
        """Stop acting now, synchronously (leadership lost): every worker and the timer is cancelled
        before anything else runs, so no action is logged or started after this call."""
        for task in [*self._tasks, *self._posting]:
            task.cancel()
        self.notifier.halt()

    async def stop(self) -> None:
        """Stop all tasks (in-flight reconciles are cancelled; every step is safe to repeat). Events
        already decided are posted first, for up to EVENT_DRAIN_SECONDS: their transitions are recorded
        in status and would not be announced again by the next operator."""
        for task in self._tasks:
            task.cancel()
        if self._posting:
            await asyncio.wait(set(self._posting), timeout=EVENT_DRAIN_SECONDS)
        self.halt()
        await asyncio.gather(*self._tasks, *self._posting, return_exceptions=True)
        await self.notifier.close()

    async def _timer(self) -> None:
        while True:
            self._timer_changed.clear()
            now = time.monotonic()
            while self._timers and self._timers[0][0] <= now:
                due, key = heapq.heappop(self._timers)
                if self._due.get(key) == due:  # skip superseded entries
                    del self._due[key]
                    self.enqueue(key)
            timeout = self._timers[0][0] - now if self._timers else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._timer_changed.wait(), timeout)

    async def _worker(self) -> None:
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            self._running.add(key)
            try:
                await self.reconcile(key)
                self._failures.pop(key, None)
            except asyncio.CancelledError:
                raise
            except RETRIABLE as exc:
                # Conflicts (409/422 on a guarded patch), throttling (429), an apiserver restart:
                # expected in a live cluster. Every step is safe to repeat, so retry with backoff.
                self._retry(key, describe(exc), exc)
            except Exception:
                log.exception("reconcile of %s/%s failed unexpectedly", *key, extra=logs.fields(*key))
                self._retry(key, "unexpected error")
            finally:
                self._running.discard(key)
                if key in self._dirty:
                    self._dirty.discard(key)
                    self.enqueue(key)

    def _retry(self, key: Key, why: str, exc: BaseException | None = None) -> None:
        metrics.RECONCILE_ERRORS.inc()
        self._failures[key], delay = BACKOFF.after(exc, self._failures.get(key, 0))
        log.warning(
            "reconcile of %s/%s failed (%s); retrying in %.1fs", *key, why, delay, extra=logs.fields(*key)
        )
        self.wake_after(key, delay)

    # --- one pass -----------------------------------------------------------------------------

    async def reconcile(self, key: Key) -> None:
        """Observe, plan, apply, report — for one rollover.

        Reads its own writes: the objects our PATCHes and creates return go into the cache, and the
        rollover is planned again before its status is written, so a transition (create the Jobs,
        then report them running) costs one status write, not one per watch round trip. A pause costs
        two: its record is written before the targets are paused.
        """
        body = self.cache.rollover(key)
        if body is None:
            self.notifier.forget(key)
            return
        meta = body["metadata"]
        await self._check_rival_holders(body)
        try:
            status = parse_status(body.get("status"))
        except ValidationError:
            log.warning(
                "status of %s/%s is unreadable; rebuilding it from the cluster", *key, extra=logs.fields(*key)
            )
            status = DistrictRolloverStatus()
        generation = int(meta.get("generation", 0))
        said: dict[tuple[str, str], EmitEvent] = {}
        decided_status = status
        for _ in range(MAX_PASSES):
            # Each pass starts from the status the previous one decided, as if it had been written:
            # the planner's own rules (one event per transition, "the first time" warnings) then
            # hold across passes without the reconciler second-guessing them.
            rollover = Rollover(
                key[0], key[1], generation, body.get("spec") or {}, decided_status, str(meta.get("uid", ""))
            )
            # In every pass: a Job may have finished during the previous pass's writes, and a
            # finished Job planned without its result would count as done with nothing to show.
            await self._collect_results(body)
            observed = replace(
                self.cache.observe(body),
                delivered=tuple(self.notifier.delivered.get(key, ())),
                notice_error=self.notifier.errors.get(key),
            )
            decided = plan(rollover, observed, self.clock.now(), self._settings)
            decided_status = decided.status
            said |= {(e.reason, e.message): e for e in decided.actions if isinstance(e, EmitEvent)}
            body = await self._ensure_finalizer(body, decided)
            if any(isinstance(a, PauseTarget) for a in decided.actions):
                # The record of what a pause will restore goes to status (written by us alone) before
                # the pause: a target's annotation is not to be trusted, so no crash may leave it the
                # only record.
                body = await self._write_status(body, decided)
            if not await self._apply(body, decided):
                break
        body = await self._write_status(body, decided)
        self.notifier.offer(key, decided.deliveries, decided.status.notices)
        metrics.record(key[0], key[1], status, decided.status)
        if decided.wake_at is not None:
            self.wake_after(key, self.clock.seconds_until(decided.wake_at))
        await self._post_events(key, body, list(said.values()))

    async def _post_events(self, key: Key, body: dict[str, Any], said: list[EmitEvent]) -> None:
        """Post the reconcile's Events (after its status: what they announce is recorded) while the
        worker goes on to its next rollover: a cold start's Event was the last of three dependent
        requests per rollover. At most `workers` are pending, so that a herd's Events wait here,
        not in the connection pool (where the reconciles' requests would wait behind them)."""
        for event in said:
            await self._event_slots.acquire()
            task = asyncio.create_task(self._post_event(key, body, event), name=f"event-{event.reason}")
            self._posting.add(task)
            task.add_done_callback(self._posting.discard)

    async def _post_event(self, key: Key, body: dict[str, Any], event: EmitEvent) -> None:
        """An Event that cannot be posted is worth a log line, never a retried reconcile (its
        transition is recorded in status, and is not announced twice)."""
        try:
            await events.post(self.client, body, event)
        except RETRIABLE as exc:
            log.warning(
                "could not post event %s on %s/%s: %s",
                event.reason,
                *key,
                describe(exc),
                extra=logs.fields(*key),
            )
        except Exception:
            log.exception("posting event %s on %s/%s failed", event.reason, *key, extra=logs.fields(*key))
        finally:
            self._event_slots.release()

    async def _collect_results(self, body: dict[str, Any]) -> None:
        """Read the termination message of each finished Job not read yet; until none is left, so
        no Job can finish unread between this and the (synchronous) observe that follows."""
        namespace = body["metadata"]["namespace"]
        while pending := self.cache.jobs_needing_results(body):
            for job in pending:
                message = await apply.read_termination_message(self.client, namespace, job.uid)
                self.cache.results[(namespace, job.name)] = parse_termination_message(message)

    async def _check_rival_holders(self, body: dict[str, Any]) -> None:
        """Ask the apiserver whether the other holders of this rollover's district claim still
        exist (rare: only when a claim is contested). Another shard's rollovers are not in our
        cache, and a rollover missing from it may only not have been listed yet."""
        for holder in self.cache.rival_holders(body):
            if not await claims.holder_exists(self.client, holder):
                self.cache.gone_holders.add(holder)

    async def _ensure_finalizer(self, body: dict[str, Any], decided: Plan) -> dict[str, Any]:
        if decided.hold_finalizer and not body["metadata"].get("deletionTimestamp"):
            # Before the first pause: a deletion must find us there to restore what we paused.
            return self._wrote(body, await apply.ensure_finalizer(self.client, body))
        return body

    async def _apply(self, body: dict[str, Any], decided: Plan) -> bool:
        """Apply the plan's writes to other objects (together: they touch distinct objects) and
        cache what the server returned; whether there were any."""
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        district = str((body.get("spec") or {}).get("districtId", "")) or None
        writes = []
        for action in decided.actions:
            _log_action(namespace, name, district, action)
            if not isinstance(action, EmitEvent):
                writes.append(self._write(body, action))
        # A failed write fails the pass (retried whole); the others still land and are cached.
        outcomes = await asyncio.gather(*writes, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return bool(writes)

    async def _write(self, body: dict[str, Any], action: Action) -> None:
        namespace = body["metadata"]["namespace"]
        if isinstance(action, ClaimDistrict):
            claim = await claims.write_claim(self.client, self.config.claims_namespace, action)
            if self.cache.changed("ConfigMap", claim):
                self.cache.put_claim(claim)
            return
        if isinstance(action, CreateJob):
            job = await apply.create_job(self.client, body, action, self.config)
            if self.cache.changed("Job", job):
                self.cache.put_job(job)
            return
        if isinstance(action, PauseTarget):
            target = await apply.pause_target(self.client, namespace, action)
        elif isinstance(action, RepairTarget):
            target = await apply.repair_target(self.client, namespace, action)
        elif isinstance(action, RestoreTarget):
            target = await apply.restore_target(self.client, namespace, action)
        else:
            return
        if target is not None and self.cache.changed(action.kind.value, target):
            self.cache.put_target(action.kind, target)

    async def _write_status(self, body: dict[str, Any], decided: Plan) -> dict[str, Any]:
        old_status = body.get("status") or {}
        new_status = dump(decided.status)
        if new_status != old_status:
            meta = body["metadata"]
            written = await apply.write_status(
                self.client, meta["namespace"], meta["name"], old_status, new_status
            )
            body = self._wrote(body, written)
        if decided.release_finalizer or not decided.hold_finalizer:
            body = self._wrote(body, await apply.release_finalizer(self.client, body))
        return body

    def _wrote(self, body: dict[str, Any], written: dict[str, Any] | None) -> dict[str, Any]:
        """Our write changed the rollover: the server's copy replaces ours in the cache, and watch
        events up to its version are known (they cost no reconcile)."""
        if written is None:
            return body
        if self.cache.changed("DistrictRollover", written):
            self.cache.put_rollover(written)
        return written


def _log_action(namespace: str, name: str, district: str | None, action: Action) -> None:
    """One line per applied action, with the rollover, district and (for Jobs) step and product."""
    extra = logs.fields(namespace, name, district=district)
    if isinstance(action, EmitEvent):
        log.info("event %s: %s", action.reason, action.message, extra=extra)
    elif isinstance(action, CreateJob):
        extra |= {"step": action.step.value, "product": action.product}
        log.info("creating %s Job %s", action.step.value, action.name, extra=extra)
    elif isinstance(action, ClaimDistrict):
        log.info("claiming district %s for %s", action.district_id, action.school_year, extra=extra)
    else:
        verb = {PauseTarget: "pausing", RepairTarget: "re-pausing", RestoreTarget: "restoring"}[type(action)]
        log.info("%s %s %s", verb, action.kind.value, action.name, extra=extra)
