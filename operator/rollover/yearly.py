"""The yearly workflow's pure logic: a district's reset date for the next school year, and a new
district's document from one row of a spreadsheet export. No clock, no files.

Rolling forward (`rollover roll-forward`): `schoolYear` Y1-Y2 becomes (Y1+1)-(Y2+1) and `resetDate`

- is the default date closest to last year's by position in the year: month and day are compared in a
  common non-leap year, so Feb 29 and leap years do not skew the distance, and there is no wrap-around
  at New Year: the defaults are in the summer, and districts reset near New Year hold an exception;
- on a tie, is the later default, so a district never loses summer days;
- for a district with a CSM `exception`, is its own date kept: the same weekday 52 weeks later (53 if
  52 would stay in the same calendar year), since the exception was approved for that date, not for a
  summer default;
- if that day is not a business day for the district (weekend, holiday of its calendar, closure), is
  the first business day after it.
The defaults must be dates of the year the new school year closes, Y2+1, for every district (exception or
not): that also stops a district being rolled forward twice.

The CSV columns (`rollover new`) are `CSV_COLUMNS`; see `row_document`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rollover import KIND
from rollover.api.models import DistrictRolloverSpec
from rollover.calendar import SATURDAY, BusinessCalendar, CalendarError
from rollover.validation import API_VERSION

REFERENCE_YEAR = 2001  # any non-leap year
MAX_SEARCH_DAYS = 366  # so a calendar closed all year is an error, not a hang
WEEK = dt.timedelta(weeks=1)


class RollError(ValueError):
    """A district that cannot be rolled forward; `field` is a document path such as spec.schoolYear."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Rolled:
    """A district's next school year and reset date, and how the date was chosen."""

    school_year: str
    reset_date: dt.date
    basis: dt.date  # the default chosen, or the district's own date a year on
    own_date: bool  # kept its own date (CSM exception) rather than a default
    moved_because: str | None  # why `basis` is not a business day (`a Saturday`), if it is not

    def explain(self, previous: dt.date) -> str:
        """How the date was chosen, e.g. `the default closest to Jul 16`."""
        how = (
            "own date kept (spec.exception): the same weekday a year on"
            if self.own_date
            else f"the default closest to {previous:%b} {previous.day}"
        )
        if self.moved_because:
            how += f" is {self.basis}, {self.moved_because}, so the next business day"
        return how


def year_position(day: dt.date) -> int:
    """The day's place in the year, 1-365, counted in a non-leap year (Feb 29 counts as Feb 28)."""
    same_day = dt.date(REFERENCE_YEAR, day.month, min(day.day, 28) if day.month == 2 else day.day)
    return same_day.timetuple().tm_yday


def closest_default(previous: dt.date, defaults: Sequence[dt.date]) -> dt.date:
    """The default closest to `previous` by `year_position`; on a tie, the later one."""
    if not defaults:
        raise ValueError("no default dates")
    target = year_position(previous)
    return min(defaults, key=lambda day: (abs(year_position(day) - target), -day.toordinal()))


def first_business_day(day: dt.date, is_business_day: Callable[[dt.date], bool]) -> dt.date:
    """`day` if it is a business day, else the first business day after it."""
    for offset in range(MAX_SEARCH_DAYS + 1):
        candidate = day + dt.timedelta(days=offset)
        if is_business_day(candidate):
            return candidate
    raise ValueError(f"no business day within {MAX_SEARCH_DAYS} days of {day}")


def a_year_on(day: dt.date) -> dt.date:
    """The same weekday 52 weeks later, or 53 if 52 would stay in `day`'s calendar year."""
    later = day + 52 * WEEK
    return later if later.year > day.year else later + WEEK


def next_school_year(school_year: str) -> str:
    """`2026-2027` -> `2027-2028`."""
    first, second = school_year.split("-")
    return f"{int(first) + 1}-{int(second) + 1}"


def roll_forward(spec: DistrictRolloverSpec, defaults: Sequence[dt.date]) -> Rolled:
    """The district's next school year and reset date (see the module docstring); RollError if there is
    none. `defaults` are the new year's default dates, all in one year."""
    school_year = next_school_year(spec.school_year)
    closing_year, defaults_year = spec.school_year_bounds()[1] + 1, min(defaults).year
    if closing_year != defaults_year:
        raise RollError(
            "spec.schoolYear",
            f"{spec.school_year} would roll forward to {school_year}, a school year closing in "
            f"{closing_year}, but the defaults are dates of {defaults_year}: roll forward districts of "
            f"schoolYear {defaults_year - 2}-{defaults_year - 1} (was this one rolled forward already?)",
        )
    try:
        calendar = BusinessCalendar(spec.calendar)
    except CalendarError as exc:
        raise RollError(f"spec.{exc.field}", str(exc)) from None
    own_date = spec.exception is not None
    basis = a_year_on(spec.reset_date) if own_date else closest_default(spec.reset_date, defaults)
    try:
        reset_date = first_business_day(basis, calendar.is_business_day)
    except ValueError as exc:
        raise RollError("spec.calendar.closures", str(exc)) from None
    moved_because = None if reset_date == basis else _not_a_business_day(calendar, basis)
    return Rolled(school_year, reset_date, basis, own_date, moved_because)


def _not_a_business_day(calendar: BusinessCalendar, day: dt.date) -> str:
    if day.weekday() >= SATURDAY:
        return f"a {day:%A}"
    if holiday := calendar.holiday_name(day):
        return f"a holiday in {calendar.label} ({holiday})"
    return "a district closure day"


# --- a new district from a CSV row ------------------------------------------------------------

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
