"""Trust boundaries on the real control plane: what anyone who can write Jobs, pods or CronJobs in a
district's namespace cannot make the operator do. Labels and annotations there are forgeable; the
operator trusts only controller references to UIDs and its own status."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from rollover.api.models import Step
from rollover.labels import (
    LABEL_ATTEMPT,
    LABEL_PRODUCT,
    LABEL_ROLLOVER,
    LABEL_SCHOOL_YEAR,
    LABEL_STEP,
    ORIGINAL_STATE_ANNOTATION,
)
from rollover.observed import OriginalState
from rollover.planner import job_name
from tests.conftest import RunningControlPlane
from tests.integration.kube import Kube, condition, operator, rollover_doc, wait_for

pytestmark = pytest.mark.integration

DISTRICT = "IL-0631950"
YEAR = "2026-2027"
PRODUCT = "imagine-math"
LABELS = {"district": "springfield"}
ARCHIVE = "rostering.k12.dev/step=archive"
FORGED = "forged=true"


@pytest.fixture
def kube(control_plane: RunningControlPlane, namespace: str) -> Kube:
    kube = Kube(control_plane, namespace)
    # The namespace says which districts it serves (the operator will insist on it).
    kube.run("annotate", "namespace", namespace, f"rostering.k12.dev/districts={DISTRICT}")
    return kube


def forged_job(kube: Kube, name: str, step: Step, owners: list[dict[str, Any]] | None = None) -> None:
    """A Job carrying every label of the operator's own for springfield's `step`, made by someone else;
    its pods are labelled forged=true."""
    labels = {
        LABEL_ROLLOVER: "springfield",
        LABEL_STEP: step.value,
        LABEL_PRODUCT: PRODUCT,
        LABEL_SCHOOL_YEAR: YEAR,
        LABEL_ATTEMPT: "0",
    }
    body = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": labels, "ownerReferences": owners or []},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": {"forged": "true"}},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "containers": [{"name": "fake", "image": "example.invalid/fake"}],
                },
            },
        },
    }
    assert kube.apply(body).returncode == 0


def succeed_forged_jobs(kube: Kube, count: int) -> None:
    """Finish the forged Jobs' pods (there is no kubelet) and wait until Kubernetes calls them Complete."""
    wait_for(lambda: len(kube.items("pods", "-l", FORGED)) == count, what="the forged Jobs' pods")
    kube.finish_pods(FORGED, message={"rows": 0, "manifest": "file:///nowhere"})

    def complete() -> bool:
        jobs = [j for j in kube.items("jobs") if not owned_by_rollover(j)]
        return len(jobs) == count and all(j.get("status", {}).get("succeeded") for j in jobs)

    wait_for(complete, what="the forged Jobs to succeed")


def owned_by_rollover(body: dict[str, Any]) -> bool:
    return any(o["kind"] == "DistrictRollover" for o in body["metadata"].get("ownerReferences") or [])


def our_jobs(kube: Kube, step: Step) -> list[dict[str, Any]]:
    return [j for j in kube.items("jobs", "-l", f"{LABEL_STEP}={step.value}") if owned_by_rollover(j)]


def event_reasons(kube: Kube) -> list[str]:
    return [e["reason"] for e in kube.items("events", "--field-selector", "involvedObject.name=springfield")]


