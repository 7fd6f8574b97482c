"""The store's life cycle: migrations, the seed generator, and the PostgreSQL harness itself."""

from __future__ import annotations

import dataclasses
import json

import psycopg
import pytest

from rollover.devcluster.postgres import PostgresServer
from rollover.jobs import migrate
from rollover.jobs.main import main
from tests.integration.jobs.conftest import DISTRICT, STUDENTS, YEAR, Store

pytestmark = pytest.mark.integration


def run(store: Store, *argv: str) -> tuple[int, dict[str, object]]:
    log = store.tmp / "result.json"
    code = main([*argv, "--database-url", store.url, "--termination-log", str(log)], env={})
    return code, json.loads(log.read_text())


def test_migrate_applies_nothing_twice_and_refuses_an_edited_migration(
    empty_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, result = run(empty_store, "migrate")
    assert (code, result["applied"], result["schemaVersion"]) == (0, [], migrate.latest_version())
    edited = [dataclasses.replace(m, text=m.text + "\n-- edited") for m in migrate.migrations()]
    monkeypatch.setattr(migrate, "migrations", lambda: tuple(edited))

    code, result = run(empty_store, "migrate")

    assert code == 1
    assert (
        result["error"] == "migration 0001_roster.sql changed after it was applied; ship changes as a new one"
    )


def test_steps_refuse_a_store_that_is_not_migrated(empty_store: Store) -> None:
    latest = migrate.latest_version()
    empty_store.query("DELETE FROM rollover.schema_migrations WHERE version = %s", (latest,))

    code, result = empty_store.run("archive")

    assert code == 1
    needs = f"schema is at version {latest - 1}, this rollover-job needs {latest}: run `rollover-job migrate`"
    assert needs in str(result["error"])


def test_seed_is_deterministic_and_refuses_an_existing_district(store: Store, empty_store: Store) -> None:
    """Seeding d1 as the template did gives byte-identical rows: the archives' digests agree."""
    argv = ("seed", "--district", DISTRICT, "--students", str(STUDENTS), "--school-year", YEAR, "--seed", "7")
    assert run(empty_store, *argv)[0] == 0

    assert empty_store.run("archive")[1]["digest"] == store.run("archive")[1]["digest"]
    assert run(empty_store, *argv)[0] == 1  # the district exists


def test_the_harness_restarts_a_server_and_reports_a_stopped_one() -> None:
    with PostgresServer() as server:
        url = server.url
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (x int)")
        server.restart()
        with psycopg.connect(url, autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM kept").fetchone() == (0,)
        root = server.root
    assert root is not None and not root.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2)
