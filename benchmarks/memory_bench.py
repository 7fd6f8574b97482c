"""What the operator holds per rollover: its caches and metrics at N rollovers, measured in-process.

    python -m benchmarks.memory_bench --rollovers 15000

Feeds the operator's Cache and metrics what the informers and the reconciler give them at a cold
start of the benchmark fleet (each rollover with the status the planner decides for it, 3 CronJobs
each; every object decoded from a JSON document of its own, as a watch delivers it) and reports the
memory each kind of object keeps allocated (tracemalloc). No cluster: this isolates the data the
operator holds from the process's baseline and its HTTP buffers; the real process's peak RSS is
idle_bench's. JSON to benchmarks/out/memory.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.fleet import Fleet, cronjob_body, rollover_body
from rollover.api.models import DistrictRolloverStatus, SyncTargetKind, dump
from rollover.controller import metrics
from rollover.controller.cache import Cache
from rollover.observed import Observed
from rollover.planner import Rollover, plan

OUT = Path(__file__).parent / "out"
NOW = dt.datetime(2026, 11, 29, 12, tzinfo=dt.UTC)
MIB = 2**20


def as_served(body: dict[str, Any], index: int) -> dict[str, Any]:
    """A manifest with what the apiserver adds to it."""
    meta = body["metadata"]
    meta |= {
        "uid": f"{index:08x}-1c7e-4781-b0ba-ab8e1ec31c28",
        "resourceVersion": str(100000 + index),
        "generation": 1,
        "creationTimestamp": "2026-11-29T19:58:06Z",
    }
    return body


def fleet_objects(fleet: Fleet) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(rollovers with the status the operator writes at a cold start, their CronJobs)."""
    rollovers, cronjobs = [], []
    for i in range(fleet.rollovers):
        ns = fleet.namespace(i)
        body = as_served(rollover_body(ns, i, fleet), i)
        rollover = Rollover(ns, body["metadata"]["name"], 1, body["spec"], DistrictRolloverStatus(), "")
        observed = Observed(namespace_districts=frozenset({body["spec"]["districtId"]}))
        body["status"] = dump(plan(rollover, observed, NOW).status)
        rollovers.append(body)
        cronjobs += [
            as_served(cronjob_body(ns, i, k), i * 10 + k) for k in range(fleet.cronjobs_per_rollover)
        ]
    return rollovers, cronjobs


def held_mib(step: Callable[[], None]) -> float:
    """MiB that `step` leaves allocated."""
    before = tracemalloc.get_traced_memory()[0]
    step()
    return (tracemalloc.get_traced_memory()[0] - before) / MIB


def run(rollovers: int, namespaces: int) -> dict[str, Any]:
    fleet = Fleet(rollovers=rollovers, namespaces=namespaces)
    documents, cronjobs = fleet_objects(fleet)
    texts = [json.dumps(d) for d in documents]
    cronjob_texts = [json.dumps(c) for c in cronjobs]
    cache = Cache()

    def cache_rollovers() -> None:
        for text in texts:
            body = json.loads(text)
            if cache.changed("DistrictRollover", body):
                cache.put_rollover(body)

    def cache_cronjobs() -> None:
        for text in cronjob_texts:
            body = json.loads(text)
            if cache.changed(SyncTargetKind.CRON_JOB.value, body):
                cache.put_target(SyncTargetKind.CRON_JOB, body)

    def record_metrics() -> None:
        for body in documents:
            meta = body["metadata"]
            status = DistrictRolloverStatus.model_validate(body["status"])
            metrics.record(meta["namespace"], meta["name"], DistrictRolloverStatus(), status)

    tracemalloc.start()
    try:
        held = {
            "rollovers_mib": held_mib(cache_rollovers),
            "cronjobs_mib": held_mib(cache_cronjobs),
            "metrics_mib": held_mib(record_metrics),
        }
    finally:
        tracemalloc.stop()
    total = sum(held.values())
    return {
        "rollovers": rollovers,
        "cronjobs": len(cronjobs),
        **{k: round(v, 1) for k, v in held.items()},
        "total_mib": round(total, 1),
        "per_rollover_kib": round(total * 1024 / rollovers, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rollovers", type=int, default=15000)
    parser.add_argument("--namespaces", type=int, default=50)
    args = parser.parse_args()
    result = run(args.rollovers, args.namespaces)
    OUT.mkdir(exist_ok=True)
    (OUT / "memory.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
