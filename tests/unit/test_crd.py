"""The generated CRD, editor schema and API reference: current, complete, structural."""

from __future__ import annotations

import json
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from ruamel.yaml import YAML

from rollover.api import crd, docs
from rollover.api.jsonschema import render_editor_schema
from rollover.api.models import LABEL_KEY_PATTERN, DistrictRolloverSpec, DistrictRolloverStatus
from rollover.catalog import load_catalog

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
CRD_FILE = REPO / "crds" / "rostering.k12.dev_districtrollovers.yaml"
POLICY_FILE = REPO / "crds" / "validating-admission-policy.yaml"
POLICY_FILES = sorted(set((REPO / "crds").glob("*.yaml")) - {CRD_FILE})
SCHEMA_FILE = REPO / "schemas" / "districtrollover.schema.json"
DOCS_FILE = REPO / "docs" / "api-reference.md"


def version() -> dict[str, Any]:
    built: dict[str, Any] = crd.build_crd()["spec"]["versions"][0]
    return built


def schema_of(part: str) -> dict[str, Any]:
    node: dict[str, Any] = version()["schema"]["openAPIV3Schema"]["properties"][part]
    return node


def nodes(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node with its path, e.g. `.jobs[].result`."""
    yield path, schema
    for name, sub in schema.get("properties", {}).items():
        yield from nodes(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        yield from nodes(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from nodes(schema["additionalProperties"], f"{path}{{}}")


def model_paths(model: type[BaseModel], path: str = "") -> Iterator[str]:
    """Every field of a model and of the models in it (`X`, `X | None`, `list[X]`), as CRD paths."""
    for name, field in model.model_fields.items():
        here = f"{path}.{field.alias or name}"
        yield here
        annotation = field.annotation
        if typing.get_origin(annotation) is list:
            annotation, here = typing.get_args(annotation)[0], f"{here}[]"
        for candidate in (annotation, *typing.get_args(annotation)):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                yield from model_paths(candidate, here)


@pytest.mark.parametrize(
    ("committed", "generate"),
    [
        (CRD_FILE, crd.render),
        (SCHEMA_FILE, render_editor_schema),
        (DOCS_FILE, docs.render),
    ],
    ids=["crd", "editor-schema", "api-reference"],
)
def test_committed_files_match_the_models(committed: Path, generate: Any) -> None:
    assert committed.read_text(encoding="utf-8") == generate(), f"regenerate {committed.relative_to(REPO)}"


def test_the_committed_crd_is_the_built_one() -> None:
    assert YAML(typ="safe").load(CRD_FILE.read_text(encoding="utf-8")) == crd.build_crd()


@pytest.mark.parametrize(
    ("model", "part"), [(DistrictRolloverSpec, "spec"), (DistrictRolloverStatus, "status")]
)
def test_every_model_field_is_in_the_crd(model: type[BaseModel], part: str) -> None:
    in_crd = {path for path, _ in nodes(schema_of(part))}

    missing = [path for path in model_paths(model) if path not in in_crd]

    assert not missing


def test_the_schema_is_structural() -> None:
    for path, node in nodes(version()["schema"]["openAPIV3Schema"]):
        assert "type" in node, path
        assert not {"$ref", "anyOf", "oneOf", "allOf", "not", "title", "nullable", "const"} & node.keys(), (
            path
        )
        assert node.get("additionalProperties", {}) is not False, path
        assert not ("properties" in node and "additionalProperties" in node), path


def test_only_job_results_keep_unknown_fields() -> None:
    preserved = [
        path for path, node in nodes(schema_of("status")) if node.get("x-kubernetes-preserve-unknown-fields")
    ]

    assert preserved == [".jobs[].result", ".history[].jobs[].result", ".history[].purge.result"]
    assert not [
        path for path, node in nodes(schema_of("spec")) if "x-kubernetes-preserve-unknown-fields" in node
    ]


def test_dates_are_typed_as_dates() -> None:
    spec = dict(nodes(schema_of("spec")))

    for path in (".resetDate", ".schoolYearEnd", ".summerSchoolEnd", ".calendar.closures[]"):
        assert (spec[path]["type"], spec[path]["format"]) == ("string", "date"), path


def test_products_are_a_set_from_the_catalog() -> None:
    products = schema_of("spec")["properties"]["products"]

    assert products["x-kubernetes-list-type"] == "set"
    assert products["items"]["enum"] == list(load_catalog().products)
    assert (products["minItems"], products["maxItems"]) == (1, 16)


def test_required_fields_and_defaults() -> None:
    spec = schema_of("spec")

    assert spec["required"] == [
        "districtId",
        "schoolYear",
        "resetDate",
        "timeZone",
        "products",
        "syncSelector",
    ]
    assert spec["properties"]["calendar"]["default"] == {}
    assert spec["properties"]["calendar"]["properties"]["country"]["default"] == "US"
    assert spec["properties"]["pause"]["default"] == {}
    business_days = spec["properties"]["pause"]["properties"]["businessDaysBefore"]
    assert (business_days["default"], business_days["minimum"], business_days["maximum"]) == (1, 1, 10)


def test_cel_rules_sit_where_they_report() -> None:
    spec = schema_of("spec")
    rules = {
        "districtId": spec["properties"]["districtId"]["x-kubernetes-validations"],
        "schoolYear": spec["properties"]["schoolYear"]["x-kubernetes-validations"],
        "resetDate": spec["properties"]["resetDate"]["x-kubernetes-validations"],
        "spec": spec["x-kubernetes-validations"],
    }

    assert rules["districtId"] == [
        {
            "rule": "self == oldSelf",
            "message": "districtId is immutable; create a new DistrictRollover instead",
        }
    ]
    assert "getDayOfWeek()" in rules["resetDate"][0]["rule"]
    assert "two consecutive years" in rules["schoolYear"][0]["message"]
    assert {r["fieldPath"] for r in rules["spec"]} == {".resetDate"}
    assert any(
        r["message"].startswith("resetDate must be between June 1 and October 1") for r in rules["spec"]
    )


def test_conditions_are_a_map_keyed_by_type() -> None:
    conditions = schema_of("status")["properties"]["conditions"]

    assert (conditions["x-kubernetes-list-type"], conditions["x-kubernetes-list-map-keys"]) == (
        "map",
        ["type"],
    )
    assert (
        conditions["items"]["properties"]["reason"]["pattern"] == "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
    )


def test_names_scope_subresource_and_printer_columns() -> None:
    built = crd.build_crd()
    columns = {c["name"]: (c["type"], c["jsonPath"]) for c in version()["additionalPrinterColumns"]}

    assert built["metadata"]["name"] == "districtrollovers.rostering.k12.dev"
    assert built["spec"]["scope"] == "Namespaced"
    assert (
        built["spec"]["names"] | {"shortNames": ["dro"], "categories": ["rostering"]}
        == built["spec"]["names"]
    )
    assert version()["subresources"] == {"status": {}}
    assert columns == {
        "District": ("string", ".spec.districtId"),
        "Phase": ("string", ".status.phase"),
        "Pause": ("string", ".status.pauseAt"),
        "Reset": ("string", ".status.resetAt"),
        "Ready": ("string", '.status.conditions[?(@.type=="Ready")].status'),
        "Next": ("string", ".status.nextTransitionAt"),
        "Age": ("date", ".metadata.creationTimestamp"),
    }


def test_the_admission_policy_locks_the_cycle_once_archiving_started() -> None:
    policy, binding = YAML(typ="safe").load_all(POLICY_FILE.read_text(encoding="utf-8"))

    assert (policy["apiVersion"], policy["kind"]) == (
        "admissionregistration.k8s.io/v1",
        "ValidatingAdmissionPolicy",
    )
    assert policy["spec"]["matchConstraints"]["resourceRules"] == [
        {
            "apiGroups": ["rostering.k12.dev"],
            "apiVersions": ["*"],
            "operations": ["UPDATE"],
            "resources": ["districtrollovers"],
        }
    ]
    (validation,) = policy["spec"]["validations"]
    assert validation["message"] == "resetDate, schoolYear and products are locked once archiving has started"
    started = policy["spec"]["variables"][0]["expression"]
    assert "oldObject.status.jobs.exists(j, j.step == 'archive')" in started
    assert "['Archiving', 'Resetting', 'Resuming']" in started
    assert binding["kind"] == "ValidatingAdmissionPolicyBinding"
    assert binding["spec"] == {"policyName": policy["metadata"]["name"], "validationActions": ["Deny"]}


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda path: path.name)
def test_every_policy_in_crds_says_what_it_guards_against_and_denies(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    policy, binding = YAML(typ="safe").load_all(text)

    assert text.startswith("# "), "a header comment says what the policy guards against"
    assert (policy["kind"], policy["spec"]["failurePolicy"]) == ("ValidatingAdmissionPolicy", "Fail")
    assert binding["kind"] == "ValidatingAdmissionPolicyBinding"
    assert binding["spec"] == {"policyName": policy["metadata"]["name"], "validationActions": ["Deny"]}


@pytest.mark.parametrize(
    "name", ["district-ownership", "exception-approvers", "sync-selector"], ids=lambda name: name
)
def test_the_trust_boundary_policies_check_creates_and_only_the_updates_that_change_what_they_guard(
    name: str,
) -> None:
    policy, _ = YAML(typ="safe").load_all(
        (REPO / "crds" / f"admission-{name}.yaml").read_text(encoding="utf-8")
    )

    # Not districtrollovers/status: the operator's status writes are never matched.
    assert policy["spec"]["matchConstraints"]["resourceRules"] == [
        {
            "apiGroups": ["rostering.k12.dev"],
            "apiVersions": ["*"],
            "operations": ["CREATE", "UPDATE"],
            "resources": ["districtrollovers"],
        }
    ]
    # Finalizer patches and other metadata-only updates keep the spec: a condition on oldObject skips them.
    (condition,) = policy["spec"]["matchConditions"]
    assert "oldObject.spec" in condition["expression"]


def test_the_editor_schema_describes_whole_documents() -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))

    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["properties"]["apiVersion"] == {"const": "rostering.k12.dev/v1alpha1"}
    assert schema["properties"]["kind"] == {"const": "DistrictRollover"}
    assert schema["properties"]["spec"]["additionalProperties"] is False  # editors flag typos
    assert "$ref" not in SCHEMA_FILE.read_text(encoding="utf-8")


def test_the_selector_must_select_something_as_kubernetes_validates_selectors() -> None:
    selector = schema_of("spec")["properties"]["syncSelector"]
    requirement = selector["properties"]["matchExpressions"]["items"]

    assert "size(self.matchLabels) > 0" in selector["x-kubernetes-validations"][0]["rule"]
    assert "size(self.matchExpressions) > 0" in selector["x-kubernetes-validations"][0]["rule"]
    (keys,) = selector["properties"]["matchLabels"]["x-kubernetes-validations"]
    assert keys["rule"].startswith("self.all(k, size(k) <= 317 && k.matches(")
    assert "k.indexOf('/') <= 253" in keys["rule"]
    assert requirement["properties"]["key"]["pattern"] == LABEL_KEY_PATTERN
    assert [(r["fieldPath"], r["message"]) for r in requirement["x-kubernetes-validations"]] == [
        (".values", "values must not be empty for operator In or NotIn"),
        (".values", "values must be empty for operator Exists or DoesNotExist"),
    ]


def test_the_cel_regex_of_label_keys_is_the_model_s_pattern() -> None:
    (keys,) = schema_of("spec")["properties"]["syncSelector"]["properties"]["matchLabels"][
        "x-kubernetes-validations"
    ]
    literal = keys["rule"].split("k.matches(", 1)[1].split(") && ", 1)[0]

    assert literal[0] == literal[-1] == "'"
    assert literal[1:-1].replace("\\\\", "\\") == LABEL_KEY_PATTERN


def test_names_too_long_to_label_jobs_are_refused_on_create_only() -> None:
    (rule,) = version()["schema"]["openAPIV3Schema"]["x-kubernetes-validations"]

    assert rule == {
        "rule": "oldSelf.hasValue() || !has(self.metadata.name) || size(self.metadata.name) <= 63",
        "message": "metadata.name: at most 63 characters, it labels the rollover's Jobs",
        "optionalOldSelf": True,
    }
