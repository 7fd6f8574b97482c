"""Rollovers whose Jobs run as real pods of the project's image on the local node (docs/local-node.md):
preflight, archive, reset, certify and purge against the harness PostgreSQL and S3 on the node's host
address, their results read from termination messages the kubelet wrote, the certificate signed
with the key from a mounted Secret.

On the session's node (tests/integration/conftest.py). Never skipped (as test_local_node.py): where
the node cannot run, the tests fail naming what is missing.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from rollover.cli.main import main as rollover
from rollover.devcluster.chart import chart_values, installed_operator
from rollover.devcluster.node import BASE_IMAGE, NODE_NAME, Node
from rollover.devcluster.s3 import S3Endpoint
from tests.conftest import RunningControlPlane
from tests.integration.configs import CERTIFICATE_SECRET, JobsOnNode, create_certificate_secret
from tests.integration.conftest import DISTRICT, NODE_FENCE, let_pods_run_on_node
from tests.integration.kube import Kube, operator, rollover_doc, wait_for

LABELS = {"district": "springfield"}
#: A cycle already past on the wall clock, which the Jobs run on (a purge Job refuses to run before the
#: retention its certificate states has ended): the reset Friday 2026-07-17.
YEAR, RESET_DATE = "2025-2026", "2026-07-17"
#: Two simulated hours per real second from Tuesday 22:00: the preflight one business day before the
#: pause (Wednesday 00:00), the pause Thursday 2026-07-16 00:00 (13 s later), the reset on Friday.
CLOCK_START = "2026-07-14T22:00:00-05:00"
RATE = 7200
#: Kept two days after the reset (until Sunday): purged once Sunday ended everywhere (Monday 07:00 in
#: Chicago), 103 simulated hours (52 s) after the pause.
RETENTION_DAYS = 2
#: Every step of a cycle, each a Job whose pods the kubelet ran.
STEPS = {"preflight", "archive", "reset", "certify", "purge"}
#: `pod_store` seeds the cycle already past.
pytestmark = [pytest.mark.integration, pytest.mark.school_year(YEAR)]


def job_settings(jobs: JobsOnNode) -> dict[str, Any]:
    """The operator configuration: the Jobs on the node, a preflight, certificates and retention."""
    return {
        "defaultJob": jobs.default_job(),
        "preflight": {"businessDaysBefore": 1},
        "certificates": {"secretName": CERTIFICATE_SECRET},
        "archives": {"retentionDays": 30, "minRetentionDays": 1},
    }


def assert_completed_by_the_kubelet(kube: Kube, s3: S3Endpoint, public_key: Path, tmp_path: Path) -> None:
    """Every step's Job ran as a pod of the node, its result parsed from the termination message the
    kubelet reported; the certificates in S3 verify with the public key."""

    def purge_certified() -> dict[str, Any] | None:
        status = kube.rollover("springfield").get("status", {})
        assert status.get("phase") != "Failed", json.dumps(status.get("jobs"), indent=1)
        history = status.get("history") or [{}]
        return history[-1] if history[-1].get("purgeCertificate") else None

    entry = wait_for(purge_certified, timeout=240, what="the purge certified")
    rollover_status = kube.rollover("springfield")["status"]
    assert rollover_status["phase"] == "Completed"
    jobs = rollover_status["jobs"]
    assert {j["step"] for j in jobs} >= STEPS - {"purge"} and entry["purge"]["state"] == "Succeeded"
    assert all(j["state"] == "Succeeded" and j.get("result") for j in jobs), jobs
    pods = kube.items("pods", "-l", "rostering.k12.dev/step")
    assert {p["metadata"]["labels"]["rostering.k12.dev/step"] for p in pods} == STEPS
    for pod in pods:
        assert pod["spec"]["nodeName"] == NODE_NAME
        (container,) = pod["status"]["containerStatuses"]
        assert container["imageID"].startswith("sha256:")  # a kubelet's report, not a hand-written one
        terminated = container["state"]["terminated"]
        assert terminated["exitCode"] == 0 and json.loads(terminated["message"]), terminated
    fs = s3.filesystem()
    for link in (entry["certificate"], entry["purgeCertificate"]):
        local = tmp_path / Path(link["location"]).name
        fs.get_file(link["location"], str(local))
        assert rollover(["verify-certificate", str(local), "--public-key", str(public_key)]) == 0
    reset = {j["product"]: j["result"] for j in jobs if j["step"] == "reset"}
    assert all(sum(r["deleted"].values()) > 0 for r in reset.values()), reset


def prepared_district(control_plane: RunningControlPlane, namespace: str, keys: Path) -> tuple[Kube, Path]:
    """The district namespace with the certificate key's Secret and a sync CronJob; its Kube, and the
    public half of the key."""
    kube = Kube(control_plane, namespace)
    public = create_certificate_secret(kube, keys)
    kube.cronjob("clever-sync", LABELS)
    return kube, public


def district_rollover(namespace: str) -> dict[str, Any]:
    """The district's rollover of a cycle already past on the wall clock, kept RETENTION_DAYS."""
    return rollover_doc(namespace, schoolYear=YEAR, resetDate=RESET_DATE, retentionDays=RETENTION_DAYS)


