"""The harness gives a real apiserver: RBAC on, Jobs run by the controller-manager, CRDs served."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import RunningControlPlane
from tests.integration.kube import rollover_doc

pytestmark = pytest.mark.integration


def test_rbac_refuses_a_service_account_without_a_role(
    control_plane: RunningControlPlane, namespace: str, tmp_path: Path
) -> None:
    control_plane.kubectl("-n", namespace, "create", "serviceaccount", "nobody")
    token = control_plane.kubectl("-n", namespace, "create", "token", "nobody").stdout.strip()
    # A kubeconfig with only that token (no admin certificate): authenticated, then refused by RBAC.
    as_nobody = tmp_path / "nobody.kubeconfig"
    as_nobody.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "c",
                "clusters": [
                    {
                        "name": "c",
                        "cluster": {
                            "server": control_plane.plane.server,
                            "certificate-authority": str(control_plane.plane.pki.ca_cert),
                        },
                    }
                ],
                "users": [{"name": "u", "user": {"token": token}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u", "namespace": namespace}}],
            }
        )
    )
    refused = subprocess.run(
        ["kubectl", "--kubeconfig", str(as_nobody), "get", "districtrollovers"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode != 0
    assert "forbidden" in refused.stderr.lower()
    assert f"system:serviceaccount:{namespace}:nobody" in refused.stderr


def test_a_districtrollover_round_trips_through_the_apiserver(
    control_plane: RunningControlPlane, namespace: str
) -> None:
    doc = rollover_doc(namespace)
    control_plane.kubectl("apply", "-f", "-", input=json.dumps(doc))
    read = json.loads(
        control_plane.kubectl("-n", namespace, "get", "dro", "springfield", "-o", "json").stdout
    )
    assert read["spec"]["districtId"] == doc["spec"]["districtId"]
    assert read["spec"]["resetDate"] == "2027-07-16"
    assert read["spec"]["pause"]["businessDaysBefore"] == 1  # defaulted by the CRD schema


def test_a_job_completes_when_its_pod_is_marked_succeeded(
    control_plane: RunningControlPlane, namespace: str
) -> None:
    control_plane.kubectl("-n", namespace, "create", "job", "j", "--image=example.invalid/x", "--", "true")
    pod = _wait_for(
        lambda: control_plane.kubectl(
            "-n", namespace, "get", "pods", "-l", "job-name=j", "-o", "name"
        ).stdout.strip()
    )
    control_plane.kubectl(
        "-n",
        namespace,
        "patch",
        pod,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": {"phase": "Succeeded"}}),
    )
    assert _wait_for(
        lambda: (
            control_plane.kubectl(
                "-n", namespace, "get", "job", "j", "-o", "jsonpath={.status.succeeded}"
            ).stdout
            == "1"
        )
    )


def _wait_for(probe, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")
