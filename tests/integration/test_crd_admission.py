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
