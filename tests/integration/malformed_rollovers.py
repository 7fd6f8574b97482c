"""A corpus of malformed DistrictRollovers, as data, for tests/integration/test_bad_input.py.

Each case starts from the valid `rollover_doc` (reset Friday 2027-07-16, selector
`district=<case name>`) and breaks one thing. Its `outcome` is what the real system does with it:

- "admission": the apiserver refuses it on create: the CRD's OpenAPI schema, its CEL
  x-kubernetes-validations, metadata validation, or kubectl's default strict field validation
  (`--validate=strict`: an unknown field is an error; a client that does not ask for strict
  validation gets it pruned with a warning, so the operator never sees it either way). The
  ValidatingAdmissionPolicy in crds/ only matches UPDATEs, so it plays no part in these creates.
- "spec-invalid": the apiserver stores it; the operator then sets SpecValid=False, whose message
  names `field` and contains `problem`, and touches nothing.

`problem` is a substring of the apiserver's error (admission) or of the SpecValid message.
`bug` is set when the system does not do what the case expects today: the tests keep the right
expectation and mark the case `xfail(strict=True, reason=bug)`. `lint_bug` is the same for
`rollover lint`. `lint_offline=False` would mean lint cannot judge the case without a cluster or
the network; every case here can be judged offline (the holidays package is local data), so no case
is filtered out of the lint test today.

Times: the operator runs with the clock starting at `CLOCK_START`, and `rollover lint` with
`--now CLOCK_START`, so "in the past" means the same thing to both.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from tests.integration.kube import rollover_doc

Outcome = Literal["admission", "spec-invalid"]
Category = Literal[
    "wrong-type",
    "missing-field",
    "bad-date",
    "unknown-product",
    "unknown-calendar",
    "bad-selector",
    "injection",
    "huge",
    "unknown-field",
    "bad-exception",
    "out-of-range",
]
Mutation = Callable[[dict[str, Any]], None]

#: Wednesday: the valid rollovers (reset Friday 2027-07-16) pause on Thursday, within seconds.
CLOCK_START = "2027-07-14T00:00:00-05:00"
MIB = 1024 * 1024
EXCEPTION = {"approvedBy": "csm:jane.doe", "reason": "the district calendar runs late"}


@dataclass(frozen=True)
class Case:
    """One malformed DistrictRollover and what must happen to it."""

    id: str  # short slug; the rollover is named `bad-<id>`
    category: Category
    description: str
    mutate: Mutation
    outcome: Outcome
    field: str  # the field the error names, as the apiserver / the operator write it
    problem: str = ""  # a further substring of that error
    bug: str | None = None
    lint_bug: str | None = None
    lint_offline: bool = True

    @property
    def name(self) -> str:
        """The rollover's name before `mutate` (which may replace it), and its selector label."""
        return f"bad-{self.id}"

    @property
    def labels(self) -> dict[str, str]:
        """The labels of this case's own roster-sync CronJob: what the valid base selects."""
        return {"district": self.name}

    def document(self, namespace: str) -> dict[str, Any]:
        """The malformed DistrictRollover (a fresh copy: nothing is shared between documents)."""
        document = rollover_doc(namespace, self.name)
        self.mutate(document)
        return copy.deepcopy(document)


# --- mutations ----------------------------------------------------------------------------------


def put(path: str, value: Any) -> Mutation:
    """Set the field at a dotted path (`spec.calendar.country`), creating mappings on the way."""
    *parents, last = path.split(".")

    def mutate(document: dict[str, Any]) -> None:
        node = document
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value

    return mutate


def spec(**fields: Any) -> Mutation:
    """Set spec fields."""
    return lambda document: document["spec"].update(fields)


def drop(path: str) -> Mutation:
    """Remove the field at a dotted path."""
    *parents, last = path.split(".")

    def mutate(document: dict[str, Any]) -> None:
        node = document
        for key in parents:
            node = node[key]
        del node[last]

    return mutate


