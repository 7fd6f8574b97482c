"""Fault tolerance on the real control plane, with invariant checks after every run.

Smoke versions of benchmarks/soak.py (the long run: `python benchmarks/soak.py --districts 40
--kills 60`), on the same harness (rollover.devcluster). Every run ends with
rollover.devcluster.invariants.check_invariants: each sync target exactly as its owner left it (a
CronJob its owner had suspended stays suspended), at most one Job per (rollover, school year, step,
product, attempt), no reset Job before every archive Job of its rollover succeeded, every rollover
Completed (or Failed with a reason where a Job was made to fail), no traceback in the operator log.

- kill -9 at random moments of an accelerated rollover of ten districts (five kills, restarts);
- kube-apiserver restarted mid-rollover (the session's control plane: it is ready again afterwards);
- a real 409: the Job another replica created a moment earlier under the same deterministic name;
- real 429s: API Priority and Fairness throttling the operator's own identity (no proxy, no mock).

The tests that found product bugs (all fixed) raise ProductBug / InvariantViolation naming exactly
the symptom, should one come back: throttling logged as a traceback, a product skipped after a kill
between two archive-Job creates, a minute idle after starting during an apiserver outage, no exit
when stopped during start-up.

The random runs print their seed; replay one with ROLLOVER_FAULT_SEED=<seed>.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import random
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lightkube import AsyncClient, Client, KubeConfig

from rollover import FIELD_MANAGER
from rollover.api.models import Step
from rollover.cluster import apply
from rollover.cluster.jobs import job_manifest
from rollover.config import load_config
from rollover.controller.clock import AcceleratedClock
from rollover.devcluster import apf
from rollover.devcluster.chaos import ChaosResult, all_finished, phases, run_chaos, run_districts, seeded
from rollover.devcluster.controlplane import ControlPlane, free_port
from rollover.devcluster.districts import (
    CHICAGO,
    District,
    create_objects,
    fails,
    operator_config,
    plan_districts,
)
from rollover.devcluster.invariants import JobTimeline, check_invariants, scan_logs, snapshot_targets
from rollover.devcluster.metrics import metric_sum
from rollover.devcluster.podrunner import PodFinisher
from rollover.devcluster.runner import clock_args, operator_wall_time, running_operator
from rollover.planner import CreateJob, job_name
from tests.conftest import RunningControlPlane
from tests.integration.kube import Kube, operator, wait_for

pytestmark = pytest.mark.integration

# Monday 2027-07-19 00:00 in Chicago; resets Wednesday to Friday: every pause and reset is ahead.
MONDAY = dt.datetime(2027, 7, 19, tzinfo=CHICAGO)
DATES = ("2027-07-21", "2027-07-22", "2027-07-23")
FAST = 36000.0  # ten simulated hours per second: a reset date a day later is 2.4 s away
ARCHIVE = "rostering.k12.dev/step=archive"


class InvariantViolation(AssertionError):
    """An invariant failed after the run."""


class ProductBug(AssertionError):
    """The symptom of a product bug a fault run once found (fixed): named, should it come back."""


def _seed() -> int:
    value = int(os.environ.get("ROLLOVER_FAULT_SEED") or random.SystemRandom().randrange(1_000_000))
    print(f"fault seed: {value} (replay with ROLLOVER_FAULT_SEED={value})")
    return value


@pytest.fixture
def seed() -> int:
    return _seed()


def _dump(control_plane: RunningControlPlane, namespace: str, where: Path) -> None:
    """What the invariants saw, next to the operator log: the namespace's objects as JSON files."""
    for kind in ("districtrollovers", "jobs", "cronjobs", "events"):
        out = control_plane.kubectl("-n", namespace, "get", kind, "-o", "json", check=False).stdout
        (where / f"{kind}.json").write_text(out)


def _assert_clean(
    violations: list[str],
    seed: int | None = None,
    *,
    keep: tuple[RunningControlPlane, str, Path] | None = None,
) -> None:
    if violations and keep is not None:
        _dump(*keep)
    replay = f" (seed {seed}; replay with ROLLOVER_FAULT_SEED={seed})" if seed is not None else ""
    if violations:
        raise InvariantViolation(
            f"{len(violations)} invariant violation(s){replay}:\n" + "\n".join(violations)
        )


