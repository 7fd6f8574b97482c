"""Soak: a full accelerated rollover of many districts while the operator is killed -9 at random
moments and kube-apiserver is restarted, then the invariants of benchmarks/invariants.py.

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
- a stand-in kubelet (`PodFinisher`) completes each Job pod after 0.5-4 s (or fails the chosen
  archive pods), surviving the apiserver restarts;
- a `JobTimeline` watches every Job for the whole run, so the ordering checks use etcd revisions.

Prints a JSON summary and writes it to benchmarks/out/soak.json: kills (and how many landed while a
rollover was under way, and which phases were present at the kills), apiserver restarts, seconds,
violations. Exit status 1 on any violation; the operator log is then kept as
benchmarks/out/soak-operator.log. Replay a run with its printed --seed (the fault schedule is
reproducible; the timing of two processes on two cores is not). The small versions run in CI:
tests/integration/test_faults.py.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

if __package__ in (None, ""):  # `python benchmarks/soak.py`: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lightkube import Client, operators
from lightkube.resources.core_v1 import Pod
from lightkube.types import PatchType

from benchmarks.fleet import scratch_plane
from benchmarks.invariants import (
    JobTimeline,
    RolloverKey,
    check_invariants,
    client_for,
    snapshot_targets,
)
from rollover.cluster.resources import DistrictRollover
from rollover.devcluster.controlplane import ControlPlane
from rollover.devcluster.objects import csv_import_deployment, sync_cronjob
from rollover.devcluster.runner import running_operator
from rollover.labels import LABEL_PRODUCT, LABEL_ROLLOVER, LABEL_STEP

OUT = Path(__file__).parent / "out"
PRODUCTS = ("imagine-math", "imagine-math-facts", "twig-science")
TERMINAL = frozenset({"Completed", "Failed"})
CHICAGO = dt.timezone(dt.timedelta(hours=-5))  # CDT: every date of the run is in July
# Business days in Illinois, July 2027 (no holidays): the staggered reset dates.
RESET_DATES = tuple(dt.date(2027, 7, d).isoformat() for d in (20, 21, 22, 23, 26, 27, 28, 29, 30))
CLOCK_START = dt.datetime(2027, 7, 18, 12, 0, tzinfo=CHICAGO)  # Sunday noon, before every pause
OPERATOR_START_S = 2.5  # a generation's start-up before it acts, on the 2-core reference machine
GENERATION_S = 2.6  # a killed generation's mean lifetime, measured there (start-up included)


def seeded(seed: float) -> random.Random:
    """The run's random stream: reproducible from its seed (a fault schedule, not cryptography)."""
    return random.Random(seed)  # noqa: S311


def say(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the districts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class District:
    """One DistrictRollover and the roster-sync objects its selector matches."""

    namespace: str
    name: str
    district_id: str
    reset_date: str
    products: tuple[str, ...]
    cronjobs: tuple[tuple[str, bool], ...]  # (name, suspended by its owner before the run)
    deployment_replicas: int | None = None  # a CSV-import Deployment, if any
    fail_archive: str | None = None  # the product whose archive pod is made to fail

    @property
    def key(self) -> RolloverKey:
        return (self.namespace, self.name)

    def labels(self) -> dict[str, str]:
        return {"district": self.name}

    def objects(self) -> list[dict[str, Any]]:
        docs: list[dict[str, Any]] = [
            sync_cronjob(name, self.namespace, self.labels(), suspend=suspended)
            for name, suspended in self.cronjobs
        ]
        if self.deployment_replicas is not None:
            docs.append(
                csv_import_deployment(
                    f"{self.name}-csv-import", self.namespace, self.labels(), self.deployment_replicas
                )
            )
        docs.append(
            {
                "apiVersion": "rostering.k12.dev/v1alpha1",
                "kind": "DistrictRollover",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": {
                    "districtId": self.district_id,
                    "schoolYear": "2026-2027",
                    "resetDate": self.reset_date,
                    "timeZone": "America/Chicago",
                    "calendar": {"country": "US", "subdivision": "IL"},
                    "products": list(self.products),
                    "syncSelector": {"matchLabels": self.labels()},
                },
            }
        )
        return docs