def test_a_rollovers_jobs_run_as_pods_of_the_project_image_against_postgres_and_s3(
    control_plane: RunningControlPlane, jobs_on_node: JobsOnNode, s3: S3Endpoint, tmp_path: Path
) -> None:
    kube, public = prepared_district(control_plane, jobs_on_node.namespace, tmp_path / "keys")
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps(job_settings(jobs_on_node)))
    kube.apply(district_rollover(kube.ns))

    log = tmp_path / "operator.log"
    with operator(control_plane, kube.ns, log, clock_start=CLOCK_START, rate=RATE, config=config):
        assert_completed_by_the_kubelet(kube, s3, public, tmp_path)
    assert f"{DISTRICT}/{YEAR}" in json.dumps(kube.rollover("springfield")["status"]["certificate"])


def test_the_chart_installs_the_operator_as_a_locked_down_deployment_that_completes_a_rollover(
    control_plane: RunningControlPlane, jobs_on_node: JobsOnNode, s3: S3Endpoint, tmp_path: Path
) -> None:
    image = jobs_on_node.node.project_image
    assert image is not None
    kube, public = prepared_district(control_plane, jobs_on_node.namespace, tmp_path / "keys")
    values = chart_values(
        image,
        job_settings(jobs_on_node),
        namespaces=[kube.ns],
        clock=(CLOCK_START, RATE),
    )
    release = f"r{uuid.uuid4().hex[:8]}"
    control_plane.kubectl("create", "namespace", release)  # helm installs into it, its pods on the node
    let_pods_run_on_node(control_plane, release)
    with installed_operator(control_plane.plane, release, values, tmp_path) as release_namespace:
        ops = Kube(control_plane, release_namespace)
        (pod,) = ops.items("pods", "-l", f"app.kubernetes.io/instance={release}")
        assert pod["spec"]["nodeName"] == NODE_NAME
        (container,) = pod["status"]["containerStatuses"]
        assert container["ready"] and container["image"] == image  # the probes passed
        name = pod["metadata"]["name"]
        assert ops.run("exec", name, "--", "id", "-u").stdout.strip() == "10001"
        touch = ops.run("exec", name, "--", "touch", "/probe", check=False)
        assert touch.returncode != 0 and "Read-only file system" in touch.stderr

        kube.apply(district_rollover(kube.ns))
        assert_completed_by_the_kubelet(kube, s3, public, tmp_path)
        log = ops.run("logs", name).stdout
        assert "Traceback" not in log, log[-4000:]
    control_plane.kubectl("delete", "namespace", release_namespace, "--wait=false", check=False)


def test_the_node_runs_only_the_pods_of_node_namespaces(
    control_plane: RunningControlPlane, namespace: str, node: Node
) -> None:
    """The node fence (tests/integration/conftest.py): a pod of a test that completes pods by hand is
    never bound, while the same pod in a node test's namespace runs."""
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "fenced", "labels": {"fence": "probe"}},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {"name": "probe", "image": BASE_IMAGE, "imagePullPolicy": "Never", "command": ["true"]}
            ],
        },
    }
    fenced, served = Kube(control_plane, namespace), Kube(control_plane, f"{namespace}-node")
    control_plane.kubectl("create", "namespace", served.ns)
    let_pods_run_on_node(control_plane, served.ns)
    try:
        for kube in (fenced, served):
            assert kube.apply(pod).returncode == 0
        assert served.pods_run("fence=probe", 1)[0]["status"]["phase"] == "Succeeded"

        def refused() -> dict[str, Any] | None:
            conditions = fenced.get("pod", "fenced")["status"].get("conditions") or []
            unscheduled = [c for c in conditions if c["type"] == "PodScheduled" and c["status"] == "False"]
            return unscheduled[0] if unscheduled else None

        scheduled = wait_for(refused, timeout=30, what="the fenced pod's binding refused")
        assert NODE_FENCE in scheduled["message"], scheduled
        status = fenced.get("pod", "fenced")
        assert status["status"]["phase"] == "Pending" and not status["spec"].get("nodeName")
    finally:
        control_plane.kubectl("delete", "namespace", served.ns, "--wait=false", check=False)
