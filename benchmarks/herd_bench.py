"""Benchmark: the thundering herd of a shared default reset date, against the apiserver's own floor.

    python benchmarks/herd_bench.py --rollovers 5000          # the issue's size: 15,000 CronJobs
    python benchmarks/herd_bench.py --rollovers 30 --rate 3000 --lead 20   # smoke (in the tests)
    python benchmarks/herd_bench.py --namespace-list --namespaces 1000 --rollovers 2000

With --namespace-list the operator serves the herd's namespaces as a list (`--namespace` for each:
one watch per namespace and kind) with the chart's RBAC for that mode (a Role per namespace, run as
its ServiceAccount), as a platform with a namespace per district installs it; reported besides:
its open connections to the apiserver and the PoolTimeouts in its log.

On a fresh local control plane: N rollovers sharing one reset date (3 roster-sync CronJobs each, in
50 namespaces `herd-*`) and an identical untouched copy of them in `floor-*`. The operator serves only
`herd-*` (a namespace pattern, as a shard would), with an accelerated clock that reaches the pause
`--lead` wall seconds after start, after its cold start.

1. Pause herd: from pauseAt until every rollover's status says Paused (the operator writes status
   only after its CronJob PATCHes landed; all 3N CronJobs are then checked suspended).
2. The floor for it, in the same run: a plain asyncio client sends exactly the operator's writes of
   that window (each CronJob's PATCH with the very annotation the operator wrote, each status as the
   operator wrote it, the same number of Events and finalizer PATCHes) to the `floor-*` copies, at
   several concurrencies; the best counts.
3. Archive herd at resetAt: until every status says Archiving (archive Jobs created), then its floor:
   the same Job bodies created in `floor-*`, and the same status writes and Events.

Reported: both durations, their floors and ratios, the operator's requests per rollover in each
window by verb and resource (against the minimum the design needs), peak RSS. JSON to
benchmarks/out/herd.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import signal
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lightkube import KubeConfig
from lightkube.resources.batch_v1 import CronJob, Job
from lightkube.resources.core_v1 import ConfigMap, Event
from lightkube.types import PatchType

from benchmarks.fleet import (
    BENCH_TIMEOUT_S,
    RELEASE_NAMESPACE,
    Fleet,
    bench_client,
    chart_rbac_kubeconfig,
    create_fleet,
    open_connections,
    ours,
    peak_rss_mib,
    request_counts,
    rollover_body,
    scratch_plane,
    wait_all_observed,
    watch_phase,
    watcher_beside,
)
from rollover import FIELD_MANAGER
from rollover.api.models import DistrictRolloverSpec
from rollover.calendar import compute_schedule
from rollover.claims import LABEL_CLAIM
from rollover.cluster.client import pooled_client
from rollover.cluster.resources import DistrictRollover
from rollover.devcluster.controlplane import ControlPlane
from rollover.devcluster.runner import operator_wall_time, running_operator
from rollover.labels import ORIGINAL_STATE_ANNOTATION

OUT = Path(__file__).parent / "out"
CONCURRENCIES = (64, 128, 256)
PRODUCTS = 2  # each fleet rollover archives imagine-math and twig-science: one archive Job each
Writes = Counter[tuple[str, str]]


def schedule_of(fleet: Fleet) -> tuple[dt.datetime, dt.datetime]:
    """(pauseAt, resetAt) of every rollover of the fleet, from the pure core."""
    spec = DistrictRolloverSpec.model_validate(rollover_body("x", 0, fleet)["spec"])
    schedule = compute_schedule(spec)
    return schedule.pause_at, schedule.reset_at


Requests = list[Callable[[], Awaitable[Any]]]


async def timed_at_best_concurrency(
    kubeconfig: Path, build: Callable[[int], Awaitable[Requests]], concurrencies: tuple[int, ...]
) -> tuple[float, int, dict[int, float]]:
    """Run round n of `build(n)` at each concurrency in turn; (best seconds, its concurrency, all).

    Each round's writes really change the objects (a PATCH repeating the stored value would skip
    etcd and flatter the floor), and run beside the watch the benchmark keeps on the operator's
    windows (`watcher_beside`)."""
    seconds: dict[int, float] = {}
    for round_, concurrency in enumerate(concurrencies):
        requests = await build(round_)
        sem = asyncio.Semaphore(concurrency)

        async def one(request: Callable[[], Awaitable[Any]], sem: asyncio.Semaphore = sem) -> None:
            async with sem:
                await request()

        with watcher_beside(kubeconfig):
            started = time.perf_counter()
            await asyncio.gather(*(one(r) for r in requests))
            seconds[concurrency] = time.perf_counter() - started
    best = min(seconds, key=seconds.__getitem__)
    return seconds[best], best, seconds


def counts_per_rollover(writes: Writes, rollovers: int) -> dict[str, float]:
    """The operator's writes per rollover by verb and resource (it never PUTs: those are the job
    controller's Job status updates; nor does it create pods)."""
    return {
        f"{verb} {resource}": round(n / rollovers, 2)
        for (verb, resource), n in sorted(writes.items())
        if verb != "PUT" and resource != "pods"
    }