def test_forged_succeeded_jobs_with_our_labels_do_not_complete_the_rollover(
    control_plane: RunningControlPlane, kube: Kube, tmp_path: Path
) -> None:
    kube.cronjob("clever-sync", LABELS)
    forged = {f"springfield-{step.value}-done": step for step in (Step.PREFLIGHT, Step.ARCHIVE, Step.RESET)}
    for name, step in forged.items():
        forged_job(kube, name, step)
    succeed_forged_jobs(kube, len(forged))
    kube.apply(rollover_doc(kube.ns, products=[PRODUCT]))

    with operator(control_plane, kube.ns, tmp_path / "operator.log"):
        kube.wait_phase("springfield", "Archiving")
        wait_for(lambda: our_jobs(kube, Step.ARCHIVE), what="the operator's own archive Job")
        time.sleep(1.5)  # fifteen simulated hours: the forged "archive succeeded" must not move it
        rollover = kube.rollover("springfield")
        assert rollover["status"]["phase"] == "Archiving"
        recorded = {j["name"] for j in rollover["status"]["jobs"]}
        assert not recorded & set(forged), "no forged Job (preflight included) is recorded as a step of ours"
        assert our_jobs(kube, Step.PREFLIGHT), "the preflight that ran is the operator's own"
        assert [j["name"] for j in rollover["status"]["jobs"] if j["step"] != "preflight"] == [
            job_name("springfield", YEAR, Step.ARCHIVE, PRODUCT, 0)
        ]
        assert not our_jobs(kube, Step.RESET), "no reset before the operator's own archive succeeded"

        wait_for(lambda: kube.finish_pods(ARCHIVE), what="the real archive pod finished")
        kube.wait_phase("springfield", "Resetting")
        time.sleep(1.5)
        assert kube.phase("springfield") == "Resetting", "the forged reset Job does not count either"
        assert our_jobs(kube, Step.RESET)


def test_a_foreign_job_with_our_name_stalls_the_rollover_and_no_reset_job_is_created(
    control_plane: RunningControlPlane, kube: Kube, tmp_path: Path
) -> None:
    kube.cronjob("clever-sync", LABELS)
    name = job_name("springfield", YEAR, Step.ARCHIVE, PRODUCT, 0)
    forged_job(kube, name, Step.ARCHIVE)
    succeed_forged_jobs(kube, 1)
    kube.apply(rollover_doc(kube.ns, products=[PRODUCT]))

    with operator(control_plane, kube.ns, tmp_path / "operator.log"):
        wait_for(
            lambda: condition(kube.rollover("springfield"), "Stalled").get("reason") == "JobNameTaken",
            what="Stalled=JobNameTaken",
        )
        time.sleep(1.5)
        rollover = kube.rollover("springfield")
        stalled = condition(rollover, "Stalled")
        assert stalled["status"] == "True"
        assert name in stalled["message"] and "delete or rename" in stalled["message"]
        assert rollover["status"]["phase"] == "Archiving"
        assert not our_jobs(kube, Step.ARCHIVE) and not our_jobs(kube, Step.RESET)
        assert event_reasons(kube).count("JobNameTaken") == 1
        assert kube.get("cronjob", "clever-sync")["spec"]["suspend"], "roster sync stays paused"

        # Background: the Job goes at once (its pods follow via the garbage collector; they are not
        # controlled by the Job the operator then creates, so they are never read). A foreground
        # delete waits for that collector, which a loaded 2-core CI machine can keep busy for minutes.
        kube.run("delete", "job", name, "--cascade=background", "--wait=true")
        wait_for(
            lambda: our_jobs(kube, Step.ARCHIVE), what="the operator's own archive Job, once the name is free"
        )
        created = our_jobs(kube, Step.ARCHIVE)[0]
        assert created["metadata"]["ownerReferences"][0]["uid"] == rollover["metadata"]["uid"]
        wait_for(
            lambda: condition(kube.rollover("springfield"), "Stalled").get("status") == "False",
            what="the stall to clear",
        )


