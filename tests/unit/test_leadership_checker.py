"""The single-writer checker of leader-election fault tests (rollover.devcluster.leadership)."""

from __future__ import annotations

import json

import pytest

from rollover.devcluster.leadership import check_single_writer, parse_replica

pytestmark = pytest.mark.unit

ELECTION = "rollover.controller.leader"
RECONCILER = "rollover.controller.reconciler"


def line(second: float, message: str, logger: str = ELECTION, **extra: str) -> str:
    time = f"2027-07-14T05:00:{second:06.3f}+00:00"
    return json.dumps({"time": time, "level": "INFO", "logger": logger, "message": message, **extra})


def write(second: float) -> str:
    return line(second, "creating archive Job x", RECONCILER, rollover="ns/springfield")


def campaign(second: float, identity: str) -> str:
    return line(second, f"leader election: campaigning for ns/ha as {identity}")


def test_a_clean_handover_holds() -> None:
    a = parse_replica(
        "a",
        [
            campaign(0, "pod-a_1"),
            line(1, "leader election: leading (lease ns/ha)"),
            write(2),
            line(3, "leader election: lost lease ns/ha; stopping"),
        ],
    )
    b = parse_replica(
        "b",
        [
            campaign(0, "pod-b_2"),
            line(8, "leader election: leading (lease ns/ha)"),
            write(9),
            "Traceback? not JSON: skipped",
        ],
    )
    assert a.identity == "pod-a_1" and not a.leading and len(a.writes) == 1
    assert b.leading and b.intervals[0].end == b.writes[0].at
    assert check_single_writer([a, b]) == []


def test_a_write_after_losing_the_lease_is_a_violation() -> None:
    a = parse_replica(
        "a",
        [
            line(1, "leader election: leading"),
            line(3, "leader election: lost lease ns/ha; stopping"),
            write(3.5),
        ],
    )
    [violation] = check_single_writer([a])
    assert "a wrote while not leading" in violation and "ns/springfield" in violation


def test_a_standby_that_writes_is_a_violation() -> None:
    b = parse_replica("b", [campaign(0, "pod-b_2"), write(1)])
    assert len(check_single_writer([b])) == 1


def test_overlapping_leadership_is_a_violation_even_without_a_stop_line() -> None:
    a = parse_replica("a", [line(1, "leader election: leading"), write(2), line(6, "caches filled")])
    b = parse_replica("b", [line(5, "leader election: leading"), write(7)])
    [violation] = check_single_writer([a, b])
    assert "a and b both led" in violation


def test_a_replica_leading_again_after_releasing_is_not_overlap() -> None:
    a = parse_replica(
        "a",
        [
            line(1, "leader election: leading"),
            line(2, "leader election: released lease ns/ha"),
            line(6, "leader election: leading"),
            write(7),
        ],
    )
    b = parse_replica(
        "b",
        [
            line(3, "leader election: leading"),
            write(4),
            line(5, "leader election: lost lease ns/ha; stopping"),
        ],
    )
    assert [(i.start, i.closed) for i in a.intervals] == [
        (a.intervals[0].start, True),
        (a.writes[0].at - 1, False),
    ]
    assert check_single_writer([a, b]) == []