class Floor:
    """The plain client: the operator's writes of one window, replayed on the floor-* copies."""

    def __init__(self, kubeconfig: Path, herd: Fleet, floor: Fleet) -> None:
        # The operator's own kind of client and pool: the floor measures the apiserver, not httpx.
        # A request the loaded apiserver answers late is counted, not fatal: at 1,000 listed
        # namespaces and c=256 a PATCH outlasted lightkube's 10 s and ended the run.
        self.client = pooled_client(
            KubeConfig.from_file(kubeconfig), max(CONCURRENCIES), "floor", timeout_s=BENCH_TIMEOUT_S
        )
        self.herd, self.floor = herd, floor
        self._uids: dict[tuple[str, str], str] = {}

    async def close(self) -> None:
        await self.client.close()

    async def _rollovers(self) -> dict[tuple[str, str], Any]:
        found = {}
        async for dro in self.client.list(DistrictRollover, namespace="*", chunk_size=500):
            assert dro.metadata is not None
            found[(str(dro.metadata.namespace), str(dro.metadata.name))] = dro
        return found

    def _floor_key(self, ns: str, name: str) -> tuple[str, str]:
        return ns.replace(f"{self.herd.prefix}-", f"{self.floor.prefix}-", 1), name

    async def status_requests(self, writes: Writes, round_: int) -> Requests:
        """Each herd rollover's status (as the operator wrote it) onto its floor copy as many times as
        the operator wrote it (a pause writes its record before pausing, then the outcome), plus the
        same number of Events and finalizer patches per rollover as the operator made in the window."""
        rollovers = await self._rollovers()
        statuses = max(1, round(writes[("PATCH", "districtrollovers/status")] / self.herd.rollovers))
        events = round(writes[("POST", "events")] / self.herd.rollovers)
        finalizers = round(writes[("PATCH", "districtrollovers")] / self.herd.rollovers)
        requests: Requests = []
        for (ns, name), dro in rollovers.items():
            if not ns.startswith(f"{self.herd.prefix}-"):
                continue
            fns, fname = self._floor_key(ns, name)
            self._uids[(fns, fname)] = rollovers[(fns, fname)].metadata.uid
            # The operator's status, with a field that differs per write so that every write writes.
            for write in range(statuses):
                generation = 100 + round_ * statuses + write
                status = dict(dro.get("status") or {}) | {"observedGeneration": generation}
                requests.append(self._patch_status(fns, fname, status))
            requests += [self._event(fns, fname) for _ in range(events)]
            requests += [self._touch(fns, fname, round_) for _ in range(finalizers)]
        return requests

    def _patch_status(self, ns: str, name: str, status: dict[str, Any]) -> Callable[[], Awaitable[Any]]:
        return lambda: self.client.patch(
            DistrictRollover.Status, name, {"status": status}, namespace=ns, patch_type=PatchType.MERGE
        )

    def _touch(self, ns: str, name: str, round_: int) -> Callable[[], Awaitable[Any]]:
        body = {"metadata": {"finalizers": [f"rostering.k12.dev/floor-{round_ % 2}"]}}
        return lambda: self.client.patch(
            DistrictRollover, name, body, namespace=ns, patch_type=PatchType.MERGE
        )

    def _event(self, ns: str, name: str) -> Callable[[], Awaitable[Any]]:
        def create() -> Awaitable[Any]:
            now = dt.datetime.now(dt.UTC)
            return self.client.create(
                Event.from_dict(
                    {
                        "metadata": {"generateName": f"{name}.", "namespace": ns},
                        "involvedObject": {
                            "apiVersion": "rostering.k12.dev/v1alpha1",
                            "kind": "DistrictRollover",
                            "name": name,
                            "namespace": ns,
                            "uid": self._uids.get((ns, name)),
                        },
                        "type": "Normal",
                        "reason": "SyncPaused",
                        "message": "Roster sync paused: suspended CronJob(s) d00000-sync-0, d00000-sync-1,"
                        " d00000-sync-2. Archiving starts Fri 2027-07-16 00:00 CDT.",
                        "source": {"component": "floor"},
                        "firstTimestamp": now.isoformat(),
                        "lastTimestamp": now.isoformat(),
                        "count": 1,
                    }
                )
            )

        return create

    async def pause_requests(self, round_: int) -> Requests:
        """Each herd CronJob's pause PATCH (suspend + the operator's annotation) onto its floor copy;
        odd rounds un-suspend, so that every round writes."""
        requests: Requests = []
        async for cj in self.client.list(CronJob, namespace="*", chunk_size=500):
            meta = cj.metadata
            assert meta is not None and meta.namespace is not None and meta.name is not None
            if not meta.namespace.startswith(f"{self.herd.prefix}-"):
                continue
            annotation = (meta.annotations or {})[ORIGINAL_STATE_ANNOTATION]
            patch = {
                "metadata": {"annotations": {ORIGINAL_STATE_ANNOTATION: annotation}},
                "spec": {"suspend": round_ % 2 == 0},
            }
            fns, _ = self._floor_key(meta.namespace, "")
            requests.append(self._patch_cronjob(fns, meta.name, patch))
        return requests

    def _patch_cronjob(self, ns: str, name: str, patch: dict[str, Any]) -> Callable[[], Awaitable[Any]]:
        return lambda: self.client.patch(CronJob, name, patch, namespace=ns, patch_type=PatchType.MERGE)

    async def job_requests(self, round_: int) -> Requests:
        """Each herd archive Job, re-created under the floor copy of its rollover (a new name per round)."""
        requests: Requests = []
        async for job in self.client.list(Job, namespace="*", chunk_size=500):
            body = job.to_dict()
            meta = body["metadata"]
            if not meta["namespace"].startswith(f"{self.herd.prefix}-"):
                continue
            fns, owner = self._floor_key(meta["namespace"], meta["ownerReferences"][0]["name"])
            spec = body["spec"]
            for key in ("selector",):
                spec.pop(key, None)
            labels = spec["template"]["metadata"].get("labels") or {}
            for key in (
                "controller-uid",
                "batch.kubernetes.io/controller-uid",
                "job-name",
                "batch.kubernetes.io/job-name",
            ):
                labels.pop(key, None)
            new = {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {
                    "name": f"{meta['name'][:55]}-r{round_}",
                    "namespace": fns,
                    "labels": meta.get("labels"),
                    "annotations": meta.get("annotations"),
                    "ownerReferences": [{**meta["ownerReferences"][0], "uid": self._uids[(fns, owner)]}],
                },
                "spec": spec,
            }
            requests.append(self._create_job(new))
        return requests

    def _create_job(self, body: dict[str, Any]) -> Callable[[], Awaitable[Any]]:
        return lambda: self.client.create(Job.from_dict(body))

    async def claim_requests(self, namespace: str, round_: int) -> Requests:
        """Each district claim the operator wrote, created again under a new name per round, its
        claim label set to "floor" instead of "true" (same size): a floor copy selected by the
        operator's claims informer would be listed, parsed and cached by its restart."""
        requests: Requests = []
        async for claim in self.client.list(
            ConfigMap, namespace=namespace, labels={LABEL_CLAIM: "true"}, chunk_size=500
        ):
            meta = claim.metadata
            assert meta is not None and meta.name is not None
            body = {
                "metadata": {
                    "name": f"floor-{round_}-{meta.name}",
                    "namespace": namespace,
                    "labels": {**(meta.labels or {}), LABEL_CLAIM: "floor"},
                },
                "data": claim.data,
            }
            requests.append(self._create_claim(body))
        return requests

    def _create_claim(self, body: dict[str, Any]) -> Callable[[], Awaitable[Any]]:
        return lambda: self.client.create(ConfigMap.from_dict(body))


