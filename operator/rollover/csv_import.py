"""A new district's DistrictRollover document from one row of a spreadsheet export (`rollover new`), pure:
no clock, no files. The columns are `CSV_COLUMNS`; see `row_document`."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from rollover import KIND
from rollover.validation import API_VERSION

#: The CSV columns (header names; case, spaces and `_` are ignored), and what each one fills.
CSV_COLUMNS: Mapping[str, str] = {
    "districtId": "spec.districtId (required)",
    "displayName": "spec.displayName (may be empty)",
    "state": "spec.calendar.subdivision: the state, or the subdivision of `country` (may be empty)",
    "timeZone": "spec.timeZone, an IANA zone such as America/Chicago (required)",
    "products": "spec.products, separated by ';' or '|' (required)",
    "namespace": "metadata.namespace (required)",
    "selectorLabel": "spec.syncSelector.matchLabels: key=value, several separated by ';' or '|' (required)",
    "country": "optional column: spec.calendar.country (default US)",
    "resetDate": "optional column: spec.resetDate, YYYY-MM-DD (default: rollover new --reset-date)",
    "schoolYear": "optional column: spec.schoolYear (default: the school year that resetDate closes)",
    "name": "optional column: metadata.name and the file name (default: districtId in lowercase)",
}
REQUIRED_COLUMNS = tuple(name for name, what in CSV_COLUMNS.items() if not what.startswith("optional"))
MAY_BE_EMPTY = frozenset({"displayName", "state"})  # required columns whose cells may be empty
_SEPARATORS = re.compile(r"[;|]")
_NOT_NAME = re.compile(r"[^a-z0-9]+")
# Document fields and the column that fills them; the first match wins (prefixes, most specific first).
_FIELD_COLUMNS = (
    ("metadata.namespace", "namespace"),
    ("metadata", "name"),
    ("spec.districtId", "districtId"),
    ("spec.displayName", "displayName"),
    ("spec.schoolYear", "schoolYear"),
    ("spec.resetDate", "resetDate"),
    ("spec.timeZone", "timeZone"),
    ("spec.calendar.country", "country"),
    ("spec.calendar", "state"),
    ("spec.products", "products"),
    ("spec.syncSelector", "selectorLabel"),
)
# Where a value comes from when its cell is empty or its column absent.
_FALLBACKS = {
    "resetDate": "--reset-date",
    "schoolYear": "schoolYear (from resetDate)",
    "name": "name (from districtId)",
    "country": "country (US)",
}


class RowError(ValueError):
    """A CSV cell that cannot become part of a document."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(f"{column}: {message}")
        self.column = column


def header_columns(header: Sequence[str]) -> list[str]:
    """The canonical column names of a CSV header; ValueError for an unknown, repeated or missing one."""
    canonical = {_fold(name): name for name in CSV_COLUMNS}
    columns = []
    for cell in header:
        name = canonical.get(_fold(cell))
        if name is None:
            raise ValueError(f"unknown column {cell!r}; columns: {', '.join(CSV_COLUMNS)}")
        if name in columns:
            raise ValueError(f"column {name} is given twice")
        columns.append(name)
    if missing := [name for name in REQUIRED_COLUMNS if name not in columns]:
        raise ValueError(f"missing column(s): {', '.join(missing)}")
    return columns


def _fold(name: str) -> str:
    # A spreadsheet may say "District ID" or district_id; Excel starts a UTF-8 file with a BOM.
    return re.sub(r"[\s_\ufeff]", "", name).casefold()


def object_name(district_id: str) -> str:
    """A DNS-1123 label from a district ID: `IL-PV204` -> `il-pv204`, `TX_Lone.Star` -> `tx-lone-star`."""
    return _NOT_NAME.sub("-", district_id.lower()).strip("-")[:63].rstrip("-")


def row_document(row: Mapping[str, str | None], default_reset: dt.date | None) -> dict[str, Any]:
    """The DistrictRollover document (wire form, camelCase) of one CSV row keyed by canonical column;
    RowError for a cell that cannot be used. The document still needs validating."""
    cell = {column: (row.get(column) or "").strip() for column in CSV_COLUMNS}
    for column in REQUIRED_COLUMNS:
        if column not in MAY_BE_EMPTY and not cell[column]:
            raise RowError(column, "is empty")
    if cell["resetDate"]:
        try:
            reset_date = parse_date(cell["resetDate"])
        except ValueError as exc:
            raise RowError("resetDate", str(exc)) from None
    elif default_reset is not None:
        reset_date = default_reset
    else:
        raise RowError("resetDate", "is empty and there is no --reset-date")
    name = cell["name"] or object_name(cell["districtId"])
    if not name:
        raise RowError("districtId", f"{cell['districtId']!r} has no letters or digits for a name")
    calendar = {"country": cell["country"] or "US"}
    if cell["state"]:
        calendar["subdivision"] = cell["state"]
    spec: dict[str, Any] = {"districtId": cell["districtId"]}
    if cell["displayName"]:
        spec["displayName"] = cell["displayName"]
    spec |= {
        "schoolYear": cell["schoolYear"] or f"{reset_date.year - 1}-{reset_date.year}",
        "resetDate": reset_date,
        "timeZone": cell["timeZone"],
        "calendar": calendar,
        "products": _items(cell["products"]),
        "syncSelector": {"matchLabels": _labels(cell["selectorLabel"])},
    }
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": cell["namespace"]},
        "spec": spec,
    }


def parse_date(text: str) -> dt.date:
    """A YYYY-MM-DD date; ValueError with a message for people otherwise."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date; expected YYYY-MM-DD") from None


def _items(text: str) -> list[str]:
    return [item.strip() for item in _SEPARATORS.split(text) if item.strip()]


def _labels(text: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for item in _items(text):
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise RowError(
                "selectorLabel", f"{item!r} is not key=value, e.g. rostering.k12.dev/district=il-1"
            )
        labels[key.strip()] = value.strip()
    return labels


def column_of(field: str, present: Collection[str]) -> str:
    """The CSV column a document field came from, for messages; `present` are the row's non-empty cells.
    A value that did not come from a cell says where it came from, e.g. `--reset-date`."""
    for prefix, column in _FIELD_COLUMNS:
        if field == prefix or field.startswith((f"{prefix}.", f"{prefix}[")):
            return column if column in present else _FALLBACKS.get(column, column)
    return field
