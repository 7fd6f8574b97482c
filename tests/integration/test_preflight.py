"""The preflight on the real control plane with the accelerated clock, its Jobs pods of the project's
image on the session's node against a real PostgreSQL and S3: it fails on an archive its credentials
cannot reach, turns green once the Secret is fixed before the pause, and its preview counts what the
reset then deletes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from rollover.devcluster.postgres import PostgresServer
from rollover.devcluster.s3 import S3Endpoint
from tests.conftest import RunningControlPlane
from tests.integration.configs import JobsOnNode, create_roster_secret
from tests.integration.kube import Kube, condition, operator, rollover_doc, wait_for

pytestmark = pytest.mark.integration

LABELS = {"district": "springfield"}

PRODUCTS = ["imagine-math", "twig-science"]
PAUSE_AT = dt.datetime.fromisoformat("2027-07-15T00:00:00-05:00")
#: Two business days before Thursday's pause: Tuesday 00:00; the clock starts Monday night.
CLOCK_START = "2027-07-12T22:00:00-05:00"
#: One simulated hour per real second: a business day is 24 s, time enough for a day's pods to start
#: (3-8 s each on the node) and their outcome to be fixed before the next.
RATE = 3600


def preflight_verdict(kube: Kube, status: str, what: str) -> dict[str, Any]:
    """The rollover once its PreflightPassed condition has `status`."""

    def probe() -> dict[str, Any] | None:
        rollover = kube.rollover("springfield")
        return rollover if condition(rollover, "PreflightPassed").get("status") == status else None

    return wait_for(probe, timeout=90, what=what)


def test_preflight_fails_on_an_archive_it_cannot_reach_turns_green_after_the_fix_and_previews_the_reset(
    control_plane: RunningControlPlane,
    jobs_on_node: JobsOnNode,
    s3: S3Endpoint,
    pod_store: PostgresServer,
    tmp_path: Path,
) -> None:
    kube = Kube(control_plane, jobs_on_node.namespace)
    wrong = "not-" + s3.secret_key
    create_roster_secret(kube, pod_store, s3, AWS_SECRET_ACCESS_KEY=wrong)  # a typo in the Secret
    settings = {
        "defaultJob": jobs_on_node.default_job(),
        "preflight": {"businessDaysBefore": 2},
    }
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps(settings))
    kube.cronjob("clever-sync", LABELS)
    kube.apply(rollover_doc(kube.ns, products=PRODUCTS))

    with operator(control_plane, kube.ns, tmp_path / "operator.log", clock_start=CLOCK_START,
                  rate=RATE, config=config):  # fmt: skip
        failing = preflight_verdict(kube, "False", "the preflight to fail")
        message = condition(failing, "PreflightPassed")["message"]
        assert f"archive destination {jobs_on_node.archive} is unreachable" in message, message
        assert wrong not in message and s3.secret_key not in message, "status is read by everyone"
        assert failing["status"]["phase"] == "Scheduled"
        assert condition(failing, "Ready")["status"] == "True"
        create_roster_secret(kube, pod_store, s3)  # the fix: the next day's pods read the right key

        passed = preflight_verdict(kube, "True", "the preflight to pass on the next business day")
        turned = dt.datetime.fromisoformat(condition(passed, "PreflightPassed")["lastTransitionTime"])
        assert passed["status"]["phase"] == "Scheduled" and turned < PAUSE_AT
        preflights = [j for j in passed["status"]["jobs"] if j["step"] == "preflight"]
        assert sorted((j["product"], j["attempt"], j["state"]) for j in preflights) == [
            (p, a, s) for p in PRODUCTS for a, s in ((0, "Failed"), (1, "Succeeded"))
        ]
        preview = {p["product"]: {t["table"]: t for t in p["tables"]} for p in passed["status"]["preview"]}
        assert sorted(preview) == PRODUCTS

        done = kube.wait_phase("springfield", "Completed", timeout=180)

    resets = {j["product"]: j["result"] for j in done["status"]["jobs"] if j["step"] == "reset"}
    for product in PRODUCTS:
        expected = {table: t["delete"] for table, t in preview[product].items() if t["delete"]}
        assert expected and resets[product]["deleted"] == expected, product
    assert done["status"]["preview"] == passed["status"]["preview"], "the preview stays as the record"
    reasons = {
        e["reason"] for e in kube.items("events", "--field-selector", "involvedObject.name=springfield")
    }
    assert {"PreflightStarted", "PreflightFailed", "PreflightPassed"} <= reasons
