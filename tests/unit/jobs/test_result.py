"""The termination-log result: compact, always under Kubernetes' 4096 bytes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rollover.jobs import result

pytestmark = pytest.mark.unit


def test_a_small_result_is_kept_whole() -> None:
    outcome = {"step": "reset", "deleted": {"a.b": 3}, "exitCode": 0}

    assert json.loads(result.compact(outcome)) == outcome


def test_a_large_result_shrinks_to_totals_then_to_short_scalars() -> None:
    many_tables = {"step": "archive", "rows": {f"schema.table_{i:04d}": i for i in range(400)}, "exitCode": 0}
    huge_error = {"step": "reset", "error": "x" * 10_000, "lines": list(range(2000)), "exitCode": 1}

    totals = json.loads(result.compact(many_tables))
    scalars = json.loads(result.compact(huge_error))

    assert totals == {"step": "archive", "rows": sum(range(400)), "exitCode": 0}
    assert len(result.compact(huge_error)) <= result.LIMIT
    assert scalars["exitCode"] == 1 and "lines" not in scalars and scalars["error"].endswith("…")


def test_outside_a_pod_the_default_termination_log_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(result, "TERMINATION_LOG", tmp_path / "termination-log")

    result.write({"step": "archive"}, None)

    assert not (tmp_path / "termination-log").exists()


def test_an_explicit_path_is_written(tmp_path: Path) -> None:
    path = tmp_path / "result.json"

    result.write({"step": "archive", "exitCode": 0}, path)

    assert json.loads(path.read_text()) == {"step": "archive", "exitCode": 0}
