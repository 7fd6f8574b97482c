"""kopf wiring: watch DistrictRollovers and the objects they act on, feed the caches, and run the
reconciler. Handlers only observe; every decision is the planner's, every write is cluster.apply's.

Only `on.event` handlers are used: kopf then keeps no progress annotations on our objects, so an
idle rollover costs no API writes at all.
"""

from __future__ import annotations

import logging
from typing import Any, cast

import kopf
from lightkube import AsyncClient, KubeConfig
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.batch_v1 import CronJob, Job

from rollover import FIELD_MANAGER, GROUP, PLURAL, VERSION
from rollover.api.models import SyncTargetKind
from rollover.controller import metrics
from rollover.controller.cache import Cache
from rollover.controller.reconciler import Reconciler
from rollover.observed import LABEL_ROLLOVER, ORIGINAL_STATE_ANNOTATION, OriginalState

log = logging.getLogger(__name__)

PAGE_SIZE = 500
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
    settings.networking.request_timeout = 60
    client = AsyncClient(KubeConfig.from_env(), field_manager=FIELD_MANAGER)
    cache: Cache = Cache()
    namespaces: list[str] = memo.namespaces or [None]  # None: all namespaces
    for ns in namespaces:
        for resource, kind in ((CronJob, "CronJob"), (Deployment, "Deployment"), (Job, "Job")):
            # Paged: 45,000 CronJobs in one response would set the process's peak memory.
            async for obj in client.list(resource, namespace=ns or "*", chunk_size=PAGE_SIZE):
                _remember(cache, kind, cast(Any, obj).to_dict())
    memo.reconciler = Reconciler(client, cache, memo.config, memo.clock)
    memo.reconciler.start()
    log.info(
        "caches filled: %d namespaces with sync targets, %d with jobs", len(cache.targets), len(cache.jobs)
    )


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    """Stop the workers and close the client."""
    reconciler: Reconciler | None = memo.get("reconciler")
    if reconciler is not None:
        await reconciler.stop()
        await reconciler.client.close()


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
    if not reconciler.cache.observe_revision(key, meta.get("resourceVersion", "")):
        return  # older than what we already know (e.g. our own write overtook this event)
    if reconciler.cache.changed("DistrictRollover", raw):
        reconciler.cache.rollovers[key[0]][key[1]] = raw
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
