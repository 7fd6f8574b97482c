"""Connections to the roster store, and the lock that keeps two steps off the same product's data."""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

import psycopg
import psycopg.conninfo

from rollover.jobs.config import ArchiveKey, Database, Target
from rollover.jobs.errors import StepFailed

CONNECT_TIMEOUT_S = 10


def one_line(exc: BaseException) -> str:
    """An error's message on one line (libpq's span several)."""
    return " ".join(str(exc).split())


def connect(db: Database, application_name: str) -> psycopg.Connection[tuple[object, ...]]:
    """An autocommit connection with the step's session limits; StepFailed, naming host, port and database
    only, if the store is unreachable."""
    params = {"connect_timeout": str(CONNECT_TIMEOUT_S), **db.params(), "application_name": application_name}
    try:
        return psycopg.connect(psycopg.conninfo.make_conninfo(**params), autocommit=True)
    except psycopg.Error as exc:
        # libpq's message names host, port and user, never the password (and main scrubs it regardless).
        raise StepFailed(f"cannot connect to the roster store ({db.redacted}): {one_line(exc)}") from None


def hold_step_lock(conn: psycopg.Connection[tuple[object, ...]], target: Target) -> None:
    """Take, for this session, the lock of the target's archive and reset; StepFailed if another has it.

    Archive and reset of one product, district and year never overlap, so a step may clean up what an
    earlier, killed run left behind without racing a live one.
    """
    key = f"rollover-job:{target.district_id}:{target.school_year}:{target.product}"
    row = conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (key,)).fetchone()
    if row is None or not row[0]:
        raise StepFailed(
            f"another rollover-job is archiving or resetting {target.product} for {target.district_id} "
            f"{target.school_year}; try again when it has finished"
        )


def require_district(conn: psycopg.Connection[tuple[object, ...]], district_id: str) -> None:
    """StepFailed unless the session's role may act on `district_id`: an administrative role (bound to
    no district) may; a district role only on its own. Row-level security enforces this regardless;
    checking first turns "sees no rows" into a clear refusal."""
    row = conn.execute(
        "SELECT current_user,"
        " (SELECT district_id FROM rollover.district_roles WHERE role_name = current_user)"
    ).fetchone()
    if row is not None and row[1] is not None and row[1] != district_id:
        raise StepFailed(
            f"the database role {row[0]} is bound to district {row[1]}, not {district_id}: it can neither "
            f"read nor delete {district_id}'s rows; nothing was read or deleted"
        )


class CompletedReset(NamedTuple):
    """A product's completed reset, as rollover.resets records it."""

    archive_digest: str
    completed_at: dt.datetime


def completed_reset(conn: psycopg.Connection[Any], target: ArchiveKey) -> CompletedReset | None:
    """The target's row in rollover.resets; None if its reset has not completed."""
    row = conn.execute(
        "SELECT archive_digest, completed_at FROM rollover.resets"
        " WHERE district_id = %s AND school_year = %s AND product = %s",
        (target.district_id, target.school_year, target.product),
    ).fetchone()
    return None if row is None else CompletedReset(*row)
