"""PostgreSQL for the jobs' tests: one real server per session, started by the harness (never skipped:
if PostgreSQL cannot start, every test here errors with the reason), two template databases built
once (migrated; migrated and seeded), and a fresh database per test cloned from a template.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from rollover.devcluster.postgres import PostgresServer
from rollover.jobs.main import main

DISTRICT = "d1"
OTHER_DISTRICT = "d2"
YEAR = "2025-2026"
RESET_DATE = "2026-07-19"
STUDENTS = 60
MIGRATED = "rollover_migrated"
SEEDED = "rollover_seeded"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


def _admin(server: PostgresServer, statement: str) -> None:
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(statement)


@pytest.fixture(scope="session")
def templates(postgres: PostgresServer) -> PostgresServer:
    """The template databases: MIGRATED (empty store) and SEEDED (districts d1 and d2)."""
    for name in (MIGRATED, SEEDED):
        _admin(postgres, f"CREATE DATABASE {name}")
        url = postgres.database_url(name)
        assert main(["migrate", "--database-url", url], env={}) == 0
    seeded = postgres.database_url(SEEDED)
    for district, students in ((DISTRICT, STUDENTS), (OTHER_DISTRICT, 30)):
        argv = ["seed", "--district", district, "--students", str(students), "--school-year", YEAR]
        assert main([*argv, "--seed", "7", "--database-url", seeded], env={}) == 0
    return postgres


@dataclass
class Store:
    """One test's roster store and archive volume, and ways to run rollover-job against them."""

    url: str
    archive_root: Path
    tmp: Path
    calls: int = field(default=0)

    def env(self, product: str = "imagine-math", **overrides: str) -> dict[str, str]:
        """The environment a Job of this product gets."""
        return {
            "DISTRICT_ID": DISTRICT, "SCHOOL_YEAR": YEAR, "RESET_DATE": RESET_DATE, "PRODUCT": product,
            "DATABASE_URL": self.url, "ARCHIVE_URI": self.archive_root.as_uri(), **overrides,
        }  # fmt: skip

    def run(
        self, step: str, product: str = "imagine-math", *args: str, **env: str
    ) -> tuple[int, dict[str, Any]]:
        """Run a step in-process as its Job would (STEP and inputs in env); (exit code, JSON result)."""
        self.calls += 1
        log = self.tmp / f"result-{self.calls}.json"
        code = main(["--termination-log", str(log), *args], env={**self.env(product), "STEP": step, **env})
        return code, json.loads(log.read_text())

    def query(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run one statement; its rows, if it returns any."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            cur = conn.execute(statement, params)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []

    def count(self, table: str, product: str | None = None, district: str = DISTRICT) -> int:
        where = "district_id = %s" + (" AND product = %s" if product else "")
        params = (district, product) if product else (district,)
        return int(self.query(f"SELECT count(*) FROM {table} WHERE {where}", params)[0][0])

    def archive_dir(self, product: str = "imagine-math") -> Path:
        return self.archive_root / DISTRICT / YEAR / product


def run_process(
    argv: list[str], env: Mapping[str, str], script: str | None = None
) -> subprocess.CompletedProcess[str]:
    """rollover-job in a process of its own; `script` (Python) may patch the module first."""
    code = (script or "") + "\nimport sys\nfrom rollover.jobs.main import main\nsys.exit(main(sys.argv[1:]))"
    # PYTHONPATH too: a worktree's rollover must win over the one installed in the virtualenv.
    inherited = {k: os.environ[k] for k in ("PATH", "PYTHONPATH") if k in os.environ}
    return subprocess.run(
        [sys.executable, "-c", code, *argv], env={**inherited, **env},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _clone(templates: PostgresServer, template: str, tmp_path: Path) -> Iterator[Store]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    _admin(templates, f"CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY")
    (tmp_path / name / "archive").mkdir(parents=True)
    try:
        yield Store(templates.database_url(name), tmp_path / name / "archive", tmp_path / name)
    finally:
        _admin(templates, f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def store(templates: PostgresServer, tmp_path: Path) -> Iterator[Store]:
    """A fresh store with districts d1 (60 students) and d2 (30), school year 2025-2026."""
    yield from _clone(templates, SEEDED, tmp_path)


@pytest.fixture
def empty_store(templates: PostgresServer, tmp_path: Path) -> Iterator[Store]:
    """A fresh, migrated store with no district."""
    yield from _clone(templates, MIGRATED, tmp_path)
