"""Plain-text tables shared by `rollover plan` and `kubectl rollover`: aligned columns, and the per-day
summary of how many districts pause and reset."""

from __future__ import annotations

from collections import Counter
from typing import Any

BAR_WIDTH = 40


def columns(table: list[tuple[str, ...]]) -> str:
    """The rows (header first) as left-aligned columns three spaces apart, without trailing spaces."""
    widths = [max(len(cells[i]) for cells in table) for i in range(len(table[0]))]
    return "\n".join(
        "   ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip() for cells in table
    )


def by_date(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per day (in each district's own time zone): how many districts pause and how many reset.
    `rows` are `rollover plan` rows (camelCase); those that could not be planned are left out."""
    planned = [row for row in rows if row["resetAt"]]
    pauses = Counter(row["pauseDate"] for row in planned)
    resets = Counter(row["resetDate"] for row in planned)
    return [{"date": day, "pauses": pauses[day], "resets": resets[day]} for day in sorted(pauses | resets)]


def by_date_table(days: list[dict[str, Any]]) -> str:
    """The `by_date` summary as a table with a bar per day."""
    # One '#' per district pausing or resetting that day, scaled down only when the peak is wider.
    peak = max((day["pauses"] + day["resets"] for day in days), default=0)
    scale = min(1.0, BAR_WIDTH / peak) if peak else 1.0
    lines = [
        (
            day["date"],
            str(day["pauses"]),
            str(day["resets"]),
            "#" * max(1, round(scale * (day["pauses"] + day["resets"]))),
        )
        for day in days
    ]
    return columns([("DATE", "PAUSES", "RESETS", ""), *lines])
