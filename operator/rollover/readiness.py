"""The district's readiness checklist: what it must finish before its data freeze (pure).

The default items come from the products' own end-of-year guides (shared/seeds): Twig Science's
checklist (grades entered, reports downloaded, summer school imported before the pause, new
never-used user IDs planned) and Imagine Math's advice to download the year's data before the reset.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType

from rollover.api.models import DistrictRolloverSpec
from rollover.calendar import BusinessCalendar

#: The default checklist, item -> what the district confirms by acknowledging it.
DEFAULT_ITEMS: Mapping[str, str] = MappingProxyType(
    {
        "grades-finalized": "teachers have entered every assessment score into their grade books",
        "reports-exported": "reports and the year's data (Student Data Export) are downloaded",
        "summer-school-imported": "the summer-school roster is imported (the pause stops every import)",
        "id-plan-confirmed": "incoming students get new, never-used user IDs; retired IDs are not reused",
    }
)


def required_items(spec: DistrictRolloverSpec) -> tuple[str, ...]:
    """The items this district must acknowledge: its own list, or the default one."""
    items = spec.readiness.items
    return tuple(DEFAULT_ITEMS) if items is None else tuple(items)


def open_items(spec: DistrictRolloverSpec) -> tuple[str, ...]:
    """The required items nobody has acknowledged yet, in checklist order."""
    done = {ack.item for ack in spec.readiness.acknowledged}
    return tuple(item for item in required_items(spec) if item not in done)


def describe(item: str) -> str:
    """An item with what it means, for notices and status text."""
    meaning = DEFAULT_ITEMS.get(item)
    return f"{item} ({meaning})" if meaning else item


def business_days_until(calendar: BusinessCalendar, today: dt.date, day: dt.date) -> int:
    """Business days from `today` up to `day` (0 when `day` is today or past; `day` counts if it is
    one, `today` does not)."""
    count, current = 0, today
    while current < day:
        current += dt.timedelta(days=1)
        if calendar.is_business_day(current):
            count += 1
    return count
