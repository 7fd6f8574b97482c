"""The harness gives a real apiserver: RBAC on, Jobs run by the controller-manager, CRDs served."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import RunningControlPlane

pytestmark = pytest.mark.integration


def test_rbac_refuses_a_service_account_without_a_role(control_plane: RunningControlPlane, namespace: str) -> None:
    control_plane.kubectl("-n", namespace, "create", "serviceaccount", "nobody")
    token = control_plane.kubectl("-n", namespace, "create", "token", "nobody").stdout.strip()
    # A real bearer token, authenticated by the apiserver, then refused by RBAC.
    refused = control_plane.kubectl(
        "--token", token, "--user", "", "-n", namespace, "get", "districtrollovers", check=False
    )
    assert refused.returncode != 0
    assert "forbidden" in refused.stderr.lower()
    assert f"system:serviceaccount:{namespace}:nobody" in refused.stderr


def test_a_job_completes_when_its_pod_is_marked_succeeded(
    control_plane: RunningControlPlane, namespace: str
) -> None:
    control_plane.kubectl("-n", namespace, "create", "job", "j", "--image=example.invalid/x", "--", "true")
    pod = _wait_for(lambda: control_plane.kubectl(
        "-n", namespace, "get", "pods", "-l", "job-name=j", "-o", "name").stdout.strip())
    control_plane.kubectl(
        "-n", namespace, "patch", pod, "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": {"phase": "Succeeded"}}),
    )
    assert _wait_for(lambda: control_plane.kubectl(
        "-n", namespace, "get", "job", "j", "-o", "jsonpath={.status.succeeded}").stdout == "1")


def _wait_for(probe, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")