async def operator_events(kubeconfig: Path, fleet: Fleet) -> int:
    """Events the operator has posted in the fleet's namespaces. The apiserver's request counters
    cannot tell our Event POSTs from the job controller's (one per pod it creates for our Jobs)."""
    client = bench_client(kubeconfig)
    count = 0
    async for event in client.list(Event, namespace="*", fields={"source": FIELD_MANAGER}, chunk_size=500):
        assert event.metadata is not None and event.metadata.namespace is not None
        count += event.metadata.namespace.startswith(f"{fleet.prefix}-")
    await client.close()
    return count


def settled_events(kubeconfig: Path, fleet: Fleet) -> int:
    """`operator_events` once the count stops growing: the operator posts a transition's Event
    after the status write that ends a measured phase, while it goes on with other rollovers."""
    count = asyncio.run(operator_events(kubeconfig, fleet))
    while True:
        time.sleep(1)
        again = asyncio.run(operator_events(kubeconfig, fleet))
        if again == count:
            return count
        count = again


def window_writes(plane: ControlPlane, before: Writes, events_before: int, fleet: Fleet) -> Writes:
    """The operator's writes since `before`: its own kinds from the apiserver's counters, and its
    own Events counted in the cluster."""
    writes = ours(request_counts(plane) - before, writes_only=True)
    writes[("POST", "events")] = settled_events(plane.kubeconfig, fleet) - events_before
    return writes


