"""What one district's YAML cannot make the operator do to another district, on the real control
plane with the operator refusing by itself (no admission policy installed: those can be missing or
bypassed, the operator must not depend on them)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rollover.claims import claim_name
from rollover.labels import DISTRICTS_ANNOTATION
from tests.conftest import RunningControlPlane
from tests.integration.kube import Kube, condition, operator, rollover_doc, wait_for

pytestmark = pytest.mark.integration

REPO_CRDS = Path(__file__).resolve().parents[2] / "crds"
DISTRICT = "IL-0631950"
YEAR = "2026-2027"
#: A minute before the pause (Thursday 2027-07-15 00:00), a minute of district time per second: the
#: pause time passes at once, the reset (Friday) stays a day away.
AT_THE_PAUSE = {"clock_start": "2027-07-14T23:59:00-05:00", "rate": 60.0}
#: A day before the pause, slowly: rollovers stay Scheduled while the test looks.
A_DAY_BEFORE = {"clock_start": "2027-07-14T00:00:00-05:00", "rate": 60.0}


@pytest.fixture
def kube(control_plane: RunningControlPlane, namespace: str) -> Kube:
    return Kube(control_plane, namespace)


@pytest.fixture
def without_admission(control_plane: RunningControlPlane) -> Iterator[None]:
    """The admission policies on DistrictRollovers unbound (a cluster that lacks them, or an admin
    who bypassed them), put back afterwards."""
    policies = sorted(REPO_CRDS.glob("admission-*.yaml"))
    for policy in policies:
        control_plane.kubectl("delete", "-f", str(policy), "--ignore-not-found")
    try:
        yield
    finally:
        for policy in policies:
            control_plane.kubectl("apply", "-f", str(policy))


def apply_when_admitted(kube: Kube, doc: dict[str, Any]) -> None:
    """Apply once the apiserver has noticed the policies are gone (its policy informer lags)."""
    wait_for(
        lambda: kube.run("apply", "-f", "-", input=json.dumps(doc), check=False).returncode == 0,
        timeout=30,
        what="the apiserver to stop enforcing the removed policies",
    )


@pytest.fixture
def second(control_plane: RunningControlPlane) -> Iterator[Kube]:
    """Another district namespace."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    control_plane.kubectl("create", "namespace", name)
    yield Kube(control_plane, name)
    control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


def spec_valid_reason(kube: Kube, name: str) -> str:
    return str(condition(kube.rollover(name), "SpecValid").get("reason", ""))


def suspended(kube: Kube, name: str) -> bool:
    return bool(kube.get("cronjob", name)["spec"].get("suspend"))


def events(kube: Kube, reason: str) -> list[dict[str, Any]]:
    return [e for e in kube.items("events") if e.get("reason") == reason]


@pytest.mark.usefixtures("without_admission")
def test_a_district_the_namespace_does_not_list_is_refused_and_nothing_is_touched(
    control_plane: RunningControlPlane, kube: Kube, tmp_path: Path
) -> None:
    # Namespace B may roll over its own district only; its author names district A's.
    control_plane.kubectl("annotate", "--overwrite", "namespace", kube.ns, f"{DISTRICTS_ANNOTATION}=IL-OTHER")
    kube.cronjob("clever-sync", {"district": "springfield"})
    apply_when_admitted(kube, rollover_doc(kube.ns))
    with operator(control_plane, kube.ns, tmp_path / "op.log", **AT_THE_PAUSE):
        wait_for(
            lambda: spec_valid_reason(kube, "springfield") == "DistrictNotOwned", what="DistrictNotOwned"
        )
        time.sleep(3)  # past the pause time: an owned rollover would have suspended its CronJob
        rollover = kube.rollover("springfield")
        message = condition(rollover, "SpecValid")["message"]
        assert DISTRICTS_ANNOTATION in message and DISTRICT in message
        assert condition(rollover, "Stalled")["status"] == "True"
        assert not suspended(kube, "clever-sync")
        assert kube.items("jobs") == []

        # The platform team adds the district: the rollover proceeds without any edit of its own.
        control_plane.allow_districts(kube.ns, DISTRICT)
        wait_for(lambda: suspended(kube, "clever-sync"), what="clever-sync suspended once allowed")


@pytest.mark.usefixtures("without_admission")
def test_a_namespace_without_the_annotation_may_roll_over_no_district(
    control_plane: RunningControlPlane, kube: Kube, tmp_path: Path
) -> None:
    control_plane.kubectl("annotate", "namespace", kube.ns, f"{DISTRICTS_ANNOTATION}-")
    kube.cronjob("clever-sync", {"district": "springfield"})
    apply_when_admitted(kube, rollover_doc(kube.ns))
    with operator(control_plane, kube.ns, tmp_path / "op.log", **AT_THE_PAUSE):
        wait_for(
            lambda: spec_valid_reason(kube, "springfield") == "DistrictNotOwned", what="DistrictNotOwned"
        )
        time.sleep(3)
        assert "lists: none" in condition(kube.rollover("springfield"), "SpecValid")["message"]
        assert not suspended(kube, "clever-sync")
        assert kube.items("jobs") == []


