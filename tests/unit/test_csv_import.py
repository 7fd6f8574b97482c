"""A new district from a CSV row: the document, the cells that cannot be used, names, headers, and which
column a finding came from."""

from __future__ import annotations

import datetime as dt

import pytest

from rollover.csv_import import (
    CSV_COLUMNS,
    REQUIRED_COLUMNS,
    RowError,
    column_of,
    header_columns,
    object_name,
    row_document,
)

pytestmark = pytest.mark.unit

D = dt.date.fromisoformat

ROW = {
    "districtId": "OH-MAPLEHTS",
    "displayName": "Maple Heights City Schools",
    "state": "OH",
    "timeZone": "America/New_York",
    "products": "imagine-math; twig-science |imagine-math-facts",
    "namespace": "district-oh",
    "selectorLabel": "rostering.k12.dev/district=oh-maplehts",
    "resetDate": "2027-07-16",
}


def test_a_row_becomes_a_document() -> None:
    assert row_document(ROW, None) == {
        "apiVersion": "rostering.k12.dev/v1alpha1",
        "kind": "DistrictRollover",
        "metadata": {"name": "oh-maplehts", "namespace": "district-oh"},
        "spec": {
            "districtId": "OH-MAPLEHTS",
            "displayName": "Maple Heights City Schools",
            "schoolYear": "2026-2027",
            "resetDate": D("2027-07-16"),
            "timeZone": "America/New_York",
            "calendar": {"country": "US", "subdivision": "OH"},
            "products": ["imagine-math", "twig-science", "imagine-math-facts"],
            "syncSelector": {"matchLabels": {"rostering.k12.dev/district": "oh-maplehts"}},
        },
    }


def test_optional_cells_fill_their_fields_and_empty_ones_are_left_out() -> None:
    row = ROW | {"displayName": "", "state": "", "country": "CA", "resetDate": "", "schoolYear": "2026-2027"}
    document = row_document(row | {"name": "maple"}, D("2027-07-30"))

    assert document["metadata"]["name"] == "maple"
    assert "displayName" not in document["spec"]
    assert document["spec"]["calendar"] == {"country": "CA"}
    assert document["spec"]["resetDate"] == D("2027-07-30")


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ({"districtId": " "}, "districtId: is empty"),
        ({"timeZone": ""}, "timeZone: is empty"),
        ({"resetDate": "July 16"}, "resetDate: 'July 16' is not a date; expected YYYY-MM-DD"),
        ({"resetDate": ""}, "resetDate: is empty and there is no --reset-date"),
        ({"selectorLabel": "oh-maplehts"}, "selectorLabel: 'oh-maplehts' is not key=value"),
        ({"districtId": "--"}, "districtId: '--' has no letters or digits for a name"),
    ],
)
def test_cells_that_cannot_be_used(cells: dict[str, str], message: str) -> None:
    with pytest.raises(RowError, match=message):
        row_document(ROW | cells, None)


@pytest.mark.parametrize(
    ("district_id", "name"),
    [
        ("IL-PV204", "il-pv204"),
        ("TX_Lone.Star", "tx-lone-star"),
        ("A" * 70, "a" * 63),
        ("x" * 62 + ".y", "x" * 62),
    ],
)
def test_names_are_dns_labels(district_id: str, name: str) -> None:
    assert object_name(district_id) == name


def test_header_names_ignore_case_spaces_underscores_and_a_bom() -> None:
    header = [
        "\ufeffDistrict ID",
        "display_name",
        "STATE",
        "Time Zone",
        "products",
        "Namespace",
        "selector label",
    ]

    assert header_columns(header) == list(REQUIRED_COLUMNS)
    assert set(REQUIRED_COLUMNS) < set(CSV_COLUMNS)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ([*REQUIRED_COLUMNS, "zip"], "unknown column 'zip'; columns: districtId, displayName, "),
        ([*REQUIRED_COLUMNS, "district_id"], "column districtId is given twice"),
        (REQUIRED_COLUMNS[1:], r"missing column\(s\): districtId"),
        (
            [],
            r"missing column\(s\): districtId, displayName, state, timeZone, products, namespace, selector",
        ),
    ],
)
def test_bad_headers(header: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        header_columns(header)


@pytest.mark.parametrize(
    ("field", "present", "column"),
    [
        ("spec.calendar.subdivision", {"state"}, "state"),
        ("spec.calendar.country", set(), "country (US)"),
        ("spec.products[1]", {"products"}, "products"),
        ('spec.syncSelector.matchLabels["a/b"]', {"selectorLabel"}, "selectorLabel"),
        ("spec.resetDate", set(), "--reset-date"),
        ("metadata.name", set(), "name (from districtId)"),
        ("metadata.namespace", {"namespace"}, "namespace"),
        ("spec.pause", set(), "spec.pause"),
    ],
)
def test_findings_name_the_column_they_came_from(field: str, present: set[str], column: str) -> None:
    assert column_of(field, present) == column