def plan_districts(
    rng: random.Random,
    count: int,
    namespaces: Sequence[str],
    *,
    dates: Sequence[str] = RESET_DATES,
    failing: int | None = None,
    max_products: int = 2,
) -> list[District]:
    """`count` districts round-robin over `namespaces`, reset dates spread over `dates`; `failing`
    of them (default one in ten, at least one) get an archive Job that fails."""
    failing = max(1, count // 10) if failing is None else failing
    fail_at = set(rng.sample(range(count), min(failing, count)))
    districts = []
    for i in range(count):
        name = f"d{i:03d}"
        products = tuple(sorted(rng.sample(PRODUCTS, rng.randint(1, max_products))))
        # About a quarter suspended by their owners (always the very first one: never none).
        cronjobs = tuple(
            (f"{name}-sync-{k}", (i, k) == (0, 0) or rng.random() < 0.25) for k in range(rng.randint(1, 3))
        )
        districts.append(
            District(
                namespace=namespaces[i % len(namespaces)],
                name=name,
                district_id=f"US-{i:07d}",
                reset_date=dates[i % len(dates)],
                products=products,
                cronjobs=cronjobs,
                deployment_replicas=rng.randint(1, 3) if rng.random() < 0.2 else None,
                fail_archive=rng.choice(products) if i in fail_at else None,
            )
        )
    return districts


def create_objects(
    kubeconfig: Path, districts: Iterable[District], *, namespaces: Iterable[str] = ()
) -> None:
    """Create the namespaces (if asked), a CronJob no rollover selects, then every district's objects."""
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}} for ns in namespaces
    ]
    districts = list(districts)
    for ns in sorted({d.namespace for d in districts}):
        # Selected by nobody: must come out of the run untouched.
        docs.append(sync_cronjob("unrelated-sync", ns, {"district": "nobody"}))
    for district in districts:
        docs += district.objects()
    subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), "create", "-f", "-"],
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}),
        text=True,
        capture_output=True,
        check=True,
        timeout=300,
    )


def operator_config(path: Path) -> Path:
    """Job pods fail once and for all (backoffLimit 0): a failed pod is a failed Job."""
    path.write_text(json.dumps({"defaultJob": {"backoffLimit": 0}}))
    return path


# --- a stand-in kubelet ------------------------------------------------------------------------------


def fails(districts: Iterable[District]) -> Callable[[dict[str, Any]], bool]:
    """Which Job pods to fail: the archive pod of each district's `fail_archive` product."""
    chosen = {(d.namespace, d.name, d.fail_archive) for d in districts if d.fail_archive}

    def should_fail(pod: dict[str, Any]) -> bool:
        meta = pod["metadata"]
        labels = meta.get("labels") or {}
        return (
            labels.get(LABEL_STEP) == "archive"
            and (
                meta["namespace"],
                labels.get(LABEL_ROLLOVER),
                labels.get(LABEL_PRODUCT),
            )
            in chosen
        )

    return should_fail


class PodFinisher:
    """Marks each pending rollover Job pod Succeeded (or Failed, per `should_fail`) after a random
    delay, as a kubelet would report it. Keeps going through apiserver restarts."""

    def __init__(
        self,
        kubeconfig: Path,
        namespaces: Iterable[str],
        should_fail: Callable[[dict[str, Any]], bool],
        *,
        rng: random.Random,
        delay: tuple[float, float] = (0.0, 0.6),
        poll: float = 0.25,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.namespaces = sorted(set(namespaces))
        self.should_fail = should_fail
        self.rng = seeded(rng.random())  # its own stream: thread timing must not shift the plan
        self.delay = delay
        self.poll = poll
        self.succeeded = 0
        self.failed = 0
        self.errors = 0
        self._due: dict[str, float] = {}
        self._done: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pod-finisher", daemon=True)

    def __enter__(self) -> PodFinisher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)

    def _run(self) -> None:
        client: Client | None = None
        while not self._stop.wait(self.poll):
            try:
                if client is None:
                    client = client_for(self.kubeconfig)
                for ns in self.namespaces:
                    for pod in client.list(Pod, namespace=ns, labels={LABEL_ROLLOVER: operators.exists()}):
                        self._visit(client, dict(pod.to_dict()))
            except Exception:  # the apiserver restarting; try again at the next poll
                self.errors += 1
                client = None

    def _visit(self, client: Client, pod: dict[str, Any]) -> None:
        uid = pod["metadata"]["uid"]
        if uid in self._done or (pod.get("status") or {}).get("phase") not in (None, "Pending"):
            return
        due = self._due.setdefault(uid, time.monotonic() + self.rng.uniform(*self.delay))
        if time.monotonic() < due:
            return
        fail = self.should_fail(pod)
        container = pod["spec"]["containers"][0]
        message = {"error": "made to fail by the soak"} if fail else {"rows": 1, "deleted": 1}
        status = {
            "phase": "Failed" if fail else "Succeeded",
            "containerStatuses": [
                {
                    "name": container["name"],
                    "image": container["image"],
                    "imageID": "",
                    "ready": False,
                    "restartCount": 0,
                    "state": {
                        "terminated": {
                            "exitCode": 1 if fail else 0,
                            "reason": "Error" if fail else "Completed",
                            "message": json.dumps(message),
                        }
                    },
                }
            ],
        }
        client.patch(
            Pod.Status,
            pod["metadata"]["name"],
            {"status": status},
            namespace=pod["metadata"]["namespace"],
            patch_type=PatchType.MERGE,
        )
        self._done.add(uid)
        if fail:
            self.failed += 1
        else:
            self.succeeded += 1