def test_the_second_rollover_of_a_district_and_year_is_refused_until_the_first_is_gone(
    control_plane: RunningControlPlane, kube: Kube, second: Kube, tmp_path: Path
) -> None:
    # Both namespaces may roll the district over (a platform mistake, or a district moving teams).
    kube.apply(rollover_doc(kube.ns, name="first"))
    extra = ["--namespace", second.ns]
    with operator(control_plane, kube.ns, tmp_path / "op.log", extra=extra, **A_DAY_BEFORE):  # type: ignore[arg-type]
        kube.wait_phase("first", "Scheduled")
        # Overlapping products (twig-science) in the same school year, from another namespace.
        second.apply(rollover_doc(second.ns, name="copycat", products=["twig-science"]))
        wait_for(lambda: spec_valid_reason(second, "copycat") == "DistrictClaimed", what="DistrictClaimed")
        message = condition(second.rollover("copycat"), "SpecValid")["message"]
        assert f"{kube.ns}/first" in message
        assert len(events(second, "DistrictClaimed")) == 1
        assert kube.phase("first") == "Scheduled"

        # The claim is one ConfigMap in the operator's namespace (here the test's), held by the first.
        claim = kube.get("configmap", claim_name(DISTRICT, YEAR))
        assert claim["data"]["product.twig-science"].startswith(f"{kube.ns}/first/")

        kube.run("delete", "districtrollover", "first")
        second.wait_phase("copycat", "Scheduled")
        claim = kube.get("configmap", claim_name(DISTRICT, YEAR))
        assert claim["data"]["product.twig-science"].startswith(f"{second.ns}/copycat/")
        assert "product.imagine-math" not in claim["data"]  # the deleted holder's claim is released


def test_disjoint_products_of_one_district_may_roll_over_side_by_side(
    control_plane: RunningControlPlane, kube: Kube, second: Kube, tmp_path: Path
) -> None:
    kube.apply(rollover_doc(kube.ns, name="math", products=["imagine-math"]))
    second.apply(rollover_doc(second.ns, name="science", products=["twig-science"]))
    extra = ["--namespace", second.ns]
    with operator(control_plane, kube.ns, tmp_path / "op.log", extra=extra, **A_DAY_BEFORE):  # type: ignore[arg-type]
        kube.wait_phase("math", "Scheduled")
        second.wait_phase("science", "Scheduled")


def test_two_shards_racing_for_one_district_let_exactly_one_proceed(
    control_plane: RunningControlPlane, kube: Kube, second: Kube, tmp_path: Path
) -> None:
    kube.apply(rollover_doc(kube.ns, name="alpha"))
    second.apply(rollover_doc(second.ns, name="beta"))
    # Two operators, each serving one namespace (two shards), one claims namespace between them.
    shared = ["--claims-namespace", kube.ns]
    with (
        operator(control_plane, kube.ns, tmp_path / "a.log", extra=shared, **A_DAY_BEFORE),  # type: ignore[arg-type]
        operator(control_plane, second.ns, tmp_path / "b.log", extra=shared, **A_DAY_BEFORE),  # type: ignore[arg-type]
    ):

        def settled() -> list[str]:
            reasons = [spec_valid_reason(kube, "alpha"), spec_valid_reason(second, "beta")]
            return reasons if all(reasons) and "Claiming" not in reasons else []

        reasons = wait_for(settled, what="both rollovers settled")
        assert sorted(reasons) == ["Accepted", "DistrictClaimed"]
        holders = {
            v.split("/")[1]
            for k, v in kube.get("configmap", claim_name(DISTRICT, YEAR))["data"].items()
            if k.startswith("product.")
        }
        winner = "alpha" if reasons[0] == "Accepted" else "beta"
        assert holders == {winner}


@pytest.mark.usefixtures("without_admission")
def test_an_absence_only_selector_is_refused_and_selects_nothing(
    control_plane: RunningControlPlane, kube: Kube, tmp_path: Path
) -> None:
    kube.cronjob("database-backup", {"app": "postgres"})
    selector = {"matchExpressions": [{"key": "rostering.k12.dev/keep-running", "operator": "DoesNotExist"}]}
    control_plane.allow_districts(kube.ns, DISTRICT)
    apply_when_admitted(kube, rollover_doc(kube.ns, syncSelector=selector))
    with operator(control_plane, kube.ns, tmp_path / "op.log", **AT_THE_PAUSE):
        wait_for(
            lambda: spec_valid_reason(kube, "springfield") == "SelectorMatchesByAbsence",
            what="SelectorMatchesByAbsence",
        )
        assert not suspended(kube, "database-backup")


def test_who_approved_an_exception_is_recorded_in_status_and_an_event(
    control_plane: RunningControlPlane, kube: Kube, tmp_path: Path
) -> None:
    exception = {"approvedBy": "csm:jane.doe", "reason": "district asked for a late-May reset"}
    kube.apply(rollover_doc(kube.ns, resetDate="2027-05-28", exception=exception))
    with operator(control_plane, kube.ns, tmp_path / "op.log", clock_start="2027-05-10T00:00:00-05:00"):
        kube.wait_phase("springfield", "Scheduled")
        assert kube.rollover("springfield")["status"]["exceptionApprovedBy"] == "csm:jane.doe"
        [event] = wait_for(lambda: events(kube, "ExceptionApproved"), what="ExceptionApproved event")
        assert "csm:jane.doe" in event["message"] and "late-May" in event["message"]
