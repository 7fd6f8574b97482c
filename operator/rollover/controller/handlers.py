"""kopf wiring: watch DistrictRollovers and the objects they act on, feed the caches, and run the
reconciler. Handlers only observe; every decision is the planner's, every write is cluster.apply's.

Only `on.event` handlers are used: kopf then keeps no progress annotations on our objects, so an
idle rollover costs no API writes at all.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import signal
from collections.abc import Callable
from typing import Any, cast

import kopf

# Private to kopf (pinned in pyproject): the very functions kopf filters its watches with.
from kopf._cogs.structs.references import NamespaceName, match_namespace, select_specific_namespaces
from lightkube import AsyncClient, KubeConfig
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.batch_v1 import CronJob, Job

from rollover import FIELD_MANAGER, GROUP, PLURAL, VERSION
from rollover.api.models import SyncTargetKind
from rollover.controller import metrics
from rollover.controller.cache import Cache
from rollover.controller.leader import Election, LeaderElector
from rollover.controller.reconciler import RETRIABLE, Reconciler, describe
from rollover.observed import LABEL_ROLLOVER, ORIGINAL_STATE_ANNOTATION, OriginalState

log = logging.getLogger(__name__)

PAGE_SIZE = 500
START_RETRY_MAX_S = 10.0
_KINDS = {"CronJob": SyncTargetKind.CRON_JOB, "Deployment": SyncTargetKind.DEPLOYMENT}


@kopf.on.startup()
async def start(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Fill the caches with one LIST per kind, then start the workers (never plan on a partial view)."""
    settings.posting.level = logging.WARNING
    # kopf runs one task per watched object, kept for idle_timeout after its last event. With
    # 60,000 objects announced at start-up those tasks, not our data, would set peak memory; our
    # handlers only update a cache, so short-lived, capped workers lose nothing.
    settings.queueing.idle_timeout = 0.5
    settings.queueing.worker_limit = 256
    settings.watching.server_timeout = 600
    # kopf's own start-up LIST (it lists each kind again before watching) is unpaged by default.
    settings.watching.chunk_size = PAGE_SIZE
    settings.networking.request_timeout = 60
    client = AsyncClient(KubeConfig.from_env(), field_manager=FIELD_MANAGER)
    cache = await _filled_cache(client, memo.namespaces)
    memo.reconciler = reconciler = Reconciler(client, cache, memo.config, memo.clock)
    log.info(
        "caches filled: %d namespaces with sync targets, %d with jobs", len(cache.targets), len(cache.jobs)
    )
    election: Election | None = memo.election
    if election is None:
        metrics.LEADER.set(1)
        reconciler.start()
        return
    # Standby until elected: the watches keep the caches current, nobody acts.
    memo.elector = elector = LeaderElector(
        client, election.namespace, election.lease, election.identity, election.timing
    )

    def lost() -> None:
        memo.lost_leadership = True
        # Stop the way a kubelet would: kopf's own SIGTERM handling runs the cleanup. (A kopf
        # stop_flag would do, but kopf then waits up to 5 s for its waiter when stopped otherwise.)
        os.kill(os.getpid(), signal.SIGTERM)

    memo.campaign = asyncio.create_task(elector.run(reconciler.start_leading, lost), name="leader-election")


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    """Stop the workers and close the client."""
    campaign: asyncio.Task[None] | None = memo.get("campaign")
    if campaign is not None:
        campaign.cancel()
    reconciler: Reconciler | None = memo.get("reconciler")
    if reconciler is not None:
        await reconciler.stop()
        elector: LeaderElector | None = memo.get("elector")
        if elector is not None:
            await elector.release()
        await reconciler.client.close()


