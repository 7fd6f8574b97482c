"""Certificates, retention, purge and legal hold on the real control plane with the accelerated clock,
every Job run for real by the local pod runner against a real PostgreSQL and a `file://` archive: a
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
from rollover.devcluster.keys import new_signing_key
from tests.conftest import RunningControlPlane
from tests.integration.configs import jobs_config
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


def write_config(tmp_path: Path, store_url: str, archive: Path) -> tuple[Path, Path]:
    """The operator configuration (certificates on, short retention) and the signing key's public half.
    The pod runner mounts no volume: `mountPath` is the local directory holding the key."""
    keys = tmp_path / "certificate-key"
    keys.mkdir()
    public = tmp_path / "public.pem"
    new_signing_key(keys / "key.pem", public)
    config = jobs_config(
        tmp_path / "config.yaml",
        store_url,
        archive,
        preflight={"enabled": False},
        certificates={"secretName": "rollover-certificate-key", "mountPath": str(keys)},
        archives={"retentionDays": 30, "minRetentionDays": 1},
    )
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


def test_a_cycle_ends_with_a_verified_certificate_and_its_retention_with_a_certified_purge(
    control_plane: RunningControlPlane,
    namespace: str,
    store: str,
    pod_runner: None,
    tmp_path: Path,
) -> None:
    kube = Kube(control_plane, namespace)
    archive = tmp_path / "archive"
    archive.mkdir()
    config, public = write_config(tmp_path, store, archive)
    kube.cronjob("clever-sync", LABELS)
    kube.apply(rollover_doc(namespace, schoolYear=YEAR, resetDate=RESET_DATE, retentionDays=RETENTION_DAYS))

    log = tmp_path / "operator.log"
    with operator(control_plane, namespace, log, clock_start=CLOCK_START, rate=RATE, config=config):
        done = kube.wait_phase("springfield", "Completed", timeout=180)
        link = done["status"]["certificate"]
        local = Path(link["location"].removeprefix("file://"))
        assert local == archive / DISTRICT / YEAR / "certificate.json"
        assert rollover(["verify-certificate", str(local), "--public-key", str(public)]) == 0
        assert link["sha256"] == hashlib.sha256(local.read_bytes()).hexdigest()
        entry = history(kube)
        assert entry["certificate"] == link and entry["retentionUntil"] == "2026-07-19"
        assert dt.datetime.fromisoformat(entry["purgeAt"]) == PURGE_AT
        (certify,) = kube.items("jobs", "-l", f"{STEP}=certify")
        volumes = certify["spec"]["template"]["spec"]["volumes"]
        assert [v["secret"]["secretName"] for v in volumes] == ["rollover-certificate-key"]
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
    purge_file = Path(purged["purgeCertificate"]["location"].removeprefix("file://"))
    assert rollover(["verify-certificate", str(purge_file), "--public-key", str(public)]) == 0
    assert json.loads(purge_file.read_bytes())["certificate"]["kind"] == "purge"
    left = sorted(p.name for p in (archive / DISTRICT / YEAR).iterdir())
    assert left == [
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
    namespace: str,
    store: str,
    pod_runner: None,
    tmp_path: Path,
) -> None:
    kube = Kube(control_plane, namespace)
    archive = tmp_path / "archive"
    archive.mkdir()
    config, _ = write_config(tmp_path, store, archive)
    kube.cronjob("clever-sync", LABELS)
    hold = {"by": "counsel:kim", "reason": "litigation hold 2027-114"}
    kube.apply(
        rollover_doc(
            namespace, schoolYear=YEAR, resetDate=RESET_DATE, retentionDays=RETENTION_DAYS, legalHold=hold
        )
    )
    students = student_accounts(store)
    assert students > 0
    clock = AcceleratedClock(dt.datetime.fromisoformat(CLOCK_START), RATE)

    log = tmp_path / "operator.log"
    with operator(control_plane, namespace, log, clock_start=CLOCK_START, rate=RATE, config=config):
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
        assert (archive / DISTRICT / YEAR / "imagine-math" / "manifest.json").exists()

        kube.run(
            "patch", "dro", "springfield", "--type=json", "-p", '[{"op":"remove","path":"/spec/legalHold"}]'
        )
        purged = wait_for(
            lambda: (e := history(kube)).get("purge", {}).get("state") == "Succeeded" and e,
            timeout=120,
            what="the purge after the release",
        )
    assert not (archive / DISTRICT / YEAR / "imagine-math").exists()
    assert "legalHoldBy" not in kube.rollover("springfield")["status"]
    assert student_accounts(store) == students, "a reset skipped for the hold never comes back"
    assert purged["purgeCertificate"]["location"].endswith("purge-certificate.json")