async def suspended_count(kubeconfig: Path, fleet: Fleet) -> int:
    client = bench_client(kubeconfig)
    count = 0
    async for cj in client.list(CronJob, namespace="*", chunk_size=500):
        assert cj.metadata is not None and cj.metadata.namespace is not None and cj.spec is not None
        count += cj.metadata.namespace.startswith(f"{fleet.prefix}-") and bool(cj.spec.suspend)
    await client.close()
    return count


@contextmanager
def plane_with(*fleets: Fleet) -> Iterator[tuple[ControlPlane, Path]]:
    """A fresh control plane holding the fleets, and a scratch directory."""
    with scratch_plane("herd-bench-") as (plane, tmp):
        for fleet in fleets:
            asyncio.run(create_fleet(plane.kubeconfig, fleet))
        yield plane, tmp


def operator_args(
    herd: Fleet, clock_start: dt.datetime, rate: float, *, namespace_list: bool = False
) -> list[str]:
    """The operator serves only the herd's namespaces (a pattern, or each one named), on an
    accelerated clock."""
    if namespace_list:
        scope = [f"--namespace={herd.namespace(i)}" for i in range(herd.namespaces)]
        scope.append(f"--claims-namespace={RELEASE_NAMESPACE}")
    else:
        scope = [f"--namespace={herd.prefix}-*"]
    return [*scope, f"--clock-start={clock_start.isoformat()}", f"--clock-rate={rate}"]


