"""The reconciler on the real control plane: the operator runs as users run it, with a demo clock.
Where a test's rollover gets as far as its Jobs, they run as pods of the project's image on the
session's node against a seeded roster store and S3, and their failures are real ones."""

from __future__ import annotations

import datetime as dt
import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from rollover import FIELD_MANAGER
from rollover.devcluster.node import BASE_IMAGE
from rollover.devcluster.postgres import PostgresServer
from rollover.devcluster.s3 import S3Endpoint
from tests.conftest import RunningControlPlane
from tests.integration.configs import JobsOnNode, create_roster_secret
from tests.integration.kube import Kube, condition, operator, rollover_doc, wait_for

pytestmark = pytest.mark.integration

LABELS = {"district": "springfield"}
ARCHIVE = "rostering.k12.dev/step=archive"
RESET = "rostering.k12.dev/step=reset"
SYNC_POD = "job-name=clever-sync-manual"


@pytest.fixture
def kube(control_plane: RunningControlPlane, namespace: str) -> Kube:
    return Kube(control_plane, namespace)


def write_config(path: Path, default_job: dict[str, Any], *, preflight: bool = False) -> Path:
    """An operator configuration with these Jobs; the preflight's pods only where a test counts them."""
    path.write_text(json.dumps({"defaultJob": default_job, "preflight": {"enabled": preflight}}))
    return path


def suspend_of(kube: Kube, name: str) -> bool:
    return bool(kube.get("cronjob", name)["spec"].get("suspend"))


def test_full_rollover_pauses_archives_resets_and_restores_exactly(
    control_plane: RunningControlPlane, kube: Kube, jobs_on_node: JobsOnNode, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "config.yaml", jobs_on_node.default_job())
    kube.cronjob("clever-sync", LABELS)
    kube.cronjob("oneroster-nightly", LABELS, suspend=True)  # suspended by its owner: must stay so
    kube.cronjob("other-district", {"district": "shelbyville"})
    kube.deployment("csv-import", LABELS, replicas=2)
    assert kube.apply(rollover_doc(kube.ns)).returncode == 0

    with operator(control_plane, kube.ns, tmp_path / "operator.log", config=config):
        scheduled = kube.wait_phase("springfield", "Scheduled")
        assert scheduled["status"]["pauseAt"] == "2027-07-15T00:00:00-05:00"
        assert condition(scheduled, "Ready")["status"] == "True"
        assert scheduled["status"]["observedGeneration"] == scheduled["metadata"]["generation"]

        kube.wait_phase("springfield", "Paused")
        wait_for(lambda: suspend_of(kube, "clever-sync"), what="clever-sync suspended")
        wait_for(
            lambda: kube.get("deployment", "csv-import")["spec"]["replicas"] == 0, what="csv-import at 0"
        )
        assert not suspend_of(kube, "other-district")

        kube.wait_phase("springfield", "Archiving")
        archive_jobs = kube.items("jobs", "-l", ARCHIVE)
        assert sorted(j["metadata"]["labels"]["rostering.k12.dev/product"] for j in archive_jobs) == [
            "imagine-math",
            "twig-science",
        ]
        job = archive_jobs[0]
        assert job["metadata"]["ownerReferences"][0]["kind"] == "DistrictRollover"
        assert job["metadata"]["ownerReferences"][0]["controller"] is True
        env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert (
            env["DISTRICT_ID"] == "IL-0631950"
            and env["STEP"] == "archive"
            and env["RESET_DATE"] == "2027-07-16"
        )

        done = kube.wait_phase("springfield", "Completed", timeout=120)
        assert not suspend_of(kube, "clever-sync")
        assert suspend_of(kube, "oneroster-nightly"), "a CronJob we did not suspend is never resumed"
        assert kube.get("deployment", "csv-import")["spec"]["replicas"] == 2
        for name in ("clever-sync", "oneroster-nightly"):
            assert "rostering.k12.dev/original-state" not in (
                kube.get("cronjob", name)["metadata"].get("annotations") or {}
            )
        archived = {j["product"]: j["result"] for j in done["status"]["jobs"] if j["step"] == "archive"}
        assert {p: r["manifest"] for p, r in archived.items()} == {
            p: f"{jobs_on_node.archive}/IL-0631950/2026-2027/{p}/manifest.json"
            for p in ("imagine-math", "twig-science")
        }
        assert all(sum(r["rows"].values()) > 0 for r in archived.values()), archived
        last_archive = max(j["status"]["completionTime"] for j in kube.items("jobs", "-l", ARCHIVE))
        resets = kube.items("jobs", "-l", RESET)
        assert len(resets) == 2 and all(j["metadata"]["creationTimestamp"] >= last_archive for j in resets), (
            "no reset Job before every archive succeeded"
        )
        assert done["status"]["history"][0]["schoolYear"] == "2026-2027"
        assert condition(done, "Ready")["status"] == "True"
        reasons = {
            e["reason"] for e in kube.items("events", "--field-selector", "involvedObject.name=springfield")
        }
        assert {"SyncPaused", "ArchiveStarted", "ResetStarted", "RolloverCompleted"} <= reasons


