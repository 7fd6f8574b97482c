"""Shared benchmark tooling: a fleet of DistrictRollovers with their roster-sync CronJobs, the
operator as a measured subprocess, and the apiserver's own request counters."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightkube import AsyncClient, KubeConfig
from lightkube.codecs import from_dict

from rollover.cluster.resources import DistrictRollover
from rollover.devcluster import default_crd_dir
from rollover.devcluster.controlplane import ControlPlane
from rollover.devcluster.metrics import samples
from rollover.devcluster.objects import district_namespace, district_rollover, sync_cronjob

WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "DELETE", "APPLY", "CREATE", "UPDATE"})
# What the operator reads or writes; the apiserver's own bookkeeping (leases, …) is not ours.
OUR_RESOURCES = frozenset({"districtrollovers", "cronjobs", "deployments", "jobs", "pods", "events"})


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
    client = AsyncClient(KubeConfig.from_file(kubeconfig))
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
    await asyncio.gather(
        *(client.create(from_dict(district_namespace(n, ids))) for n, ids in districts.items())
    )
    bodies: list[dict[str, Any]] = []
    for i in range(fleet.rollovers):
        ns = fleet.namespace(i)
        bodies += [cronjob_body(ns, i, k) for k in range(fleet.cronjobs_per_rollover)]
        bodies.append(rollover_body(ns, i, fleet))
    await asyncio.gather(*(create(b) for b in bodies))
    await client.close()


async def count_observed(kubeconfig: Path) -> tuple[int, int]:
    """(rollovers whose status.observedGeneration is current, all rollovers)."""
    client = AsyncClient(KubeConfig.from_file(kubeconfig))
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


def cpu_seconds(pid: int) -> float:
    """User+system CPU seconds of a running process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
