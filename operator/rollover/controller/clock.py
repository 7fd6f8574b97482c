"""Clocks. The operator reads time only through one of these, so demos and tests can run a whole
rollover in minutes with an accelerated clock and the planner never reads a clock at all."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field


class SystemClock:
    """Real time."""

    rate = 1.0

    def now(self) -> dt.datetime:
        """The current time, timezone-aware (UTC)."""
        return dt.datetime.now(dt.UTC)

    def seconds_until(self, moment: dt.datetime) -> float:
        """Wall-clock seconds until `moment` (negative if past)."""
        return (moment - self.now()).total_seconds()


@dataclass
class AcceleratedClock(SystemClock):
    """Time that starts at `start` and runs `rate` times faster than the wall clock (demos, tests).

    Fault runs also keep one in the harness and start each operator generation where it is now, so
    that simulated time stays continuous across kills and restarts."""

    start: dt.datetime
    rate: float = 1.0
    _origin: float = field(default_factory=time.monotonic)

    def now(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=(time.monotonic() - self._origin) * self.rate)

    def seconds_until(self, moment: dt.datetime) -> float:
        return (moment - self.now()).total_seconds() / self.rate