def test_failed_archive_blocks_reset_keeps_sync_paused_and_retry_succeeds(
    control_plane: RunningControlPlane,
    kube: Kube,
    jobs_on_node: JobsOnNode,
    s3: S3Endpoint,
    pod_store: PostgresServer,
    tmp_path: Path,
) -> None:
    # A wrong key in the Secret: the archive fails for real, with backoffLimit 0.
    create_roster_secret(kube, pod_store, s3, AWS_SECRET_ACCESS_KEY="not-" + s3.secret_key)
    config = write_config(tmp_path / "config.yaml", jobs_on_node.default_job())
    kube.cronjob("clever-sync", LABELS)
    kube.apply(rollover_doc(kube.ns, products=["imagine-math"]))
    with operator(control_plane, kube.ns, tmp_path / "operator.log", config=config):
        failed = kube.wait_phase("springfield", "Failed", timeout=90)
        stalled = condition(failed, "Stalled")
        assert stalled["status"] == "True" and stalled["reason"] == "ArchiveFailed"
        # The cause, from the pod's termination message, is in the Job's record and in the condition
        # (not the job controller's "reached the specified backoff limit").
        (archive,) = [j for j in failed["status"]["jobs"] if j["step"] == "archive"]
        assert archive["name"] in stalled["message"], stalled
        cause = archive["result"]["error"]
        assert f"archive destination {jobs_on_node.archive} is unreachable" in cause, archive
        assert cause in stalled["message"] and "backoff limit" not in stalled["message"], stalled
        assert s3.secret_key not in json.dumps(failed["status"]), "status is read by everyone"
        time.sleep(1)  # ten simulated hours: nothing may move on its own
        assert not kube.items("jobs", "-l", RESET)
        assert suspend_of(kube, "clever-sync"), "syncs stay paused after a failure"

        create_roster_secret(kube, pod_store, s3)  # the fix, read by the retry's pod
        kube.run("annotate", "districtrollover", "springfield", "rostering.k12.dev/retry=1", "--overwrite")
        wait_for(lambda: len(kube.items("jobs", "-l", ARCHIVE)) == 2, what="a second archive attempt")
        kube.wait_phase("springfield", "Completed", timeout=120)
        assert not suspend_of(kube, "clever-sync")