def run(
    rollovers: int, namespaces: int, lead_s: float, rate: float, *, namespace_list: bool = False
) -> dict[str, Any]:
    """Run the benchmark on a fresh control plane; returns the measured figures."""
    herd = Fleet(rollovers=rollovers, namespaces=namespaces, prefix="herd")
    floor_fleet = Fleet(rollovers=rollovers, namespaces=namespaces, prefix="floor")
    pause_at, reset_at = schedule_of(herd)
    clock_start = pause_at - dt.timedelta(seconds=lead_s * rate)
    result: dict[str, Any] = {
        "rollovers": rollovers,
        "cronjobs": rollovers * herd.cronjobs_per_rollover,
        "namespaces": namespaces,
        "namespace_list": namespace_list,
    }
    with plane_with(herd, floor_fleet) as (plane, tmp):
        kubeconfig, log = plane.kubeconfig, tmp / "operator.log"
        operator_kubeconfig = kubeconfig
        if namespace_list:
            served = [herd.namespace(i) for i in range(namespaces)]
            operator_kubeconfig = chart_rbac_kubeconfig(plane, served, tmp / "operator.kubeconfig")
        args = operator_args(herd, clock_start, rate, namespace_list=namespace_list)
        connections: list[int] = []
        with running_operator(operator_kubeconfig, log, *args) as proc:
            result["cold_start_s"] = round(wait_all_observed(kubeconfig, rollovers, timeout=lead_s), 2)
            connections.append(open_connections(proc.pid, plane.server))
            pause_wall = operator_wall_time(log, clock_start, rate, pause_at)
            reset_wall = operator_wall_time(log, clock_start, rate, reset_at)
            if time.time() > pause_wall:
                raise RuntimeError(f"cold start outlasted the lead of {lead_s}s: raise --lead")

            time.sleep(max(0.0, pause_wall - time.time() - 2))
            before, events_before = request_counts(plane), asyncio.run(operator_events(kubeconfig, herd))
            done_wall = asyncio.run(
                watch_phase(kubeconfig, herd, "Paused", within_s=reset_wall - time.time())
            )
            time.sleep(1)  # the last events' requests land in the counters
            pause_writes = window_writes(plane, before, events_before, herd)
            result["herd_pause_s"] = round(done_wall - pause_wall, 2)
            result["pause_requests_per_rollover"] = counts_per_rollover(pause_writes, rollovers)
            suspended = asyncio.run(suspended_count(kubeconfig, herd))
            assert suspended == herd.rollovers * herd.cronjobs_per_rollover, f"{suspended} CronJobs suspended"
            connections.append(open_connections(proc.pid, plane.server))
            result |= asyncio.run(_pause_floor(kubeconfig, herd, floor_fleet, pause_writes))
            if time.time() > reset_wall:
                raise RuntimeError("the pause and its floor outlasted the day before reset: lower --rate")
            OUT.mkdir(exist_ok=True)
            (OUT / "herd-partial.json").write_text(json.dumps(result, indent=2))  # a late failure keeps these

            time.sleep(max(0.0, reset_wall - time.time() - 2))
            before, events_before = request_counts(plane), asyncio.run(operator_events(kubeconfig, herd))
            done_wall = asyncio.run(watch_phase(kubeconfig, herd, "Archiving", within_s=600))
            time.sleep(1)
            archive_writes = window_writes(plane, before, events_before, herd)
            result["herd_archive_s"] = round(done_wall - reset_wall, 2)
            result["archive_requests_per_rollover"] = counts_per_rollover(archive_writes, rollovers)
            result |= asyncio.run(
                _archive_floor(kubeconfig, herd, floor_fleet, archive_writes, result["floor_concurrency"])
            )
            connections.append(open_connections(proc.pid, plane.server))
            result["peak_rss_mib"] = round(peak_rss_mib(proc.pid), 1)
        text = log.read_text()
        result["tracebacks"] = text.count("Traceback")
        result["pool_timeouts"] = text.count("PoolTimeout")
        result["open_connections"] = max(connections)
    result["herd_pause_ratio"] = round(result["herd_pause_s"] / result["herd_pause_floor_s"], 2)
    result["herd_archive_ratio"] = round(result["herd_archive_s"] / result["herd_archive_floor_s"], 2)
    result["herd_s"] = round(result["herd_pause_s"] + result["herd_archive_s"], 2)
    result["herd_floor_s"] = round(result["herd_pause_floor_s"] + result["herd_archive_floor_s"], 2)
    result["herd_ratio"] = round(result["herd_s"] / result["herd_floor_s"], 2)
    return result


