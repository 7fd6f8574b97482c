"""The jobs benchmark in smoke mode: it runs end to end and reports what the issue asks for."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.jobs.conftest import Store

pytestmark = pytest.mark.integration

BENCH = Path(__file__).resolve().parents[3] / "benchmarks" / "jobs_bench.py"


def test_the_benchmark_measures_archive_against_the_floor_and_reset(empty_store: Store) -> None:
    out = empty_store.tmp / "out"

    argv = ["--students", "300", "--database-url", empty_store.url, "--out", str(out)]

    done = subprocess.run(
        [sys.executable, str(BENCH), *argv], capture_output=True, text=True, timeout=300, check=False
    )

    assert done.returncode == 0, done.stderr[-2000:]
    (path,) = out.glob("jobs-300-*.json")
    report = json.loads(path.read_text())
    assert report["rows"] > 300 * 40
    assert report["floor"]["seconds"] > 0 and report["archive"]["seconds"] > 0 and report["ratio"] > 0
    assert report["reset"]["rowsDeleted"] > 0 and report["reset"]["retiredIds"] > 300
    assert 0 < report["archive"]["peakRssMb"] < 200  # flat: the 500,000-student run stays here too
    assert "| archive / floor throughput |" in done.stdout
