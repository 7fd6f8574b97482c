"""The DistrictRollover CustomResourceDefinition, generated from the API models.

`python -m rollover.api.crd > crds/rostering.k12.dev_districtrollovers.yaml` regenerates the committed
copy. The schema is structural (apiextensions.k8s.io/v1): references inlined, no nulls, every node
typed. The CEL rules make `kubectl apply` reject what needs no calendar data: weekends, the reset
window, the school-year rules and districtId changes. Holidays, closures and "in the future" need the
holidays package or a clock, so the operator (SpecValid=False) and `rollover lint` report them.
"""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML

from rollover import GROUP, KIND, PLURAL, VERSION
from rollover.api.jsonschema import RESOURCE_DESCRIPTION, Schema, spec_schema, status_schema

SCHOOL_YEAR_WELL_FORMED = "matches('^[0-9]{4}-[0-9]{4}$')"  # int() below would fail on anything else


@dataclass(frozen=True)
class Rule:
    """One x-kubernetes-validations entry; `field` is the property it sits on ('' for the spec itself)."""

    field: str
    rule: str
    message: str
    field_path: str | None = None  # where a spec-level rule reports, e.g. .resetDate

    def as_schema(self) -> dict[str, str]:
        """The rule as the CRD writes it."""
        entry = {"rule": self.rule, "message": self.message}
        return entry | ({"fieldPath": self.field_path} if self.field_path else {})


RULES: tuple[Rule, ...] = (
    Rule("districtId", "self == oldSelf", "districtId is immutable; create a new DistrictRollover instead"),
    Rule(
        "schoolYear",
        f"!self.{SCHOOL_YEAR_WELL_FORMED} || int(self.substring(5, 9)) == int(self.substring(0, 4)) + 1",
        "schoolYear must be two consecutive years, e.g. 2026-2027",
    ),
    # A `format: date` string is a CEL timestamp at 00:00 UTC; getDayOfWeek() is 0 on Sunday.
    Rule(
        "resetDate",
        "self.getDayOfWeek() >= 1 && self.getDayOfWeek() <= 5",
        "resetDate must be a weekday (Monday to Friday)",
    ),
    # getMonth() counts from 0 (June is 5); getDate() from 1.
    Rule(
        "",
        "has(self.exception) || (self.resetDate.getMonth() >= 5 && self.resetDate.getMonth() <= 8)"
        " || (self.resetDate.getMonth() == 9 && self.resetDate.getDate() == 1)",
        "resetDate must be between June 1 and October 1 (inclusive) unless spec.exception records"
        " a CSM-approved exception (approvedBy, reason)",
        ".resetDate",
    ),
    Rule(
        "",
        f"has(self.exception) || !self.schoolYear.{SCHOOL_YEAR_WELL_FORMED}"
        " || self.resetDate.getFullYear() == int(self.schoolYear.substring(5, 9))",
        "resetDate must be in the second year of schoolYear (2027 for 2026-2027) unless spec.exception"
        " records a CSM-approved exception",
        ".resetDate",
    ),
    Rule(
        "",
        "!has(self.schoolYearEnd) || self.resetDate > self.schoolYearEnd",
        "resetDate must be after schoolYearEnd",
        ".resetDate",
    ),
    Rule(
        "",
        "!has(self.summerSchoolEnd) || self.resetDate > self.summerSchoolEnd",
        "resetDate must be after summerSchoolEnd",
        ".resetDate",
    ),
)

PRINTER_COLUMNS: tuple[dict[str, Any], ...] = (
    {"name": "District", "type": "string", "jsonPath": ".spec.districtId"},
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
    # Strings, not `date`: kubectl prints a future `date` column as <invalid>.
    {"name": "Pause", "type": "string", "jsonPath": ".status.pauseAt"},
    {"name": "Reset", "type": "string", "jsonPath": ".status.resetAt"},
    {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
    {"name": "Next", "type": "string", "jsonPath": ".status.nextTransitionAt"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
)


def build_crd() -> dict[str, Any]:
    """The CustomResourceDefinition as a plain dict."""
    spec = structural(spec_schema())
    for rule in RULES:
        node = spec["properties"][rule.field] if rule.field else spec
        node.setdefault("x-kubernetes-validations", []).append(rule.as_schema())
    status = structural(status_schema())
    # metav1.Condition convention: one entry per type, merged by type under server-side apply.
    status["properties"]["conditions"] |= {
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": KIND.lower(),
                "shortNames": ["dro"],
                "categories": ["rostering"],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": list(PRINTER_COLUMNS),
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": RESOURCE_DESCRIPTION,
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec,
                                "status": status,
                            },
                        }
                    },
                }
            ],
        },
    }


def structural(schema: Schema) -> Schema:
    """A JSON Schema from `rollover.api.jsonschema` in the Kubernetes structural dialect."""
    out: Schema = {}
    for key, value in schema.items():
        if key == "additionalProperties":
            if value is True:  # dict[str, Any]: free-form JSON (only jobs[].result)
                out["x-kubernetes-preserve-unknown-fields"] = True
            elif isinstance(value, dict):
                out[key] = structural(value)
            # `false` is not allowed: the apiserver prunes unknown fields, and kubectl's strict field
            # validation reports them.
        elif key == "propertyNames":
            continue  # not in the Kubernetes dialect; label keys are checked by the operator's validation
        elif key == "uniqueItems":
            out["x-kubernetes-list-type"] = "set"
        elif key == "items":
            out[key] = structural(value)
        elif key == "properties":
            out[key] = {name: structural(sub) for name, sub in value.items()}
        else:
            out[key] = value
    return out


def render() -> str:
    """The CRD as committed: a do-not-edit header and YAML."""
    yaml = YAML()
    yaml.width = 4096  # never fold long descriptions or CEL rules
    yaml.indent(mapping=2, sequence=4, offset=2)
    buffer = io.StringIO()
    yaml.dump(build_crd(), buffer)
    return "# Generated by `python -m rollover.api.crd` from rollover/api/models.py; do not edit.\n" + (
        buffer.getvalue()
    )


def main() -> None:
    """Print the CRD YAML."""
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