# --- the operator, killed and restarted on one continuous accelerated clock -------------------------


@dataclass
class SimClock:
    """The run's simulated time: `start` at creation, `rate` times faster than the wall clock.

    Each operator generation gets `--clock-start now()`: its own clock then lags this one by its
    start-up time, but never goes back behind what an earlier generation saw.
    """

    start: dt.datetime
    rate: float
    origin: float = field(default_factory=time.monotonic)

    def now(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=(time.monotonic() - self.origin) * self.rate)


@dataclass
class ChaosResult:
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


def _safe_phases(kubeconfig: Path, rollovers: Iterable[RolloverKey]) -> dict[RolloverKey, str]:
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
    found = _safe_phases(kubeconfig, rollovers)
    return len(found) == len(rollovers) and all(p in TERMINAL for p in found.values())


class RestartsApiserver(Protocol):
    """What run_chaos needs of the control plane (ControlPlane, or a test's wrapper of it)."""

    def restart_apiserver(self, *, down_for: float = ...) -> None: ...


def run_chaos(
    *,
    plane: RestartsApiserver,
    kubeconfig: Path,
    log: Path,
    clock: SimClock,
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
        args = ["--clock-start", clock.now().isoformat(), "--clock-rate", f"{clock.rate:g}", *operator_args]
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
                seen = _safe_phases(kubeconfig, rollovers)
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


# --- apiserver metrics -------------------------------------------------------------------------------

_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][\w:]*)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def metric_sum(plane: ControlPlane, name: str, **labels: str) -> float:
    """The sum of the apiserver's `name` samples whose labels include `labels`."""
    total = 0.0
    for line in plane.get("/metrics", timeout=30).decode().splitlines():
        match = _SAMPLE.match(line)
        if match is None or match["name"] != name:
            continue
        found = dict(_LABEL.findall(match["labels"] or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match["value"])
    return total


# --- the soak --------------------------------------------------------------------------------------


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
    uptime = (0.0, 2.0)
    if rate is None:
        # Spread the staggered dates over about as long as the kills take.
        span = dt.datetime.fromisoformat(RESET_DATES[-1]).replace(tzinfo=CHICAGO) - CLOCK_START
        rate = span.total_seconds() / max(30.0, kills * GENERATION_S * 0.9)
    started = time.monotonic()
    with scratch_plane("soak-") as (plane, tmp):
        kubeconfig = plane.kubeconfig
        create_objects(kubeconfig, plan, namespaces=names)
        originals = snapshot_targets(kubeconfig, names)
        log = tmp / "operator.log"
        config = operator_config(tmp / "operator-config.yaml")
        keys = [d.key for d in plan]
        # Restarts in the middle: spread evenly over the kills.
        restart_at = [round(kills * (i + 1) / (apiserver_restarts + 1)) for i in range(apiserver_restarts)]
        with (
            JobTimeline(kubeconfig, names) as timeline,
            # Jobs that take a few seconds: kills land while archive and reset Jobs run, too.
            PodFinisher(kubeconfig, names, fails(plan), rng=rng, delay=(0.5, 4.0)) as finisher,
        ):
            chaos = run_chaos(
                plane=plane,
                kubeconfig=kubeconfig,
                log=log,
                clock=SimClock(CLOCK_START, rate),
                operator_args=["--config", str(config)],
                rollovers=keys,
                rng=rng,
                kills=kills,
                uptime=uptime,
                apiserver_restart_before=restart_at,
                timeout=timeout,
            )
            time.sleep(1)  # the timeline's last events
            violations = check_invariants(
                kubeconfig,
                keys,
                originals,
                expect_failed=[d.key for d in plan if d.fail_archive],
                logs=[log],
                timeline=timeline,
            )
        violations = chaos.crashes + violations
        if not chaos.finished:
            violations.insert(0, "not every rollover finished (Completed or Failed) in time")
        final = Counter(_safe_phases(kubeconfig, keys).values())
        jobs = len(timeline.snapshot())
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
        "jobs_created": jobs,
        "pods_succeeded": finisher.succeeded,
        "pods_failed": finisher.failed,
        "job_watch_reconnects": timeline.reconnects,
        "job_watch_gaps": timeline.gaps,
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
