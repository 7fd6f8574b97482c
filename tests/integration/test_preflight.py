"""The preflight on the real control plane with the accelerated clock, its Jobs run for real by the
local pod runner against a real PostgreSQL: it fails on an unreachable archive, turns green after the
fix before the pause, and its preview counts what the reset then deletes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunningControlPlane
from tests.integration.configs import jobs_config
from tests.integration.kube import Kube, condition, operator, rollover_doc, wait_for

pytestmark = pytest.mark.integration

LABELS = {"district": "springfield"}

PRODUCTS = ["imagine-math", "twig-science"]
PAUSE_AT = dt.datetime.fromisoformat("2027-07-15T00:00:00-05:00")
#: Two business days before Thursday's pause: Tuesday 00:00; the clock starts Monday night.
CLOCK_START = "2027-07-12T22:00:00-05:00"
#: Two simulated hours per real second: a business day is 12 s, time enough to run the pods of a day.
RATE = 7200


def preflight_verdict(kube: Kube, status: str, what: str) -> dict[str, Any]:
    """The rollover once its PreflightPassed condition has `status`."""

    def probe() -> dict[str, Any] | None:
        rollover = kube.rollover("springfield")
        return rollover if condition(rollover, "PreflightPassed").get("status") == status else None

    return wait_for(probe, timeout=90, what=what)


def test_preflight_fails_on_an_unreachable_archive_turns_green_after_the_fix_and_previews_the_reset(
    control_plane: RunningControlPlane, namespace: str, store: str, pod_runner: None, tmp_path: Path
) -> None:
    kube = Kube(control_plane, namespace)
    archive = tmp_path / "archive"  # not there yet: the volume "is not mounted"
    config = jobs_config(tmp_path / "config.yaml", store, archive, preflight={"businessDaysBefore": 2})
    kube.cronjob("clever-sync", LABELS)
    kube.apply(rollover_doc(namespace, products=PRODUCTS))

    with operator(control_plane, namespace, tmp_path / "operator.log", clock_start=CLOCK_START, rate=RATE,
                  config=config):  # fmt: skip
        failing = preflight_verdict(kube, "False", "the preflight to fail")
        message = condition(failing, "PreflightPassed")["message"]
        assert "does not exist (is the volume mounted?)" in message, message
        assert failing["status"]["phase"] == "Scheduled"
        assert condition(failing, "Ready")["status"] == "True"
        archive.mkdir()  # the fix

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
