"""Shared benchmark tooling: a fleet of DistrictRollovers with their roster-sync CronJobs, the
operator as a measured subprocess, and the apiserver's own request counters."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from lightkube import ApiError, AsyncClient, KubeConfig
from lightkube.codecs import from_dict
from ruamel.yaml import YAML

from rollover.cluster.client import pooled_client
from rollover.cluster.resources import DistrictRollover
from rollover.controller.informer import GONE
from rollover.devcluster import default_crd_dir
from rollover.devcluster.apf import token_kubeconfig
from rollover.devcluster.binaries import ensure_binaries, repo_root
from rollover.devcluster.controlplane import ControlPlane
from rollover.devcluster.metrics import samples
from rollover.devcluster.objects import district_namespace, district_rollover, sync_cronjob

WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "DELETE", "APPLY", "CREATE", "UPDATE"})
# What the operator reads or writes (configmaps: its district claims); the apiserver's own
# bookkeeping (leases, …) is not ours.
OUR_RESOURCES = frozenset(
    {"districtrollovers", "cronjobs", "deployments", "jobs", "pods", "events", "configmaps"}
)


#: Seconds the benchmarks' own clients wait for a response: a LIST of every rollover, answered late by
#: an apiserver busy with a thousand namespaces' start-up, ended a run at lightkube's 10 s.
BENCH_TIMEOUT_S = 120.0


def bench_client(kubeconfig: Path) -> AsyncClient:
    """A client for the benchmark's own reads (progress, counts, checks)."""
    return AsyncClient(KubeConfig.from_file(kubeconfig), timeout=httpx2.Timeout(BENCH_TIMEOUT_S))


