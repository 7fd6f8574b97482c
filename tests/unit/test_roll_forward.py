"""Rolling forward: the closest default, the next business day, exception districts, the year checked."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollover.calendar import BusinessCalendar
from rollover.roll_forward import (
    RollError,
    a_year_on,
    closest_default,
    first_business_day,
    next_school_year,
    roll_forward,
    year_position,
)
from tests.unit.test_calendar import spec  # an Illinois district on Friday 2027-07-16

pytestmark = pytest.mark.unit

D = dt.date.fromisoformat
DEFAULTS_2028 = (D("2028-07-14"), D("2028-07-28"), D("2028-08-11"))  # Fridays


# --- the closest default ----------------------------------------------------------------------


def test_positions_ignore_leap_years() -> None:
    assert year_position(D("2028-07-14")) == year_position(D("2027-07-14"))
    assert year_position(D("2028-02-29")) == year_position(D("2028-02-28"))
    assert year_position(D("2028-03-01")) - year_position(D("2027-02-28")) == 1


@pytest.mark.parametrize(
    ("previous", "chosen"),
    [
        ("2027-07-16", "2028-07-14"),
        ("2027-06-07", "2028-07-14"),  # earlier than every default
        ("2027-07-22", "2028-07-28"),  # 8 days after Jul 14, 6 before Jul 28
        ("2027-08-02", "2028-07-28"),
        ("2027-09-30", "2028-08-11"),  # later than every default
        ("2027-07-21", "2028-07-28"),  # 7 days from both: the later one, a week more of summer
        ("2027-08-04", "2028-08-11"),  # 7 days from both again
    ],
)
def test_the_closest_default_by_day_of_year_and_ties_go_later(previous: str, chosen: str) -> None:
    assert closest_default(D(previous), DEFAULTS_2028) == D(chosen)


def test_a_leap_year_does_not_skew_the_distance() -> None:
    # In 2028, Jul 14 is day 196, as Jul 15 is in 2027: counted raw, Jul 14 would be at distance 0.
    # In a common year both defaults are one day from Jul 15, and the tie goes to the later one.
    assert closest_default(D("2027-07-15"), [D("2028-07-14"), D("2028-07-16")]) == D("2028-07-16")


def test_there_is_no_wrap_around_at_new_year() -> None:
    # Dec 30 is 5 days from Jan 4 across New Year, but positions are counted from Jan 1.
    assert closest_default(D("2027-12-30"), [D("2028-01-04"), D("2028-12-20")]) == D("2028-12-20")


def test_no_defaults_is_an_error() -> None:
    with pytest.raises(ValueError, match="no default dates"):
        closest_default(D("2027-07-16"), [])


@given(
    previous=st.dates(dt.date(2020, 1, 1), dt.date(2040, 12, 31)),
    defaults=st.lists(st.dates(dt.date(2028, 1, 1), dt.date(2028, 12, 31)), min_size=1, max_size=6),
)
def test_the_choice_is_a_default_none_is_closer_and_ties_pick_the_later(
    previous: dt.date, defaults: list[dt.date]
) -> None:
    chosen = closest_default(previous, defaults)

    def distance(day: dt.date) -> int:
        return abs(year_position(day) - year_position(previous))

    assert chosen in defaults
    assert all(
        distance(chosen) < distance(other) or (distance(chosen) == distance(other) and other <= chosen)
        for other in defaults
    )


@given(
    day=st.dates(dt.date(2027, 1, 1), dt.date(2029, 12, 31)),
    closed=st.sets(st.dates(dt.date(2027, 1, 1), dt.date(2030, 3, 31)), max_size=40),
)
def test_the_date_is_the_day_itself_or_the_first_business_day_after_it(
    day: dt.date, closed: set[dt.date]
) -> None:
    def is_business_day(candidate: dt.date) -> bool:
        return candidate.weekday() < 5 and candidate not in closed

    chosen = first_business_day(day, is_business_day)

    assert chosen >= day
    assert is_business_day(chosen)
    assert not any(is_business_day(day + dt.timedelta(days=n)) for n in range((chosen - day).days))


def test_a_calendar_without_business_days_is_an_error_not_a_hang() -> None:
    with pytest.raises(ValueError, match="no business day within 366 days of 2028-07-14"):
        first_business_day(D("2028-07-14"), lambda _: False)


# --- a district's next year -------------------------------------------------------------------

SUMMER_2028 = st.dates(dt.date(2028, 6, 1), dt.date(2028, 9, 30))


@given(
    previous=st.dates(dt.date(2027, 6, 1), dt.date(2027, 10, 1)),
    defaults=st.lists(SUMMER_2028, min_size=1, max_size=4),
    closures=st.lists(SUMMER_2028, max_size=30),
)
def test_a_district_gets_a_default_or_the_first_business_day_after_it(
    previous: dt.date, defaults: list[dt.date], closures: list[dt.date]
) -> None:
    district = spec(resetDate=previous, calendar={"country": "US", "subdivision": "IL", "closures": closures})
    calendar = BusinessCalendar(district.calendar)

    rolled = roll_forward(district, defaults)

    assert rolled.basis == closest_default(previous, defaults)
    assert rolled.reset_date == first_business_day(rolled.basis, calendar.is_business_day)
    assert (rolled.moved_because is None) == (rolled.reset_date == rolled.basis)


def test_next_school_year() -> None:
    assert next_school_year("2026-2027") == "2027-2028"


def test_a_district_gets_the_closest_default() -> None:
    rolled = roll_forward(spec(), DEFAULTS_2028)

    assert (rolled.school_year, rolled.reset_date, rolled.moved_because) == (
        "2027-2028",
        D("2028-07-14"),
        None,
    )
    assert rolled.explain(D("2027-07-16")) == "the default closest to Jul 16"


def test_a_default_on_a_state_holiday_moves_to_the_next_business_day() -> None:
    guam = spec(
        timeZone="Pacific/Guam", calendar={"country": "US", "subdivision": "GU"}, resetDate="2027-07-22"
    )

    rolled = roll_forward(guam, [D("2028-07-21")])  # Liberation Day, a Guam holiday, on a Friday

    assert (rolled.basis, rolled.reset_date) == (D("2028-07-21"), D("2028-07-24"))
    assert rolled.explain(D("2027-07-22")) == (
        "the default closest to Jul 22 is 2028-07-21, a holiday in US-GU (Liberation Day (Guam)), "
        "so the next business day"
    )
    # The same default is a business day in Illinois.
    assert roll_forward(spec(), [D("2028-07-21")]).reset_date == D("2028-07-21")


def test_a_default_on_a_closure_moves_past_it_and_the_weekend() -> None:
    closed = spec(calendar={"country": "US", "subdivision": "IL", "closures": ["2028-07-14"]})

    rolled = roll_forward(closed, DEFAULTS_2028)

    assert rolled.reset_date == D("2028-07-17")
    assert rolled.moved_because == "a district closure day"


def test_a_weekend_default_says_so() -> None:
    assert roll_forward(spec(), [D("2028-07-15")]).moved_because == "a Saturday"


def test_an_exception_district_keeps_its_own_date_a_year_on() -> None:
    harbourside = spec(
        schoolYear="2026-2027",
        resetDate="2027-01-27",  # a Wednesday in the January break
        timeZone="Australia/Sydney",
        calendar={"country": "AU", "subdivision": "NSW"},
        exception={"approvedBy": "csm:maria.oconnor", "reason": "southern-hemisphere year"},
    )

    rolled = roll_forward(harbourside, DEFAULTS_2028)

    # 52 weeks on is Wednesday 2028-01-26, Australia Day: the next business day, not a summer default.
    assert (rolled.school_year, rolled.basis, rolled.reset_date) == (
        "2027-2028",
        D("2028-01-26"),
        D("2028-01-27"),
    )
    assert rolled.own_date
    assert rolled.explain(D("2027-01-27")) == (
        "own date kept (spec.exception): the same weekday a year on is 2028-01-26, a holiday in AU-NSW "
        "(Australia Day), so the next business day"
    )


@pytest.mark.parametrize(
    ("day", "later"),
    [
        ("2027-01-27", "2028-01-26"),  # Wednesday to Wednesday, 52 weeks
        ("2027-01-01", "2028-01-07"),  # 52 weeks would be 2027-12-31, the same year: 53
        ("2027-12-31", "2028-12-29"),
        ("2028-02-29", "2029-02-27"),
    ],
)
def test_a_year_on_is_the_same_weekday_in_the_next_calendar_year(day: str, later: str) -> None:
    assert a_year_on(D(day)) == D(later)
    assert D(later).weekday() == D(day).weekday()


@pytest.mark.parametrize("exception", [None, {"approvedBy": "csm:jane.doe", "reason": "January reset"}])
def test_defaults_of_another_year_are_an_error_so_a_district_is_not_rolled_twice(
    exception: dict[str, str] | None,
) -> None:
    rolled_already = spec(schoolYear="2027-2028", resetDate="2028-07-14", exception=exception)

    with pytest.raises(RollError) as err:
        roll_forward(rolled_already, DEFAULTS_2028)

    assert err.value.field == "spec.schoolYear"
    assert str(err.value) == (
        "2027-2028 would roll forward to 2028-2029, a school year closing in 2029, but the defaults are "
        "dates of 2028: roll forward districts of schoolYear 2026-2027 (was this one rolled forward already?)"
    )


def test_an_unknown_calendar_is_an_error_at_its_field() -> None:
    with pytest.raises(RollError) as err:
        roll_forward(spec(calendar={"country": "US", "subdivision": "ZZ"}), DEFAULTS_2028)

    assert err.value.field == "spec.calendar.subdivision"
