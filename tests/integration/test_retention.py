"""Certificates, retention, purge and legal hold on the real control plane with the accelerated clock,
every Job a pod of the project's image on the session's node against a real PostgreSQL and S3: a
cycle ends with a certificate `rollover verify-certificate` accepts, and its retention later with a
purge and its certificate; a legal hold keeps the data and the archive until it is released."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from rollover.cli.main import main as rollover
from rollover.controller.clock import AcceleratedClock
from rollover.devcluster.postgres import PostgresServer
from rollover.devcluster.s3 import S3Endpoint
from tests.conftest import RunningControlPlane
from tests.integration.configs import CERTIFICATE_SECRET, JobsOnNode, create_certificate_secret
from tests.integration.conftest import DISTRICT
from tests.integration.kube import Kube, operator, rollover_doc, wait_for

LABELS = {"district": "springfield"}

PRODUCTS = ["imagine-math", "twig-science"]
#: A cycle already past on the wall clock: the Jobs run on it, and a purge Job refuses to run before the
#: retention its certificate states has ended. Reset Friday 2026-07-17, the pause Thursday 00:00; two
#: simulated hours per real second from two hours before.
YEAR = "2025-2026"
RESET_DATE = "2026-07-17"
CLOCK_START = "2026-07-15T22:00:00-05:00"
RATE = 7200
#: Kept two days after the reset, until Sunday 2026-07-19: purged once that day ended everywhere
#: (midnight at UTC-12, Monday 07:00 in Chicago).
RETENTION_DAYS = 2
PURGE_AT = dt.datetime.fromisoformat("2026-07-20T07:00:00-05:00")
STEP = "rostering.k12.dev/step"

pytestmark = [pytest.mark.integration, pytest.mark.school_year(YEAR)]


def prepare(jobs: JobsOnNode, kube: Kube, tmp_path: Path) -> tuple[Path, Path]:
    """The signing key's Secret and the operator configuration (certificates on, short retention);
    returns the configuration and the key's public half."""
    public = create_certificate_secret(kube, tmp_path / "certificate-key")
    settings = {
        "defaultJob": jobs.default_job(),
        "preflight": {"enabled": False},
        "certificates": {"secretName": CERTIFICATE_SECRET},
        "archives": {"retentionDays": 30, "minRetentionDays": 1},
    }
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps(settings))
    return config, public