def test_only_our_job_s_own_pods_are_read_and_they_run_without_an_api_token_and_with_a_ttl(
    control_plane: RunningControlPlane, kube: Kube, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("jobTtlSecondsAfterFinished: 3600\n")
    decoy = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "decoy"}}
    assert kube.apply(decoy).returncode == 0
    decoy_uid = kube.get("configmap", "decoy")["metadata"]["uid"]
    kube.cronjob("clever-sync", LABELS)
    kube.apply(rollover_doc(kube.ns, products=[PRODUCT]))

    with operator(control_plane, kube.ns, tmp_path / "operator.log", config=config):
        kube.wait_phase("springfield", "Archiving")
        wait_for(lambda: kube.items("pods", "-l", ARCHIVE), what="the archive pod")
        job = our_jobs(kube, Step.ARCHIVE)[0]
        assert job["spec"]["ttlSecondsAfterFinished"] == 3600
        assert job["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
        pod = kube.items("pods", "-l", ARCHIVE)[0]
        assert pod["spec"]["automountServiceAccountToken"] is False
        assert not any(v.get("projected") for v in pod["spec"].get("volumes") or []), "no token volume"

        # Two pods made to pass for the Job's: one by its job-name label, one by both its labels but
        # controlled by something else. Both finish, with a forged result, and list after the real one.
        uid = job["metadata"]["uid"]
        impostors = [
            ({"job-name": job["metadata"]["name"]}, []),
            (
                {"job-name": job["metadata"]["name"], "batch.kubernetes.io/controller-uid": uid},
                [
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "name": "decoy",
                        "uid": decoy_uid,
                        "controller": True,
                    }
                ],
            ),
        ]
        for i, (labels, owners) in enumerate(impostors):
            pod_doc = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"zz-impostor-{i}",
                    "labels": labels | {"forged": "true"},
                    "ownerReferences": owners,
                },
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "containers": [{"name": "archive", "image": "example.invalid/fake"}],
                },
            }
            assert kube.apply(pod_doc).returncode == 0
        assert kube.finish_pods(FORGED, message={"rows": 999999, "manifest": "file:///forged"}) == 2

        kube.finish_pods(ARCHIVE, message={"rows": 7, "manifest": "file:///archive/manifest.json"})
        resetting = kube.wait_phase("springfield", "Resetting")
        results = [
            j.get("result") for j in resetting["status"]["jobs"] if j["name"] == job["metadata"]["name"]
        ]
        assert results == [{"rows": 7, "manifest": "file:///archive/manifest.json"}]


def test_an_original_state_annotation_we_did_not_write_never_resumes_a_cronjob(
    control_plane: RunningControlPlane, kube: Kube, tmp_path: Path
) -> None:
    forged = OriginalState("springfield", YEAR, suspend=False).to_annotation()
    kube.cronjob("clever-sync", LABELS)
    # Suspended by their owners; each claims we suspended it from active.
    kube.cronjob("legacy-sync", {"district": "retired"}, suspend=True)  # not selected
    kube.cronjob("held-sync", LABELS, suspend=True)  # selected
    for name in ("legacy-sync", "held-sync"):
        kube.run("annotate", "cronjob", name, f"{ORIGINAL_STATE_ANNOTATION}={forged}")
    kube.apply(rollover_doc(kube.ns, products=[PRODUCT]))

    with operator(control_plane, kube.ns, tmp_path / "operator.log"):
        kube.wait_phase("springfield", "Archiving")
        wait_for(lambda: kube.finish_pods(ARCHIVE), what="archive pod finished")
        kube.wait_phase("springfield", "Resetting")
        wait_for(lambda: kube.finish_pods("rostering.k12.dev/step=reset"), what="reset pod finished")
        done = kube.wait_phase("springfield", "Completed")

    assert kube.get("cronjob", "legacy-sync")["spec"]["suspend"] is True
    assert kube.get("cronjob", "held-sync")["spec"]["suspend"] is True
    assert kube.get("cronjob", "clever-sync")["spec"].get("suspend") is False, "what we paused is resumed"
    assert kube.get("cronjob", "legacy-sync")["metadata"]["annotations"][ORIGINAL_STATE_ANNOTATION] == forged
    records = {t["name"]: t for t in done["status"]["syncTargets"]}
    assert records["legacy-sync"]["state"] == "Ignored"
    assert records["held-sync"]["originalSuspend"] is True
    assert records["clever-sync"]["uid"] == kube.get("cronjob", "clever-sync")["metadata"]["uid"]
    ignored = [
        e
        for e in kube.items("events", "--field-selector", "involvedObject.name=springfield")
        if e["reason"] == "OriginalStateIgnored"
    ]
    assert sorted(e["message"].split()[1] for e in ignored) == ["held-sync", "legacy-sync"], "each said once"
    assert all(e["type"] == "Warning" for e in ignored)
