"""metav1.Condition bookkeeping: set a condition, keeping lastTransitionTime unless status flips."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from rollover.api.models import Condition, ConditionStatus, ConditionType

# The order conditions are written in, so an unchanged status serialises identically (no write).
ORDER = tuple(ConditionType)


def merge_conditions(
    previous: Iterable[Condition],
    updates: Iterable[tuple[ConditionType, ConditionStatus, str, str]],
    *,
    now: dt.datetime,
    generation: int | None,
) -> list[Condition]:
    """Apply (type, status, reason, message) updates over `previous`.

    lastTransitionTime moves only when a condition's status changes, as kstatus and kubectl expect;
    conditions not mentioned are kept as they were.
    """
    by_type = {c.type: c for c in previous}
    for type_, status, reason, message in updates:
        old = by_type.get(type_)
        since = old.last_transition_time if old is not None and old.status == status else now
        by_type[type_] = Condition(
            type=type_,
            status=status,
            reason=reason,
            message=message,
            last_transition_time=since,
            observed_generation=generation,
        )
    known = [by_type.pop(t) for t in ORDER if t in by_type]
    return known + sorted(by_type.values(), key=lambda c: c.type)