def test_invalid_spec_is_reported_and_touches_nothing(
    control_plane: RunningControlPlane, kube: Kube, tmp_path: Path
) -> None:
    kube.cronjob("clever-sync", LABELS)
    # 2027-07-05 is the observed Independence Day: CEL can't know holidays, the operator does.
    assert kube.apply(rollover_doc(kube.ns, resetDate="2027-07-05")).returncode == 0
    with operator(control_plane, kube.ns, tmp_path / "operator.log", clock_start="2027-06-20T00:00:00-05:00"):
        wait_for(lambda: kube.rollover("springfield").get("status", {}).get("conditions"), what="status")
        rollover = kube.rollover("springfield")
        spec_valid = condition(rollover, "SpecValid")
        assert spec_valid["status"] == "False"
        assert "spec.resetDate" in spec_valid["message"]
        assert condition(rollover, "Stalled")["status"] == "True"
        time.sleep(2)  # past the would-be pause and reset
        assert not suspend_of(kube, "clever-sync")
        assert not kube.items("jobs")


def test_drift_is_repaired_and_deletion_during_the_pause_restores_sync(
    control_plane: RunningControlPlane, kube: Kube, tmp_path: Path
) -> None:
    kube.cronjob("clever-sync", LABELS)
    kube.apply(rollover_doc(kube.ns))
    # Start just after the pause, with a slow clock: the pause lasts all test long.
    with operator(
        control_plane, kube.ns, tmp_path / "operator.log", clock_start="2027-07-15T01:00:00-05:00", rate=1
    ):
        kube.wait_phase("springfield", "Paused")
        wait_for(lambda: suspend_of(kube, "clever-sync"), what="pause")
        kube.run("patch", "cronjob", "clever-sync", "--type=merge", "-p", '{"spec":{"suspend":false}}')
        wait_for(lambda: suspend_of(kube, "clever-sync"), what="drift repaired")
        kube.cronjob("late-arrival", LABELS)
        wait_for(lambda: suspend_of(kube, "late-arrival"), what="a new matching CronJob paused")
        reasons = [
            e["reason"] for e in kube.items("events", "--field-selector", "involvedObject.name=springfield")
        ]
        assert "DriftRepaired" in reasons

        kube.run("delete", "districtrollover", "springfield", "--wait=false")
        wait_for(
            lambda: kube.run("get", "districtrollover", "springfield", check=False).returncode != 0,
            what="the rollover to be gone",
        )
        assert not suspend_of(kube, "clever-sync")
        assert not suspend_of(kube, "late-arrival")


def test_killed_operator_and_a_second_replica_converge_without_duplicate_jobs(
    control_plane: RunningControlPlane, kube: Kube, jobs_on_node: JobsOnNode, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "config.yaml", jobs_on_node.default_job(), preflight=True)
    kube.cronjob("clever-sync", LABELS)
    kube.apply(rollover_doc(kube.ns))
    log = tmp_path / "operator.log"
    with operator(control_plane, kube.ns, log, config=config) as first:
        kube.wait_phase("springfield", "Archiving", timeout=30)
        first.send_signal(signal.SIGKILL)
        first.wait()
    # Two replicas at once (worst case: no peering): deterministic names make duplicates impossible.
    later = "2027-07-16T00:10:00-05:00"
    with (
        operator(control_plane, kube.ns, tmp_path / "a.log", clock_start=later, rate=1, config=config),
        operator(control_plane, kube.ns, tmp_path / "b.log", clock_start=later, rate=1, config=config),
    ):
        kube.wait_phase("springfield", "Completed", timeout=120)
    names = [j["metadata"]["name"] for j in kube.items("jobs")]
    assert len(names) == len(set(names)) == 6  # preflight, archive and reset of two products
    assert not suspend_of(kube, "clever-sync")