def label(key: str, value: str) -> Mutation:
    """Add a metadata label (keys may hold dots and slashes, so not a dotted path)."""
    return lambda document: document["metadata"].setdefault("labels", {}).update({key: value})


def selector_label(key: str, value: str) -> Mutation:
    """Add a syncSelector.matchLabels entry next to the case's own `district` label."""
    return lambda document: document["spec"]["syncSelector"]["matchLabels"].update({key: value})


def expression(**requirement: Any) -> Mutation:
    """Add a syncSelector.matchExpressions entry (the case's own matchLabels stay)."""
    return lambda document: (
        document["spec"]["syncSelector"].setdefault("matchExpressions", []).append(requirement)
    )


def both(*mutations: Mutation) -> Mutation:
    """Apply several mutations in order."""

    def mutate(document: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(document)

    return mutate


# --- the corpus -----------------------------------------------------------------------------------

CASES: tuple[Case, ...] = (
    # wrong types ------------------------------------------------------------------------------------
    Case(
        "district-id-number",
        "wrong-type",
        "districtId as a YAML number (the SIS ID left unquoted)",
        spec(districtId=631950),
        "admission",
        "spec.districtId",
        "must be of type string",
    ),
    Case(
        "products-string",
        "wrong-type",
        "products as one string instead of a list",
        spec(products="imagine-math"),
        "admission",
        "spec.products",
        "must be of type array",
    ),
    Case(
        "selector-string",
        "wrong-type",
        "syncSelector as a kubectl-style selector string instead of an object",
        spec(syncSelector="district=bad-selector-string"),
        "admission",
        "spec.syncSelector",
        "must be of type object",
    ),
    Case(
        "time-zone-object",
        "wrong-type",
        "timeZone as an object (strict field decoding reports its keys before the type check)",
        spec(timeZone={"name": "America/Chicago"}),
        "admission",
        "spec.timeZone",
        'unknown field "spec.timeZone.name"',
    ),
    Case(
        "business-days-string",
        "wrong-type",
        "pause.businessDaysBefore as a word",
        spec(pause={"businessDaysBefore": "two"}),
        "admission",
        "spec.pause.businessDaysBefore",
        "must be of type integer",
    ),
    Case(
        "suspend-string",
        "wrong-type",
        "suspend as the string 'yes'",
        spec(suspend="yes"),
        "admission",
        "spec.suspend",
        "must be of type boolean",
    ),
    Case(
        "calendar-list",
        "wrong-type",
        "calendar as a list",
        spec(calendar=["US", "IL"]),
        "admission",
        "spec.calendar",
        "must be of type object",
    ),
    Case(
        "closures-string",
        "wrong-type",
        "calendar.closures as one date string instead of a list",
        put("spec.calendar.closures", "2027-07-02"),
        "admission",
        "spec.calendar.closures",
        "must be of type array",
    ),
    Case(
        "reset-date-number",
        "wrong-type",
        "resetDate as the number 20270716",
        spec(resetDate=20270716),
        "admission",
        "spec.resetDate",
        "must be of type date",
    ),
    Case(
        "reset-date-unix-time",
        "wrong-type",
        "resetDate as a Unix time (1815696000 is 2027-07-16 00:00 UTC)",
        spec(resetDate=1815696000),
        "admission",
        "spec.resetDate",
        "must be of type date",
    ),
    Case(
        "business-days-numeric-string",
        "wrong-type",
        "pause.businessDaysBefore as the string '2'",
        spec(pause={"businessDaysBefore": "2"}),
        "admission",
        "spec.pause.businessDaysBefore",
        "must be of type integer",
    ),
    Case(
        "exception-string",
        "wrong-type",
        "exception as a free-text string",
        spec(exception="approved by the CSM on the phone"),
        "admission",
        "spec.exception",
        "must be of type object",
    ),
    Case(
        "match-labels-list",
        "wrong-type",
        "syncSelector.matchLabels as a list of keys",
        spec(syncSelector={"matchLabels": ["district"]}),
        "admission",
        "spec.syncSelector.matchLabels",
        "must be of type object",
    ),
    Case(
        "spec-list",
        "wrong-type",
        "spec as a list (strict field decoding reports the items' keys before the type check)",
        lambda document: document.update(spec=[document["spec"]]),
        "admission",
        "spec",
        'unknown field "spec[0].districtId"',
    ),
    # missing fields ---------------------------------------------------------------------------------
    *(
        Case(
            f"missing-{field.lower()}",
            "missing-field",
            f"spec.{field} left out",
            drop(f"spec.{field}"),
            "admission",
            f"spec.{field}",
            "Required value",
        )
        for field in ("districtId", "schoolYear", "resetDate", "timeZone", "products", "syncSelector")
    ),
    Case(
        "missing-spec",
        "missing-field",
        "no spec at all",
        drop("spec"),
        "admission",
        "spec",
        "Required value",
    ),
    Case(
        "expression-without-operator",
        "missing-field",
        "a matchExpressions entry without an operator",
        expression(key="district", values=["bad-expression-without-operator"]),
        "admission",
        "spec.syncSelector.matchExpressions[0].operator",
        "Required value",
    ),
    # bad dates --------------------------------------------------------------------------------------
    Case(
        "february-30",
        "bad-date",
        "resetDate on February 30 (with an exception, so only the date itself is wrong)",
        spec(resetDate="2027-02-30", exception=EXCEPTION),
        "admission",
        "spec.resetDate",
        "must be of type date",
    ),
    Case(
        "month-13",
        "bad-date",
        "resetDate in month 13",
        spec(resetDate="2027-13-01"),
        "admission",
        "spec.resetDate",
        "must be of type date",
    ),
    Case(
        "us-date-format",
        "bad-date",
        "resetDate written MM/DD/YYYY",
        spec(resetDate="07/16/2027"),
        "admission",
        "spec.resetDate",
        "must be of type date",
    ),
    Case(
        "date-time-not-date",
        "bad-date",
        "resetDate with a time of day",
        spec(resetDate="2027-07-16T00:00:00Z"),
        "admission",
        "spec.resetDate",
        "must be of type date",
    ),
    Case(
        "empty-date",
        "bad-date",
        "resetDate empty",
        spec(resetDate=""),
        "admission",
        "spec.resetDate",
        "must be of type date",
    ),
    Case(
        "weekend",
        "bad-date",
        "resetDate on Saturday 2027-07-17",
        spec(resetDate="2027-07-17"),
        "admission",
        "spec.resetDate",
        "resetDate must be a weekday",
    ),
    Case(
        "outside-window",
        "bad-date",
        "resetDate on 2027-10-04, after October 1, without an exception",
        spec(resetDate="2027-10-04"),
        "admission",
        "spec.resetDate",
        "between June 1 and October 1",
    ),
    Case(
        "school-year-mismatch",
        "bad-date",
        "schoolYear 2027-2028 with a reset date in 2027 (closing the wrong year)",
        spec(schoolYear="2027-2028"),
        "admission",
        "spec.resetDate",
        "second year of schoolYear",
    ),
    Case(
        "school-year-not-consecutive",
        "bad-date",
        "schoolYear 2026-2028",
        spec(schoolYear="2026-2028"),
        "admission",
        "spec.schoolYear",
        "two consecutive years",
    ),
    Case(
        "school-year-short-form",
        "bad-date",
        "schoolYear written 2026/27",
        spec(schoolYear="2026/27"),
        "admission",
        "spec.schoolYear",
        "should match",
    ),
    Case(
        "before-school-year-end",
        "bad-date",
        "resetDate before schoolYearEnd",
        spec(schoolYearEnd="2027-07-20"),
        "admission",
        "spec.resetDate",
        "must be after schoolYearEnd",
    ),
    Case(
        "closure-february-30",
        "bad-date",
        "a closure day on February 30",
        put("spec.calendar.closures", ["2027-07-02", "2027-02-30"]),
        "admission",
        "spec.calendar.closures[1]",
        "must be of type date",
    ),
    Case(
        "holiday",
        "bad-date",
        "resetDate on Labor Day 2027-09-06: CEL cannot know holidays, the operator does",
        spec(resetDate="2027-09-06"),
        "spec-invalid",
        "spec.resetDate",
        "is a holiday in US-IL",
    ),
    Case(
        "closure-day",
        "bad-date",
        "resetDate on one of the district's own closure days",
        both(spec(resetDate="2027-07-23"), put("spec.calendar.closures", ["2027-07-23"])),
        "spec-invalid",
        "spec.resetDate",
        "district closure day",
    ),
    Case(
        "in-the-past",
        "bad-date",
        "resetDate Tuesday 2027-07-13, the day before the operator's clock starts",
        spec(resetDate="2027-07-13"),
        "spec-invalid",
        "spec.resetDate",
        "is not in the future",
    ),
    # unknown products -------------------------------------------------------------------------------
    Case(
        "product-unknown",
        "unknown-product",
        "a product that is not in the catalog",
        spec(products=["imagine-math", "imagine-reading"]),
        "admission",
        "spec.products[1]",
        "Unsupported value",
    ),
    Case(
        "product-display-name",
        "unknown-product",
        "a product by its display name",
        spec(products=["Imagine Math"]),
        "admission",
        "spec.products[0]",
        "Unsupported value",
    ),
    Case(
        "products-empty",
        "unknown-product",
        "no products",
        spec(products=[]),
        "admission",
        "spec.products",
        "should have at least 1 items",
    ),
    Case(
        "product-twice",
        "unknown-product",
        "the same product twice",
        spec(products=["twig-science", "twig-science"]),
        "admission",
        "spec.products[1]",
        "Duplicate value",
    ),
    # unknown time zone / country / subdivision -----------------------------------------------------------
    Case(
        "time-zone-unknown",
        "unknown-calendar",
        "a time zone that does not exist",
        spec(timeZone="America/Springfield"),
        "spec-invalid",
        "spec.timeZone",
        "is not an IANA time zone",
    ),
    Case(
        "time-zone-abbreviation",
        "unknown-calendar",
        "a time zone abbreviation instead of an IANA name",
        spec(timeZone="CDT"),
        "spec-invalid",
        "spec.timeZone",
        "is not an IANA time zone",
    ),
    Case(
        "time-zone-empty",
        "unknown-calendar",
        "an empty time zone",
        spec(timeZone=""),
        "admission",
        "spec.timeZone",
        "should be at least 1 chars long",
    ),
    Case(
        "country-unknown",
        "unknown-calendar",
        "a country code the holidays package does not know",
        put("spec.calendar", {"country": "ZZ"}),
        "spec-invalid",
        "spec.calendar.country",
        "is not a country code",
    ),
    Case(
        "country-lowercase",
        "unknown-calendar",
        "a lowercase country code",
        put("spec.calendar", {"country": "us"}),
        "admission",
        "spec.calendar.country",
        "should match",
    ),
    Case(
        "subdivision-unknown",
        "unknown-calendar",
        "a subdivision that is not one of the country's",
        put("spec.calendar", {"country": "US", "subdivision": "ZZ"}),
        "spec-invalid",
        "spec.calendar.subdivision",
        "is not a subdivision of US",
    ),
    Case(
        "subdivision-other-country",
        "unknown-calendar",
        "Illinois as a subdivision of Canada",
        put("spec.calendar", {"country": "CA", "subdivision": "IL"}),
        "spec-invalid",
        "spec.calendar.subdivision",
        "is not a subdivision of CA",
    ),
    # bad syncSelector -------------------------------------------------------------------------------
    Case(
        "selector-operator-unknown",
        "bad-selector",
        "matchExpressions with operator Equals",
        expression(key="district", operator="Equals", values=["bad-selector-operator-unknown"]),
        "admission",
        "spec.syncSelector.matchExpressions[0].operator",
        "Unsupported value",
    ),
    Case(
        "selector-value-space",
        "bad-selector",
        "a matchExpressions value with a space",
        expression(key="district", operator="In", values=["spring field"]),
        "admission",
        "spec.syncSelector.matchExpressions[0].values[0]",
        "should match",
    ),
    Case(
        "selector-empty",
        "bad-selector",
        "syncSelector {}: selects nothing, so nothing is paused before the reset",
        spec(syncSelector={}),
        "admission",
        "spec.syncSelector",
        "must have matchLabels or matchExpressions",
    ),
    Case(
        "selector-in-without-values",
        "bad-selector",
        "operator In with no values (Kubernetes: values required for In/NotIn)",
        expression(key="district", operator="In", values=[]),
        "admission",
        "spec.syncSelector.matchExpressions[0].values",
        "must not be empty for operator In",
    ),
    Case(
        "selector-exists-with-values",
        "bad-selector",
        "operator Exists with values (Kubernetes: values must be empty for Exists/DoesNotExist)",
        expression(key="district", operator="Exists", values=["bad-selector-exists-with-values"]),
        "admission",
        "spec.syncSelector.matchExpressions[0].values",
        "must be empty for operator Exists",
    ),
    # injection attempts in names and labels ---------------------------------------------------------------
    Case(
        "name-command-substitution",
        "injection",
        "metadata.name '$(rm -rf /)'",
        put("metadata.name", "$(rm -rf /)"),
        "admission",
        "metadata.name",
        "a lowercase RFC 1123 subdomain",
    ),
    Case(
        "name-sql",
        "injection",
        "metadata.name with a SQL statement",
        put("metadata.name", "x'; DROP TABLE rosters;--"),
        "admission",
        "metadata.name",
        "a lowercase RFC 1123 subdomain",
    ),
    Case(
        "name-path-traversal",
        "injection",
        "metadata.name '../../etc/passwd'",
        put("metadata.name", "../../etc/passwd"),
        "admission",
        "metadata.name",
        "a lowercase RFC 1123 subdomain",
    ),
    Case(
        "name-trailing-newline",
        "injection",
        "metadata.name with a trailing newline",
        put("metadata.name", "bad-name-trailing-newline\n"),
        "admission",
        "metadata.name",
        "a lowercase RFC 1123 subdomain",
    ),
    Case(
        "name-homoglyph",
        "injection",
        "metadata.name with a Cyrillic dze (U+0455) where a Latin 's' belongs: 'springfield' to the eye",
        put("metadata.name", "\u0455pringfield"),
        "admission",
        "metadata.name",
        "a lowercase RFC 1123 subdomain",
    ),
    Case(
        "label-value-sql",
        "injection",
        "a metadata label value with a SQL statement",
        label("district", "x'; DROP TABLE rosters;--"),
        "admission",
        "metadata.labels",
        "a valid label must be",
    ),
    Case(
        "label-key-traversal",
        "injection",
        "a metadata label key '../../etc'",
        label("../../etc", "x"),
        "admission",
        "metadata.labels",
        "a qualified name must consist",
    ),
    Case(
        "label-value-newline",
        "injection",
        "a metadata label value with an embedded newline",
        label("district", "springfield\nshelbyville"),
        "admission",
        "metadata.labels",
        "a valid label must be",
    ),
    Case(
        "district-id-command",
        "injection",
        "districtId '$(rm -rf /)' (it reaches the Jobs' environment)",
        spec(districtId="$(rm -rf /)"),
        "admission",
        "spec.districtId",
        "should match",
    ),
    Case(
        "district-id-traversal",
        "injection",
        "districtId '../../etc/passwd' (archive paths are built from it)",
        spec(districtId="../../etc/passwd"),
        "admission",
        "spec.districtId",
        "should match",
    ),
    Case(
        "district-id-newline",
        "injection",
        "districtId with a trailing newline",
        spec(districtId="IL-0631950\n"),
        "admission",
        "spec.districtId",
        "should match",
    ),
    Case(
        "district-id-homoglyph",
        "injection",
        "districtId with a Cyrillic I (U+0406) where a Latin 'I' belongs",
        spec(districtId="\u0406L-0631950"),
        "admission",
        "spec.districtId",
        "should match",
    ),
    Case(
        "selector-value-command",
        "injection",
        "a matchLabels value '$(rm -rf /)'",
        selector_label("district", "$(rm -rf /)"),
        "admission",
        "spec.syncSelector.matchLabels.district",
        "should match",
    ),
    Case(
        "selector-value-sql",
        "injection",
        "a matchExpressions value with a SQL statement",
        expression(key="district", operator="NotIn", values=["x'; DROP TABLE rosters;--"]),
        "admission",
        "spec.syncSelector.matchExpressions[0].values[0]",
        "should match",
    ),
    Case(
        "selector-value-homoglyph",
        "injection",
        "a matchLabels value with a Cyrillic dze (U+0455) where a Latin 's' belongs",
        selector_label("district", "\u0455pringfield"),
        "admission",
        "spec.syncSelector.matchLabels.district",
        "should match",
    ),
    Case(
        "selector-key-command",
        "injection",
        "a matchLabels key '$(rm -rf /)' (not a label key, so it can match nothing)",
        selector_label("$(rm -rf /)", "x"),
        "admission",
        "spec.syncSelector.matchLabels",
        "matchLabels keys must be label keys",
    ),
    Case(
        "selector-key-sql",
        "injection",
        "a matchExpressions key with a SQL statement",
        expression(key="x'; DROP TABLE rosters;--", operator="DoesNotExist"),
        "admission",
        "spec.syncSelector.matchExpressions[0].key",
        "should match",
    ),
    Case(
        "time-zone-traversal",
        "injection",
        "timeZone '../../../../etc/passwd' (zoneinfo must not read files outside tzdata)",
        spec(timeZone="../../../../etc/passwd"),
        "spec-invalid",
        "spec.timeZone",
        "is not an IANA time zone",
    ),
    Case(
        "time-zone-command",
        "injection",
        "timeZone '$(rm -rf /)'",
        spec(timeZone="$(rm -rf /)"),
        "spec-invalid",
        "spec.timeZone",
        "is not an IANA time zone",
    ),
    Case(
        "product-command",
        "injection",
        "a product 'twig-science; rm -rf /'",
        spec(products=["twig-science; rm -rf /"]),
        "admission",
        "spec.products[0]",
        "Unsupported value",
    ),
    # huge strings -----------------------------------------------------------------------------------
    Case(
        "district-id-1mib",
        "huge",
        "a 1 MiB districtId",
        spec(districtId="A" * MIB),
        "admission",
        "spec.districtId",
        "Too long",
    ),
    Case(
        "display-name-1mib",
        "huge",
        "a 1 MiB displayName",
        spec(displayName="Springfield " * (MIB // 12)),
        "admission",
        "spec.displayName",
        "Too long",
    ),
    Case(
        "exception-reason-1mib",
        "huge",
        "a 1 MiB exception reason",
        spec(exception={"approvedBy": "csm:jane.doe", "reason": "late " * (MIB // 5)}),
        "admission",
        "spec.exception.reason",
        "Too long",
    ),
    Case(
        "time-zone-1mib",
        "huge",
        "a 1 MiB time zone",
        spec(timeZone="America/" + "Chicago" * (MIB // 7)),
        "admission",
        "spec.timeZone",
        "Too long",
    ),
    Case(
        "label-value-long",
        "huge",
        "a 100-character metadata label value",
        label("district", "x" * 100),
        "admission",
        "metadata.labels",
        "must be no more than 63",
    ),
    Case(
        "selector-value-long",
        "huge",
        "a 64-character matchLabels value",
        selector_label("district", "x" * 64),
        "admission",
        "spec.syncSelector.matchLabels.district",
        "Too long",
    ),
    Case(
        "closures-367",
        "huge",
        "367 closure days",
        put("spec.calendar.closures", ["2027-07-02"] * 367),
        "admission",
        "spec.calendar.closures",
        "Too many",
    ),
    Case(
        "name-200-characters",
        "huge",
        "a 200-character metadata.name: a valid object name, but not a valid label value for its Jobs",
        put("metadata.name", "bad-name-200-characters-" + "x" * 176),
        "admission",
        "metadata.name",
        "at most 63 characters, it labels the rollover's Jobs",
    ),
    # unknown fields -----------------------------------------------------------------------------------
    Case(
        "unknown-field",
        "unknown-field",
        "an unknown spec field `note`",
        spec(note="remember to tell the district"),
        "admission",
        "spec.note",
        "unknown field",
    ),
    Case(
        "unknown-field-1mib",
        "unknown-field",
        "an unknown spec field `note` holding 1 MiB",
        spec(note="n" * MIB),
        "admission",
        "spec.note",
        "unknown field",
    ),
    Case(
        "field-name-typo",
        "unknown-field",
        "resetdate (lowercase d) instead of resetDate",
        lambda document: document["spec"].update(resetdate=document["spec"].pop("resetDate")),
        "admission",
        "spec.resetdate",
        "unknown field",
    ),
    Case(
        "unknown-nested-field",
        "unknown-field",
        "calendar.holidays: an unknown nested field",
        put("spec.calendar.holidays", ["2027-07-02"]),
        "admission",
        "spec.calendar.holidays",
        "unknown field",
    ),
    # exceptions ---------------------------------------------------------------------------------------
    Case(
        "exception-without-reason",
        "bad-exception",
        "an exception with an approver and no reason",
        spec(resetDate="2027-10-04", exception={"approvedBy": "csm:jane.doe"}),
        "admission",
        "spec.exception.reason",
        "Required value",
    ),
    Case(
        "exception-without-approver",
        "bad-exception",
        "an exception with a reason and no approver",
        spec(resetDate="2027-10-04", exception={"reason": "the district calendar runs late"}),
        "admission",
        "spec.exception.approvedBy",
        "Required value",
    ),
    Case(
        "exception-blank-reason",
        "bad-exception",
        "an exception whose reason is only spaces",
        spec(resetDate="2027-10-04", exception={"approvedBy": "csm:jane.doe", "reason": "   "}),
        "admission",
        "spec.exception.reason",
        "should match",
    ),
    # out of range -------------------------------------------------------------------------------------
    Case(
        "business-days-zero",
        "out-of-range",
        "pause.businessDaysBefore 0: no pause at all",
        spec(pause={"businessDaysBefore": 0}),
        "admission",
        "spec.pause.businessDaysBefore",
        "greater than or equal to 1",
    ),
    Case(
        "business-days-negative",
        "out-of-range",
        "pause.businessDaysBefore -3",
        spec(pause={"businessDaysBefore": -3}),
        "admission",
        "spec.pause.businessDaysBefore",
        "greater than or equal to 1",
    ),
)

ADMISSION = tuple(case for case in CASES if case.outcome == "admission")
SPEC_INVALID = tuple(case for case in CASES if case.outcome == "spec-invalid")
#: Every case is judged offline by `rollover lint` (see the module docstring).
LINT = tuple(case for case in CASES if case.lint_offline)

assert len({case.id for case in CASES}) == len(CASES), "case ids must be unique"