def _one_district(namespace: str, products: tuple[str, ...]) -> District:
    """One district resetting Friday 2027-07-16 (pause Thursday), one roster-sync CronJob."""
    return District(namespace, "solo", "IL-0000001", "2027-07-16", products, (("solo-sync", False),))


def _create_archive_job(kubeconfig: Path, rollover: dict[str, Any], config: Path, product: str) -> str:
    """Create one archive Job exactly as the operator would (same manifest, same deterministic name)."""
    name = job_name(rollover["metadata"]["name"], "2026-2027", Step.ARCHIVE, product, 0)
    action = CreateJob(name, Step.ARCHIVE, product, 0, "2026-2027", dt.date(2027, 7, 16))
    operator_config = load_config(config)
    template = operator_config.template(product, Step.ARCHIVE)
    client = Client(KubeConfig.from_file(kubeconfig), field_manager=FIELD_MANAGER)
    client.create(job_manifest(rollover, action, template, operator_config.job_ttl_seconds_after_finished))
    return name


def test_kill9_at_random_moments_of_a_rollover_of_ten_districts_keeps_every_invariant(
    control_plane: RunningControlPlane, namespace: str, tmp_path: Path, seed: int
) -> None:
    """Ten districts (1-3 sync CronJobs each, some suspended by their owners, one whose archive Job
    fails), resets Wednesday to Friday on a clock at 36,000x; the operator is killed -9 five times
    (some during start-up, most while reconciling) and restarted, on a clock continuous across
    generations; then every invariant."""
    rng = seeded(seed)
    kubeconfig = Path(control_plane.kubeconfig)
    districts = plan_districts(rng, 10, [namespace], dates=DATES, failing=1)
    assert any(s for d in districts for _, s in d.cronjobs), "some CronJob is suspended by its owner"
    create_objects(kubeconfig, districts)
    config = operator_config(tmp_path / "config.yaml")
    run = run_districts(
        plane=control_plane.plane,
        kubeconfig=kubeconfig,
        districts=districts,
        log=tmp_path / "operator.log",
        clock=AcceleratedClock(MONDAY, FAST),
        operator_args=["--namespace", namespace, "--claims-namespace", namespace, "--config", str(config)],
        rng=rng,
        kills=5,
        uptime=(0.0, 1.2),
        timeout=90,
    )
    chaos = run.chaos
    print(f"kills {chaos.kills} ({chaos.kills_mid_rollover} mid-rollover), phases {dict(chaos.kill_phases)}")
    assert chaos.kills == 5
    _assert_clean(run.violations, seed, keep=(control_plane, namespace, tmp_path))


# --- kube-apiserver restarted mid-rollover ----------------------------------------------------------


@dataclass
class RestartRun:
    """One kube-apiserver restart, seen by two operators: A running through it with four districts'
    archive Jobs running, B started while the apiserver refused connections."""

    seed: int
    chaos: ChaosResult
    violations: list[str]
    log_a: Path
    log_b: Path
    reconnects: int  # of the Job watch
    down_at: float = 0.0  # time.monotonic() when B was started (connections refused)
    up_at: float = 0.0  # when the restarted apiserver was ready
    phase_b: str = ""  # B's rollover at the end of A's run
    b_started: bool = False
    proc_b: subprocess.Popen[bytes] | None = None


