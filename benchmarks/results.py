"""Collect the scale benchmarks' latest runs (benchmarks/out/) into benchmarks/results.json.

    python -m benchmarks.results

Keys (the scale issues'): cold_start_s, cold_start_requests, cold_start_floor_s, cold_start_ratio,
idle_writes, restart_s, restart_writes, peak_rss_15k_mib, herd_pause_s, herd_floor_s, herd_ratio,
herd_archive_ratio, peak_rss_mib, requests_per_rollover, failover_gap_s, ns_mode_namespaces,
ns_mode_herd_ratio, ns_mode_pool_timeouts; plus each source run's size, so a number is never read
without its N. A run missing from out/ keeps its figures from the existing results.json.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
OUT = HERE / "out"
RESULTS = HERE / "results.json"


def from_idle(idle: dict[str, Any]) -> dict[str, Any]:
    """Cold start, its floor, idle and restart: `python -m benchmarks.idle_bench`."""
    rollovers = idle["rollovers"]
    figures = {
        "cold_start_s": idle["cold_start_s"],
        "cold_start_requests": idle["cold_start_requests"],
        "cold_start_floor_s": idle["cold_start_floor_s"],
        "cold_start_ratio": idle["cold_start_ratio"],
        "idle_writes": idle["idle_writes"],
        "idle_cpu_s": idle["idle_cpu_s"],
        "idle_seconds": idle["idle_seconds"],
        "cold_start_peak_rss_mib": idle["cold_start_peak_rss_mib"],
        "cold_start_rollovers": rollovers,
        "restart_s": idle["restart_s"],
        "restart_writes": idle["restart_writes"],
        "restart_peak_rss_mib": idle["restart_peak_rss_mib"],
        # The cores are shared: how busy they were at each phase (start, cold start, floor, restart).
        "cold_start_load_average": idle.get("load_average"),
    }
    if rollovers == 15000:
        figures["peak_rss_15k_mib"] = idle["peak_rss_mib"]
    return figures


def cold_start_writes(idle: dict[str, Any]) -> dict[str, float]:
    return {k: round(v / idle["rollovers"], 2) for k, v in idle["cold_start_writes"].items()}


def from_herd(herd: dict[str, Any]) -> dict[str, Any]:
    """The herd against its floor: `python -m benchmarks.herd_bench`."""
    return {
        "herd_rollovers": herd["rollovers"],
        "herd_pause_s": herd["herd_pause_s"],
        "herd_floor_s": herd["herd_pause_floor_s"],
        "herd_ratio": herd["herd_pause_ratio"],
        "herd_archive_s": herd["herd_archive_s"],
        "herd_archive_floor_s": herd["herd_archive_floor_s"],
        "herd_archive_ratio": herd["herd_archive_ratio"],
        "floor_concurrency": herd["floor_concurrency"],
        "peak_rss_mib": herd["peak_rss_mib"],
    }


def from_namespace_list(herd: dict[str, Any]) -> dict[str, Any]:
    """The herd with a namespace list: `python -m benchmarks.herd_bench --namespace-list`."""
    return {
        "ns_mode_namespaces": herd["namespaces"],
        "ns_mode_rollovers": herd["rollovers"],
        "ns_mode_cold_start_s": herd["cold_start_s"],
        "ns_mode_herd_ratio": herd["herd_ratio"],
        "ns_mode_pause_ratio": herd["herd_pause_ratio"],
        "ns_mode_archive_ratio": herd["herd_archive_ratio"],
        "ns_mode_pool_timeouts": herd["pool_timeouts"],
        "ns_mode_open_connections": herd["open_connections"],
        "ns_mode_peak_rss_mib": herd["peak_rss_mib"],
    }


def from_memory(memory: dict[str, Any]) -> dict[str, Any]:
    """What the caches and metrics hold, in-process: `python -m benchmarks.memory_bench`."""
    return {
        "held_rollovers": memory["rollovers"],
        "held_mib": memory["total_mib"],
        "held_per_rollover_kib": memory["per_rollover_kib"],
    }


def from_failover(failover: dict[str, Any]) -> dict[str, Any]:
    """The failover mid-herd: `python -m benchmarks.herd_bench --failover`."""
    return {
        "failover_rollovers": failover["rollovers"],
        "failover_lease_s": failover["lease_s"],
        "failover_gap_s": failover["failover_gap_s"],
        "failover_violations": failover["violations"],
    }


#: Each run's file in out/ (without .json) and the figures it gives.
SOURCES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "idle": from_idle,
    "herd": from_herd,
    "herd-ns": from_namespace_list,
    "memory": from_memory,
    "failover": from_failover,
}


def collect(out: Path = OUT, existing: Path = RESULTS) -> dict[str, Any]:
    """The results document: the existing one, updated from each run found in `out`."""
    results: dict[str, Any] = json.loads(existing.read_text()) if existing.exists() else {}
    runs = {name: out / f"{name}.json" for name in SOURCES}
    loaded = {name: json.loads(path.read_text()) for name, path in runs.items() if path.exists()}
    for name, run in loaded.items():
        results |= SOURCES[name](run)
    per_rollover = dict(results.get("requests_per_rollover", {}))
    if "idle" in loaded:
        per_rollover["cold_start_writes"] = cold_start_writes(loaded["idle"])
    if "herd" in loaded:
        per_rollover["pause"] = loaded["herd"]["pause_requests_per_rollover"]
        per_rollover["archive"] = loaded["herd"]["archive_requests_per_rollover"]
    results["requests_per_rollover"] = per_rollover
    return results


def main() -> int:
    results = collect()
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