def test_sync_job_running_at_reset_delays_archiving(
    control_plane: RunningControlPlane, kube: Kube, jobs_on_node: JobsOnNode, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "config.yaml", jobs_on_node.default_job())
    kube.cronjob("clever-sync", LABELS)
    cronjob = kube.get("cronjob", "clever-sync")
    kube.run(
        "apply",
        "-f",
        "-",
        input=json.dumps(
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {
                    "name": "clever-sync-manual",
                    "namespace": kube.ns,
                    "ownerReferences": [
                        {
                            "apiVersion": "batch/v1",
                            "kind": "CronJob",
                            "name": "clever-sync",
                            "uid": cronjob["metadata"]["uid"],
                        }
                    ],
                },
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            # Syncs until the test says it is done (a file it creates).
                            "containers": [
                                {
                                    "name": "sync",
                                    "image": BASE_IMAGE,
                                    "imagePullPolicy": "Never",
                                    "command": ["sh", "-c", "until [ -e /tmp/synced ]; do sleep 0.2; done"],
                                }
                            ],
                        }
                    }
                },
            }
        ),
    )
    kube.apply(rollover_doc(kube.ns))
    with operator(
        control_plane,
        kube.ns,
        tmp_path / "operator.log",
        clock_start="2027-07-15T23:59:59-05:00",
        rate=1,
        config=config,
    ):
        wait_for(
            lambda: (
                condition(kube.rollover("springfield"), "Reconciling").get("reason") == "WaitingForSyncDrain"
            ),
            what="WaitingForSyncDrain",
        )
        assert not kube.items("jobs", "-l", ARCHIVE)
        (sync,) = wait_for(
            lambda: [p for p in kube.items("pods", "-l", SYNC_POD) if p["status"].get("phase") == "Running"],
            timeout=90,
            what="the sync pod running",
        )
        assert not kube.items("jobs", "-l", ARCHIVE), "no archive while the sync runs"
        kube.run("exec", sync["metadata"]["name"], "--", "touch", "/tmp/synced")
        kube.wait_phase("springfield", "Archiving", timeout=90)
        assert kube.pods_run(SYNC_POD, 1)[0]["status"]["phase"] == "Succeeded"


def test_reset_on_the_monday_after_a_friday_holiday_pauses_thursday(
    control_plane: RunningControlPlane, kube: Kube, tmp_path: Path
) -> None:
    # Juneteenth 2027 falls on a Saturday and is observed Friday June 18: one business day before
    # Monday June 21 is Thursday June 17.
    kube.cronjob("clever-sync", LABELS)
    kube.apply(rollover_doc(kube.ns, resetDate="2027-06-21"))
    with operator(
        control_plane, kube.ns, tmp_path / "operator.log", clock_start="2027-06-16T12:00:00-05:00", rate=1
    ):
        scheduled = kube.wait_phase("springfield", "Scheduled")
        assert scheduled["status"]["pauseDate"] == "2027-06-17"
        assert scheduled["status"]["pauseAt"] == "2027-06-17T00:00:00-05:00"
        assert scheduled["status"]["nextTransitionAt"] == "2027-06-17T00:00:00-05:00"


def test_killed_in_every_phase_the_operator_converges_without_duplicates(
    control_plane: RunningControlPlane, kube: Kube, jobs_on_node: JobsOnNode, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "config.yaml", jobs_on_node.default_job(), preflight=True)
    kube.cronjob("clever-sync", LABELS)
    kube.cronjob("was-off", LABELS, suspend=True)
    kube.apply(rollover_doc(kube.ns, products=["imagine-math"]))
    log = tmp_path / "operator.log"

    def run_until(phase: str, clock_start: str) -> None:
        with operator(control_plane, kube.ns, log, clock_start=clock_start, rate=1, config=config) as proc:
            kube.wait_phase("springfield", phase)
            proc.send_signal(signal.SIGKILL)
            proc.wait()

    run_until("Scheduled", "2027-07-14T12:00:00-05:00")
    run_until("Paused", "2027-07-15T06:00:00-05:00")
    assert suspend_of(kube, "clever-sync")
    run_until("Archiving", "2027-07-16T00:00:01-05:00")
    kube.pods_run(ARCHIVE, 1)  # while no operator runs
    run_until("Resetting", "2027-07-16T01:00:00-05:00")
    kube.pods_run(RESET, 1)
    with operator(
        control_plane, kube.ns, log, clock_start="2027-07-16T02:00:00-05:00", rate=1, config=config
    ):
        kube.wait_phase("springfield", "Completed")
    names = [j["metadata"]["name"] for j in kube.items("jobs")]
    assert sorted(names) == [
        "springfield-2026-2027-archive-imagine-math",
        "springfield-2026-2027-preflight-imagine-math",
        "springfield-2026-2027-reset-imagine-math",
    ]
    assert not suspend_of(kube, "clever-sync")
    assert suspend_of(kube, "was-off")


