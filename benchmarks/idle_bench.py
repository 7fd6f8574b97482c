"""Idle cost, cold start against its floor, and a restart that writes nothing.

    python -m benchmarks.idle_bench --rollovers 15000 --minutes 1

On a fresh local control plane: N rollovers whose dates are months away (3 CronJobs each, in
`bench-*`) and an untouched copy of the rollovers in `floor-*`. The operator (real clock) serves `bench-*`:

1. Cold start: from the operator's launch until every rollover's status is current (its first
   acceptance: the district claim, one status write, one `Scheduled` Event each).
2. Its floor, in the same run: a plain asyncio client makes the same writes (each claim, each
   status as the operator wrote it, the same number of Events) on the floor copies at the
   operator's concurrency (one request per worker).
3. Idle: the operator's API requests over the idle window, from the apiserver's own metrics.
4. Restart: the operator is stopped and started again with every status current; timed until it is
   serving again (every rollover reconciled, its wake-up armed: `rollover_wakeups_armed` on
   /metrics), counting its writes meanwhile (0 expected).

Prints a JSON result and writes it to benchmarks/out/idle.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks.fleet import (
    Fleet,
    cpu_seconds,
    create_fleet,
    load_average,
    ours,
    peak_rss_mib,
    request_counts,
    scratch_plane,
    watch_phase,
)
from benchmarks.herd_bench import (
    Floor,
    Writes,
    operator_events,
    settled_events,
    timed_at_best_concurrency,
    window_writes,
)
from rollover.config import OperatorConfig
from rollover.devcluster.controlplane import ControlPlane, free_port
from rollover.devcluster.runner import running_operator

OUT = Path(__file__).parent / "out"
#: The claims namespace of an operator started without --config or $POD_NAMESPACE.
CLAIMS_NAMESPACE = "default"
#: Rollovers with a wake-up armed, asked for alone: the whole /metrics is 11 series per rollover,
#: and building them twice a second took the restarting operator's CPU from its reconciles.
ARMED_METRICS = "/metrics?name[]=rollover_wakeups_armed"


def run(rollovers: int, namespaces: int, idle_seconds: float) -> dict[str, Any]:
    """Run the benchmark on a fresh control plane; returns the measured figures."""
    fleet = Fleet(rollovers=rollovers, namespaces=namespaces)
    # The floor writes only to rollovers: its copies need no CronJobs.
    floor_fleet = Fleet(rollovers=rollovers, namespaces=namespaces, prefix="floor", cronjobs_per_rollover=0)
    result: dict[str, Any] = {"rollovers": rollovers, "namespaces": namespaces}
    with scratch_plane("idle-bench-") as (plane, tmp):
        kubeconfig = plane.kubeconfig
        created = time.monotonic()
        for each in (fleet, floor_fleet):
            asyncio.run(create_fleet(kubeconfig, each))
        result["fixture_create_s"] = round(time.monotonic() - created, 1)
        result["load_average"] = {"start": load_average()}
        args = [f"--namespace={fleet.prefix}-*"]
        before_start = request_counts(plane)
        events_before = asyncio.run(operator_events(kubeconfig, fleet))
        launched = time.time()
        with running_operator(kubeconfig, tmp / "operator.log", *args) as proc:
            cold_start = asyncio.run(watch_phase(kubeconfig, fleet, "Scheduled", within_s=3600)) - launched
            time.sleep(2)  # let the last status writes' own watch events settle
            settled = request_counts(plane)
            # (Counted after `settled`: the benchmark's own LIST of Events is no request of the operator's.)
            cold_writes = ours(settled - before_start, writes_only=True)
            cold_writes[("POST", "events")] = settled_events(kubeconfig, fleet) - events_before
            result["cold_start_peak_rss_mib"] = round(peak_rss_mib(proc.pid), 1)
            result["load_average"]["cold_start"] = load_average()
            idle_from = request_counts(plane)
            cpu_before = cpu_seconds(proc.pid)
            time.sleep(idle_seconds)
            idle = request_counts(plane)
            cpu_idle = cpu_seconds(proc.pid) - cpu_before
            rss = peak_rss_mib(proc.pid)
        result |= {
            "cold_start_s": round(cold_start, 2),
            "cold_start_requests": _by_name(ours(settled - before_start)),
            "cold_start_writes": _by_name(cold_writes),
            "idle_seconds": idle_seconds,
            "idle_requests": _by_name(ours(idle - idle_from)),
            "idle_writes": sum(ours(idle - idle_from, writes_only=True).values()),
            "idle_cpu_s": round(cpu_idle, 2),
            "peak_rss_mib": round(rss, 1),
        }
        result |= asyncio.run(_cold_start_floor(kubeconfig, fleet, floor_fleet, cold_writes))
        result["cold_start_ratio"] = round(result["cold_start_s"] / result["cold_start_floor_s"], 2)
        result["load_average"]["floor"] = load_average()
        result |= _restart(plane, tmp, fleet, args)
        result["load_average"]["restart"] = load_average()
    return result


def _by_name(counts: Writes) -> dict[str, int]:
    return {f"{verb} {resource}": n for (verb, resource), n in sorted(counts.items()) if n}


async def _cold_start_floor(
    kubeconfig: Path, fleet: Fleet, floor_fleet: Fleet, writes: Writes
) -> dict[str, Any]:
    """The cold start's writes replayed by a plain client at the operator's concurrency."""
    floor = Floor(kubeconfig, fleet, floor_fleet)
    concurrency = OperatorConfig().workers

    async def build(round_: int) -> list[Any]:
        return await floor.claim_requests(CLAIMS_NAMESPACE, round_) + await floor.status_requests(
            writes, round_
        )

    try:
        seconds, _, _ = await timed_at_best_concurrency(kubeconfig, build, (concurrency,))
        count = len(await build(9))
    finally:
        await floor.close()
    return {
        "cold_start_floor_s": round(seconds, 2),
        "cold_start_floor_concurrency": concurrency,
        "cold_start_floor_requests": count,
    }


def _restart(plane: ControlPlane, tmp: Path, fleet: Fleet, args: list[str]) -> dict[str, Any]:
    """Start the operator again over current statuses: seconds until serving, and its writes."""
    port = free_port()
    before = request_counts(plane)
    events_before = asyncio.run(operator_events(plane.kubeconfig, fleet))
    launched = time.monotonic()
    log = tmp / "restart.log"
    with running_operator(plane.kubeconfig, log, *args, f"--metrics-port={port}") as proc:
        while (armed := _armed(port)) < fleet.rollovers:
            if proc.poll() is not None:
                raise RuntimeError(f"the restarted operator exited: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        serving = time.monotonic() - launched
        time.sleep(5)  # anything it was about to write lands in the counters
        writes = window_writes(plane, before, events_before, fleet)
        rss = peak_rss_mib(proc.pid)
    return {
        "restart_s": round(serving, 2),
        "restart_armed": armed,
        "restart_writes": sum(writes.values()),
        "restart_write_requests": _by_name(writes),
        "restart_peak_rss_mib": round(rss, 1),
    }


def _armed(port: int) -> int:
    """Rollovers with a wake-up armed, from the operator's /metrics (0 until it serves them)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{ARMED_METRICS}", timeout=10) as response:
            text = response.read().decode()
    except OSError:
        return 0  # not listening yet
    samples = (line.split() for line in text.splitlines() if line.startswith("rollover_wakeups_armed "))
    return next((int(float(sample[1])) for sample in samples), 0)


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
    return 0 if result["idle_writes"] == 0 and result["restart_writes"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
