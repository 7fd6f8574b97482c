"""`rollover-job migrate`: apply the versioned SQL files of migrations/ that the store lacks.

Each file runs in its own transaction with its version row, under an advisory lock so that two
migrating Jobs take turns. A file already applied must not change: its checksum is recorded and
compared, since an edited migration would leave stores that differ under one version number.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

import psycopg

from rollover.jobs.errors import StepFailed

log = logging.getLogger(__name__)

_BOOTSTRAP = """
CREATE SCHEMA IF NOT EXISTS rollover;
CREATE TABLE IF NOT EXISTS rollover.schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    sha256     text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""
_LOCK_KEY = "rollover-job:migrate"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


@cache
def migrations() -> tuple[Migration, ...]:
    """The migrations shipped with the package, by version (file names NNNN_name.sql)."""
    found = []
    for entry in files("rollover.jobs").joinpath("migrations").iterdir():
        match = re.fullmatch(r"(\d{4})_(\w+)\.sql", entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    return tuple(sorted(found, key=lambda m: m.version))


def latest_version() -> int:
    return migrations()[-1].version


def schema_version(conn: psycopg.Connection[Any]) -> int:
    """The store's schema version: its highest applied migration, 0 for an empty database."""
    row = conn.execute("SELECT to_regclass('rollover.schema_migrations') IS NOT NULL").fetchone()
    if row is None or not row[0]:
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) FROM rollover.schema_migrations").fetchone()
    return int(row[0]) if row else 0


def require_current(conn: psycopg.Connection[Any]) -> int:
    """The schema version, if it is the one this rollover-job knows; StepFailed otherwise."""
    version = schema_version(conn)
    if version != latest_version():
        raise StepFailed(
            f"the roster store's schema is at version {version}, this rollover-job needs {latest_version()}: "
            "run `rollover-job migrate` (or the migrate Job) first"
        )
    return version


def migrate(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Apply every missing migration; the result names those applied and the schema version."""
    conn.execute(_BOOTSTRAP)
    conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (_LOCK_KEY,))
    try:
        applied = {
            int(v): str(s) for v, s in conn.execute("SELECT version, sha256 FROM rollover.schema_migrations")
        }
        done = []
        for migration in migrations():
            if migration.version in applied:
                if applied[migration.version] != migration.sha256:
                    name = f"{migration.version:04d}_{migration.name}.sql"
                    raise StepFailed(
                        f"migration {name} changed after it was applied; ship changes as a new one"
                    )
                continue
            with conn.transaction():
                conn.execute(migration.text)
                conn.execute(
                    "INSERT INTO rollover.schema_migrations (version, name, sha256) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.sha256),
                )
            log.info("applied migration %04d_%s", migration.version, migration.name)
            done.append(migration.version)
    finally:
        conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (_LOCK_KEY,))
    return {"applied": done, "schemaVersion": schema_version(conn)}
