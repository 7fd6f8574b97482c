"""The CRD and the admission policy, installed in the real apiserver, accept and reject what they should."""

from __future__ import annotations

import io
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.conftest import RunningControlPlane

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "districts"
LOCK_MESSAGE = "resetDate, schoolYear and products are locked once archiving has started"


def _example(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    document: dict[str, Any] = YAML(typ="safe").load((EXAMPLES / name).read_text(encoding="utf-8"))
    document["metadata"]["namespace"] = namespace
    document["spec"].update(spec)
    return document


def _apply(
    control_plane: RunningControlPlane, document: dict[str, Any], *extra: str
) -> subprocess.CompletedProcess[str]:
    # The namespace may roll over the district (as its platform team would set up): what is tested
    # here is the CRD's own schema and rules.
    control_plane.allow_districts(document["metadata"]["namespace"], document["spec"]["districtId"])
    buffer = io.StringIO()
    YAML(typ="safe").dump(document, buffer)
    return control_plane.kubectl("apply", "-f", "-", *extra, check=False, input=buffer.getvalue())


def _rejected(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0, result.stdout
    for fragment in fragments:
        assert fragment in result.stderr


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_every_example_is_accepted(control_plane: RunningControlPlane, namespace: str, example: str) -> None:
    result = _apply(control_plane, _example(example, namespace))

    assert result.returncode == 0, result.stderr


def test_the_apiserver_applies_calendar_and_pause_defaults(
    control_plane: RunningControlPlane, namespace: str
) -> None:
    document = _example("tx-lone-star.yaml", namespace)
    del document["spec"]["calendar"]
    assert _apply(control_plane, document).returncode == 0

    stored = json.loads(
        control_plane.kubectl("get", "dro", "-n", namespace, "lone-star-isd", "-o", "json").stdout
    )

    assert stored["spec"]["calendar"] == {"country": "US"}
    assert stored["spec"]["pause"] == {"businessDaysBefore": 1}


def test_a_weekend_reset_date_is_rejected(control_plane: RunningControlPlane, namespace: str) -> None:
    result = _apply(control_plane, _example("il-prairie-valley.yaml", namespace, resetDate="2027-07-17"))

    _rejected(result, "spec.resetDate", "resetDate must be a weekday (Monday to Friday)")


def test_a_date_outside_the_window_without_exception_is_rejected(
    control_plane: RunningControlPlane, namespace: str
) -> None:
    result = _apply(control_plane, _example("il-prairie-valley.yaml", namespace, resetDate="2027-10-04"))

    _rejected(result, "spec.resetDate", "resetDate must be between June 1 and October 1 (inclusive)")


def test_october_first_is_inside_the_window(control_plane: RunningControlPlane, namespace: str) -> None:
    result = _apply(control_plane, _example("il-prairie-valley.yaml", namespace, resetDate="2027-10-01"))

    assert result.returncode == 0, result.stderr


def test_a_date_outside_the_window_with_an_exception_is_accepted(
    control_plane: RunningControlPlane, namespace: str
) -> None:
    exception = {"approvedBy": "csm:jane.doe", "reason": "district calendar runs late"}
    document = _example("il-prairie-valley.yaml", namespace, resetDate="2027-10-04", exception=exception)

    assert _apply(control_plane, document).returncode == 0


def test_an_exception_with_a_blank_approver_is_rejected(
    control_plane: RunningControlPlane, namespace: str
) -> None:
    exception = {"approvedBy": "  ", "reason": "district calendar runs late"}
    result = _apply(control_plane, _example("il-prairie-valley.yaml", namespace, exception=exception))

    _rejected(result, "spec.exception.approvedBy")


@pytest.mark.parametrize(
    ("spec", "fragments"),
    [
        ({"schoolYear": "2026-2028"}, ("spec.schoolYear", "two consecutive years")),
        ({"schoolYear": "2025-2026"}, ("spec.resetDate", "second year of schoolYear")),
        ({"schoolYearEnd": "2027-07-16"}, ("spec.resetDate", "must be after schoolYearEnd")),
        ({"summerSchoolEnd": "2027-07-20"}, ("spec.resetDate", "must be after summerSchoolEnd")),
        ({"products": ["imagine-math", "imagine-math"]}, ("spec.products[1]", "Duplicate value")),
        ({"products": ["imagine-reading"]}, ("spec.products[0]", "Unsupported value")),
        (
            {"pause": {"businessDaysBefore": 11}},
            ("spec.pause.businessDaysBefore", "less than or equal to 10"),
        ),
        ({"districtId": "-bad"}, ("spec.districtId",)),
    ],
)
def test_other_schema_rules_are_enforced(
    control_plane: RunningControlPlane, namespace: str, spec: dict[str, Any], fragments: tuple[str, ...]
) -> None:
    _rejected(_apply(control_plane, _example("il-prairie-valley.yaml", namespace, **spec)), *fragments)


def test_district_id_is_immutable(control_plane: RunningControlPlane, namespace: str) -> None:
    assert _apply(control_plane, _example("il-prairie-valley.yaml", namespace)).returncode == 0

    result = _apply(control_plane, _example("il-prairie-valley.yaml", namespace, districtId="IL-OTHER"))

    _rejected(result, "spec.districtId", "districtId is immutable")


def test_locked_fields_cannot_change_once_archiving_started(
    control_plane: RunningControlPlane, namespace: str
) -> None:
    assert _apply(control_plane, _example("il-prairie-valley.yaml", namespace)).returncode == 0
    status = {
        "status": {"phase": "Paused", "jobs": [{"name": "a-1", "step": "archive", "product": "imagine-math"}]}
    }
    control_plane.kubectl(
        "patch", "dro", "prairie-valley-cusd-204", "-n", namespace,
        "--subresource=status", "--type=merge", "-p", json.dumps(status),
    )  # fmt: skip

    def patch_spec(change: dict[str, Any], *extra: str) -> subprocess.CompletedProcess[str]:
        return control_plane.kubectl(
            "patch", "dro", "prairie-valley-cusd-204", "-n", namespace,
            "--type=merge", "-p", json.dumps({"spec": change}), *extra, check=False,
        )  # fmt: skip

    # A new policy takes a moment to reach the admission plugin; server-side dry runs change nothing.
    deadline = time.monotonic() + 30
    while (result := patch_spec({"resetDate": "2027-07-23"}, "--dry-run=server")).returncode == 0:
        assert time.monotonic() < deadline, "the ValidatingAdmissionPolicy never took effect"
        time.sleep(0.5)

    _rejected(result, LOCK_MESSAGE)
    _rejected(patch_spec({"schoolYear": "2027-2028", "resetDate": "2028-07-21"}), LOCK_MESSAGE)
    _rejected(patch_spec({"products": ["imagine-math"]}), LOCK_MESSAGE)
    assert patch_spec({"displayName": "Prairie Valley CUSD 204"}).returncode == 0


def test_a_completed_rollover_moves_on_to_the_next_school_year(
    control_plane: RunningControlPlane, namespace: str
) -> None:
    assert _apply(control_plane, _example("il-prairie-valley.yaml", namespace)).returncode == 0
    status = {
        "status": {
            "phase": "Completed",
            "jobs": [{"name": "a-1", "step": "archive", "product": "imagine-math"}],
        }
    }
    control_plane.kubectl(
        "patch", "dro", "prairie-valley-cusd-204", "-n", namespace,
        "--subresource=status", "--type=merge", "-p", json.dumps(status),
    )  # fmt: skip
    same_year = _example("il-prairie-valley.yaml", namespace, resetDate="2027-07-23")
    deadline = time.monotonic() + 30
    while (result := _apply(control_plane, same_year, "--dry-run=server")).returncode == 0:
        assert time.monotonic() < deadline, "the ValidatingAdmissionPolicy never took effect"
        time.sleep(0.5)
    _rejected(result, LOCK_MESSAGE)

    next_year = _example("il-prairie-valley.yaml", namespace, schoolYear="2027-2028", resetDate="2028-07-21")
    result = _apply(control_plane, next_year)
    assert result.returncode == 0, result.stderr


def test_locked_fields_can_change_before_archiving(
    control_plane: RunningControlPlane, namespace: str
) -> None:
    assert _apply(control_plane, _example("il-prairie-valley.yaml", namespace)).returncode == 0
    status = {"status": {"phase": "Paused"}}
    control_plane.kubectl(
        "patch", "dro", "prairie-valley-cusd-204", "-n", namespace,
        "--subresource=status", "--type=merge", "-p", json.dumps(status),
    )  # fmt: skip

    result = _apply(control_plane, _example("il-prairie-valley.yaml", namespace, resetDate="2027-07-23"))

    assert result.returncode == 0, result.stderr


def test_an_invalid_school_year_is_reported_once(control_plane: RunningControlPlane, namespace: str) -> None:
    result = _apply(control_plane, _example("il-prairie-valley.yaml", namespace, schoolYear="2026-2028"))

    _rejected(result, "spec.schoolYear", "two consecutive years")
    assert "second year of schoolYear" not in result.stderr


def test_a_name_too_long_to_label_its_jobs_is_rejected(
    control_plane: RunningControlPlane, namespace: str
) -> None:
    document = _example("il-prairie-valley.yaml", namespace)
    document["metadata"]["name"] = "n" * 64

    _rejected(
        _apply(control_plane, document), "metadata.name: at most 63 characters, it labels the rollover's Jobs"
    )


def test_a_63_character_name_is_accepted_and_stays_writable(
    control_plane: RunningControlPlane, namespace: str
) -> None:
    document = _example("il-prairie-valley.yaml", namespace)
    name = document["metadata"]["name"] = "n" * 63
    assert _apply(control_plane, document).returncode == 0

    for patch in (
        ["--subresource=status", "-p", '{"status": {"phase": "Paused"}}'],
        ["-p", '{"metadata": {"labels": {"a": "b"}}}'],
    ):
        result = control_plane.kubectl(
            "patch", "dro", name, "-n", namespace, "--type=merge", *patch, check=False
        )
        assert result.returncode == 0, result.stderr


def test_selectors_kubernetes_accepts_are_accepted(
    control_plane: RunningControlPlane, namespace: str
) -> None:
    selector = {
        "matchLabels": {
            "app.kubernetes.io/part-of": "roster-sync",
            "tier": "",
            "a" * 253 + "/" + "B" * 63: "x",
        },
        "matchExpressions": [
            {"key": "rostering.k12.dev/district", "operator": "In", "values": ["il-pv204"]},
            {"key": "example.com/paused", "operator": "DoesNotExist"},
            {"key": "Sync_1.x", "operator": "Exists", "values": []},
            {"key": "x", "operator": "NotIn", "values": ["disabled", ""]},
        ],
    }
    result = _apply(control_plane, _example("il-prairie-valley.yaml", namespace, syncSelector=selector))

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("selector", "fragments"),
    [
        ({}, ("spec.syncSelector", "must have matchLabels or matchExpressions")),
        ({"matchLabels": {}, "matchExpressions": []}, ("spec.syncSelector", "must have matchLabels")),
        ({"matchLabels": {"a" * 254 + "/x": "v"}}, ("spec.syncSelector.matchLabels", "must be label keys")),
        ({"matchLabels": {"x" * 64: "v"}}, ("spec.syncSelector.matchLabels", "must be label keys")),
        ({"matchLabels": {"a/b/c": "v"}}, ("spec.syncSelector.matchLabels", "must be label keys")),
        (
            {"matchExpressions": [{"key": "a" * 254 + "/x", "operator": "Exists"}]},
            ("spec.syncSelector.matchExpressions[0].key", "at most 253 characters"),
        ),
        (
            {"matchExpressions": [{"key": "d", "operator": "NotIn"}]},
            ("spec.syncSelector.matchExpressions[0].values", "must not be empty for operator In or NotIn"),
        ),
        (
            {"matchExpressions": [{"key": "d", "operator": "DoesNotExist", "values": ["x"]}]},
            ("spec.syncSelector.matchExpressions[0].values", "must be empty for operator Exists or"),
        ),
    ],
)  # fmt: skip
def test_selectors_kubernetes_refuses_are_rejected(
    control_plane: RunningControlPlane, namespace: str, selector: dict[str, Any], fragments: tuple[str, ...]
) -> None:
    result = _apply(control_plane, _example("il-prairie-valley.yaml", namespace, syncSelector=selector))

    _rejected(result, *fragments)
