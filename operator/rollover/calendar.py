"""Business days and the rollover schedule: pure functions of the spec, no clock.

A business day is Monday to Friday, not a public holiday of the district's country/subdivision
(the `holidays` package, default categories, observed days included) and not a district closure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from rollover.api.models import CalendarSpec, DistrictRolloverSpec
from rollover.reasons import RuleCode

SATURDAY = 5  # date.weekday(): Monday is 0


class CalendarError(ValueError):
    """A spec names a calendar or time zone we cannot build; `field` is relative to the spec."""

    def __init__(self, field: str, code: RuleCode, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.code = code


@cache
def _supported() -> Mapping[str, tuple[str, ...]]:
    """Country codes (and their aliases) of the `holidays` package, with their subdivision codes."""
    return {
        country: tuple(subdivisions)
        for country, subdivisions in holidays.list_supported_countries(include_aliases=True).items()
    }


# Thousands of districts share a few dozen (country, subdivision) pairs; one table per year each.
@lru_cache(maxsize=4096)
def _holiday_table(country: str, subdivision: str | None, year: int) -> Mapping[dt.date, str]:
    table = holidays.country_holidays(country, subdiv=subdivision, years=year)
    return MappingProxyType(dict(table.items()))


def time_zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; CalendarError if there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarError(
            "timeZone", RuleCode.TIME_ZONE_UNKNOWN, f"{name!r} is not an IANA time zone, e.g. America/Chicago"
        ) from None


def start_of_day(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    """The first instant of `day` in `zone`: 00:00, or the end of a DST gap that swallows midnight."""
    naive_midnight = dt.datetime.combine(day, dt.time(), tzinfo=zone)
    # A round trip through UTC moves a nonexistent local time forward to the first real one.
    return naive_midnight.astimezone(dt.UTC).astimezone(zone)


#: The last time zone to leave a day (UTC-12): a day is over everywhere once it is over here.
LAST_TIME_ZONE = dt.timezone(dt.timedelta(hours=-12))


def purge_not_before(retention_until: dt.date) -> dt.datetime:
    """The first instant an archive kept until `retention_until` may be purged: when that day has ended
    in every time zone. The operator plans the purge then, and the purge Job refuses any earlier run
    (by its own clock, against the date its signed certificate states), so "kept until" holds for the
    district wherever it is, without the Job knowing its time zone."""
    return dt.datetime.combine(retention_until + dt.timedelta(days=1), dt.time(), tzinfo=LAST_TIME_ZONE)


class BusinessCalendar:
    """Which days are business days for one district calendar."""

    def __init__(self, spec: CalendarSpec) -> None:
        """Check the country and subdivision against the `holidays` package; CalendarError if unknown."""
        supported = _supported()
        if spec.country not in supported:
            raise CalendarError(
                "calendar.country",
                RuleCode.COUNTRY_UNKNOWN,
                f"{spec.country!r} is not a country code of the holidays package, e.g. US, CA, AU",
            )
        subdivisions = supported[spec.country]
        if spec.subdivision is not None and spec.subdivision not in subdivisions:
            known = ", ".join(subdivisions) or "none"
            raise CalendarError(
                "calendar.subdivision",
                RuleCode.SUBDIVISION_UNKNOWN,
                f"{spec.subdivision!r} is not a subdivision of {spec.country} in the holidays package; "
                f"known: {known}",
            )
        self.country = spec.country
        self.subdivision = spec.subdivision
        self.closures = frozenset(spec.closures)

    @property
    def label(self) -> str:
        """The calendar as people write it, e.g. `US-IL`."""
        return f"{self.country}-{self.subdivision}" if self.subdivision else self.country

    def holiday_name(self, day: dt.date) -> str | None:
        """The public holiday on `day` (observed days included), if any."""
        return _holiday_table(self.country, self.subdivision, day.year).get(day)

    def is_closure(self, day: dt.date) -> bool:
        """Whether `day` is one of the district's closure days."""
        return day in self.closures

    def is_business_day(self, day: dt.date) -> bool:
        """Monday to Friday, not a holiday, not a closure."""
        return day.weekday() < SATURDAY and not self.is_closure(day) and self.holiday_name(day) is None

    def next_business_day(self, day: dt.date) -> dt.date:
        """The first business day after `day`."""
        day += dt.timedelta(days=1)
        while not self.is_business_day(day):
            day += dt.timedelta(days=1)
        return day

    def subtract_business_days(self, day: dt.date, n: int) -> dt.date:
        """The business day `n` business days before `day` (`day` itself need not be one)."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        for _ in range(n):
            day -= dt.timedelta(days=1)
            while not self.is_business_day(day):
                day -= dt.timedelta(days=1)
        return day


@dataclass(frozen=True)
class Schedule:
    """When a district's roster sync pauses and its data is reset; aware datetimes in its zone."""

    pause_date: dt.date
    pause_at: dt.datetime
    reset_at: dt.datetime


def compute_schedule(spec: DistrictRolloverSpec) -> Schedule:
    """The pause and reset instants of `spec`; CalendarError for an unknown zone, country or subdivision."""
    zone = time_zone(spec.time_zone)
    pause_date = BusinessCalendar(spec.calendar).subtract_business_days(
        spec.reset_date, spec.pause.business_days_before
    )
    return Schedule(
        pause_date=pause_date,
        pause_at=start_of_day(pause_date, zone),
        reset_at=start_of_day(spec.reset_date, zone),
    )


@dataclass(frozen=True)
class PreflightWindow:
    """When the preflight runs: from `starts_at` (00:00 of the business day `business_days` before
    the pause) until the pause; after a failure, again from the start of each next business day."""

    date: dt.date
    starts_at: dt.datetime


def preflight_window(spec: DistrictRolloverSpec, schedule: Schedule, business_days: int) -> PreflightWindow:
    """The preflight of `spec` under `schedule`, `business_days` business days before its pause."""
    day = BusinessCalendar(spec.calendar).subtract_business_days(schedule.pause_date, business_days)
    return PreflightWindow(day, start_of_day(day, time_zone(spec.time_zone)))


def next_business_day_start(spec: DistrictRolloverSpec, now: dt.datetime) -> dt.datetime:
    """00:00 of the district's first business day after the local day of `now`."""
    zone = time_zone(spec.time_zone)
    day = BusinessCalendar(spec.calendar).next_business_day(now.astimezone(zone).date())
    return start_of_day(day, zone)
