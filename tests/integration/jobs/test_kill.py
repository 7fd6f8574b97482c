"""Killed mid-way (SIGKILL, as by the OOM killer or a node loss): archive leaves no manifest, reset
leaves every row; the next run finishes the job. The child kills itself at a chosen point by
wrapping one of the step's functions before running main()."""

from __future__ import annotations

import json
import signal

import pytest

from tests.integration.jobs.conftest import Store, run_process

pytestmark = pytest.mark.integration

KILL_AFTER_FIRST_CALL = """
import os, signal
from rollover.jobs import {module}
_original = {module}.{function}
def _then_die(*args, **kwargs):
    result = _original(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)
    return result
{module}.{function} = _then_die
"""


def test_archive_killed_after_its_first_table_leaves_no_manifest_and_a_rerun_completes(store: Store) -> None:
    script = KILL_AFTER_FIRST_CALL.format(module="archive", function="_copy_to_file")

    killed = run_process([], {**store.env(), "STEP": "archive"}, script)

    assert killed.returncode == -signal.SIGKILL
    parent = store.archive_dir().parent
    leftovers = [p.name for p in parent.iterdir()]
    assert len(leftovers) == 1 and leftovers[0].startswith(".imagine-math.partial-")
    assert not (parent / leftovers[0] / "manifest.json").exists()
    assert not store.archive_dir().exists()

    code, result = store.run("archive")

    assert code == 0 and result["status"] == "archived"
    assert [p.name for p in parent.iterdir()] == ["imagine-math"]
    assert json.loads((store.archive_dir() / "manifest.json").read_text())["tables"]


def test_reset_killed_after_its_first_delete_rolls_back_and_a_rerun_finishes(store: Store) -> None:
    assert store.run("archive")[0] == 0
    tables = ["imagine_math.usage_records", "imagine_math.student_accounts", "imagine_math.classrooms"]
    before = {t: store.count(t, "imagine-math") for t in tables}
    script = KILL_AFTER_FIRST_CALL.format(module="reset", function="_delete")

    killed = run_process([], {**store.env(), "STEP": "reset"}, script)

    assert killed.returncode == -signal.SIGKILL
    # The server rolls the transaction back when the client's connection drops.
    assert {t: store.count(t, "imagine-math") for t in tables} == before
    assert store.query("SELECT count(*) FROM rollover.retired_ids") == [(0,)]

    code, result = store.run("reset")

    assert code == 0, result
    assert result["deleted"]["imagine_math.usage_records"] == before["imagine_math.usage_records"]
    assert {t: store.count(t, "imagine-math") for t in tables} == dict.fromkeys(tables, 0)