def run_failover(
    rollovers: int, namespaces: int, lead_s: float, rate: float, lease_s: float
) -> dict[str, Any]:
    """Two replicas with leader election; the leader is killed (SIGKILL) when half the herd is paused.

    Measures the gap (kill to the standby's first act as leader) and checks that nothing was missed
    or done twice: every CronJob suspended, every rollover Archiving with exactly its archive Jobs.
    """
    herd = Fleet(rollovers=rollovers, namespaces=namespaces, prefix="herd")
    pause_at, reset_at = schedule_of(herd)
    clock_start = pause_at - dt.timedelta(seconds=lead_s * rate)
    election = ["--leader-elect", "--leader-election-namespace=default", f"--lease-seconds={lease_s}"]
    result: dict[str, Any] = {"rollovers": rollovers, "lease_s": lease_s}
    with plane_with(herd) as (plane, tmp):
        kubeconfig, logs = plane.kubeconfig, [tmp / "a.log", tmp / "b.log"]
        args = [*operator_args(herd, clock_start, rate), *election]
        with (
            running_operator(kubeconfig, logs[0], *args) as a,
            running_operator(kubeconfig, logs[1], *args) as b,
        ):
            wait_all_observed(kubeconfig, rollovers, timeout=lead_s)
            leading = [i for i, log in enumerate(logs) if "leader election: leading" in log.read_text()]
            assert len(leading) == 1, f"{len(leading)} leaders"
            leader, standby = ((a, b), (b, a))[leading[0]]
            standby_log = logs[1 - leading[0]]
            reset_wall = operator_wall_time(logs[leading[0]], clock_start, rate, reset_at)
            killed_at: list[float] = []

            def kill_at_half(paused: int) -> None:
                if not killed_at and paused >= rollovers // 2:
                    leader.send_signal(signal.SIGKILL)
                    killed_at.append(time.time())

            asyncio.run(watch_phase(kubeconfig, herd, "Paused", reset_wall - time.time(), kill_at_half))
            result["failover_gap_s"] = round(_leading_since(standby_log, 3 * lease_s) - killed_at[0], 2)
            time.sleep(max(0.0, reset_wall - time.time()))
            asyncio.run(watch_phase(kubeconfig, herd, "Archiving", within_s=600))
            result["violations"] = asyncio.run(_check_after_failover(kubeconfig, herd))
            assert standby.poll() is None, "the new leader exited"
        result["tracebacks"] = sum(log.read_text().count("Traceback") for log in logs)
    return result


