"""Two replicas with Lease leader election on the real control plane: one acts, the other stands by;
a killed leader is replaced within the lease, a stopped one at once, and nothing is done twice.

Real faults: the leader's Lease requests throttled (429) by the apiserver's own API Priority and
Fairness, and kube-apiserver restarted with both replicas elected. Every run ends with the
single-writer check (rollover.devcluster.leadership): each write lies within its author's acting
interval, and no two replicas' acting intervals overlap."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from rollover.controller.leader import Timing
from rollover.devcluster import apf
from rollover.devcluster.leadership import check_single_writer, log_time, read_replicas
from rollover.devcluster.metrics import metric_sum
from tests.conftest import RunningControlPlane
from tests.integration.kube import Kube, operator, rollover_doc, wait_for

pytestmark = pytest.mark.integration

LABELS = {"district": "springfield"}
ARCHIVE = "rostering.k12.dev/step=archive"
RESET = "rostering.k12.dev/step=reset"
LEASE_S = 4.0


@pytest.fixture
def kube(control_plane: RunningControlPlane, namespace: str) -> Kube:
    return Kube(control_plane, namespace)


def elected(kube: Kube, lease: str) -> list[str]:
    """Arguments for a replica campaigning for `lease` in the test's namespace."""
    return [
        "--leader-elect",
        f"--leader-election-namespace={kube.ns}",
        f"--leader-election-id={lease}",
        f"--lease-seconds={LEASE_S}",
    ]


def holder(kube: Kube, lease: str) -> str | None:
    done = kube.run("get", "lease", lease, "-o", "json", check=False)
    return json.loads(done.stdout)["spec"].get("holderIdentity") if done.returncode == 0 else None


def reconciled_by(log: Path) -> bool:
    """Whether this replica acted: the reconciler logs every action it applies."""
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return any(line["logger"] == "rollover.controller.reconciler" and "rollover" in line for line in lines)


def test_only_the_leader_acts_and_a_killed_leader_is_replaced_within_the_lease(
    control_plane: RunningControlPlane, kube: Kube, tmp_path: Path
) -> None:
    kube.cronjob("clever-sync", LABELS)
    kube.apply(rollover_doc(kube.ns))
    logs = {name: tmp_path / f"{name}.log" for name in ("a", "b")}
    with (
        operator(control_plane, kube.ns, logs["a"], extra=elected(kube, "ha")) as a,
        operator(control_plane, kube.ns, logs["b"], extra=elected(kube, "ha")) as b,
    ):
        leader_identity = wait_for(lambda: holder(kube, "ha"), what="a leader")
        kube.wait_phase("springfield", "Archiving")
        wait_for(lambda: len(kube.items("pods", "-l", ARCHIVE)) == 2, what="archive pods")
        leader, standby = (a, b) if "leading" in logs["a"].read_text() else (b, a)
        standby_log = logs["b"] if standby is b else logs["a"]
        assert not reconciled_by(standby_log), "the standby acted"
        assert "leader election: leading" not in standby_log.read_text()

        killed_at = time.monotonic()
        leader.send_signal(signal.SIGKILL)
        leader.wait()
        wait_for(
            lambda: holder(kube, "ha") not in (None, leader_identity), timeout=3 * LEASE_S, what="takeover"
        )
        gap = time.monotonic() - killed_at
        assert gap < LEASE_S + 3, f"failover took {gap:.1f}s with a {LEASE_S}s lease"

        kube.finish_pods(ARCHIVE)
        wait_for(lambda: len(kube.items("pods", "-l", RESET)) == 2, what="reset pods")
        kube.finish_pods(RESET)
        kube.wait_phase("springfield", "Completed")
        assert reconciled_by(standby_log)
    names = [j["metadata"]["name"] for j in kube.items("jobs")]
    assert len(names) == len(set(names)) == 6, names  # preflight, archive, reset; two products
    assert not kube.get("cronjob", "clever-sync")["spec"].get("suspend")
    assert_single_writer(logs)


