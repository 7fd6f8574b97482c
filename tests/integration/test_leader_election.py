"""Two replicas with Lease leader election on the real control plane: one acts, the other stands by;
a killed leader is replaced within the lease, a stopped one at once, and nothing is done twice."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

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
    assert len(names) == len(set(names)) == 4, names
    assert not kube.get("cronjob", "clever-sync")["spec"].get("suspend")


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
