"""The session limits are in force on the server, in our sessions and in psql's COPY sessions alike."""

from __future__ import annotations

import argparse

import pytest
from psycopg import IsolationLevel

from rollover.jobs import config
from rollover.jobs.psql import SnapshotCopier, export_snapshot
from rollover.jobs.store import connect
from tests.integration.jobs.conftest import Store

pytestmark = pytest.mark.integration

SETTINGS = (
    "lock_timeout", "idle_in_transaction_session_timeout", "statement_timeout",
    "tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_keepalives_count",
)  # fmt: skip
ENV = {"DATABASE_LOCK_TIMEOUT": "45s", "DATABASE_STATEMENT_TIMEOUT": "3h", "DATABASE_KEEPALIVES_COUNT": "4"}
EXPECTED = ["45s", "30min", "3h", "60", "10", "4"]  # over TCP, the server reports its keepalive settings


def test_every_session_of_a_step_shows_its_limits(store: Store) -> None:
    db = config.database(argparse.Namespace(database_url=store.url), ENV)
    query = "SELECT " + ", ".join(f"current_setting('{name}')" for name in SETTINGS)

    with connect(db, "limits test") as conn:
        ours = [conn.execute(f"SHOW {name}").fetchone()[0] for name in SETTINGS]  # type: ignore[index]
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        with conn.transaction():
            chunks: list[bytes] = []
            SnapshotCopier(db, export_snapshot(conn), "limits test").copy(query, "settings", chunks.append)

    assert ours == EXPECTED
    assert b"".join(chunks).decode().splitlines()[1].split(",") == EXPECTED