def test_a_stopped_leader_hands_over_at_once(
    control_plane: RunningControlPlane, kube: Kube, tmp_path: Path
) -> None:
    kube.apply(rollover_doc(kube.ns))
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    with operator(control_plane, kube.ns, first_log, extra=elected(kube, "handover")) as first:
        first_identity = wait_for(lambda: holder(kube, "handover"), what="a leader")
        with operator(control_plane, kube.ns, second_log, extra=elected(kube, "handover")):
            wait_for(lambda: "campaigning" in second_log.read_text(), what="the second replica")
            stopped_at = time.monotonic()
            first.send_signal(signal.SIGINT)  # a rolling update: graceful stop releases the lease
            first.wait(timeout=15)
            wait_for(lambda: holder(kube, "handover") not in (None, first_identity), what="handover")
            assert time.monotonic() - stopped_at < LEASE_S, "waited for the lease to expire"
            assert "released lease" in first_log.read_text()
    assert_single_writer({"first": first_log, "second": second_log})


def assert_single_writer(logs: dict[str, Path]) -> None:
    """Both replicas wrote, never while the other was acting, never outside their own leadership."""
    replicas = read_replicas(logs)
    violations = check_single_writer(replicas)
    assert not violations, "\n".join(violations)
    print({r.name: (len(r.intervals), len(r.writes)) for r in replicas})


