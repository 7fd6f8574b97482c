"""kopf wiring: kopf runs the operator (start-up, cleanup, signals, liveness); slim informers of our
own watch DistrictRollovers and the objects they act on (CronJobs, Deployments, Jobs), the
Namespaces' districts and the district claims. They feed the caches and wake the reconciler.
Handlers only observe; every decision is the planner's, every write the `cluster` package's (but the
Lease's: `leader.py`).

kopf watches nothing itself: it keeps a memory record, a copy of the memo and a worker per object,
and runs every event through its handler pipeline, which is most of what an idle rollover cost in
memory and most of the operator's own CPU at a cold start (each status write comes back as an
event). No kopf handler also means no kopf progress annotations on our objects.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
from collections.abc import Callable
from typing import Any

import kopf

# Private to kopf (pinned in pyproject): the very functions kopf filters its watches with.
from kopf._cogs.structs.references import NamespaceName, match_namespace, select_specific_namespaces
from lightkube import AsyncClient, KubeConfig

from rollover import FIELD_MANAGER, GROUP, PLURAL, VERSION
from rollover.api.models import SyncTargetKind
from rollover.claims import LABEL_CLAIM
from rollover.cluster.client import pooled_client
from rollover.controller import metrics
from rollover.controller.cache import Cache
from rollover.controller.informer import Informer, raw_resource, until_listed
from rollover.controller.leader import Election, LeaderElector
from rollover.controller.reconciler import Reconciler

log = logging.getLogger(__name__)

ROLLOVERS = raw_resource(GROUP, VERSION, "DistrictRollover", PLURAL)
CRONJOBS = raw_resource("batch", "v1", "CronJob", "cronjobs", slim=True)
DEPLOYMENTS = raw_resource("apps", "v1", "Deployment", "deployments", slim=True)
JOBS = raw_resource("batch", "v1", "Job", "jobs", slim=True)
NAMESPACES = raw_resource("", "v1", "Namespace", "namespaces", namespaced=False, slim=True)
CONFIGMAPS = raw_resource("", "v1", "ConfigMap", "configmaps")
#: One GET and one PUT per renewal, never concurrent: a second connection only covers a reconnect.
LEASE_CONNECTIONS = 2
#: Watch connections beyond one per watch stream: a stream being re-opened while the server's end
#: of the old one is still being closed, and the start-up LISTs (which run one at a time).
WATCH_HEADROOM = 4


@kopf.on.startup()
async def start(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Fill the caches with one LIST per kind, then start the workers (never plan on a partial view)."""
    settings.posting.level = logging.WARNING
    # One connection per worker: more cost CPU in httpcore, which scans every pooled connection for
    # every request (a third of the operator's CPU in the archive herd with 128 connections).
    client = pooled_client(KubeConfig.from_env(), memo.config.workers, FIELD_MANAGER)
    memo.reconciler = reconciler = Reconciler(client, Cache(), memo.config, memo.clock)
    informers = _informers(reconciler, memo.namespaces)
    # The informers' watch streams hold a connection each for as long as they run (one per
    # namespace and kind with a namespace list): on the request pool they took every connection
    # from ~21 namespaces on, and every reconcile failed with PoolTimeout. They get a pool of their
    # own, sized to the streams, and the request pool is left to reconciles. (HTTP/2 would multiplex
    # them all on one connection, as client-go does, but it puts the watches and the herd's
    # requests behind one TCP connection's flow control and costs CPU in pure-Python framing.)
    # The informers' LISTs go on the watch pool too: at start-up they run one at a time, and a
    # relist runs in place of its scope's stream (which has ended), so they never need more
    # connections than the streams do, and never wait behind a herd of reconciles.
    memo.watch_client = watch_client = pooled_client(
        KubeConfig.from_env(), watch_connections(informers), FIELD_MANAGER
    )
    for informer in informers:
        informer.client = watch_client
    await _listed(informers)
    memo.watches = [_watching(informer) for informer in informers]
    cache = reconciler.cache
    log.info(
        "caches filled: %d namespaces with rollovers, %d with sync targets, %d with jobs",
        len(cache.rollovers),
        len(cache.targets),
        len(cache.jobs),
    )
    election: Election | None = memo.election
    if election is None:
        metrics.LEADER.set(1)
        reconciler.start()
        return
    # Standby until elected: the watches keep the caches current, nobody acts.
    # The Lease has a client of its own: renewals must never wait behind reconciles or watches.
    lease_client = pooled_client(KubeConfig.from_env(), LEASE_CONNECTIONS, FIELD_MANAGER)
    memo.elector = elector = LeaderElector(
        lease_client, election.namespace, election.lease, election.identity, election.timing
    )

    def lost() -> None:
        memo.lost_leadership = True
        # Fail closed: stop acting before anything else runs, not once kopf's cleanup gets there.
        reconciler.halt()
        # Stop the way a kubelet would: kopf's own SIGTERM handling runs the cleanup. (A kopf
        # stop_flag would do, but kopf then waits up to 5 s for its waiter when stopped otherwise.)
        os.kill(os.getpid(), signal.SIGTERM)

    memo.campaign = _stop_if_it_fails(
        asyncio.create_task(elector.run(reconciler.start_leading, lost), name="leader-election"),
        "leader election",
    )


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    """Stop the workers and close the client."""
    campaign: asyncio.Task[None] | None = memo.get("campaign")
    for task in [campaign, *memo.get("watches", [])]:
        if task is not None:
            task.cancel()
    reconciler: Reconciler | None = memo.get("reconciler")
    if reconciler is not None:
        await reconciler.stop()
        elector: LeaderElector | None = memo.get("elector")
        if elector is not None:
            await elector.release()
            await elector.client.close()
        await reconciler.client.close()
    watch_client: AsyncClient | None = memo.get("watch_client")
    if watch_client is not None:
        await watch_client.close()


