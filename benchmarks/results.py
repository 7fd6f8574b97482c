"""Collect the scale benchmarks' latest runs (benchmarks/out/) into benchmarks/results.json.

    python -m benchmarks.results

Keys (the scale issue's): cold_start_s, cold_start_requests, idle_writes, herd_pause_s, herd_floor_s,
herd_ratio, peak_rss_mib, requests_per_rollover, failover_gap_s; plus the archive herd's own figures
and each source run's size, so a number is never read without its N.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
OUT = HERE / "out"


def collect(out: Path = OUT) -> dict[str, Any]:
    """The results document from idle.json, herd.json and failover.json in `out`."""
    idle, herd, failover = (json.loads((out / f"{n}.json").read_text()) for n in ("idle", "herd", "failover"))
    rollovers = idle["rollovers"]
    cold_requests = idle["cold_start_requests"]
    return {
        "cold_start_s": idle["cold_start_s"],
        "cold_start_requests": cold_requests,
        "idle_writes": idle["idle_writes"],
        "idle_cpu_s": idle["idle_cpu_s"],
        "idle_seconds": idle["idle_seconds"],
        "cold_start_peak_rss_mib": idle["peak_rss_mib"],
        "cold_start_rollovers": rollovers,
        "herd_rollovers": herd["rollovers"],
        "herd_pause_s": herd["herd_pause_s"],
        "herd_floor_s": herd["herd_pause_floor_s"],
        "herd_ratio": herd["herd_pause_ratio"],
        "herd_archive_s": herd["herd_archive_s"],
        "herd_archive_floor_s": herd["herd_archive_floor_s"],
        "herd_archive_ratio": herd["herd_archive_ratio"],
        "floor_concurrency": herd["floor_concurrency"],
        "peak_rss_mib": herd["peak_rss_mib"],
        "requests_per_rollover": {
            "cold_start_writes": {
                k: round(v / rollovers, 2)
                for k, v in cold_requests.items()
                if k.split()[0] in ("PATCH", "POST")
            },
            "pause": herd["pause_requests_per_rollover"],
            "archive": herd["archive_requests_per_rollover"],
        },
        "failover_rollovers": failover["rollovers"],
        "failover_lease_s": failover["lease_s"],
        "failover_gap_s": failover["failover_gap_s"],
        "failover_violations": failover["violations"],
    }


def main() -> int:
    results = collect()
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
