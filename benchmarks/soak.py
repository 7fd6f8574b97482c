"""Soak: a full accelerated rollover of many districts while the operator is killed -9 at random
moments and kube-apiserver is restarted, then the invariants of rollover.devcluster.invariants.

    python benchmarks/soak.py --districts 40 --kills 60 [--seed N] [--apiserver-restarts 2]

On a fresh local control plane (real etcd + kube-apiserver + kube-controller-manager, no kubelet):

- districts spread over --namespaces namespaces, each with 1-3 roster-sync CronJobs (about a quarter
  suspended by their owner beforehand, which must stay so), some with a CSV-import Deployment, one
  CronJob per namespace selected by no rollover; reset dates staggered over two weeks, so that at
  any moment districts are in every phase;
- one district in ten (at least one) has an archive Job made to fail: it must end Failed with a
  reason, its syncs still paused and their original state recorded;
- the operator runs with an accelerated clock that stays continuous across restarts (each generation
  starts where the wall-clock mapping says; the rate is fitted so that the rollover lasts about as
  long as the kills take, unless --rate is given). A quarter of the generations are killed during
  start-up, the others at a random moment after their caches are filled; kube-apiserver is restarted
  while --apiserver-restarts of the generations run (half of the restarts during a generation's
  start-up, half while it reconciles);
- a stand-in kubelet (`rollover.devcluster.podrunner.PodFinisher`) completes each Job pod after 0.5-4 s
  (or fails the chosen archive pods), surviving the apiserver restarts;
- a `JobTimeline` watches every Job for the whole run, so the ordering checks use etcd revisions.

Prints a JSON summary and writes it to benchmarks/out/soak.json: kills (and how many landed while a
rollover was under way, and which phases were present at the kills), apiserver restarts, seconds,
violations. Exit status 1 on any violation; the operator log is then kept as
benchmarks/out/soak-operator.log. Replay a run with its printed --seed (the fault schedule is
reproducible; the timing of two processes on two cores is not). The small versions run in CI:
tests/integration/test_faults.py, with the same harness (rollover.devcluster: districts, chaos,
podrunner, invariants); this file is only the benchmark.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python benchmarks/soak.py`: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.fleet import scratch_plane
from rollover.controller.clock import AcceleratedClock
from rollover.devcluster.chaos import phases_if_reachable, run_districts, say, seeded
from rollover.devcluster.districts import (
    CHICAGO,
    RESET_DATES,
    create_objects,
    operator_config,
    plan_districts,
)

OUT = Path(__file__).parent / "out"
CLOCK_START = dt.datetime(2027, 7, 18, 12, 0, tzinfo=CHICAGO)  # Sunday noon, before every pause
# A killed generation's mean lifetime (start-up included), measured on the 2-core reference machine.
GENERATION_S = 2.6


def soak(
    *,
    districts: int,
    kills: int,
    seed: int,
    apiserver_restarts: int,
    namespaces: int,
    rate: float | None,
    timeout: float,
) -> dict[str, Any]:
    """Run the soak on a fresh control plane; the JSON summary (violations included)."""
    rng = seeded(seed)
    say(
        f"seed {seed}: {districts} districts in {namespaces} namespaces, {kills} kills, "
        f"{apiserver_restarts} apiserver restarts"
    )
    names = [f"soak-{n:02d}" for n in range(namespaces)]
    plan = plan_districts(rng, districts, names)
    if rate is None:
        # Spread the staggered dates over about as long as the kills take.
        span = dt.datetime.fromisoformat(RESET_DATES[-1]).replace(tzinfo=CHICAGO) - CLOCK_START
        rate = span.total_seconds() / max(30.0, kills * GENERATION_S * 0.9)
    started = time.monotonic()
    with scratch_plane("soak-") as (plane, tmp):
        kubeconfig = plane.kubeconfig
        create_objects(kubeconfig, plan, namespaces=names)
        log = tmp / "operator.log"
        keys = [d.key for d in plan]
        run = run_districts(
            plane=plane,
            kubeconfig=kubeconfig,
            districts=plan,
            log=log,
            clock=AcceleratedClock(CLOCK_START, rate),
            operator_args=["--config", str(operator_config(tmp / "operator-config.yaml"))],
            rng=rng,
            kills=kills,
            uptime=(0.0, 2.0),
            # Jobs that take a few seconds: kills land while archive and reset Jobs run, too.
            pod_delay=(0.5, 4.0),
            # Restarts in the middle: spread evenly over the kills.
            apiserver_restart_before=[
                round(kills * (i + 1) / (apiserver_restarts + 1)) for i in range(apiserver_restarts)
            ],
            timeout=timeout,
        )
        chaos, violations = run.chaos, run.violations
        final = Counter(phases_if_reachable(kubeconfig, keys).values())
        log_lines = len(log.read_text(errors="replace").splitlines())
        if violations:
            kept = OUT / "soak-operator.log"
            OUT.mkdir(exist_ok=True)
            kept.write_bytes(log.read_bytes())
            say(f"operator log kept at {kept}")
    return {
        "seed": seed,
        "districts": districts,
        "namespaces": namespaces,
        "clock_rate": round(rate),
        "kills": chaos.kills,
        "kills_mid_rollover": chaos.kills_mid_rollover,
        "phases_seen_at_kills": dict(sorted(chaos.kill_phases.items())),
        "apiserver_restarts": chaos.apiserver_restarts,
        "apiserver_restart_s": chaos.apiserver_restart_s,
        "apiserver_restart_moments": chaos.apiserver_restart_moments,
        "operator_generations": chaos.generations,
        "final_phases": dict(sorted(final.items())),
        "jobs_created": run.jobs,
        "pods_succeeded": run.pods_succeeded,
        "pods_failed": run.pods_failed,
        "jobs_failed": run.jobs_failed,
        "job_watch_reconnects": run.job_watch_reconnects,
        "job_watch_gaps": run.job_watch_gaps,
        "operator_log_lines": log_lines,
        "chaos_seconds": round(chaos.seconds, 1),
        "seconds": round(time.monotonic() - started, 1),
        "violations": violations,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--districts", type=int, default=40)
    parser.add_argument("--kills", type=int, default=60)
    parser.add_argument("--seed", type=int, default=None, help="default: random (printed, for replay)")
    parser.add_argument("--apiserver-restarts", type=int, default=2)
    parser.add_argument("--namespaces", type=int, default=4)
    parser.add_argument("--rate", type=float, default=None, help="clock rate (default: fitted to --kills)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds for the whole chaos phase")
    args = parser.parse_args(argv)
    # `timeout`/`kill` must still stop the control plane and the operator (the finally blocks).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1_000_000)
    result = soak(
        districts=args.districts,
        kills=args.kills,
        seed=seed,
        apiserver_restarts=args.apiserver_restarts,
        namespaces=args.namespaces,
        rate=args.rate,
        timeout=args.timeout,
    )
    OUT.mkdir(exist_ok=True)
    (OUT / "soak.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 1 if result["violations"] else 0


if __name__ == "__main__":
    sys.exit(main())
