"""Every rollover rule: its field, code and message, and the pydantic errors turned into findings."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollover.api.models import CONDITION_REASON_PATTERN, DistrictRolloverSpec
from rollover.findings import Finding, format_path, parse_path
from rollover.reasons import RuleCode
from rollover.validation import check_document, cross_document_findings, validate_document, validate_spec

pytestmark = pytest.mark.unit

T = TypeVar("T")

NOW = dt.datetime(2026, 11, 24, 15, tzinfo=dt.UTC)
EXCEPTION = {"approvedBy": "csm:jane.doe", "reason": "southern-hemisphere school year"}


def raw_spec(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "districtId": "IL-PV204",
        "schoolYear": "2026-2027",
        "resetDate": "2027-07-16",
        "timeZone": "America/Chicago",
        "calendar": {"country": "US", "subdivision": "IL"},
        "schoolYearEnd": "2027-06-04",
        "products": ["imagine-math", "twig-science"],
        "syncSelector": {"matchLabels": {"rostering.k12.dev/district": "il-pv204"}},
    }
    return {k: v for k, v in (base | overrides).items() if v is not None}


def spec(**overrides: Any) -> DistrictRolloverSpec:
    return DistrictRolloverSpec.model_validate(raw_spec(**overrides))


def document(**spec_overrides: Any) -> dict[str, Any]:
    return {
        "apiVersion": "rostering.k12.dev/v1alpha1",
        "kind": "DistrictRollover",
        "metadata": {"name": "prairie-valley", "namespace": "district-il"},
        "spec": raw_spec(**spec_overrides),
    }


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def only(items: list[T]) -> T:
    assert len(items) == 1, items
    return items[0]


def test_a_valid_spec_has_no_findings() -> None:
    assert validate_spec(spec(), NOW) == []


# --- resetDate --------------------------------------------------------------------------------


def test_a_weekend_reset_date_is_an_error() -> None:
    finding = only(validate_spec(spec(resetDate="2027-07-17"), NOW))

    assert (finding.severity, finding.field, finding.code) == (
        "error",
        "spec.resetDate",
        "ResetDateOnWeekend",
    )
    assert str(finding) == "spec.resetDate: 2027-07-17 is a Saturday; choose a business day (Monday-Friday)"


def test_a_holiday_reset_date_names_the_holiday_and_calendar() -> None:
    finding = only(validate_spec(spec(resetDate="2027-07-05"), NOW))

    assert finding.code == "ResetDateOnHoliday"
    assert str(finding) == (
        "spec.resetDate: 2027-07-05 is a holiday in US-IL (Independence Day (observed)); "
        "choose a business day"
    )


def test_a_state_holiday_counts_only_in_that_state() -> None:
    in_vermont = spec(resetDate="2027-08-16", calendar={"country": "US", "subdivision": "VT"})

    assert codes(validate_spec(in_vermont, NOW)) == ["ResetDateOnHoliday"]  # Bennington Battle Day
    assert validate_spec(spec(resetDate="2027-08-16"), NOW) == []


def test_a_closure_reset_date_is_an_error() -> None:
    closed = spec(calendar={"country": "US", "subdivision": "IL", "closures": ["2027-07-16"]})

    finding = only(validate_spec(closed, NOW))

    assert finding.code == "ResetDateOnClosure"
    assert "district closure day (spec.calendar.closures)" in finding.message


@pytest.mark.parametrize(
    ("reset_date", "inside"),
    [("2027-05-28", False), ("2027-06-01", True), ("2027-10-01", True), ("2027-10-04", False)],
)
def test_the_reset_window_is_june_first_to_october_first_inclusive(reset_date: str, inside: bool) -> None:
    findings = validate_spec(spec(resetDate=reset_date, schoolYearEnd=None), NOW)

    assert codes(findings) == ([] if inside else ["ResetDateOutsideWindow"])


def test_the_window_message_says_how_to_get_an_exception() -> None:
    finding = only(validate_spec(spec(resetDate="2027-10-04"), NOW))

    assert finding.message == (
        "2027-10-04 is outside the reset window June 1 - October 1; choose a date in the window "
        "or add spec.exception (approvedBy, reason) approved by the district's CSM"
    )


def test_an_exception_allows_a_date_outside_the_window_and_the_school_year() -> None:
    january = spec(resetDate="2027-01-27", schoolYear="2025-2026", schoolYearEnd=None, exception=EXCEPTION)

    assert validate_spec(january, NOW) == []


def test_an_exception_does_not_excuse_a_holiday() -> None:
    assert codes(validate_spec(spec(resetDate="2027-07-05", exception=EXCEPTION), NOW)) == [
        "ResetDateOnHoliday"
    ]


@pytest.mark.parametrize(
    "exception",
    [{"approvedBy": "", "reason": "x"}, {"approvedBy": "csm:a", "reason": "   "}, {"approvedBy": "csm:a"}],
)
def test_an_exception_needs_an_approver_and_a_reason(exception: dict[str, str]) -> None:
    findings = validate_document(document(exception=exception), NOW)

    assert [f.field for f in findings] in (["spec.exception.approvedBy"], ["spec.exception.reason"])


def test_the_reset_must_be_in_the_second_year_of_the_school_year() -> None:
    finding = only(validate_spec(spec(schoolYear="2027-2028", schoolYearEnd=None), NOW))

    assert finding.code == "ResetDateWrongYear"
    assert "not in 2028, the second year of schoolYear 2027-2028" in finding.message


@pytest.mark.parametrize(
    ("now", "zone", "reset_date", "error"),
    [
        ("2027-07-15T23:30:00-05:00", "America/Chicago", "2027-07-16", False),
        ("2027-07-16T00:00:00-05:00", "America/Chicago", "2027-07-16", True),
        ("2027-07-20T00:00:00-05:00", "America/Chicago", "2027-07-16", True),
        # 20:00 UTC on the 15th is already the 16th in Guam.
        ("2027-07-15T20:00:00+00:00", "Pacific/Guam", "2027-07-16", True),
        ("2027-07-15T20:00:00+00:00", "Pacific/Guam", "2027-07-19", False),
    ],
)
def test_a_chosen_date_must_be_at_least_one_day_after_today_in_the_district(
    now: str, zone: str, reset_date: str, error: bool
) -> None:
    district = spec(resetDate=reset_date, timeZone=zone)

    found = "ResetDateNotInFuture" in codes(validate_spec(district, dt.datetime.fromisoformat(now)))

    assert found is error


def test_the_future_rule_names_the_earliest_allowed_date() -> None:
    now = dt.datetime(2027, 7, 16, 9, tzinfo=dt.UTC)

    finding = only(validate_spec(spec(), now))

    assert finding.message == (
        "2027-07-16 is not in the future (today is 2027-07-16 in America/Chicago); "
        "the earliest allowed date is 2027-07-17"
    )


def test_a_rollover_under_way_is_not_held_to_the_future_rule() -> None:
    during_the_reset = dt.datetime(2027, 7, 16, 9, tzinfo=dt.UTC)

    assert validate_spec(spec(), during_the_reset, date_chosen=False) == []


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("schoolYearEnd", "2027-07-16", "ResetDateNotAfterSchoolYearEnd"),
        ("schoolYearEnd", "2027-07-20", "ResetDateNotAfterSchoolYearEnd"),
        ("summerSchoolEnd", "2027-07-16", "ResetDateNotAfterSummerSchoolEnd"),
    ],
)
def test_the_reset_must_be_after_the_school_year_and_summer_school(field: str, value: str, code: str) -> None:
    finding = only([f for f in validate_spec(spec(**{field: value}), NOW) if f.severity == "error"])

    assert (finding.field, finding.code) == ("spec.resetDate", code)
    assert f"on or before spec.{field} ({value})" in finding.message


# --- other spec fields ------------------------------------------------------------------------


def test_the_school_year_must_be_consecutive_years() -> None:
    finding = only(validate_spec(spec(schoolYear="2025-2027", schoolYearEnd=None), NOW))

    assert (finding.field, finding.code) == ("spec.schoolYear", "SchoolYearInvalid")


def test_an_invalid_school_year_is_not_also_reported_as_the_reset_date_s_wrong_year() -> None:
    finding = only(validate_spec(spec(schoolYear="2026-2028", schoolYearEnd=None), NOW))

    assert (finding.field, finding.code) == ("spec.schoolYear", "SchoolYearInvalid")


# --- syncSelector -----------------------------------------------------------------------------


def test_selectors_kubernetes_accepts_are_valid() -> None:
    selector = {
        "matchLabels": {
            "app.kubernetes.io/part-of": "roster-sync",
            "tier": "",
            "a" * 253 + "/" + "b" * 63: "c",
        },
        "matchExpressions": [
            {"key": "rostering.k12.dev/district", "operator": "In", "values": ["il-1", "il_2.x"]},
            {"key": "paused", "operator": "DoesNotExist"},
            {"key": "Sync", "operator": "Exists", "values": []},
            {"key": "x", "operator": "NotIn", "values": ["off"]},
        ],
    }

    assert validate_document(document(syncSelector=selector), NOW) == []
    assert (
        validate_document(document(syncSelector={"matchExpressions": [selector["matchExpressions"][2]]}), NOW)
        == []
    )


@pytest.mark.parametrize(
    "expressions",
    [
        [{"key": "x", "operator": "DoesNotExist"}],
        [{"key": "x", "operator": "NotIn", "values": ["off"]}],
        [{"key": "x", "operator": "DoesNotExist"}, {"key": "y", "operator": "NotIn", "values": ["a"]}],
    ],
    ids=["DoesNotExist", "NotIn", "both"],
)
def test_a_selector_matching_by_absence_only_is_refused(expressions: list[dict[str, Any]]) -> None:
    # It would select every CronJob and Deployment of the namespace lacking a label (a database's too).
    finding = only(validate_spec(spec(syncSelector={"matchExpressions": expressions}), NOW))

    assert (finding.field, finding.code) == ("spec.syncSelector", "SelectorMatchesByAbsence")


@pytest.mark.parametrize("selector", [{}, {"matchLabels": {}}, {"matchLabels": {}, "matchExpressions": []}])
def test_an_empty_selector_is_an_error_because_it_pauses_nothing(selector: dict[str, Any]) -> None:
    finding = only(validate_spec(spec(syncSelector=selector), NOW))

    assert (finding.severity, finding.field, finding.code) == ("error", "spec.syncSelector", "FieldInvalid")
    assert finding.message.startswith("selects nothing: give matchLabels or matchExpressions")


@pytest.mark.parametrize(
    ("selector", "field", "message"),
    [
        (
            {"matchLabels": {"$(rm -rf /)": "x"}},
            'spec.syncSelector.matchLabels["$(rm -rf /)"]',
            "'$(rm -rf /)' is invalid; expected a label key",
        ),
        (
            {"matchLabels": {"a/b/c": "x"}},
            'spec.syncSelector.matchLabels["a/b/c"]',
            "'a/b/c' is invalid; expected a label key",
        ),
        (
            {"matchLabels": {"x" * 64: "x"}},
            "spec.syncSelector.matchLabels." + "x" * 64,
            f"'{'x' * 64}' is invalid; expected a label key",
        ),
        (
            {"matchExpressions": [{"key": "x'; DROP TABLE rosters;--", "operator": "DoesNotExist"}]},
            "spec.syncSelector.matchExpressions[0].key",
            '"x\'; DROP TABLE rosters;--" is invalid; expected a label key',
        ),
        (
            {"matchExpressions": [{"key": "Example.com/x", "operator": "Exists"}]},
            "spec.syncSelector.matchExpressions[0].key",
            "'Example.com/x' is invalid; expected a label key",
        ),
    ],
)
def test_selector_keys_must_be_label_keys(selector: dict[str, Any], field: str, message: str) -> None:
    finding = only(validate_document(document(syncSelector=selector), NOW))

    assert (finding.field, finding.code) == (field, "FieldInvalid")
    assert finding.message.startswith(message)


def test_a_label_key_prefix_is_at_most_253_characters() -> None:
    key = "a" * 254 + "/x"
    selector = {"matchLabels": {key: "x"}, "matchExpressions": [{"key": key, "operator": "Exists"}]}

    findings = validate_spec(spec(syncSelector=selector), NOW)

    assert [f.field for f in findings] == [
        f'spec.syncSelector.matchLabels["{key}"]',
        "spec.syncSelector.matchExpressions[0].key",
    ]
    assert all("prefix (before '/') of 254 characters; at most 253" in f.message for f in findings)


@pytest.mark.parametrize(
    ("requirement", "message"),
    [
        ({"key": "d", "operator": "In", "values": []}, "operator In needs at least one value"),
        ({"key": "d", "operator": "NotIn"}, "operator NotIn needs at least one value"),
        ({"key": "d", "operator": "Exists", "values": ["x"]}, "operator Exists takes no values"),
        ({"key": "d", "operator": "DoesNotExist", "values": ["x"]}, "operator DoesNotExist takes no values"),
    ],
)
def test_selector_operators_take_values_as_in_kubernetes(requirement: dict[str, Any], message: str) -> None:
    selector = {"matchLabels": {"district": "il-1"}, "matchExpressions": [requirement]}

    finding = only(validate_spec(spec(syncSelector=selector), NOW))

    assert (finding.field, finding.code) == ("spec.syncSelector.matchExpressions[0].values", "FieldInvalid")
    assert finding.message.startswith(message)


# --- strict types -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"suspend": "yes"}, "spec.suspend", "'yes' is not a boolean; expected true or false"),
        ({"suspend": 1}, "spec.suspend", "1 is not a boolean"),
        ({"pause": {"businessDaysBefore": "2"}}, "spec.pause.businessDaysBefore", "'2' is not an integer"),
        ({"pause": {"businessDaysBefore": True}}, "spec.pause.businessDaysBefore", "True is not an integer"),
        ({"pause": {"businessDaysBefore": 2.0}}, "spec.pause.businessDaysBefore", "2.0 is not an integer"),
        ({"resetDate": "2027-07-16T00:00:00Z"}, "spec.resetDate", "'2027-07-16T00:00:00Z' is not a date"),
        ({"resetDate": dt.datetime(2027, 7, 16)}, "spec.resetDate", "2027-07-16 00:00:00 is not a date"),
        ({"resetDate": 1815696000}, "spec.resetDate", "1815696000 is not a date; expected YYYY-MM-DD"),
        ({"resetDate": "20270716"}, "spec.resetDate", "'20270716' is not a date"),
        ({"schoolYearEnd": 0}, "spec.schoolYearEnd", "0 is not a date"),
        ({"calendar": {"closures": ["2027-07-02T00:00:00"]}}, "spec.calendar.closures[0]", "'2027-07-02T00"),
    ],
)  # fmt: skip
def test_types_are_as_strict_as_the_crd(overrides: dict[str, Any], field: str, message: str) -> None:
    finding = only(validate_document(document(**overrides), NOW))

    assert (finding.field, finding.code) == (field, "FieldInvalid")
    assert finding.message.startswith(message)


def test_dates_may_be_text_or_dates_a_yaml_loader_parsed() -> None:
    parsed = spec(resetDate=dt.date(2027, 7, 16), calendar={"closures": [dt.date(2027, 7, 2), "2027-07-05"]})

    assert parsed == spec(resetDate="2027-07-16", calendar={"closures": ["2027-07-02", "2027-07-05"]})
    assert parsed.calendar.closures == [dt.date(2027, 7, 2), dt.date(2027, 7, 5)]


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"timeZone": "America/Chicag"}, "spec.timeZone", "TimeZoneUnknown"),
        ({"calendar": {"country": "ZZ"}}, "spec.calendar.country", "CountryUnknown"),
        (
            {"calendar": {"country": "US", "subdivision": "ZZ"}},
            "spec.calendar.subdivision",
            "SubdivisionUnknown",
        ),
    ],
)
def test_unknown_time_zones_and_calendars_are_errors(
    overrides: dict[str, Any], field: str, code: str
) -> None:
    finding = only(validate_spec(spec(**overrides), NOW))

    assert (finding.field, finding.code) == (field, code)


def test_an_unknown_subdivision_lists_the_known_ones() -> None:
    finding = only(validate_spec(spec(calendar={"country": "US", "subdivision": "ZZ"}), NOW))

    assert "'ZZ' is not a subdivision of US in the holidays package; known: AK, AL," in finding.message


def test_unknown_and_duplicate_products_are_errors_at_their_index() -> None:
    findings = validate_spec(spec(products=["imagine-math", "imagine-reading", "imagine-math"]), NOW)

    assert [(f.field, f.code) for f in findings] == [
        ("spec.products[1]", "ProductUnknown"),
        ("spec.products[2]", "ProductDuplicate"),
    ]
    assert "known: imagine-math, imagine-math-facts, twig-science" in findings[0].message


@pytest.mark.parametrize("days", [0, 11])
def test_business_days_before_is_one_to_ten(days: int) -> None:
    finding = only(validate_document(document(pause={"businessDaysBefore": days}), NOW))

    assert finding.field == "spec.pause.businessDaysBefore"
    assert ("minimum is 1" if days == 0 else "maximum is 10") in finding.message


# --- warnings ---------------------------------------------------------------------------------


def test_a_pause_on_or_before_the_end_of_summer_school_is_a_warning() -> None:
    finding = only(validate_spec(spec(summerSchoolEnd="2027-07-15"), NOW))

    assert (finding.severity, finding.field, finding.code) == (
        "warning",
        "spec.summerSchoolEnd",
        "PauseBeforeSummerSchoolEnd",
    )
    assert "summer-school roster must be imported before the pause" in finding.message


def test_a_pause_that_already_started_is_a_warning() -> None:
    thursday_noon = dt.datetime(2027, 7, 15, 12, tzinfo=dt.UTC)

    finding = only(validate_spec(spec(), thursday_noon))

    assert (finding.severity, finding.code) == ("warning", "PauseAlreadyStarted")
    assert "2027-07-15T00:00:00-05:00" in finding.message
    assert validate_spec(spec(), thursday_noon, date_chosen=False) == []


def test_a_district_id_used_twice_is_an_error() -> None:
    findings = cross_document_findings(
        [("a.yaml:3", spec()), ("b.yaml:3", spec(products=["imagine-math-facts"]))]
    )

    index, finding = only([item for item in findings if item[1].severity == "error"])
    assert (index, finding.field, finding.code) == (1, "spec.districtId", "DistrictIdDuplicate")
    assert "'IL-PV204' is also used by a.yaml:3" in finding.message


def test_products_of_one_district_on_different_dates_are_a_warning() -> None:
    first, second = spec(districtId="il-pv204"), spec(resetDate="2027-07-23", products=["imagine-math-facts"])

    (index, finding), *rest = cross_document_findings([("a.yaml:3", first), ("b.yaml:3", second)])

    assert not rest  # the IDs differ in case, so they are not duplicates, but look like one district
    assert (index, finding.severity, finding.code) == (1, "warning", "DistrictDatesDiverge")
    assert "reset 2027-07-23, pause 2027-07-22 (imagine-math-facts) here" in finding.message
    assert "reset 2027-07-16, pause 2027-07-15 (imagine-math, twig-science) in a.yaml:3" in finding.message


def test_different_districts_are_independent() -> None:
    assert (
        cross_document_findings([("a", spec()), ("b", spec(districtId="IL-OTHER", resetDate="2027-07-23"))])
        == []
    )


# --- documents --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "field", "code", "message"),
    [
        ({"name": "ok\n"}, "metadata.name", "NameInvalid", "'ok\\n' is not a valid"),
        ({"name": "x" * 64}, "metadata.name", "NameInvalid", "at most 63 characters, it labels"),
        ({"name": "x" * 300}, "metadata.name", "NameInvalid", f"'{'x' * 80}'... (300 characters)"),
        ({"name": "a", "namespace": "ns\n"}, "metadata.namespace", "NamespaceInvalid", "'ns\\n' is"),
        ({"name": "a", "labels": "x"}, "metadata.labels", "FieldInvalid", "expected a mapping"),
        (
            {"name": "a", "labels": {"../etc": "x"}},
            'metadata.labels["../etc"]',
            "FieldInvalid",
            "key '../etc' has an invalid prefix",
        ),
        (
            {"name": "a", "labels": {"x" * 400: "x"}},
            "metadata.labels",
            "FieldInvalid",
            f"key '{'x' * 80}'... (400 characters) has a name",
        ),
        (
            {"name": "a", "labels": {"d": "a\nb"}},
            "metadata.labels.d",
            "FieldInvalid",
            "'a\\nb' is not a label value",
        ),
        (
            {"name": "a", "labels": {"d": "x" * 64}},
            "metadata.labels.d",
            "FieldInvalid",
            "'" + "x" * 64 + "' is 64 characters long",
        ),
        (
            {"name": "a", "labels": {"d": 2}},
            "metadata.labels.d",
            "FieldInvalid",
            "2 is a number; a label value is a string, quote it",
        ),
    ],
)
def test_names_namespaces_and_labels_are_checked_as_the_apiserver_does(
    metadata: dict[str, Any], field: str, code: str, message: str
) -> None:
    finding = only(validate_document(document() | {"metadata": metadata}, NOW))

    assert (finding.field, finding.code) == (field, code)
    assert finding.message.startswith(message)


def test_valid_labels_and_a_63_character_name_have_no_findings() -> None:
    labels = {
        "app.kubernetes.io/part-of": "district-rollover",
        "tier": "",
        "a" * 253 + "/" + "B" * 63: "v_1.x",
    }
    raw = document() | {"metadata": {"name": "n" * 63, "namespace": "district-il", "labels": labels}}

    assert validate_document(raw, NOW) == []


def test_huge_values_are_shown_cut_with_their_length() -> None:
    raw = document(districtId="A" * 1024 * 1024, timeZone="America/" + "Chicago" * 1000)
    raw["spec"]["calendar"] = {"country": "US", "subdivision": "IL", "x" * 100_000: 1}

    findings = validate_document(raw, NOW)

    assert [f.field for f in findings] == ["spec.districtId", "spec.timeZone", "spec.calendar"]
    assert all(len(str(f)) < 300 for f in findings), [len(str(f)) for f in findings]
    assert f"'{'A' * 80}'... (1048576 characters)" in findings[0].message
    assert findings[2].message.startswith(f"key '{'x' * 80}'... (100000 characters): unknown field")


def test_a_valid_document_parses_with_no_findings() -> None:
    report = check_document(document(), NOW)

    assert report.findings == ()
    assert report.spec == spec()


@pytest.mark.parametrize(
    ("change", "field", "code", "message"),
    [
        ({"kind": "ConfigMap"}, "kind", "KindUnexpected", "'ConfigMap' is not DistrictRollover; expected"),
        ({"kind": None}, "kind", "KindUnexpected", "is required; expected DistrictRollover"),
        ({"apiVersion": "v1"}, "apiVersion", "ApiVersionUnsupported", "'v1' is not supported; use"),
        ({"metadata": {}}, "metadata.name", "NameMissing", "is required"),
        ({"metadata": {"name": "Bad_Name"}}, "metadata.name", "NameInvalid", "'Bad_Name' is not a valid"),
        ({"metadata": {"name": "a", "namespace": "No"}}, "metadata.namespace", "NamespaceInvalid", "'No' is"),
        ({"metadata": None}, "metadata", "MetadataMissing", "is required"),
        ({"spec": None}, "spec", "FieldRequired", "is required"),
    ],
)  # fmt: skip
def test_document_header_errors(change: dict[str, Any], field: str, code: str, message: str) -> None:
    raw = {k: v for k, v in (document() | change).items() if v is not None}

    finding = only(validate_document(raw, NOW))

    assert (finding.field, finding.code) == (field, code)
    assert finding.message.startswith(message)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"resetDate": None}, "spec.resetDate", "is required"),
        ({"resetDate": "2027-7-4"}, "spec.resetDate", "'2027-7-4' is not a date; expected YYYY-MM-DD"),
        ({"districtId": 12345}, "spec.districtId", "12345 is a number; expected a string, quote it"),
        ({"districtId": "-x"}, "spec.districtId", "'-x' is invalid; expected 1-63 letters, digits"),
        ({"schoolYear": "26/27"}, "spec.schoolYear", "'26/27' is invalid; expected two consecutive years"),
        ({"resetdate": "2027-07-16"}, "spec.resetdate", "unknown field; did you mean resetDate?"),
        ({"calendar": {"q": 1}}, "spec.calendar.q", "unknown field; allowed: country, subdivision, closures"),
        ({"calendar": "US"}, "spec.calendar", "expected a mapping, got str"),
        ({"products": "imagine-math"}, "spec.products", "expected a list, got str"),
        ({"products": ["Imagine Math"]}, "spec.products[0]", "'Imagine Math' is invalid; expected a product"),
        (
            {"syncSelector": {"matchExpressions": [{"key": "a", "operator": "Is"}]}},
            "spec.syncSelector.matchExpressions[0].operator",
            "'Is': Input should be 'In', 'NotIn', 'Exists' or 'DoesNotExist'",
        ),
        (
            {"syncSelector": {"matchLabels": {"rostering.k12.dev/district": "a b"}}},
            'spec.syncSelector.matchLabels["rostering.k12.dev/district"]',
            "'a b' is invalid; expected a label value",
        ),
    ],
)  # fmt: skip
def test_schema_errors_become_findings_with_field_paths(
    overrides: dict[str, Any], field: str, message: str
) -> None:
    raw = document()
    raw["spec"] = {k: v for k, v in (raw["spec"] | overrides).items() if v is not None}

    finding = only(validate_document(raw, NOW))

    assert finding.field == field
    assert finding.message.startswith(message)


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.dates(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=8,
)


@given(
    st.dictionaries(st.sampled_from([*raw_spec(), "pause", "exception", "suspend", "x"]), JSON, max_size=4)
)
def test_validate_document_never_raises(changes: dict[str, Any]) -> None:
    raw = document()
    raw["spec"] |= changes

    findings = validate_document(raw, NOW)

    assert all(isinstance(f, Finding) for f in findings)


@given(st.dictionaries(st.sampled_from(list(raw_spec())), JSON, max_size=3))
def test_every_code_is_a_valid_condition_reason(changes: dict[str, Any]) -> None:
    raw = document()
    raw["spec"] |= changes

    for finding in validate_document(raw, NOW):
        assert re.match(CONDITION_REASON_PATTERN, finding.code), finding


def test_every_rule_code_is_a_valid_condition_reason() -> None:
    assert [code for code in RuleCode if not re.match(CONDITION_REASON_PATTERN, code)] == []


def test_rule_codes_are_valid_condition_reasons() -> None:
    broken = spec(
        resetDate="2027-10-02", schoolYear="2027-2029", summerSchoolEnd="2027-10-01", products=["x", "x"]
    )

    findings = validate_spec(broken, NOW) + validate_spec(spec(summerSchoolEnd="2027-07-15"), NOW)

    assert len(findings) >= 6
    assert all(re.match(CONDITION_REASON_PATTERN, f.code) for f in findings)


# --- field paths ------------------------------------------------------------------------------

SEGMENTS = st.lists(st.text(min_size=1, max_size=10) | st.integers(0, 99), max_size=6)


@given(st.text(alphabet="abcXYZ_", min_size=1, max_size=8), SEGMENTS)
def test_field_paths_round_trip(first: str, rest: list[str | int]) -> None:
    segments = (first, *rest)

    assert parse_path(format_path(segments)) == segments


def test_field_paths_quote_keys_that_are_not_identifiers() -> None:
    assert format_path(["spec", "products", 2]) == "spec.products[2]"
    assert format_path(["metadata", "labels", "a.b/c"]) == 'metadata.labels["a.b/c"]'
