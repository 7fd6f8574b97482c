"""rollover-job's entry point without a store: STEP dispatch, usage errors, exit codes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from rollover.jobs.errors import UsageError
from rollover.jobs.main import _current_school_year, _with_step, main

pytestmark = pytest.mark.unit


def test_step_from_the_environment_becomes_the_subcommand() -> None:
    assert _with_step([], {"STEP": "archive"}) == ["archive"]
    assert _with_step(["--termination-log", "x"], {"STEP": "reset"}) == ["reset", "--termination-log", "x"]
    assert _with_step(["reset"], {"STEP": "reset"}) == ["reset"]
    assert _with_step(["seed"], {}) == ["seed"]
    with pytest.raises(UsageError, match="STEP=reset but the command line runs archive"):
        _with_step(["archive"], {"STEP": "reset"})


def test_usage_errors_exit_2_and_still_leave_a_result(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = tmp_path / "result.json"

    code = main(["archive", "--termination-log", str(log)], env={})

    assert code == 2
    assert json.loads(log.read_text()) == {
        "step": "archive", "status": "failed", "exitCode": 2,
        "error": "DISTRICT_ID is not set (or pass --district)", "durationSeconds": pytest.approx(0, abs=5),
    }  # fmt: skip
    assert caplog.messages == ["DISTRICT_ID is not set (or pass --district)"]


def test_a_mistyped_option_is_reported_without_the_password_it_carries(
    caplog: pytest.LogCaptureFixture,
) -> None:
    code = main(["migrate", "--databse-url", "postgresql://u:S3cr#t?pw@db/roster"], env={})

    assert code == 2
    assert caplog.messages[0] == "rollover-job: unrecognized arguments: --databse-url ***"
    assert "S3cr#t" not in caplog.text


def test_a_missing_step_is_a_usage_error() -> None:
    assert main([], env={}) == 2


@pytest.mark.parametrize(("month", "year"), [(6, "2025-2026"), (7, "2026-2027"), (11, "2026-2027")])
def test_seed_defaults_to_the_current_school_year(month: int, year: str) -> None:
    assert _current_school_year(dt.date(2026, month, 24)) == year
