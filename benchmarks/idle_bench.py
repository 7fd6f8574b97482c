"""Idle cost: N rollovers waiting for dates months away cost no API writes.

    python benchmarks/idle_bench.py --rollovers 1000 --minutes 10

Creates the fleet on a fresh local control plane, starts the operator (real clock: the dates are
months ahead), waits until every status is current (the cold start), then counts the operator's API
requests over the idle window from the apiserver's own metrics. Prints a JSON result and writes it
to benchmarks/out/idle.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

from benchmarks.fleet import (
    Fleet,
    cpu_seconds,
    create_fleet,
    ours,
    peak_rss_mib,
    request_counts,
    scratch_plane,
    wait_all_observed,
)
from rollover.devcluster.runner import running_operator

OUT = Path(__file__).parent / "out"


def run(rollovers: int, namespaces: int, idle_seconds: float) -> dict[str, object]:
    """Run the benchmark on a fresh control plane; returns the measured figures."""
    with scratch_plane("idle-bench-") as (plane, tmp):
        fleet = Fleet(rollovers=rollovers, namespaces=namespaces)
        asyncio.run(create_fleet(plane.kubeconfig, fleet))
        before_start = request_counts(plane)
        with running_operator(plane.kubeconfig, tmp / "operator.log") as proc:
            cold_start = wait_all_observed(plane.kubeconfig, rollovers, timeout=1800)
            time.sleep(2)  # let the last status writes' own watch events settle
            settled = request_counts(plane)
            cpu_before = cpu_seconds(proc.pid)
            time.sleep(idle_seconds)
            idle = request_counts(plane)
            cpu_idle = cpu_seconds(proc.pid) - cpu_before
            rss = peak_rss_mib(proc.pid)
    startup_requests = ours(settled - before_start)
    idle_requests = ours(idle - settled)
    return {
        "rollovers": rollovers,
        "namespaces": namespaces,
        "cold_start_s": round(cold_start, 2),
        "cold_start_requests": {f"{v} {r}": n for (v, r), n in sorted(startup_requests.items())},
        "idle_seconds": idle_seconds,
        "idle_requests": {f"{v} {r}": n for (v, r), n in sorted(idle_requests.items())},
        "idle_writes": sum(ours(idle - settled, writes_only=True).values()),
        "idle_cpu_s": round(cpu_idle, 2),
        "peak_rss_mib": round(rss, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rollovers", type=int, default=1000)
    parser.add_argument("--namespaces", type=int, default=50)
    parser.add_argument("--minutes", type=float, default=10)
    args = parser.parse_args()
    result = run(args.rollovers, args.namespaces, args.minutes * 60)
    OUT.mkdir(exist_ok=True)
    (OUT / "idle.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0 if result["idle_writes"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