async def _filled_cache(client: AsyncClient, patterns: list[str]) -> Cache:
    """One LIST per kind into a fresh cache; an unreachable or throttling apiserver is waited for
    (one warning per attempt), not handed to kopf, which would retry only after a minute."""
    served = _served(patterns)
    for attempt in itertools.count():
        cache = Cache()
        try:
            for ns in _list_scopes(patterns):
                for resource, kind in ((CronJob, "CronJob"), (Deployment, "Deployment"), (Job, "Job")):
                    # Paged: 45,000 CronJobs in one response would set the process's peak memory.
                    async for obj in client.list(resource, namespace=ns, chunk_size=PAGE_SIZE):
                        body = cast(Any, obj).to_dict()
                        if served(body["metadata"]["namespace"]):
                            _remember(cache, kind, body)
            return cache
        except RETRIABLE as exc:
            delay = min(START_RETRY_MAX_S, 0.5 * 2**attempt)
            log.warning("listing sync targets and Jobs failed (%s); retrying in %.1fs", describe(exc), delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


def _list_scopes(patterns: list[str]) -> list[str]:
    """Where the start-up LISTs go: each named namespace, or everywhere ("*") for globs or no list."""
    if patterns and set(select_specific_namespaces(patterns)) == set(patterns):
        return patterns
    return ["*"]


def _served(patterns: list[str]) -> Callable[[str], bool]:
    """Whether a namespace is ours: kopf's own matcher, so the caches hold exactly what kopf watches
    (globs such as `district-[a-m]*` and exclusions such as `!*-sandbox` shard an installation)."""
    if not patterns:
        return lambda namespace: True
    return lambda namespace: any(match_namespace(NamespaceName(namespace), p) for p in patterns)


def _remember(cache: Cache, kind: str, body: dict[str, Any]) -> None:
    # Recording the version makes kopf's replay of this same object at watch start a no-op.
    cache.changed(kind, body)
    if kind == "Job":
        cache.put_job(body)
    elif kind in _KINDS:
        cache.put_target(_KINDS[kind], body)


@kopf.on.event(GROUP, VERSION, PLURAL)
def rollover_event(event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """A DistrictRollover changed: cache it and reconcile it."""
    reconciler: Reconciler = memo.reconciler
    raw = dict(body)
    meta = raw["metadata"]
    key = (meta["namespace"], meta["name"])
    if event["type"] == "DELETED":
        reconciler.cache.rollovers[key[0]].pop(key[1], None)
        reconciler.cache.forget("DistrictRollover", *key)
        metrics.forget(*key)
        return
    # False for a replay, for the event of our own write (already cached) and for an event older
    # than what we know (our write overtook it).
    if reconciler.cache.changed("DistrictRollover", raw):
        reconciler.cache.put_rollover(raw)
        reconciler.enqueue(key)


@kopf.on.event("batch", "v1", "cronjobs")
@kopf.on.event("apps", "v1", "deployments")
def target_event(event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """A possible sync target changed: wake the rollovers that select it or paused it."""
    reconciler: Reconciler = memo.reconciler
    raw = dict(body)
    meta, kind = raw["metadata"], _KINDS[raw["kind"]]
    if event["type"] == "DELETED":
        reconciler.cache.drop_target(kind, meta["namespace"], meta["name"])
    elif not reconciler.cache.changed(kind.value, raw):
        return
    else:
        reconciler.cache.put_target(kind, raw)
    original = OriginalState.from_annotation(
        (meta.get("annotations") or {}).get(ORIGINAL_STATE_ANNOTATION, "")
    )
    paused_by = original.rollover if original is not None else None
    for key in reconciler.cache.rollovers_for_target(meta["namespace"], meta.get("labels") or {}, paused_by):
        reconciler.enqueue(key)


@kopf.on.event("batch", "v1", "jobs")
def job_event(event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """A Job changed: ours wakes its rollover; a sync Job wakes rollovers draining in its namespace."""
    reconciler: Reconciler = memo.reconciler
    raw = dict(body)
    meta = raw["metadata"]
    if event["type"] == "DELETED":
        reconciler.cache.drop_job(meta["namespace"], meta["name"])
    elif not reconciler.cache.changed("Job", raw):
        return
    else:
        reconciler.cache.put_job(raw)
    owner = (meta.get("labels") or {}).get(LABEL_ROLLOVER)
    if owner:
        reconciler.enqueue((meta["namespace"], owner))
    elif any(o.get("kind") == "CronJob" for o in meta.get("ownerReferences") or []):
        for key in reconciler.cache.rollovers_in(meta["namespace"]):
            reconciler.enqueue(key)
