"""Chaos for the fault tests and the soak: operator generations killed -9 at random moments of a
rollover, and kube-apiserver restarted, on one accelerated clock that stays continuous across the
generations (`run_chaos`); over a set of districts, with every invariant checked afterwards
(`run_districts`)."""

from __future__ import annotations

import functools
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

from rollover.cluster.resources import DistrictRollover
from rollover.controller.clock import AcceleratedClock
from rollover.devcluster.districts import District, fails
from rollover.devcluster.invariants import (
    JobTimeline,
    RolloverKey,
    check_invariants,
    client_for,
    snapshot_targets,
)
from rollover.devcluster.podrunner import PodFinisher
from rollover.devcluster.runner import clock_args, running_operator

TERMINAL = frozenset({"Completed", "Failed"})
OPERATOR_START_S = 2.5  # a generation's start-up before it acts, on the 2-core reference machine


def seeded(seed: float) -> random.Random:
    """A run's random stream: reproducible from its seed (a fault schedule, not cryptography)."""
    return random.Random(seed)  # noqa: S311


def say(message: str) -> None:
    """Progress of a fault run, on stderr."""
    print(f"[faults {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class ChaosResult:
    """What `run_chaos` did to the operator and the apiserver, and whether every rollover finished."""

    kills: int = 0
    kills_mid_rollover: int = 0  # with at least one rollover neither Completed nor Failed
    kill_phases: Counter[str] = field(default_factory=Counter)  # phases seen at kill time
    apiserver_restarts: int = 0
    apiserver_restart_s: list[float] = field(default_factory=list)
    apiserver_restart_moments: list[str] = field(default_factory=list)  # in the generation's life
    generations: int = 0
    crashes: list[str] = field(default_factory=list)  # generations that exited by themselves
    finished: bool = False
    seconds: float = 0.0


def statuses(kubeconfig: Path, rollovers: Iterable[RolloverKey]) -> dict[RolloverKey, dict[str, Any]]:
    """The current status of each rollover ({} before the operator wrote one)."""
    wanted = set(rollovers)
    client = client_for(kubeconfig)
    found: dict[RolloverKey, dict[str, Any]] = {}
    for ns in sorted({ns for ns, _ in wanted}):
        for obj in client.list(DistrictRollover, namespace=ns):
            body = cast(Any, obj).to_dict()
            key = (ns, body["metadata"]["name"])
            if key in wanted:
                found[key] = dict(body.get("status") or {})
    return found


def phases(kubeconfig: Path, rollovers: Iterable[RolloverKey]) -> dict[RolloverKey, str]:
    """The current phase of each rollover ("" before the operator wrote one)."""
    return {key: str(status.get("phase", "")) for key, status in statuses(kubeconfig, rollovers).items()}


def phases_if_reachable(kubeconfig: Path, rollovers: Iterable[RolloverKey]) -> dict[RolloverKey, str]:
    """`phases`, or {} while the apiserver is not answering."""
    try:
        return phases(kubeconfig, rollovers)
    except Exception:  # the apiserver restarting
        return {}


def refused(status: dict[str, Any]) -> str | None:
    """The message of a SpecValid=False condition (e.g. a reset date the clock already passed)."""
    for condition in status.get("conditions") or []:
        if condition.get("type") == "SpecValid" and condition.get("status") == "False":
            return str(condition.get("message", ""))
    return None


def acceptance(kubeconfig: Path, rollovers: Sequence[RolloverKey]) -> tuple[bool, list[str]]:
    """(every rollover is past Pending: its reset date accepted; the refusals so far)."""
    try:
        found = statuses(kubeconfig, rollovers)
    except Exception:  # the apiserver restarting
        return False, []
    refusals = [f"{k[0]}/{k[1]}: {m}" for k, st in found.items() if (m := refused(st)) is not None]
    accepted = len(found) == len(rollovers) and all(
        st.get("phase") not in (None, "", "Pending") for st in found.values()
    )
    return accepted, refusals


def decided(kubeconfig: Path, rollovers: Sequence[RolloverKey]) -> bool:
    """Every rollover accepted, or one refused."""
    accepted, refusals = acceptance(kubeconfig, rollovers)
    return accepted or bool(refusals)


def all_finished(kubeconfig: Path, rollovers: Sequence[RolloverKey]) -> bool:
    """Every rollover Completed or Failed (False while the apiserver is not answering)."""
    found = phases_if_reachable(kubeconfig, rollovers)
    return len(found) == len(rollovers) and all(p in TERMINAL for p in found.values())


class RestartsApiserver(Protocol):
    """What run_chaos needs of the control plane (ControlPlane, or a test's wrapper of it)."""

    def restart_apiserver(self, *, down_for: float = ...) -> None: ...


def run_chaos(
    *,
    plane: RestartsApiserver,
    kubeconfig: Path,
    log: Path,
    clock: AcceleratedClock,
    operator_args: Sequence[str],
    rollovers: Sequence[RolloverKey],
    rng: random.Random,
    kills: int,
    uptime: tuple[float, float] = (0.0, 2.0),
    startup_kills: float = 0.25,
    apiserver_restart_before: Sequence[int] = (),
    apiserver_restart_when: Callable[[], bool] | None = None,
    apiserver_down_s: float = 1.0,
    timeout: float = 600.0,
) -> ChaosResult:
    """Run operator generations against `kubeconfig`, each killed -9 at a random moment, `kills`
    times; then one last generation until every rollover is Completed or Failed (or `timeout`).

    A share `startup_kills` of the generations die during start-up (within OPERATOR_START_S of the
    spawn); the others `uptime` seconds (uniform) after they report their caches filled, i.e. while
    they reconcile.

    kube-apiserver is restarted while generation k runs, for each k in `apiserver_restart_before`
    (once `apiserver_restart_when` holds, if given).
    The first generation is only killed once every rollover's date is accepted (a reset date must
    still be in the future when first accepted, and the clock does not wait).
    """
    result = ChaosResult()
    started = time.monotonic()
    restarts = Counter(apiserver_restart_before)
    while True:
        generation = result.generations
        result.generations += 1
        last = result.kills >= kills
        args = [*clock_args(clock), *operator_args]
        offset = log.stat().st_size if log.exists() else 0
        spawned = time.monotonic()
        with running_operator(kubeconfig, log, *args) as proc:
            if generation == 0:
                # A reset date must still be in the future when first accepted: fail fast, not at the end.
                _wait(functools.partial(decided, kubeconfig, rollovers), 120, "every rollover accepted", proc)
                accepted, refusals = acceptance(kubeconfig, rollovers)
                if not accepted:
                    raise RuntimeError(
                        "the first generation did not accept every rollover (too slow for the clock "
                        f"rate {clock.rate:g}? try a lower --rate): {refusals[:3] or 'no status yet'}"
                    )
            for _ in range(restarts.pop(generation, 0)):
                if apiserver_restart_when is not None:
                    _wait(apiserver_restart_when, 60, "the moment to restart kube-apiserver", proc)
                elif rng.random() < 0.5:  # while this generation starts up
                    time.sleep(rng.uniform(0.1, OPERATOR_START_S))
                else:  # while it reconciles
                    _wait(functools.partial(acting_since, log, offset), 20, "the operator to start", proc)
                    time.sleep(rng.uniform(0.0, 1.5))
                t0 = time.monotonic()
                moment = "while it reconciles" if acting_since(log, offset) else "before its caches filled"
                result.apiserver_restart_moments.append(moment)
                say(f"restarting kube-apiserver {moment} (generation {generation})")
                plane.restart_apiserver(down_for=apiserver_down_s)
                result.apiserver_restart_s.append(round(time.monotonic() - t0, 1))
                result.apiserver_restarts += 1
            if last:
                remaining = max(30.0, timeout - (time.monotonic() - started))
                result.finished = _wait(
                    lambda: all_finished(kubeconfig, rollovers), remaining, "the rollovers to finish", proc
                )
                result.seconds = time.monotonic() - started
                if proc.poll() is not None:
                    result.crashes.append(f"generation {generation} exited by itself ({proc.returncode})")
                return result
            if rng.random() < startup_kills:
                # During start-up: importing, listing, establishing the watches.
                deadline = spawned + rng.uniform(0.1, OPERATOR_START_S)
            else:
                # While it acts: a random moment after its caches are filled.
                _wait(functools.partial(acting_since, log, offset), 20, "the operator to start", proc)
                deadline = time.monotonic() + rng.uniform(*uptime)
            while time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.02)
            if proc.poll() is not None:
                result.crashes.append(f"generation {generation} exited by itself ({proc.returncode})")
            else:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                result.kills += 1
                seen = phases_if_reachable(kubeconfig, rollovers)
                result.kill_phases.update(set(seen.values()))
                if any(p not in TERMINAL for p in seen.values()):
                    result.kills_mid_rollover += 1
                say(
                    f"kill -9 #{result.kills} of generation {generation}; phases "
                    f"{dict(sorted(Counter(seen.values()).items()))}"
                )


