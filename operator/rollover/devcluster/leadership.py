"""Who wrote what, and when it was allowed to: the single-writer invariant of leader election.

Each replica's log is a file of its own. A replica *acts* from its "leader election: leading" line
until it says it stopped ("lost lease", "released lease") or, if it never did (kill -9), its last
line. Every write the reconciler applies is one action line (logged by
rollover.controller.reconciler with a `rollover` field). The invariant: every write lies within an
acting interval of its author, and no two replicas' acting intervals overlap.

Replicas run on one host here, so their log times share one clock.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

LEADING = "leader election: leading"
STOPPED = ("leader election: lost lease", "leader election: released lease")
CAMPAIGNING = "leader election: campaigning for"
WRITER = "rollover.controller.reconciler"


@dataclass(frozen=True)
class Interval:
    replica: str
    start: float  # epoch seconds
    end: float
    closed: bool  # ended by a stop line (not by the end of the log)


@dataclass(frozen=True)
class Write:
    replica: str
    at: float
    what: str


@dataclass
class Replica:
    """What one replica's log says: its identity, acting intervals and writes."""

    name: str
    identity: str | None = None
    intervals: list[Interval] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)

    @property
    def leading(self) -> bool:
        """Whether the log ends while acting."""
        return bool(self.intervals) and not self.intervals[-1].closed


def log_time(line: Mapping[str, object]) -> float:
    return dt.datetime.fromisoformat(str(line["time"])).timestamp()


def parse_replica(name: str, lines: Iterable[str]) -> Replica:
    """Read one replica's JSON log lines (anything else, such as a traceback, is skipped)."""
    replica = Replica(name)
    start: float | None = None
    last = 0.0
    for text in lines:
        if not text.startswith("{"):
            continue
        line = json.loads(text)
        at = last = log_time(line)
        message = str(line.get("message", ""))
        if message.startswith(CAMPAIGNING):
            replica.identity = message.rsplit(" as ", 1)[-1]
        elif message.startswith(LEADING):
            start = at if start is None else start
        elif message.startswith(STOPPED) and start is not None:
            replica.intervals.append(Interval(name, start, at, closed=True))
            start = None
        elif line.get("logger") == WRITER and "rollover" in line:
            replica.writes.append(Write(name, at, f"{line['rollover']}: {message}"))
    if start is not None:
        replica.intervals.append(Interval(name, start, last, closed=False))
    return replica


def read_replicas(logs: Mapping[str, Path]) -> list[Replica]:
    return [parse_replica(name, path.read_text(errors="replace").splitlines()) for name, path in logs.items()]


def check_single_writer(replicas: Iterable[Replica]) -> list[str]:
    """Violations of the single-writer invariant (empty when it holds)."""
    replicas = list(replicas)
    violations = []
    for replica in replicas:
        for write in replica.writes:
            if not any(i.start <= write.at <= i.end for i in replica.intervals):
                violations.append(f"{replica.name} wrote while not leading at {_iso(write.at)}: {write.what}")
    intervals = sorted((i for r in replicas for i in r.intervals), key=lambda i: i.start)
    for n, first in enumerate(intervals):
        for second in intervals[n + 1 :]:
            if second.start > first.end:
                break
            if second.replica != first.replica:
                violations.append(
                    f"{first.replica} and {second.replica} both led: {first.replica} "
                    f"{_iso(first.start)}..{_iso(first.end)}, {second.replica} from {_iso(second.start)}"
                )
    return violations


def _iso(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="milliseconds")
