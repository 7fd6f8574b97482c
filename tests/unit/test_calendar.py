"""Business days and the schedule: weekends, holidays (observed), closures, time zones."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollover import calendar as calendar_module
from rollover.api.models import CalendarSpec, DistrictRolloverSpec
from rollover.calendar import (
    BusinessCalendar,
    CalendarError,
    compute_schedule,
    purge_not_before,
    start_of_day,
    time_zone,
)

pytestmark = pytest.mark.unit

US = BusinessCalendar(CalendarSpec(country="US"))
IL = BusinessCalendar(CalendarSpec(country="US", subdivision="IL"))


def spec(**overrides: Any) -> DistrictRolloverSpec:
    base: dict[str, Any] = {
        "districtId": "IL-PV204",
        "schoolYear": "2026-2027",
        "resetDate": "2027-07-16",
        "timeZone": "America/Chicago",
        "calendar": {"country": "US", "subdivision": "IL"},
        "products": ["imagine-math"],
        "syncSelector": {"matchLabels": {"rostering.k12.dev/district": "il-pv204"}},
    }
    return DistrictRolloverSpec.model_validate(base | overrides)


@pytest.mark.parametrize(
    ("day", "business"),
    [
        ("2027-07-16", True),  # Friday
        ("2027-07-17", False),  # Saturday
        ("2027-07-18", False),  # Sunday
        ("2027-07-05", False),  # Independence Day (observed): July 4 is a Sunday
        ("2026-07-03", False),  # Independence Day (observed): July 4 is a Saturday
        ("2027-09-06", False),  # Labor Day
    ],
)
def test_business_days_are_weekdays_that_are_not_holidays(day: str, business: bool) -> None:
    assert US.is_business_day(dt.date.fromisoformat(day)) is business


def test_holiday_names_include_observed_days() -> None:
    assert US.holiday_name(dt.date(2026, 7, 3)) == "Independence Day (observed)"
    assert US.holiday_name(dt.date(2027, 7, 16)) is None


def test_subdivision_holidays_apply_only_in_that_subdivision() -> None:
    pulaski = dt.date(2027, 3, 1)

    assert IL.holiday_name(pulaski) == "Casimir Pulaski Day"
    assert US.is_business_day(pulaski)


def test_closures_are_not_business_days_but_not_holidays() -> None:
    closure = dt.date(2027, 8, 13)
    calendar = BusinessCalendar(CalendarSpec(country="US", subdivision="NY", closures=[closure]))

    assert not calendar.is_business_day(closure)
    assert calendar.is_closure(closure)
    assert calendar.holiday_name(closure) is None


def test_label_names_country_and_subdivision() -> None:
    assert IL.label == "US-IL"
    assert US.label == "US"


@pytest.mark.parametrize(
    ("day", "n", "expected"),
    [
        ("2027-07-16", 1, "2027-07-15"),  # Friday -> Thursday
        ("2027-07-19", 1, "2027-07-16"),  # Monday -> Friday, over the weekend
        ("2026-07-06", 1, "2026-07-02"),  # Monday -> Thursday, over the observed July 4th
        ("2027-07-06", 1, "2027-07-02"),  # Tuesday -> Friday, over the weekend and the observed Monday
        ("2027-07-16", 5, "2027-07-09"),
        ("2027-07-17", 1, "2027-07-16"),  # a weekend day itself still counts back to a business day
        ("2027-07-16", 0, "2027-07-16"),
    ],
)
def test_subtract_business_days(day: str, n: int, expected: str) -> None:
    assert US.subtract_business_days(dt.date.fromisoformat(day), n) == dt.date.fromisoformat(expected)


def test_subtract_business_days_skips_closures() -> None:
    calendar = BusinessCalendar(CalendarSpec(country="US", subdivision="NY", closures=[dt.date(2027, 8, 13)]))

    assert calendar.subtract_business_days(dt.date(2027, 8, 16), 2) == dt.date(2027, 8, 11)


def test_subtract_business_days_rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match="n must be >= 0"):
        US.subtract_business_days(dt.date(2027, 7, 16), -1)


@pytest.mark.parametrize(
    ("calendar", "field", "code"),
    [
        (CalendarSpec(country="ZZ"), "calendar.country", "CountryUnknown"),
        (CalendarSpec(country="US", subdivision="XX"), "calendar.subdivision", "SubdivisionUnknown"),
    ],
)
def test_unknown_calendars_are_refused(calendar: CalendarSpec, field: str, code: str) -> None:
    with pytest.raises(CalendarError) as caught:
        BusinessCalendar(calendar)

    assert (caught.value.field, caught.value.code) == (field, code)


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "America/chicago_typo", "../etc/passwd"])
def test_unknown_time_zones_are_refused(name: str) -> None:
    with pytest.raises(CalendarError) as caught:
        time_zone(name)

    assert (caught.value.field, caught.value.code) == ("timeZone", "TimeZoneUnknown")


def test_holiday_tables_are_built_once_per_country_subdivision_and_year(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[tuple[str, str | None, Any]] = []
    real = holidays.country_holidays

    def counting(country: str, subdiv: str | None = None, years: Any = None) -> Any:
        built.append((country, subdiv, years))
        return real(country, subdiv=subdiv, years=years)

    calendar_module._holiday_table.cache_clear()
    monkeypatch.setattr(holidays, "country_holidays", counting)
    for district in range(200):
        compute_schedule(spec(districtId=f"IL-{district}", resetDate=f"2027-07-{12 + district % 5:02d}"))

    assert built == [("US", "IL", 2027)]
    calendar_module._holiday_table.cache_clear()


@pytest.mark.parametrize(
    ("zone", "reset_date", "pause_at", "reset_at"),
    [
        ("America/Chicago", "2027-07-16", "2027-07-15T00:00:00-05:00", "2027-07-16T00:00:00-05:00"),
        ("America/Phoenix", "2027-07-16", "2027-07-15T00:00:00-07:00", "2027-07-16T00:00:00-07:00"),
        ("Pacific/Guam", "2027-07-16", "2027-07-15T00:00:00+10:00", "2027-07-16T00:00:00+10:00"),
        # DST ends on Sunday 2027-11-07 in Chicago: the pause is before it, the reset after it.
        ("America/Chicago", "2027-11-08", "2027-11-05T00:00:00-05:00", "2027-11-08T00:00:00-06:00"),
    ],
)
def test_schedule_is_midnight_in_the_district_time_zone(
    zone: str, reset_date: str, pause_at: str, reset_at: str
) -> None:
    schedule = compute_schedule(spec(timeZone=zone, resetDate=reset_date))

    assert schedule.pause_at.isoformat() == pause_at
    assert schedule.reset_at.isoformat() == reset_at
    assert schedule.pause_date == dt.date.fromisoformat(pause_at[:10])


def test_schedule_uses_business_days_before() -> None:
    schedule = compute_schedule(spec(resetDate="2027-07-06", pause={"businessDaysBefore": 3}))

    assert schedule.pause_date == dt.date(2027, 6, 30)  # Jul 2, Jul 1, Jun 30; Jul 5 is observed


def test_start_of_day_skips_a_dst_gap_at_midnight() -> None:
    # Chile starts DST at 24:00 on Saturday 2026-09-05: Sunday begins at 01:00.
    start = start_of_day(dt.date(2026, 9, 6), ZoneInfo("America/Santiago"))

    assert start.isoformat() == "2026-09-06T01:00:00-03:00"


# --- properties -------------------------------------------------------------------------------

CALENDARS = [
    ("US", None),
    ("US", "IL"),
    ("US", "AZ"),
    ("US", "GU"),
    ("US", "HI"),
    ("US", "TX"),
    ("US", "NY"),
    ("US", "CA"),
    ("US", "PR"),
    ("AU", "NSW"),
    ("CA", "ON"),
    ("GB", "ENG"),
]
ZONES = [
    "Pacific/Guam",
    "America/Phoenix",
    "America/Chicago",
    "America/New_York",
    "America/Los_Angeles",
    "Pacific/Honolulu",
    "America/Anchorage",
    "Australia/Sydney",
    "America/Santiago",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
]


@st.composite
def specs(draw: st.DrawFn) -> DistrictRolloverSpec:
    reset = draw(st.dates(dt.date(2024, 1, 1), dt.date(2035, 12, 31)))
    country, subdivision = draw(st.sampled_from(CALENDARS))
    closures = draw(
        st.lists(st.integers(0, 30).map(lambda days: reset - dt.timedelta(days=days)), max_size=8)
    )
    return spec(
        resetDate=reset.isoformat(),
        schoolYear=f"{reset.year - 1}-{reset.year}",
        timeZone=draw(st.sampled_from(ZONES)),
        calendar={"country": country, "subdivision": subdivision, "closures": closures},
        pause={"businessDaysBefore": draw(st.integers(1, 10))},
    )


def _first_instant_of(moment: dt.datetime, day: dt.date, zone: ZoneInfo) -> bool:
    # Aware arithmetic in one zone is wall-clock arithmetic: step back in UTC instead.
    just_before = (moment.astimezone(dt.UTC) - dt.timedelta(microseconds=1)).astimezone(zone)
    return moment.date() == day and just_before.date() == day - dt.timedelta(days=1)


@settings(max_examples=300, deadline=None)
@given(specs())
def test_pause_is_a_business_day_exactly_n_business_days_before_the_reset(
    district: DistrictRolloverSpec,
) -> None:
    calendar = BusinessCalendar(district.calendar)
    schedule = compute_schedule(district)
    from_pause_to_reset = [
        schedule.pause_date + dt.timedelta(days=i)
        for i in range((district.reset_date - schedule.pause_date).days)
    ]

    assert calendar.is_business_day(schedule.pause_date)
    assert schedule.pause_date < district.reset_date
    assert sum(map(calendar.is_business_day, from_pause_to_reset)) == district.pause.business_days_before


@settings(max_examples=300, deadline=None)
@given(specs())
def test_pause_and_reset_start_at_the_first_instant_of_their_day(district: DistrictRolloverSpec) -> None:
    zone = ZoneInfo(district.time_zone)
    schedule = compute_schedule(district)

    assert _first_instant_of(schedule.pause_at, schedule.pause_date, zone)
    assert _first_instant_of(schedule.reset_at, district.reset_date, zone)
    assert schedule.pause_at < schedule.reset_at


@given(
    st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 1, 1)),
    st.sampled_from([*ZONES, "Pacific/Kiritimati", "Etc/GMT+12", "Pacific/Guam"]),
)
def test_a_purge_is_never_due_while_the_retention_day_lasts_anywhere(day: dt.date, zone: str) -> None:
    due = purge_not_before(day)
    assert due.astimezone(ZoneInfo(zone)).date() > day
    assert due - dt.timedelta(days=2) < dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