@contextmanager
def scratch_plane(prefix: str) -> Iterator[tuple[ControlPlane, Path]]:
    """A fresh local control plane with the CRDs, in a temporary directory that also serves as the
    run's scratch space (logs, configs); stopped and removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        plane = ControlPlane(Path(tmp) / "cp", default_crd_dir())
        plane.start()
        try:
            yield plane, Path(tmp)
        finally:
            plane.stop()


@dataclass(frozen=True)
class Fleet:
    rollovers: int
    namespaces: int
    cronjobs_per_rollover: int = 3
    reset_date: str = "2027-07-16"
    prefix: str = "bench"  # namespaces are <prefix>-000, <prefix>-001, ...

    def namespace(self, index: int) -> str:
        """The namespace of rollover `index`."""
        return f"{self.prefix}-{index % self.namespaces:03d}"


def rollover_body(ns: str, index: int, fleet: Fleet) -> dict[str, Any]:
    """Rollover `index` of the fleet, selecting the CronJobs of `cronjob_body(ns, index, k)`."""
    return district_rollover(
        f"district-{index:05d}",
        ns,
        district_id=f"US-{index:07d}",
        reset_date=fleet.reset_date,
        products=["imagine-math", "twig-science"],
        sync_labels={"district": f"d{index:05d}"},
    )


def cronjob_body(ns: str, index: int, k: int) -> dict[str, Any]:
    """Roster-sync CronJob `k` of rollover `index`."""
    return sync_cronjob(f"d{index:05d}-sync-{k}", ns, {"district": f"d{index:05d}"})


async def create_fleet(kubeconfig: Path, fleet: Fleet, concurrency: int = 64) -> None:
    """Create namespaces, CronJobs and rollovers as fast as the apiserver takes them."""
    # A connection kept per request in flight: with httpx's default pool (20 kept idle) most
    # creates paid a TLS handshake on both sides, and the 75,000 objects at 15,000 rollovers took
    # over 20 minutes on the shared cores.
    client = pooled_client(KubeConfig.from_file(kubeconfig), concurrency)
    sem = asyncio.Semaphore(concurrency)

    async def create(body: dict[str, Any]) -> None:
        async with sem:
            obj = from_dict(body) if body["kind"] != "DistrictRollover" else DistrictRollover.from_dict(body)
            await client.create(obj)

    districts: dict[str, list[str]] = {fleet.namespace(n): [] for n in range(fleet.namespaces)}
    for i in range(fleet.rollovers):
        districts[fleet.namespace(i)].append(
            rollover_body(fleet.namespace(i), i, fleet)["spec"]["districtId"]
        )
    await asyncio.gather(*(create(district_namespace(n, ids)) for n, ids in districts.items()))
    bodies: list[dict[str, Any]] = []
    for i in range(fleet.rollovers):
        ns = fleet.namespace(i)
        bodies += [cronjob_body(ns, i, k) for k in range(fleet.cronjobs_per_rollover)]
        bodies.append(rollover_body(ns, i, fleet))
    await asyncio.gather(*(create(b) for b in bodies))
    await client.close()


async def count_observed(kubeconfig: Path) -> tuple[int, int]:
    """(rollovers whose status.observedGeneration is current, all rollovers)."""
    client = bench_client(kubeconfig)
    current = total = 0
    async for dro in client.list(DistrictRollover, namespace="*", chunk_size=500):
        total += 1
        status = dro.get("status") or {}
        if status.get("observedGeneration") == dro.metadata.generation:  # type: ignore[union-attr]
            current += 1
    await client.close()
    return current, total


def request_counts(plane: ControlPlane) -> Counter[tuple[str, str]]:
    """apiserver_request_total summed by (verb, resource[/subresource])."""
    counts: Counter[tuple[str, str]] = Counter()
    for labels, value in samples(plane, "apiserver_request_total"):
        resource = "/".join(filter(None, (labels.get("resource", ""), labels.get("subresource", ""))))
        counts[(labels.get("verb", ""), resource)] += int(value)
    return counts


def ours(delta: Counter[tuple[str, str]], *, writes_only: bool = False) -> Counter[tuple[str, str]]:
    return Counter(
        {
            k: v
            for k, v in delta.items()
            if k[1].split("/")[0] in OUR_RESOURCES and v and (not writes_only or k[0] in WRITE_VERBS)
        }
    )


async def _every_rollover_event(client: AsyncClient) -> AsyncIterator[Any]:
    """Every rollover as a watch of all namespaces delivers it, until the caller stops. A stream the
    apiserver closed is opened again from scratch (its first events are every rollover as it now
    is): lightkube resumes from the version of the last object it read, which during the initial
    events is some old object's, and that was answered 410 Gone when the apiserver dropped the
    benchmark's watch in a herd (too slow a reader)."""
    while True:
        try:
            async for _, dro in client.watch(DistrictRollover, namespace="*"):
                yield dro
        except ApiError as exc:
            if exc.status.code != GONE:
                raise


async def watch_phase(
    kubeconfig: Path,
    fleet: Fleet,
    phase: str,
    within_s: float,
    on_progress: Callable[[int], None] | None = None,
) -> float:
    """Wall time (time.time) of the watch event by which every rollover of the fleet had
    status.phase == phase; `on_progress` hears how many have so far."""
    client = bench_client(kubeconfig)
    done: set[tuple[str, str]] = set()
    try:
        async with asyncio.timeout(within_s):
            async for dro in _every_rollover_event(client):
                meta = dro.metadata
                assert meta is not None and meta.namespace is not None and meta.name is not None
                if not meta.namespace.startswith(f"{fleet.prefix}-"):
                    continue
                if (dro.get("status") or {}).get("phase") == phase:
                    done.add((meta.namespace, meta.name))
                    if on_progress is not None:
                        on_progress(len(done))
                    if len(done) == fleet.rollovers:
                        return time.time()
    except TimeoutError:
        pass
    finally:
        await client.close()
    raise TimeoutError(f"{len(done)} of {fleet.rollovers} rollovers reached {phase} within {within_s}s")


#: `watch_phase` starts 2 s before the operator's window; the spawned watcher's imports take about 1.5 s.
WATCHER_HEAD_START_S = 3.5


