"""The opt-in local node (docs/local-node.md): a pod really runs, and stopping leaves nothing behind.

Never skipped: `scripts/bootstrap.sh` installs containerd and the other Debian packages and builds
the kubelet; where they are missing anyway (or not as root) every test here fails, naming them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from rollover.devcluster.controlplane import ControlPlane
from rollover.devcluster.node import BASE_IMAGE, NODE_NAME, Node, missing_prerequisites

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _node_prerequisites() -> None:
    """Fail, not skip, on a machine the node cannot run on: CI must prove the node every time."""
    if missing := missing_prerequisites():
        pytest.fail(
            f"the local node cannot start here: missing {', '.join(missing)} (run scripts/bootstrap.sh)"
        )


# Succeeds, with a termination message, only as uid 1000 on a read-only root filesystem.
_SCRIPT = (
    "test $(id -u) = 1000 && ! touch /probe 2>/dev/null && echo 'finished: 42 rows' >/dev/termination-log"
)

_IMAGE_SCRIPT = (
    "test $(id -u) = 10001 && ! touch /probe 2>/dev/null && rollover-job --help >/dev/null"
    " && psql --version >/dev/null"
    " && printf 'uid 10001, read-only root, rollover-job and psql present' >/dev/termination-log"
)

_POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "hello", "namespace": "default"},
    "spec": {
        "restartPolicy": "Never",
        "containers": [
            {
                "name": "hello",
                "image": BASE_IMAGE,
                "imagePullPolicy": "Never",
                "command": ["sh", "-c", _SCRIPT],
                "securityContext": {"runAsUser": 1000, "runAsNonRoot": True, "readOnlyRootFilesystem": True},
            }
        ],
    },
}


def _kubectl(plane: ControlPlane, *args: str, input: str | None = None) -> str:
    return subprocess.run(
        ["kubectl", f"--kubeconfig={plane.kubeconfig}", *args],
        input=input,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout


def _wait_for_phase(plane: ControlPlane, name: str, phases: tuple[str, ...]) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    pod: dict[str, Any] = {}
    while time.monotonic() < deadline:
        pod = json.loads(_kubectl(plane, "get", "pod", name, "-n", "default", "-o", "json"))
        if pod["status"].get("phase") in phases:
            break
        time.sleep(0.5)
    return pod


def _pids_in_cgroups(node: Node) -> set[int]:
    pattern = f"*/{node.layout.cgroup_root.lstrip('/')}/**/cgroup.procs"
    return {int(pid) for procs in Path("/sys/fs/cgroup").glob(pattern) for pid in procs.read_text().split()}


def _assert_nothing_left(node: Node, tmp_path: Path) -> None:
    assert node.running_components() == []
    assert str(tmp_path.resolve()) not in Path("/proc/self/mountinfo").read_text()
    assert not Path(f"/sys/class/net/{node.layout.bridge}").exists()
    assert not list(Path("/sys/fs/cgroup").glob(f"*/{node.layout.cgroup_root.lstrip('/')}"))
    nat = subprocess.run(["iptables", "-t", "nat", "-S"], capture_output=True, text=True, check=True).stdout
    assert node.layout.nat_comment not in nat  # the kubernetes Service's rule went with the bridge


def test_a_pod_runs_on_the_node_and_stopping_leaves_nothing_behind(tmp_path: Path) -> None:
    plane = ControlPlane(tmp_path / "plane")
    plane.start()
    node = Node(plane)
    try:
        node.start()
        _kubectl(plane, "apply", "-f", "-", input=json.dumps(_POD))
        pod = _wait_for_phase(plane, "hello", ("Succeeded", "Failed"))
        assert pod["status"].get("phase") == "Succeeded", pod["status"]
        assert pod["spec"]["nodeName"] == NODE_NAME
        terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
        assert terminated["message"] == "finished: 42 rows\n"  # written by the kubelet, not by a test
    finally:
        node.stop()
        plane.stop()
    _assert_nothing_left(node, tmp_path)


def test_the_projects_image_runs_as_non_root_on_a_read_only_root(tmp_path: Path) -> None:
    plane = ControlPlane(tmp_path / "plane")
    plane.start()
    node = Node(plane)
    try:
        node.start()
        assert node.project_image is not None  # built from this checkout's Dockerfile
        # As the chart runs it: no securityContext user given, so the image's USER must be non-root.
        pod = {
            **_POD,
            "metadata": {"name": "image", "namespace": "default"},
            "spec": {
                "restartPolicy": "Never",
                "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [
                    {
                        "name": "image",
                        "image": node.project_image,
                        "imagePullPolicy": "IfNotPresent",
                        "command": ["sh", "-c", _IMAGE_SCRIPT],
                        "securityContext": {
                            "readOnlyRootFilesystem": True,
                            "allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"]},
                        },
                    }
                ],
            },
        }
        _kubectl(plane, "apply", "-f", "-", input=json.dumps(pod))
        done = _wait_for_phase(plane, "image", ("Succeeded", "Failed"))
        terminated = done["status"]["containerStatuses"][0]["state"]["terminated"]
        assert done["status"].get("phase") == "Succeeded", terminated
        assert terminated["message"] == "uid 10001, read-only root, rollover-job and psql present"
    finally:
        node.stop()
        plane.stop()
    _assert_nothing_left(node, tmp_path)


def test_stopping_after_containerd_and_the_kubelet_were_killed_still_leaves_nothing(tmp_path: Path) -> None:
    plane = ControlPlane(tmp_path / "plane")
    plane.start()
    node = Node(plane)
    try:
        node.start()
        sleeper = {**_POD, "metadata": {"name": "sleeper", "namespace": "default"}}
        container = {**_POD["spec"]["containers"][0], "command": ["sleep", "3600"]}
        sleeper["spec"] = {**_POD["spec"], "containers": [container]}
        _kubectl(plane, "apply", "-f", "-", input=json.dumps(sleeper))
        assert _wait_for_phase(plane, "sleeper", ("Running",))["status"]["phase"] == "Running"
        containers = _pids_in_cgroups(node)
        assert containers  # the sandbox's catatonit and the sleep
        processes = json.loads((node.layout.root / "state.json").read_text())["processes"]
        for name in ("containerd", "kubelet"):  # a crash: no chance to clean up
            os.kill(processes[name]["pid"], signal.SIGKILL)
    finally:
        node.stop()
        plane.stop()
    _assert_nothing_left(node, tmp_path)
    for pid in containers:  # gone, or a zombie waiting for init
        status = Path(f"/proc/{pid}/status")
        assert not status.exists() or "\nState:\tZ" in status.read_text()
