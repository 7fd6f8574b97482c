"""`kubectl rollover` found by kubectl on PATH, against the real apiserver. Statuses are written
through the status subresource, as the operator would write them (from the planner, see
tests/unit/test_health_lua.py), so no operator needs to run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rollover.api.models import DistrictRolloverStatus, dump
from tests.conftest import RunningControlPlane
from tests.integration.kube import Kube
from tests.unit.test_health_lua import STATUSES, rollover_in

pytestmark = pytest.mark.integration

RETRY = "rostering.k12.dev/retry"


def kubectl_rollover(control_plane: RunningControlPlane, *args: str) -> subprocess.CompletedProcess[str]:
    """`kubectl rollover ...`: kubectl finds the `kubectl-rollover` console script on PATH."""
    env = control_plane.env() | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        ["kubectl", "rollover", *args], env=env, capture_output=True, text=True, check=False
    )


def create(kube: Kube, name: str, state: str, **spec: Any) -> None:
    """A DistrictRollover in `state`, its status written through the status subresource."""
    doc = rollover_in(state, **spec)
    doc["metadata"] = {"name": name, "namespace": kube.ns}
    doc.pop("status", None)
    assert kube.apply(doc).returncode == 0
    status = dump(STATUSES[state])
    if status != dump(DistrictRolloverStatus()):
        patch = json.dumps({"status": status})
        kube.run("patch", "districtrollover", name, "--subresource=status", "--type=merge", "-p", patch)


@pytest.fixture
def kube(control_plane: RunningControlPlane, namespace: str) -> Kube:
    kube = Kube(control_plane, namespace)
    create(kube, "springfield", "ArchiveFailed")
    create(kube, "shelbyville", "Scheduled", resetDate="2027-07-23", districtId="IL-0000001")
    return kube


def test_status_lists_every_rollover_with_next_step_and_blocker(
    control_plane: RunningControlPlane, kube: Kube
) -> None:
    done = kubectl_rollover(control_plane, "status", "-n", kube.ns)
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines()[1:]}
    assert "Failed" in rows["springfield"] and "ArchiveFailed: imagine-math" in rows["springfield"]
    assert "pause roster sync" in rows["shelbyville"] and "Thu 2027-07-15 00:00 CDT" in rows["shelbyville"]
    everywhere = kubectl_rollover(control_plane, "status", "-A")
    assert any(line.split()[:2] == [kube.ns, "springfield"] for line in everywhere.stdout.splitlines())


def test_status_of_one_rollover(control_plane: RunningControlPlane, kube: Kube) -> None:
    done = kubectl_rollover(control_plane, "status", "springfield", "-n", kube.ns)
    assert done.returncode == 0, done.stderr
    assert f"Rollover:    {kube.ns}/springfield" in done.stdout
    assert "Next:        retry the failed step, after `kubectl rollover retry springfield`" in done.stdout
    missing = kubectl_rollover(control_plane, "status", "nowhere", "-n", kube.ns)
    assert (
        missing.returncode == 1
        and 'districtrollovers.rostering.k12.dev "nowhere" not found' in missing.stderr
    )


def test_explain_shows_conditions_and_the_rollovers_events(
    control_plane: RunningControlPlane, kube: Kube
) -> None:
    uid = kube.rollover("springfield")["metadata"]["uid"]
    kube.run(
        "create",
        "-f",
        "-",
        input=json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": "springfield.archive-failed", "namespace": kube.ns},
                "involvedObject": {
                    "apiVersion": "rostering.k12.dev/v1alpha1",
                    "kind": "DistrictRollover",
                    "name": "springfield",
                    "namespace": kube.ns,
                    "uid": uid,
                },
                "type": "Warning",
                "reason": "ArchiveFailed",
                "message": "archive destination unreachable. Roster sync stays paused.",
                "lastTimestamp": "2027-07-16T06:00:00Z",
                "count": 1,
            }
        ),
    )
    done = kubectl_rollover(control_plane, "explain", "springfield", "-n", kube.ns)
    assert done.returncode == 0, done.stderr
    assert "Stalled=True (ArchiveFailed)" in done.stdout
    assert "-> An archive Job failed; nothing was deleted" in done.stdout
    assert "Fri 2027-07-16 01:00 CDT  Warning ArchiveFailed: archive destination unreachable" in done.stdout


def test_retry_sets_the_annotation_only_on_a_failed_rollover(
    control_plane: RunningControlPlane, kube: Kube
) -> None:
    done = kubectl_rollover(control_plane, "retry", "springfield", "-n", kube.ns)
    assert done.returncode == 0, done.stderr
    assert RETRY in kube.rollover("springfield")["metadata"]["annotations"]
    refused = kubectl_rollover(control_plane, "retry", "shelbyville", "-n", kube.ns)
    assert refused.returncode == 1 and "is Scheduled, not Failed" in refused.stderr
    assert RETRY not in (kube.rollover("shelbyville")["metadata"].get("annotations") or {})


def test_calendar_counts_the_namespace(control_plane: RunningControlPlane, kube: Kube) -> None:
    done = kubectl_rollover(control_plane, "calendar", "--month", "2027-07", "-n", kube.ns)
    assert done.returncode == 0, done.stderr
    days = {line.split()[0]: line.split()[1:3] for line in done.stdout.splitlines()[1:-1]}
    assert days == {
        "2027-07-15": ["1", "0"],
        "2027-07-16": ["0", "1"],
        "2027-07-22": ["1", "0"],
        "2027-07-23": ["0", "1"],
    }
    assert done.stdout.splitlines()[-1] == "2027-07: 2 pauses, 2 resets"