ACTIVE = "caches filled"  # the operator's log line once it starts acting


def log_since(log: Path, offset: int) -> str:
    """What `log` gained after byte `offset`."""
    try:
        with log.open("rb") as fh:
            fh.seek(offset)
            return fh.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


def acting_since(log: Path, offset: int) -> bool:
    """Whether the generation that started writing `log` at `offset` has started acting."""
    return ACTIVE in log_since(log, offset)


def _wait(probe: Callable[[], bool], timeout: float, what: str, proc: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.5)
    say(f"timed out after {timeout:.0f}s waiting for {what}")
    return False


@dataclass(frozen=True)
class DistrictsRun:
    """A chaos run over districts: what it did, and every violation after it (an unfinished rollover
    and an operator that exited by itself included)."""

    chaos: ChaosResult
    violations: list[str]
    jobs: int  # Jobs created over the run, as the Job timeline saw them
    pods_succeeded: int
    pods_failed: int
    jobs_failed: list[str]  # the Jobs those failed pods belong to
    job_watch_reconnects: int
    job_watch_gaps: int


def run_districts(
    *,
    plane: RestartsApiserver,
    kubeconfig: Path,
    districts: Sequence[District],
    log: Path,
    clock: AcceleratedClock,
    operator_args: Sequence[str],
    rng: random.Random,
    kills: int,
    uptime: tuple[float, float] = (0.0, 2.0),
    pod_delay: tuple[float, float] = (0.0, 0.6),
    apiserver_restart_before: Sequence[int] = (),
    timeout: float = 600.0,
) -> DistrictsRun:
    """`run_chaos` over `districts`, whose objects exist already: a `JobTimeline` watches every Job
    and a `PodFinisher` completes each Job pod `pod_delay` seconds after it appears (failing the
    districts' `fail_archive` pods); then every invariant, against the sync targets as they were
    before the run."""
    namespaces = sorted({d.namespace for d in districts})
    originals = snapshot_targets(kubeconfig, namespaces)
    keys = [d.key for d in districts]
    with (
        JobTimeline(kubeconfig, namespaces) as timeline,
        PodFinisher(kubeconfig, namespaces, fails(districts), rng=rng, delay=pod_delay) as finisher,
    ):
        chaos = run_chaos(
            plane=plane,
            kubeconfig=kubeconfig,
            log=log,
            clock=clock,
            operator_args=operator_args,
            rollovers=keys,
            rng=rng,
            kills=kills,
            uptime=uptime,
            apiserver_restart_before=apiserver_restart_before,
            timeout=timeout,
        )
        time.sleep(1)  # the timeline's last events
        violations = check_invariants(
            kubeconfig,
            keys,
            originals,
            expect_failed=[d.key for d in districts if d.fail_archive],
            logs=[log],
            timeline=timeline,
        )
    unfinished = [] if chaos.finished else ["not every rollover finished (Completed or Failed) in time"]
    return DistrictsRun(
        chaos=chaos,
        violations=[*unfinished, *chaos.crashes, *violations],
        jobs=len(timeline.snapshot()),
        pods_succeeded=finisher.succeeded,
        pods_failed=finisher.failed,
        jobs_failed=sorted(finisher.failed_jobs),
        job_watch_reconnects=timeline.reconnects,
        job_watch_gaps=timeline.gaps,
    )
