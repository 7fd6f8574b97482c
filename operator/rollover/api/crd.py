"""The DistrictRollover CustomResourceDefinition, generated from the API models.

`python -m rollover.api.crd > crds/rostering.k12.dev_districtrollovers.yaml` regenerates the committed
copy. The schema is structural (apiextensions.k8s.io/v1): references inlined, no nulls, every node
typed. The CEL rules make `kubectl apply` reject what needs no calendar data: weekends, the reset
window, the school-year rules, districtId changes, selectors Kubernetes would refuse or that select
nothing, and names too long to label the rollover's Jobs. Holidays, closures and "in the future" need the
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
from rollover.api.models import LABEL_KEY_MAX, LABEL_KEY_PATTERN, LABEL_KEY_PREFIX_MAX, LABEL_NAME_MAX

SCHOOL_YEAR_WELL_FORMED = "matches('^[0-9]{4}-[0-9]{4}$')"  # int() below would fail on anything else


@dataclass(frozen=True)
class Rule:
    """One x-kubernetes-validations entry. `field` is the schema node it sits on, from the object's root:
    `spec.resetDate`, `spec` for the spec itself, `spec.syncSelector.matchExpressions[]` for each item of
    a list, '' for the whole object (the only node whose rules may read metadata.name)."""

    field: str
    rule: str
    message: str
    field_path: str | None = None  # where a rule reports, relative to its node, e.g. .resetDate
    #: The rule also runs on create (oldSelf is then empty): `oldSelf.hasValue() || ...` checks only new
    #: objects, so one stored before the rule existed can still be updated, finalizers included.
    optional_old_self: bool = False

    def as_schema(self) -> dict[str, Any]:
        """The rule as the CRD writes it."""
        entry: dict[str, Any] = {"rule": self.rule, "message": self.message}
        if self.field_path:
            entry["fieldPath"] = self.field_path
        if self.optional_old_self:
            entry["optionalOldSelf"] = True
        return entry


def _regex(pattern: str) -> str:
    """A pattern as a CEL single-quoted string literal."""
    return "'" + pattern.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _label_key_ok(key: str) -> str:
    """CEL: `key` is a label key. A map key needs it (the Kubernetes dialect has no propertyNames), and
    every key needs the 253-character limit of the prefix, which the pattern cannot count."""
    return (
        f"size({key}) <= {LABEL_KEY_MAX} && {key}.matches({_regex(LABEL_KEY_PATTERN)})"
        f" && {key}.indexOf('/') <= {LABEL_KEY_PREFIX_MAX}"
    )


_LABEL_KEY_TEXT = (
    "an optional DNS subdomain prefix of at most 253 characters and '/', then a name of 1-63 letters,"
    " digits, '-', '_' or '.' starting and ending with a letter or digit"
)

RULES: tuple[Rule, ...] = (
    # Job labels carry the name (rostering.k12.dev/rollover), and label values stop at 63 characters.
    Rule(
        "",
        f"oldSelf.hasValue() || !has(self.metadata.name) || size(self.metadata.name) <= {LABEL_NAME_MAX}",
        f"metadata.name: at most {LABEL_NAME_MAX} characters, it labels the rollover's Jobs",
        optional_old_self=True,
    ),
    Rule(
        "spec.districtId",
        "self == oldSelf",
        "districtId is immutable; create a new DistrictRollover instead",
    ),
    Rule(
        "spec.schoolYear",
        f"!self.{SCHOOL_YEAR_WELL_FORMED} || int(self.substring(5, 9)) == int(self.substring(0, 4)) + 1",
        "schoolYear must be two consecutive years, e.g. 2026-2027",
    ),
    # A `format: date` string is a CEL timestamp at 00:00 UTC; getDayOfWeek() is 0 on Sunday.
    Rule(
        "spec.resetDate",
        "self.getDayOfWeek() >= 1 && self.getDayOfWeek() <= 5",
        "resetDate must be a weekday (Monday to Friday)",
    ),
    # getMonth() counts from 0 (June is 5); getDate() from 1.
    Rule(
        "spec",
        "has(self.exception) || (self.resetDate.getMonth() >= 5 && self.resetDate.getMonth() <= 8)"
        " || (self.resetDate.getMonth() == 9 && self.resetDate.getDate() == 1)",
        "resetDate must be between June 1 and October 1 (inclusive) unless spec.exception records"
        " a CSM-approved exception (approvedBy, reason)",
        ".resetDate",
    ),
    # Only for a well-formed, consecutive schoolYear: otherwise its own rule says what is wrong.
    Rule(
        "spec",
        f"has(self.exception) || !self.schoolYear.{SCHOOL_YEAR_WELL_FORMED}"
        " || int(self.schoolYear.substring(5, 9)) != int(self.schoolYear.substring(0, 4)) + 1"
        " || self.resetDate.getFullYear() == int(self.schoolYear.substring(5, 9))",
        "resetDate must be in the second year of schoolYear (2027 for 2026-2027) unless spec.exception"
        " records a CSM-approved exception",
        ".resetDate",
    ),
    Rule(
        "spec",
        "!has(self.schoolYearEnd) || self.resetDate > self.schoolYearEnd",
        "resetDate must be after schoolYearEnd",
        ".resetDate",
    ),
    Rule(
        "spec",
        "!has(self.summerSchoolEnd) || self.resetDate > self.summerSchoolEnd",
        "resetDate must be after summerSchoolEnd",
        ".resetDate",
    ),
    # An empty selector selects nothing: archive and reset would run with no roster sync paused.
    Rule(
        "spec.syncSelector",
        "(has(self.matchLabels) && size(self.matchLabels) > 0)"
        " || (has(self.matchExpressions) && size(self.matchExpressions) > 0)",
        "syncSelector must have matchLabels or matchExpressions: an empty selector selects nothing, so no"
        " roster sync would pause before the reset",
    ),
    Rule(
        "spec.syncSelector.matchLabels",
        f"self.all(k, {_label_key_ok('k')})",
        f"matchLabels keys must be label keys: {_LABEL_KEY_TEXT}",
    ),
    Rule(
        "spec.syncSelector.matchExpressions[].key",
        f"self.indexOf('/') <= {LABEL_KEY_PREFIX_MAX}",
        f"the prefix of a label key (before '/') is at most {LABEL_KEY_PREFIX_MAX} characters",
    ),
    # Kubernetes' own LabelSelector validation: In/NotIn need values, Exists/DoesNotExist take none.
    Rule(
        "spec.syncSelector.matchExpressions[]",
        "!(self.operator in ['In', 'NotIn']) || (has(self.values) && size(self.values) > 0)",
        "values must not be empty for operator In or NotIn",
        ".values",
    ),
    Rule(
        "spec.syncSelector.matchExpressions[]",
        "!(self.operator in ['Exists', 'DoesNotExist']) || !has(self.values) || size(self.values) == 0",
        "values must be empty for operator Exists or DoesNotExist",
        ".values",
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
    status = structural(status_schema())
    # metav1.Condition convention: one entry per type, merged by type under server-side apply.
    status["properties"]["conditions"] |= {
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
    }
    root: Schema = {
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
    for rule in RULES:
        _node(root, rule.field).setdefault("x-kubernetes-validations", []).append(rule.as_schema())
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
                    "schema": {"openAPIV3Schema": root},
                }
            ],
        },
    }


def _node(root: Schema, path: str) -> Schema:
    """The schema node at a Rule's `field`."""
    node = root
    for part in filter(None, path.split(".")):
        name, items = part.removesuffix("[]"), part.endswith("[]")
        node = node["properties"][name]
        if items:
            node = node["items"]
    return node


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