def _informers(reconciler: Reconciler, patterns: list[str]) -> list[Informer]:
    """Informers for the kinds the rollovers act on, over the namespaces this operator serves."""
    scopes, served, client = _list_scopes(patterns), _served(patterns), reconciler.client
    on_target = functools.partial(_target_event, reconciler)
    return [
        Informer(client, ROLLOVERS, scopes, served, functools.partial(_rollover_event, reconciler)),
        Informer(client, CRONJOBS, scopes, served, functools.partial(on_target, SyncTargetKind.CRON_JOB)),
        Informer(
            client, DEPLOYMENTS, scopes, served, functools.partial(on_target, SyncTargetKind.DEPLOYMENT)
        ),
        Informer(client, JOBS, scopes, served, functools.partial(_job_event, reconciler)),
        # Which districts each namespace may roll over (its rostering.k12.dev/districts annotation).
        Informer(client, NAMESPACES, [""], _everywhere, functools.partial(_namespace_event, reconciler)),
        # District claims: only ours, in our own namespace.
        Informer(
            client,
            CONFIGMAPS,
            [reconciler.config.claims_namespace],
            _everywhere,
            functools.partial(_claim_event, reconciler),
            labels={LABEL_CLAIM: "true"},
        ),
    ]


def watch_connections(informers: list[Informer]) -> int:
    """Connections for the informers' watch streams: one per scope watched, plus headroom."""
    return sum(len(informer.scopes) for informer in informers) + WATCH_HEADROOM


def _everywhere(namespace: str) -> bool:
    return True


async def _listed(informers: list[Informer]) -> None:
    """One LIST per kind before anyone plans (never on a partial view), the kinds side by side (one
    kind's pages are decoded while the apiserver serves another's); an unreachable or throttling
    apiserver is waited for, not handed to kopf, which would retry only after a minute."""
    await asyncio.gather(
        *(until_listed(informer.list_all, f"listing {informer.kind}") for informer in informers)
    )


def _watching(informer: Informer) -> asyncio.Task[None]:
    """Watch in the background (see `_stop_if_it_fails`)."""
    return _stop_if_it_fails(
        asyncio.create_task(informer.watch_all(), name=f"watch-{informer.kind}"), f"watching {informer.kind}"
    )


def _stop_if_it_fails(task: asyncio.Task[None], what: str) -> asyncio.Task[None]:
    """A background task that dies stops the operator loudly: a watch that fails for good (say,
    RBAC) would leave it acting on a cache that no longer follows the cluster, and a campaign that
    died would leave it acting without renewing its Lease (two leaders once it expires)."""

    def ended(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed; stopping", what, exc_info=task.exception())
            os.kill(os.getpid(), signal.SIGTERM)

    task.add_done_callback(ended)
    return task


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

    @functools.lru_cache(maxsize=4096)  # asked for every object listed or watched
    def served(namespace: str) -> bool:
        return any(match_namespace(NamespaceName(namespace), p) for p in patterns)

    return served


def _rollover_event(reconciler: Reconciler, event: str, raw: dict[str, Any]) -> None:
    """A DistrictRollover changed: cache it and reconcile it."""
    meta = raw["metadata"]
    key = (meta["namespace"], meta["name"])
    if event == "DELETED":
        for waiting in reconciler.cache.drop_rollover(*key):
            reconciler.enqueue(waiting)
        reconciler.notifier.forget(key)
        metrics.forget(*key)
        return
    # False for a replay, for the event of our own write (already cached) and for an event older
    # than what we know (our write overtook it).
    if reconciler.cache.changed("DistrictRollover", raw):
        reconciler.cache.put_rollover(raw)
        reconciler.enqueue(key)


def _target_event(reconciler: Reconciler, kind: SyncTargetKind, event: str, raw: dict[str, Any]) -> None:
    """A possible sync target changed: wake the rollovers it concerns."""
    for key in reconciler.cache.target_changed(kind, event, raw):
        reconciler.enqueue(key)


def _job_event(reconciler: Reconciler, event: str, raw: dict[str, Any]) -> None:
    """A Job changed: wake the rollovers it concerns."""
    for key in reconciler.cache.job_changed(event, raw):
        reconciler.enqueue(key)


def _namespace_event(reconciler: Reconciler, event: str, raw: dict[str, Any]) -> None:
    """A Namespace changed: wake its rollovers if the districts it allows changed."""
    for key in reconciler.cache.namespace_changed(event, raw):
        reconciler.enqueue(key)


def _claim_event(reconciler: Reconciler, event: str, raw: dict[str, Any]) -> None:
    """A district claim changed: wake the rollovers of that district."""
    for key in reconciler.cache.claim_changed(event, raw):
        reconciler.enqueue(key)