class _OutageHook:
    """The control plane, with a hook that starts operator B once kube-apiserver refuses connections."""

    def __init__(self, plane: ControlPlane, start_b: Callable[[], None], run: RestartRun) -> None:
        self.plane, self.start_b, self.run = plane, start_b, run

    def _when_down(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                self.plane.get("/readyz", timeout=1)
            except OSError:  # refused: the old process stopped listening
                self.run.down_at = time.monotonic()
                self.start_b()
                self.run.b_started = True
                return
            time.sleep(0.05)

    def restart_apiserver(self, *, down_for: float = 0.0) -> None:
        thread = threading.Thread(target=self._when_down, name="operator-b")
        thread.start()
        try:
            self.plane.restart_apiserver(down_for=down_for)
            self.run.up_at = time.monotonic()
        finally:
            thread.join()


@pytest.fixture(scope="module")
def restart_run(
    control_plane: RunningControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RestartRun]:
    """Runs the scenario once for the two tests below (one kube-apiserver restart costs ~12 s: the
    harness gives the old process a 10 s grace to drain its watches)."""
    seed = _seed()
    rng = seeded(seed)
    tmp = tmp_path_factory.mktemp("apiserver-restart")
    kubeconfig = Path(control_plane.kubeconfig)
    ns_a, ns_b = (f"t-{uuid.uuid4().hex[:10]}" for _ in range(2))
    for ns in (ns_a, ns_b):
        control_plane.kubectl("create", "namespace", ns)
    districts = plan_districts(rng, 4, [ns_a], dates=DATES[:1], failing=0)
    late = District(ns_b, "late", "IL-0000002", "2027-09-01", ("twig-science",), (("late-sync", False),))
    create_objects(kubeconfig, [*districts, late])
    originals = snapshot_targets(kubeconfig, [ns_a])
    config = operator_config(tmp / "config.yaml")
    keys = [d.key for d in districts]
    clock = AcceleratedClock(MONDAY, FAST)
    run = RestartRun(seed, ChaosResult(), [], tmp / "operator-a.log", tmp / "operator-b.log", 0)
    try:
        with contextlib.ExitStack() as operators_b, JobTimeline(kubeconfig, [ns_a]) as timeline:

            def start_b() -> None:
                args = [
                    "--namespace",
                    ns_b,
                    "--claims-namespace",
                    ns_a,
                    "--config",
                    str(config),
                    *clock_args(clock),
                ]
                run.proc_b = operators_b.enter_context(running_operator(kubeconfig, run.log_b, *args))

            with PodFinisher(kubeconfig, [ns_a], fails(districts), rng=rng, delay=(1.0, 2.0)):
                run.chaos = run_chaos(
                    plane=_OutageHook(control_plane.plane, start_b, run),
                    kubeconfig=kubeconfig,
                    log=run.log_a,
                    clock=clock,
                    operator_args=["--namespace", ns_a, "--claims-namespace", ns_a, "--config", str(config)],
                    rollovers=keys,
                    rng=rng,
                    kills=0,
                    apiserver_restart_before=[0],
                    # In the middle: archive or reset Jobs running (pods finish 1-2 s after creation).
                    apiserver_restart_when=lambda: bool(
                        {"Archiving", "Resetting"} & set(phases(kubeconfig, keys).values())
                    ),
                    apiserver_down_s=1.0,  # B must start while it is down, even on a faster harness
                    timeout=90,
                )
            run.phase_b = phases(kubeconfig, [late.key]).get(late.key, "")
            if run.proc_b is not None:  # kill -9: its hang on SIGINT is a test of its own, below
                run.proc_b.kill()
                run.proc_b.wait()
            time.sleep(0.5)
            run.violations = check_invariants(
                kubeconfig, keys, originals, logs=[run.log_a], timeline=timeline
            )
            run.reconnects = timeline.reconnects
            if run.violations:
                _dump(control_plane, ns_a, tmp)
        yield run
    finally:
        # The control plane is session-wide: later tests need it answering, CRDs served.
        wait_for(
            lambda: control_plane.kubectl("get", "districtrollovers", "-A", check=False).returncode == 0,
            what="the restarted apiserver to serve DistrictRollovers",
        )
        for ns in (ns_a, ns_b):
            control_plane.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def test_apiserver_restart_mid_rollover_the_operator_keeps_going(restart_run: RestartRun) -> None:
    run = restart_run
    print(f"kube-apiserver restart took {run.chaos.apiserver_restart_s} s (seed {run.seed})")
    assert run.chaos.apiserver_restarts == 1
    _assert_clean([*run.chaos.crashes, *run.violations], run.seed)
    assert run.chaos.finished
    text = run.log_a.read_text()
    assert "retrying in" in text or "will retry" in text, "the operator never noticed the restart"
    assert run.reconnects >= 1, "the Job watch never saw the restart: it did not happen mid-run"


def test_an_operator_started_while_the_apiserver_is_down_starts_once_it_is_back(
    restart_run: RestartRun,
) -> None:
    run = restart_run
    assert run.b_started, "operator B was never started during the outage"
    since_up = time.monotonic() - run.up_at
    symptoms = []
    if run.phase_b != "Scheduled":
        symptoms.append(f"its rollover still not Scheduled {since_up:.0f} s after the apiserver was back")
    symptoms += scan_logs([run.log_b])
    if symptoms:
        raise ProductBug("operator B (started during the outage): " + "; ".join(symptoms[:3]))


def test_an_operator_stopped_before_its_start_up_completed_exits(tmp_path: Path) -> None:
    """No control plane needed: a kubeconfig whose server refuses connections (a stopped apiserver)."""
    cluster = {"server": f"https://127.0.0.1:{free_port()}", "insecure-skip-tls-verify": True}
    unreachable = apf.token_kubeconfig(tmp_path / "unreachable.kubeconfig", cluster, "t")
    log = tmp_path / "operator.log"
    with running_operator(unreachable, log, "--namespace", "nowhere") as proc:
        wait_for(
            lambda: "listing DistrictRollover failed" in log.read_text(),  # each kind retries its own
            timeout=30,
            what="a LIST",
        )
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise ProductBug("still running 2 s after SIGINT (start-up not completed); killed") from None


# --- 409, and a pass cut short between two creates -------------------------------------------------


def test_jobs_another_replica_already_created_are_adopted_not_duplicated(
    control_plane: RunningControlPlane, namespace: str, tmp_path: Path
) -> None:
    """Another replica created the archive Jobs a moment before this one's reset time, under the
    same deterministic names: the operator is frozen (SIGSTOP) across its reset time while the
    "other replica" (this test, with the operator's own manifest code) creates them. On SIGCONT the
    operator either learns of them from its Job watch first or gets the apiserver's 409 (which one
    is a race on the event loop; the 409 path is pinned down by the next test): either way it
    adopts them and the rollover completes with each Job exactly once."""
    kube = Kube(control_plane, namespace)
    kubeconfig = Path(control_plane.kubeconfig)
    products = ["imagine-math", "twig-science"]
    district = _one_district(namespace, tuple(products))
    create_objects(kubeconfig, [district])
    originals = snapshot_targets(kubeconfig, [namespace])
    config = operator_config(tmp_path / "config.yaml")
    log = tmp_path / "operator.log"
    rate = 3600  # the pause began at midnight; the reset is 4 simulated hours (4 s) after the start
    clock_start = dt.datetime(2027, 7, 15, 20, tzinfo=CHICAGO)
    reset_at = dt.datetime(2027, 7, 16, tzinfo=CHICAGO)
    with (
        JobTimeline(kubeconfig, [namespace]) as timeline,
        operator(
            control_plane, namespace, log, clock_start=clock_start.isoformat(), rate=rate, config=config
        ) as proc,
    ):
        body = kube.wait_phase(district.name, "Paused", timeout=30)
        proc.send_signal(signal.SIGSTOP)
        try:
            assert not kube.items("jobs", "-l", "rostering.k12.dev/step=archive"), (
                "too slow: already archiving"
            )
            reset_wall = operator_wall_time(log, clock_start, rate, reset_at)
            time.sleep(max(0.0, reset_wall - time.time()) + 0.5)
            # Another replica, a moment ahead: the same manifest under the same deterministic name.
            for product in products:
                _create_archive_job(kubeconfig, body, config, product)
        finally:
            proc.send_signal(signal.SIGCONT)
        with PodFinisher(kubeconfig, [namespace], fails([]), rng=seeded(0)):
            kube.wait_phase(district.name, "Completed", timeout=60)
    names = sorted(j["metadata"]["name"] for j in kube.items("jobs"))
    assert names == sorted(
        job_name(district.name, "2026-2027", step, p, 0)
        for step in (Step.ARCHIVE, Step.RESET)
        for p in products
    )
    violations = check_invariants(kubeconfig, [district.key], originals, logs=[log], timeline=timeline)
    _assert_clean(violations, keep=(control_plane, namespace, tmp_path))


def test_creating_a_job_that_exists_is_a_real_409_and_adopts_it(
    control_plane: RunningControlPlane, namespace: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The operator's Job create against a Job already there under its deterministic name: the
    apiserver itself answers 409 AlreadyExists, and the create adopts the Job (the watch brings it)
    instead of failing the pass."""
    kube = Kube(control_plane, namespace)
    kubeconfig = Path(control_plane.kubeconfig)
    district = _one_district(namespace, ("imagine-math",))
    create_objects(kubeconfig, [district])
    body = kube.get("districtrollover", district.name)
    config = operator_config(tmp_path / "config.yaml")
    name = _create_archive_job(kubeconfig, body, config, "imagine-math")
    action = CreateJob(name, Step.ARCHIVE, "imagine-math", 0, "2026-2027", dt.date(2027, 7, 16))
    conflicts_before = metric_sum(
        control_plane.plane, "apiserver_request_total", verb="POST", resource="jobs", code="409"
    )

    async def create_again() -> dict[str, Any]:
        client = AsyncClient(KubeConfig.from_file(kubeconfig), field_manager=FIELD_MANAGER)
        try:
            return await apply.create_job(client, body, action, load_config(config))
        finally:
            await client.close()

    caplog.set_level(logging.INFO, logger="rollover.cluster.apply")
    assert asyncio.run(create_again())["metadata"]["name"] == name  # the existing Job, to cache
    assert f"Job {name} already exists; adopting it" in caplog.text
    conflicts = (
        metric_sum(control_plane.plane, "apiserver_request_total", verb="POST", resource="jobs", code="409")
        - conflicts_before
    )
    assert conflicts == 1, "the apiserver itself must have answered 409"
    assert [j["metadata"]["name"] for j in kube.items("jobs")] == [name]


def test_killed_between_creating_two_archive_jobs_every_product_is_still_archived_and_reset(
    control_plane: RunningControlPlane, namespace: str, tmp_path: Path
) -> None:
    """Deterministic replay of a kill -9 that lands between the two archive-Job creations of one pass:
    the operator is killed in Paused, the first Job is created as it would have created it, and a new
    generation starts after the reset time."""
    kube = Kube(control_plane, namespace)
    kubeconfig = Path(control_plane.kubeconfig)
    district = _one_district(namespace, ("imagine-math", "twig-science"))
    create_objects(kubeconfig, [district])
    originals = snapshot_targets(kubeconfig, [namespace])
    config = operator_config(tmp_path / "config.yaml")
    log = tmp_path / "operator.log"
    start = "2027-07-15T06:00:00-05:00"
    with operator(control_plane, namespace, log, clock_start=start, rate=1, config=config) as proc:
        body = kube.wait_phase(district.name, "Paused", timeout=30)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # What the killed generation managed before dying: the first of its two creates.
    _create_archive_job(kubeconfig, body, config, "imagine-math")
    with (
        PodFinisher(kubeconfig, [namespace], fails([]), rng=seeded(0)),
        operator(
            control_plane, namespace, log, clock_start="2027-07-16T00:05:00-05:00", rate=1, config=config
        ),
    ):
        wait_for(lambda: kube.phase(district.name) in ("Completed", "Failed"), timeout=40, what="the end")
    violations = check_invariants(kubeconfig, [district.key], originals, logs=[log])
    archived = {
        j["metadata"]["labels"]["rostering.k12.dev/product"] for j in kube.items("jobs", "-l", ARCHIVE)
    }
    if archived != {"imagine-math", "twig-science"}:
        violations.append(f"archive Jobs only for {sorted(archived)}")
    _assert_clean(violations, keep=(control_plane, namespace, tmp_path))


# --- 429: API Priority and Fairness throttling the operator's own identity -------------------------

# The dev control plane's APF budget: --max-requests-inflight plus --max-mutating-requests-inflight.
SERVER_SEATS = 1200 + 600
THROTTLE_SEATS = 2  # what the operator may have in flight at once; the rest is rejected: 429


@dataclass(frozen=True)
class Throttle:
    kubeconfig: Path  # the operator's own identity, throttled
    level: str  # its PriorityLevelConfiguration


@pytest.fixture
def throttle(control_plane: RunningControlPlane, namespace: str, tmp_path: Path) -> Iterator[Throttle]:
    """A ServiceAccount with cluster-admin rights whose requests the real apiserver serves at most
    THROTTLE_SEATS at a time, rejecting (429) the rest.

    The harness's admin certificate is in system:masters, which the mandatory `exempt` FlowSchema
    matches before anything else, so the operator runs as its own ServiceAccount here (a token, as
    in a cluster). Its FlowSchema leads to a priority level with nominal shares 1 that may not
    borrow and rejects instead of queueing; a "ballast" level that no FlowSchema uses holds enough
    shares that 1 share is worth THROTTLE_SEATS seats of the server's SERVER_SEATS. All of it is
    deleted afterwards. Other tests never match it (kubectl and the controller-manager use the
    exempt admin identity); the ballast only trims other levels' shares while it exists.
    """
    suffix = uuid.uuid4().hex[:6]
    sa, level, ballast = "rollover-operator", f"fault-throttle-{suffix}", f"fault-ballast-{suffix}"
    kubectl = control_plane.kubectl
    kubeconfig = apf.admin_service_account(
        control_plane.plane, kubectl, namespace, sa, level, tmp_path / "operator.kubeconfig"
    )
    levels = json.loads(kubectl("get", "prioritylevelconfigurations", "-o", "json").stdout)["items"]
    shares = sum((pl["spec"].get("limited") or {}).get("nominalConcurrencyShares", 0) for pl in levels)
    # ceil(SERVER_SEATS * 1 / total) == THROTTLE_SEATS for a total between these two bounds.
    total = (SERVER_SEATS // THROTTLE_SEATS + SERVER_SEATS // max(1, THROTTLE_SEATS - 1)) // 2
    heavy = {
        "type": "Limited",
        "limited": {
            "nominalConcurrencyShares": max(1, total - shares - 1),
            "limitResponse": {"type": "Reject"},
        },
    }
    schema = apf.service_account_schema(level, namespace, sa, [apf.EVERYTHING], non_resource=True)
    try:
        apf.apply(kubectl, apf.apf("PriorityLevelConfiguration", ballast, heavy))
        apf.apply(kubectl, apf.apf("PriorityLevelConfiguration", level, apf.rejecting_level(1)))
        apf.apply(kubectl, apf.apf("FlowSchema", level, schema))
        wait_for(
            lambda: (
                metric_sum(
                    control_plane.plane, "apiserver_flowcontrol_nominal_limit_seats", priority_level=level
                )
                == THROTTLE_SEATS
            ),
            timeout=20,
            what=f"priority level {level} at {THROTTLE_SEATS} seats",
        )
        yield Throttle(kubeconfig, level)
    finally:
        kubectl("delete", "flowschema", level, "--ignore-not-found", check=False)
        kubectl("delete", "prioritylevelconfiguration", level, ballast, "--ignore-not-found", check=False)
        kubectl("delete", "clusterrolebinding", level, "--ignore-not-found", check=False)


def test_throttled_by_the_real_apiserver_429_the_operator_converges_without_tracebacks(
    control_plane: RunningControlPlane, namespace: str, tmp_path: Path, throttle: Throttle, seed: int
) -> None:
    """The 429s come from kube-apiserver itself (its flowcontrol rejected-requests counter for our
    priority level proves it), not from a proxy: APF is the real server's throttling. The operator
    must converge, log the throttling as one-line warnings, and keep every invariant."""
    rng = seeded(seed)
    kubeconfig = Path(control_plane.kubeconfig)
    # Up to two products each: a 429 may also land between two archive-Job creates of one pass.
    districts = plan_districts(rng, 5, [namespace], dates=DATES[:1], failing=0)
    create_objects(kubeconfig, districts)
    originals = snapshot_targets(kubeconfig, [namespace])
    log = tmp_path / "operator.log"
    config = operator_config(tmp_path / "config.yaml")
    keys = [d.key for d in districts]
    args = [
        "--namespace", namespace, "--claims-namespace", namespace, "--config", str(config),
        *clock_args(AcceleratedClock(MONDAY, FAST)),
    ]  # fmt: skip
    with (
        JobTimeline(kubeconfig, [namespace]) as timeline,
        PodFinisher(kubeconfig, [namespace], fails(districts), rng=rng),
        running_operator(throttle.kubeconfig, log, *args) as proc,
    ):
        wait_for(
            lambda: all_finished(kubeconfig, keys) or proc.poll() is not None,
            timeout=90,
            what="every rollover to finish under throttling",
        )
        assert proc.poll() is None, f"the operator exited ({proc.returncode})"
    rejected = metric_sum(
        control_plane.plane, "apiserver_flowcontrol_rejected_requests_total", priority_level=throttle.level
    )
    print(f"429s from the apiserver: {rejected:.0f}")
    assert rejected >= 1, "the apiserver never throttled the operator"
    violations = check_invariants(kubeconfig, keys, originals, timeline=timeline)
    _assert_clean(violations, seed, keep=(control_plane, namespace, tmp_path))
    noticed = [line for line in log.read_text().splitlines() if "429" in line or "Too many requests" in line]
    assert noticed, "the operator logged nothing about the throttling"
    tracebacks = scan_logs([log])
    if tracebacks:
        raise ProductBug(f"{len(tracebacks)} traceback(s) in the operator log:\n" + "\n".join(tracebacks[:5]))