def student_accounts(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM imagine_math.student_accounts WHERE district_id = %s", (DISTRICT,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def history(kube: Kube) -> dict[str, Any]:
    return dict(kube.rollover("springfield")["status"]["history"][-1])


def fetch(s3: S3Endpoint, location: str, tmp_path: Path) -> Path:
    """A local copy of the archive store's object at `location` (an s3:// URI)."""
    local = tmp_path / location.rsplit("/", 1)[-1]
    s3.filesystem().get_file(location, str(local))
    return local


def cycle_objects(s3: S3Endpoint, archive: str) -> list[str]:
    """The objects the archive store holds under the cycle's prefix, as paths relative to it (an
    emptied "directory" may still be listed by SeaweedFS, but holds no object)."""
    prefix = f"{archive}/{DISTRICT}/{YEAR}".removeprefix("s3://")
    return sorted(str(path).removeprefix(f"{prefix}/") for path in s3.filesystem().find(prefix))


def test_a_cycle_ends_with_a_verified_certificate_and_its_retention_with_a_certified_purge(
    control_plane: RunningControlPlane, jobs_on_node: JobsOnNode, s3: S3Endpoint, tmp_path: Path
) -> None:
    kube = Kube(control_plane, jobs_on_node.namespace)
    config, public = prepare(jobs_on_node, kube, tmp_path)
    archive = jobs_on_node.archive
    kube.cronjob("clever-sync", LABELS)
    kube.apply(rollover_doc(kube.ns, schoolYear=YEAR, resetDate=RESET_DATE, retentionDays=RETENTION_DAYS))

    log = tmp_path / "operator.log"
    with operator(control_plane, kube.ns, log, clock_start=CLOCK_START, rate=RATE, config=config):
        done = kube.wait_phase("springfield", "Completed", timeout=180)
        link = done["status"]["certificate"]
        assert link["location"] == f"{archive}/{DISTRICT}/{YEAR}/certificate.json"
        local = fetch(s3, link["location"], tmp_path)
        assert rollover(["verify-certificate", str(local), "--public-key", str(public)]) == 0
        assert link["sha256"] == hashlib.sha256(local.read_bytes()).hexdigest()
        entry = history(kube)
        assert entry["certificate"] == link and entry["retentionUntil"] == "2026-07-19"
        assert dt.datetime.fromisoformat(entry["purgeAt"]) == PURGE_AT
        (certify,) = kube.items("jobs", "-l", f"{STEP}=certify")
        volumes = certify["spec"]["template"]["spec"]["volumes"]
        assert [v["secret"]["secretName"] for v in volumes] == [CERTIFICATE_SECRET]
        for job in kube.items("jobs", "-l", f"{STEP} in (archive,reset)"):
            assert not job["spec"]["template"]["spec"].get("volumes"), (
                "the key goes to certify and purge only"
            )

        purged = wait_for(
            lambda: (e := history(kube)).get("purgeCertificate") and e,
            timeout=120,
            what="the purge certified",
        )
    assert purged["purge"]["state"] == "Succeeded"
    purge_file = fetch(s3, purged["purgeCertificate"]["location"], tmp_path)
    assert rollover(["verify-certificate", str(purge_file), "--public-key", str(public)]) == 0
    assert json.loads(purge_file.read_bytes())["certificate"]["kind"] == "purge"
    assert cycle_objects(s3, archive) == [
        "certificate.html",
        "certificate.json",
        "purge-certificate.html",
        "purge-certificate.json",
    ]
    reasons = {
        e["reason"] for e in kube.items("events", "--field-selector", "involvedObject.name=springfield")
    }
    assert {"CertifyStarted", "RolloverCompleted", "PurgeStarted", "ArchivePurged"} <= reasons


def test_a_legal_hold_keeps_the_data_and_the_archive_until_it_is_released(
    control_plane: RunningControlPlane,
    jobs_on_node: JobsOnNode,
    s3: S3Endpoint,
    pod_store: PostgresServer,
    tmp_path: Path,
) -> None:
    kube = Kube(control_plane, jobs_on_node.namespace)
    config, _ = prepare(jobs_on_node, kube, tmp_path)
    archive = jobs_on_node.archive
    kube.cronjob("clever-sync", LABELS)
    hold = {"by": "counsel:kim", "reason": "litigation hold 2027-114"}
    kube.apply(
        rollover_doc(
            kube.ns, schoolYear=YEAR, resetDate=RESET_DATE, retentionDays=RETENTION_DAYS, legalHold=hold
        )
    )
    store = pod_store.database_url("roster")
    students = student_accounts(store)
    assert students > 0
    clock = AcceleratedClock(dt.datetime.fromisoformat(CLOCK_START), RATE)

    log = tmp_path / "operator.log"
    with operator(control_plane, kube.ns, log, clock_start=CLOCK_START, rate=RATE, config=config):
        done = kube.wait_phase("springfield", "Completed", timeout=180)
        conditions = {c["type"]: c for c in done["status"]["conditions"]}
        assert conditions["DataReset"]["reason"] == "ResetSkippedForLegalHold"
        assert (
            conditions["LegalHold"]["status"] == "True"
            and "counsel:kim" in conditions["LegalHold"]["message"]
        )
        assert kube.get("cronjob", "clever-sync")["spec"].get("suspend") is False, "roster sync resumed"
        assert student_accounts(store) == students, "nothing deleted"
        assert not kube.items("jobs", "-l", f"{STEP} in (reset,certify)")
        assert history(kube)["outcome"] == "Held"
        assert done["status"]["legalHoldBy"] == "counsel:kim"

        wait_for(
            lambda: clock.now() > PURGE_AT + dt.timedelta(hours=12), timeout=60, what="past the purge date"
        )
        assert not kube.items("jobs", "-l", f"{STEP}=purge"), "no purge under a legal hold"
        assert "imagine-math/manifest.json" in cycle_objects(s3, archive), "the archive is kept"

        kube.run(
            "patch", "dro", "springfield", "--type=json", "-p", '[{"op":"remove","path":"/spec/legalHold"}]'
        )
        purged = wait_for(
            lambda: (e := history(kube)).get("purge", {}).get("state") == "Succeeded" and e,
            timeout=120,
            what="the purge after the release",
        )
    assert not [path for path in cycle_objects(s3, archive) if path.startswith("imagine-math/")]
    assert "legalHoldBy" not in kube.rollover("springfield")["status"]
    assert student_accounts(store) == students, "a reset skipped for the hold never comes back"
    assert purged["purgeCertificate"]["location"].endswith("purge-certificate.json")