def log_lines(log: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def when(log: Path, message: str) -> float:
    """Epoch time of the first line of `log` whose message starts with `message`."""
    return next(log_time(line) for line in log_lines(log) if line["message"].startswith(message))


def run_to_completion(kube: Kube) -> None:
    """Finish the archive pods, then the reset pods: whoever leads by then completes the rollover."""
    kube.finish_pods(ARCHIVE)
    wait_for(lambda: len(kube.items("pods", "-l", RESET)) == 2, what="reset pods")
    kube.finish_pods(RESET)
    kube.wait_phase("springfield", "Completed")


def test_a_leader_throttled_429_on_its_lease_stops_before_the_lease_expires_and_never_overlaps(
    control_plane: RunningControlPlane, kube: Kube, tmp_path: Path
) -> None:
    """Replica A runs as a ServiceAccount; once it leads and has acted, a FlowSchema sends only its
    `leases` requests to a priority level with no seats, so the real apiserver rejects every renewal
    (429) while all its other requests go through. A must log the 429s (no traceback), stop acting
    within the renew deadline and exit non-zero; B (the exempt admin) takes over after the lease."""
    kube.cronjob("clever-sync", LABELS)
    kube.apply(rollover_doc(kube.ns))
    suffix = uuid.uuid4().hex[:6]
    level = f"lease-throttle-{suffix}"
    kubectl = control_plane.kubectl
    logs = {name: tmp_path / f"{name}.log" for name in ("a", "b")}
    identity = apf.admin_service_account(
        control_plane.plane, kubectl, kube.ns, "throttled-leader", level, tmp_path / "a.kubeconfig"
    )
    try:
        with (
            contextlib.ExitStack() as stack,
            operator(control_plane, kube.ns, logs["a"], extra=elected(kube, "ha"), kubeconfig=identity) as a,
        ):
            wait_for(lambda: "leader election: leading" in logs["a"].read_text(), what="A to lead")
            with operator(control_plane, kube.ns, logs["b"], extra=elected(kube, "ha")):
                wait_for(lambda: "campaigning" in logs["b"].read_text(), what="B to stand by")
                wait_for(lambda: len(kube.items("pods", "-l", ARCHIVE)) == 2, what="A's archive pods")
                apf.apply(kubectl, apf.apf("PriorityLevelConfiguration", level, apf.rejecting_level(0)))
                schema = apf.service_account_schema(
                    level, kube.ns, "throttled-leader", [apf.LEASES], non_resource=False
                )
                apf.apply(kubectl, apf.apf("FlowSchema", level, schema))
                hog = stack.enter_context(
                    apf.SeatHog(
                        control_plane.plane,
                        apf.kubeconfig_token(identity),
                        f"/apis/coordination.k8s.io/v1/namespaces/{kube.ns}/leases",
                    )
                )
                code = wait_for(lambda: a.poll() is not None and [a.returncode], timeout=20, what="A to stop")
                assert code != [0], "A stopped as if asked to, not because it lost its lease"
                b_identity = read_replicas({"b": logs["b"]})[0].identity
                wait_for(lambda: holder(kube, "ha") == b_identity, timeout=3 * LEASE_S, what="B to take over")
                wait_for(lambda: "leader election: leading" in logs["b"].read_text(), what="B to lead")
                run_to_completion(kube)
    finally:
        kubectl("delete", "flowschema", level, "--ignore-not-found", check=False)
        kubectl("delete", "prioritylevelconfiguration", level, "--ignore-not-found", check=False)
        kubectl("delete", "clusterrolebinding", level, "--ignore-not-found", check=False)
    rejected = metric_sum(
        control_plane.plane, "apiserver_flowcontrol_rejected_requests_total", priority_level=level
    )
    assert rejected >= 1, "the apiserver never throttled the Lease requests"
    renewals = [
        line["message"]
        for line in log_lines(logs["a"])
        if line["message"].startswith("leader election: lease")
    ]
    throttled = [m for m in renewals if "429" in m or "too many" in m.lower()]
    assert throttled, "A logged no 429 on its Lease"
    first_429, lost = (
        when(logs["a"], "leader election: lease"),
        when(logs["a"], "leader election: lost lease"),
    )
    # The last renewal was at most one retry before the first 429: A stopped before its lease expired.
    assert lost - first_429 < LEASE_S - Timing(LEASE_S).retry_s, f"A kept acting {lost - first_429:.1f}s"
    assert log_lines(logs["a"])[-1]["time"] < min(
        line["time"]
        for line in log_lines(logs["b"])
        if line["message"].startswith("leader election: leading")
    ), "A was still running when B took over"
    print(f"{rejected:.0f} lease requests rejected ({hog.rejected} of them the hog's)")
    print(f"A stopped {lost - first_429:.2f}s after its first 429")
    assert_single_writer(logs)


def test_apiserver_restarted_with_two_replicas_elected_exactly_one_leads_after(
    control_plane: RunningControlPlane, kube: Kube, tmp_path: Path
) -> None:
    """kube-apiserver killed and restarted (~12 s) while two replicas renew and stand by: a leader
    that cannot renew stops (and, as its Deployment would, is started again as a standby); after
    the restart exactly one replica leads, the rollover completes, nothing overlaps."""
    kube.cronjob("clever-sync", LABELS)
    kube.apply(rollover_doc(kube.ns))
    logs: dict[str, Path] = {name: tmp_path / f"{name}.log" for name in ("a", "b")}
    with contextlib.ExitStack() as replicas:
        procs = {
            name: replicas.enter_context(operator(control_plane, kube.ns, log, extra=elected(kube, "ha")))
            for name, log in logs.items()
        }
        wait_for(lambda: holder(kube, "ha"), what="a leader")
        wait_for(lambda: len(kube.items("pods", "-l", ARCHIVE)) == 2, what="archive pods")
        restarted_at = time.time()
        control_plane.plane.restart_apiserver(down_for=1.0)
        wait_for(
            lambda: kube.run("get", "districtrollovers", check=False).returncode == 0,
            what="the restarted apiserver to serve DistrictRollovers",
        )
        for name, proc in list(procs.items()):  # the Deployment restarts a replica that stopped
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.1)
            if proc.poll() is not None:
                assert proc.returncode != 0, f"{name} exited 0 after the restart"
                again = tmp_path / f"{name}-again.log"
                logs[f"{name}-again"] = again
                procs[f"{name}-again"] = replicas.enter_context(
                    operator(control_plane, kube.ns, again, extra=elected(kube, "ha"))
                )
        live = {name: log for name, log in logs.items() if procs[name].poll() is None}
        assert len(live) == 2, live

        def one_leader() -> str | None:
            leading = [r for r in read_replicas(live) if r.leading]
            return (
                leading[0].identity
                if len(leading) == 1 and leading[0].identity == holder(kube, "ha")
                else None
            )

        wait_for(one_leader, timeout=4 * LEASE_S, what="exactly one leader after the restart")
        run_to_completion(kube)
        leaders = [r.name for r in read_replicas(live) if r.leading]
        assert len(leaders) == 1, f"after the restart: {leaders} lead"
        stopped = [name for name in logs if "lost lease" in logs[name].read_text()]
        print(f"restart at {restarted_at:.0f}; stopped by it: {stopped}; leading after: {leaders}")
    names = [j["metadata"]["name"] for j in kube.items("jobs")]
    assert len(names) == len(set(names)) == 6, names  # preflight, archive, reset; two products
    assert_single_writer(logs)