def test_resuming_starts_at_most_one_catch_up_run(
    control_plane: RunningControlPlane, kube: Kube, tmp_path: Path
) -> None:
    # A CronJob due every minute whose last run was an hour ago: sixty missed schedules.
    kube.cronjob("minutely", LABELS, schedule="* * * * *", suspend=True)
    hour_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    kube.run(
        "patch",
        "cronjob",
        "minutely",
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": {"lastScheduleTime": hour_ago}}),
    )
    kube.run(
        "annotate",
        "cronjob",
        "minutely",
        'rostering.k12.dev/original-state={"rollover":"springfield","schoolYear":"2026-2027","suspend":false}',
    )
    kube.apply(rollover_doc(kube.ns))
    # As the operator's pause writes it: with the record in status, the trusted copy of what to restore.
    paused = {
        "kind": "CronJob",
        "name": "minutely",
        "uid": kube.get("cronjob", "minutely")["metadata"]["uid"],
    }
    record = {"status": {"syncTargets": [paused | {"originalSuspend": False, "state": "Paused"}]}}
    kube.run(
        "patch",
        "districtrollover",
        "springfield",
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(record),
    )
    # Deleting the rollover before archiving restores its targets: the same PATCH as Resuming.
    with operator(
        control_plane, kube.ns, tmp_path / "operator.log", clock_start="2027-07-15T06:00:00-05:00", rate=1
    ):
        kube.wait_phase("springfield", "Paused")
        kube.run("delete", "districtrollover", "springfield", "--wait=false")
        wait_for(lambda: not suspend_of(kube, "minutely"), what="minutely resumed")
        time.sleep(8)  # the CronJob controller acts within seconds of the update
    # When the operator resumed it, by the apiserver's record of our field manager's last write (a
    # time taken here after polling for it was a minute late on loaded cores, and counted the next
    # regular run as a catch-up).
    resumed_at = max(
        dt.datetime.fromisoformat(entry["time"])
        for entry in kube.get("cronjob", "minutely", "--show-managed-fields")["metadata"]["managedFields"]
        if entry["manager"] == FIELD_MANAGER
    )
    # Catch-up runs are those scheduled before the resume; a minute boundary inside the sleep may
    # legitimately start the next regular run.
    scheduled = [
        dt.datetime.fromisoformat(
            j["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
        )
        for j in kube.items("jobs")
        if j["metadata"]["name"].startswith("minutely")
    ]
    assert len([t for t in scheduled if t <= resumed_at]) <= 1, (scheduled, resumed_at)


def test_metrics_report_phases_and_transitions(
    control_plane: RunningControlPlane, kube: Kube, tmp_path: Path
) -> None:
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kube.apply(rollover_doc(kube.ns))
    log = tmp_path / "operator.log"
    args = ["--metrics-port", str(port)]
    phase = f'rollover_phase{{name="springfield",namespace="{kube.ns}",phase="Scheduled"}} 1.0'

    def scraped() -> str | None:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        return text if phase in text else None

    with operator(control_plane, kube.ns, log, extra=args):
        kube.wait_phase("springfield", "Scheduled")
        # The gauge follows the status write (measured: not yet there at one scrape under load 10).
        text = wait_for(scraped, timeout=30, what="the phase in the metrics")
    assert 'rollover_transitions_total{phase="Scheduled"}' in text
