"""Fixtures of the integration tests that run rollover Jobs for real: a seeded roster store and the
demo's pod runner (the control plane itself comes from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from rollover.devcluster.postgres import PostgresServer
from rollover.devcluster.runner import running_podrunner
from rollover.jobs.main import main as rollover_job
from tests.conftest import RunningControlPlane

#: The district the store is seeded with (the one tests/integration/kube.rollover_doc declares).
DISTRICT, YEAR = "IL-0631950", "2026-2027"


def seed_roster(server: PostgresServer, year: str = YEAR) -> None:
    """Create the `roster` database on `server`, migrated, with the district seeded for `year`."""
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute("CREATE DATABASE roster")
    url = server.database_url("roster")
    assert rollover_job(["migrate", "--database-url", url], env={}) == 0
    seed = ["seed", "--district", DISTRICT, "--school-year", year, "--students", "25", "--database-url", url]
    assert rollover_job(seed, env={}) == 0


@pytest.fixture
def store(request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated roster store with the district seeded for the school year (YEAR, or the test's
    `school_year` marker)."""
    marker = request.node.get_closest_marker("school_year")
    year = marker.args[0] if marker else YEAR
    with PostgresServer() as server:
        seed_roster(server, year)
        yield server.database_url("roster")


@pytest.fixture
def pod_runner(control_plane: RunningControlPlane, tmp_path: Path) -> Iterator[None]:
    """The demo's stand-in kubelet: runs each rollover Job pod's real `rollover-job` command."""
    with running_podrunner(control_plane.env(), tmp_path / "podrunner.log"):
        yield