@contextmanager
def watcher_beside(kubeconfig: Path) -> Iterator[None]:
    """The load `watch_phase` adds while the operator works (a watch of every rollover, each event
    decoded), in a process of its own, as `watch_phase` runs beside the operator: a floor runs beside
    it, so that both share the apiserver and the cores with the same watcher (without it, the floor
    was spared the benchmark's own watch; in the floor's own process it took the floor's CPU)."""
    process = multiprocessing.get_context("spawn").Process(
        target=_watch_every_rollover, args=(str(kubeconfig),), daemon=True
    )
    process.start()
    time.sleep(WATCHER_HEAD_START_S)
    try:
        yield
    finally:
        process.terminate()
        process.join(10)


def _watch_every_rollover(kubeconfig: str) -> None:
    async def forever() -> None:
        client = bench_client(Path(kubeconfig))
        async for dro in _every_rollover_event(client):
            (dro.get("status") or {}).get("phase")

    asyncio.run(forever())


def cpu_seconds(pid: int) -> float:
    """User+system CPU seconds of a running process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> float:
    """The machine's 1-minute load average: the cores are shared, so each figure says how busy they were."""
    return round(os.getloadavg()[0], 2)


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wait_all_observed(kubeconfig: Path, total: int, timeout: float) -> float:
    """Seconds until every rollover's status is current."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        current, seen = asyncio.run(count_observed(kubeconfig))
        if seen >= total and current == total:
            return time.monotonic() - start
        time.sleep(2)  # each poll lists every rollover: poll gently, it shares the cores it measures
    raise TimeoutError(f"not all {total} rollovers observed within {timeout}s")


#: The release namespace of the chart in namespace-list mode: the operator's ServiceAccount, its
#: claims and its Lease live there.
RELEASE_NAMESPACE = "rollover-system"
_RBAC_KINDS = frozenset({"ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"})


def chart_rbac_kubeconfig(plane: ControlPlane, namespaces: list[str], path: Path) -> Path:
    """Install the chart's RBAC for namespace-list mode (a Role and RoleBinding per namespace, the
    cluster-wide read of CRDs and namespace names, the claims Role) as `helm template` renders it,
    and write a kubeconfig for its ServiceAccount to `path`: the operator then runs with exactly
    the permissions a namespaced installation grants."""
    root = repo_root()
    assert root is not None, "the chart is read from the source tree"
    values = path.with_suffix(".values.json")
    values.write_text(
        json.dumps(
            {"scope": {"mode": "namespaces", "namespaces": namespaces}, "leaderElection": {"enabled": False}}
        )
    )
    rendered = subprocess.run(
        [
            str(ensure_binaries() / "helm"),
            "template",
            "bench",
            str(root / "charts" / "district-rollover"),
            "--namespace",
            RELEASE_NAMESPACE,
            "--values",
            str(values),
            "--kube-version",
            "1.33.0",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    docs = [d for d in YAML(typ="safe").load_all(rendered) if d and d.get("kind") in _RBAC_KINDS]
    kubectl = ["kubectl", "--kubeconfig", str(plane.kubeconfig)]
    subprocess.run([*kubectl, "create", "namespace", RELEASE_NAMESPACE], check=True, capture_output=True)
    subprocess.run(
        [*kubectl, "apply", "--server-side", "-f", "-"],
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}),
        text=True,
        check=True,
        capture_output=True,
        timeout=600,
    )
    account = next(d["metadata"]["name"] for d in docs if d["kind"] == "ServiceAccount")
    token = subprocess.run(
        [*kubectl, "-n", RELEASE_NAMESPACE, "create", "token", account, "--duration=4h"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    cluster = {"server": plane.server, "certificate-authority": str(plane.pki.ca_cert)}
    return token_kubeconfig(path, cluster, token)


def open_connections(pid: int, server: str) -> int:
    """Established TCP connections from process `pid` to the apiserver at `server` (https://host:port)."""
    port = int(server.rsplit(":", 1)[1].rstrip("/"))
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            remote_port, state, inode = int(fields[2].rsplit(":", 1)[1], 16), fields[3], fields[9]
            count += remote_port == port and state == "01" and inode in inodes
    return count