def _leading_since(log: Path, within_s: float) -> float:
    """When the standby started leading, from its log (waiting for it: the herd may have finished on
    the dead leader's last writes before the standby's lease was due)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if "leader election: leading" in line:
                return dt.datetime.fromisoformat(json.loads(line)["time"]).timestamp()
        time.sleep(0.2)
    raise RuntimeError("the standby never led")


async def _check_after_failover(kubeconfig: Path, herd: Fleet) -> list[str]:
    """Every CronJob suspended; each rollover with exactly one archive Job per product (its preflight
    Jobs, created when the herd started within the preflight window, are not counted)."""
    client = bench_client(kubeconfig)
    violations = []
    try:
        suspended = 0
        async for cj in client.list(CronJob, namespace="*", chunk_size=500):
            assert cj.spec is not None
            suspended += bool(cj.spec.suspend)
        if suspended != herd.rollovers * herd.cronjobs_per_rollover:
            violations.append(
                f"{suspended} of {herd.rollovers * herd.cronjobs_per_rollover} CronJobs suspended"
            )
        jobs: Counter[tuple[str, str]] = Counter()
        archives = {"rostering.k12.dev/step": "archive"}
        async for job in client.list(Job, namespace="*", chunk_size=500, labels=archives):
            meta = job.metadata
            assert meta is not None and meta.labels is not None
            jobs[(str(meta.namespace), meta.labels.get("rostering.k12.dev/rollover", ""))] += 1
        wrong = {k: n for k, n in jobs.items() if n != PRODUCTS}
        if wrong or len(jobs) != herd.rollovers:
            violations.append(
                f"{len(jobs)} rollovers with Jobs; not {PRODUCTS} each: {list(wrong.items())[:5]}"
            )
    finally:
        await client.close()
    return violations


async def _pause_floor(kubeconfig: Path, herd: Fleet, floor_fleet: Fleet, writes: Writes) -> dict[str, Any]:
    floor = Floor(kubeconfig, herd, floor_fleet)

    async def build(round_: int) -> Requests:
        return await floor.pause_requests(round_) + await floor.status_requests(writes, round_)

    try:
        best, concurrency, all_rounds = await timed_at_best_concurrency(kubeconfig, build, CONCURRENCIES)
        count = len(await build(0))
    finally:
        await floor.close()
    return {
        "herd_pause_floor_s": round(best, 2),
        "floor_concurrency": concurrency,
        "floor_pause_rounds_s": {str(c): round(s, 2) for c, s in all_rounds.items()},
        "floor_pause_requests": count,
    }


async def _archive_floor(
    kubeconfig: Path, herd: Fleet, floor_fleet: Fleet, writes: Writes, concurrency: int
) -> dict[str, Any]:
    floor = Floor(kubeconfig, herd, floor_fleet)

    async def build(round_: int) -> Requests:
        statuses = await floor.status_requests(writes, round_)  # first: it learns the owners' uids
        return await floor.job_requests(round_) + statuses

    # Job creates cost the cluster more than PATCHes (the job controller creates a pod for each),
    # and cannot be repeated under the same names: one round, at the pause floor's best concurrency.
    try:
        best, _, all_rounds = await timed_at_best_concurrency(kubeconfig, build, (concurrency,))
        count = len(await build(9))
    finally:
        await floor.close()
    return {
        "herd_archive_floor_s": round(best, 2),
        "floor_archive_rounds_s": {str(c): round(s, 2) for c, s in all_rounds.items()},
        "floor_archive_requests": count,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rollovers", type=int, default=5000)
    parser.add_argument("--namespaces", type=int, default=50)
    parser.add_argument("--lead", type=float, default=420, help="wall seconds from operator start to pauseAt")
    parser.add_argument("--rate", type=float, default=100, help="operator clock speed-up (a day in 864 s)")
    parser.add_argument(
        "--failover", action="store_true", help="two replicas; kill the leader mid-herd (no floor)"
    )
    parser.add_argument(
        "--namespace-list",
        action="store_true",
        help="serve each herd namespace by name, with the chart's Role-per-namespace RBAC",
    )
    parser.add_argument("--lease", type=float, default=15, help="lease seconds with --failover")
    args = parser.parse_args()
    if args.failover:
        result = run_failover(args.rollovers, args.namespaces, args.lead, args.rate, args.lease)
        name = "failover.json"
    else:
        result = run(
            args.rollovers, args.namespaces, args.lead, args.rate, namespace_list=args.namespace_list
        )
        name = "herd-ns.json" if args.namespace_list else "herd.json"
    OUT.mkdir(exist_ok=True)
    (OUT / name).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
