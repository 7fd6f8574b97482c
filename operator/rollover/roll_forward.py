"""Rolling a district forward to the next school year (`rollover roll-forward`), pure: no clock, no files.

`schoolYear` Y1-Y2 becomes (Y1+1)-(Y2+1) and `resetDate`

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
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rollover.api.models import DistrictRolloverSpec
from rollover.calendar import SATURDAY, BusinessCalendar, CalendarError

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
