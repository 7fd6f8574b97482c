"""The reconcile loop: a de-duplicating work queue, per-rollover wake-up timers, and workers that
observe (from the watch caches), call the pure planner, apply its actions and write status.

Waiting costs nothing: a rollover months from its date holds one timer entry in memory; no API
call is made until its next transition or until something it depends on changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import heapq
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx2
from lightkube import ApiError, AsyncClient
from lightkube.models.core_v1 import EventSource, ObjectReference
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Event
from pydantic import ValidationError

from rollover import FIELD_MANAGER, GROUP, KIND, VERSION, logs
from rollover.api.models import DistrictRolloverStatus, dump, parse_status
from rollover.cluster import apply
from rollover.controller import metrics
from rollover.controller.cache import Cache, Key, parse_termination_message
from rollover.controller.clock import SystemClock
from rollover.controller.config import OperatorConfig
from rollover.planner import (
    Action,
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

BACKOFF_MIN_S, BACKOFF_MAX_S = 0.5, 300.0


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

    async def stop(self) -> None:
        """Stop all tasks (in-flight reconciles are cancelled; every step is safe to repeat)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

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
            except (ApiError, httpx2.TransportError) as exc:
                # Conflicts (409/422 on a guarded patch), throttling (429), an apiserver restart:
                # expected in a live cluster. Every step is safe to repeat, so retry with backoff.
                self._retry(key, f"{type(exc).__name__}: {exc}")
            except Exception:
                log.exception("reconcile of %s/%s failed unexpectedly", *key, extra=logs.fields(*key))
                self._retry(key, "unexpected error")
            finally:
                self._running.discard(key)
                if key in self._dirty:
                    self._dirty.discard(key)
                    self.enqueue(key)

    def _retry(self, key: Key, why: str) -> None:
        metrics.RECONCILE_ERRORS.inc()
        failures = self._failures[key] = self._failures.get(key, 0) + 1
        delay = min(BACKOFF_MAX_S, BACKOFF_MIN_S * 2 ** (failures - 1))
        log.warning(
            "reconcile of %s/%s failed (%s); retrying in %.1fs", *key, why, delay, extra=logs.fields(*key)
        )
        self.wake_after(key, delay)

    # --- one pass -----------------------------------------------------------------------------

    async def reconcile(self, key: Key) -> None:
        """Observe, plan, apply, report — for one rollover."""
        body = self.cache.rollover(key)
        if body is None:
            return
        meta = body["metadata"]
        await self._collect_results(key)
        try:
            status = parse_status(body.get("status"))
        except ValidationError:
            log.warning(
                "status of %s/%s is unreadable; rebuilding it from the cluster", *key, extra=logs.fields(*key)
            )
            status = DistrictRolloverStatus()
        rollover = Rollover(key[0], key[1], int(meta.get("generation", 0)), body.get("spec") or {}, status)
        decided = plan(
            rollover,
            self.cache.observe(body),
            self.clock.now(),
            Settings(self.config.drain_timeout, self.config.drain_poll),
        )
        await self._apply(body, decided)
        metrics.record(key[0], key[1], status, decided.status)
        if decided.wake_at is not None:
            self.wake_after(key, self.clock.seconds_until(decided.wake_at))

    async def _collect_results(self, key: Key) -> None:
        for job in self.cache.jobs_needing_results(*key):
            message = await apply.read_termination_message(self.client, key[0], job)
            self.cache.results[(key[0], job)] = parse_termination_message(message)

    async def _apply(self, body: dict[str, Any], decided: Plan) -> None:
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        deleting = bool(body["metadata"].get("deletionTimestamp"))
        if decided.hold_finalizer and not deleting:
            # Before the first pause: a deletion must find us there to restore what we paused.
            self._wrote((namespace, name), await apply.ensure_finalizer(self.client, body))
        district = str((body.get("spec") or {}).get("districtId", "")) or None
        writes = []
        for action in decided.actions:
            _log_action(namespace, name, district, action)
            if not isinstance(action, EmitEvent):
                writes.append(self._write(body, action))
        # The actions of one plan touch distinct objects: issue them together, and write the status
        # only when all of them landed (a failed one fails the pass, which is retried whole).
        for outcome in await asyncio.gather(*writes, return_exceptions=True):
            if isinstance(outcome, BaseException):
                raise outcome
        old_status = body.get("status") or {}
        new_status = dump(decided.status)
        if new_status != old_status:
            written = await apply.write_status(self.client, namespace, name, old_status, new_status)
            body["status"] = new_status
            self._wrote((namespace, name), written)
        if decided.release_finalizer or not decided.hold_finalizer:
            self._wrote((namespace, name), await apply.release_finalizer(self.client, body))
        events = [a for a in decided.actions if isinstance(a, EmitEvent)]
        await asyncio.gather(*(self._post_event(body, event) for event in events))

    async def _write(self, body: dict[str, Any], action: Action) -> None:
        namespace = body["metadata"]["namespace"]
        if isinstance(action, PauseTarget):
            await apply.pause_target(self.client, namespace, action)
        elif isinstance(action, RepairTarget):
            await apply.repair_target(self.client, namespace, action)
        elif isinstance(action, RestoreTarget):
            await apply.restore_target(self.client, namespace, action)
        elif isinstance(action, CreateJob):
            await apply.create_job(self.client, body, action, self.config)

    def _wrote(self, key: Key, resource_version: str | None) -> None:
        """Our write changed the rollover: watch events older than it are stale from now on."""
        if resource_version:
            body = self.cache.rollover(key)
            if body is not None:
                body["metadata"]["resourceVersion"] = resource_version
            self.cache.observe_revision(key, resource_version)

    async def _post_event(self, body: dict[str, Any], event: EmitEvent) -> None:
        meta = body["metadata"]
        now = dt.datetime.now(dt.UTC)  # events happen in real time, even under a demo clock
        try:
            await self.client.create(
                Event(
                    metadata=ObjectMeta(
                        name=f"{meta['name']}.{uuid.uuid4().hex[:12]}", namespace=meta["namespace"]
                    ),
                    involvedObject=ObjectReference(
                        apiVersion=f"{GROUP}/{VERSION}",
                        kind=KIND,
                        name=meta["name"],
                        namespace=meta["namespace"],
                        uid=meta.get("uid"),
                    ),
                    type=event.type,
                    reason=event.reason,
                    message=event.message[:1024],
                    source=EventSource(component=FIELD_MANAGER),
                    firstTimestamp=now,
                    lastTimestamp=now,
                    count=1,
                ),
                field_manager=FIELD_MANAGER,
            )
        except ApiError as exc:  # an event is worth a log line, never a failed reconcile
            log.warning(
                "could not post event %s on %s: %s",
                event.reason,
                meta["name"],
                exc,
                extra=logs.fields(meta["namespace"], meta["name"]),
            )


def _log_action(namespace: str, name: str, district: str | None, action: Action) -> None:
    """One line per applied action, with the rollover, district and (for Jobs) step and product."""
    extra = logs.fields(namespace, name, district=district)
    if isinstance(action, EmitEvent):
        log.info("event %s: %s", action.reason, action.message, extra=extra)
    elif isinstance(action, CreateJob):
        extra |= {"step": action.step.value, "product": action.product}
        log.info("creating %s Job %s", action.step.value, action.name, extra=extra)
    else:
        verb = {PauseTarget: "pausing", RepairTarget: "re-pausing", RestoreTarget: "restoring"}[type(action)]
        log.info("%s %s %s", verb, action.kind.value, action.name, extra=extra)
