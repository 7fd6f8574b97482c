"""rollover-job as a Job runs it: environment in, exit code and termination-log JSON out, one clear
line on bad input, and never a password in any output. (Each input's own validation is unit-tested.)"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from rollover.devcluster.controlplane import free_port
from tests.integration.jobs.conftest import Store, run_process

pytestmark = pytest.mark.integration


def without_password(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    password = parts.password or ""
    netloc = parts.netloc.replace(f":{password}@", "@")
    return urlunsplit(parts._replace(netloc=netloc)), password


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DISTRICT_ID": ""}, "DISTRICT_ID is not set (or pass --district)"),
        ({"PRODUCT": "imagine-reading"}, "PRODUCT: unknown product 'imagine-reading'; known: imagine-math, "),
        ({"STEP": "delete-everything"}, "argument STEP: invalid choice: 'delete-everything'"),
    ],
    ids=["missing", "unknown-product", "bad-step"],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, env: dict[str, str], expected: str) -> None:
    # Every input is checked before any connection: this store does not even exist.
    nowhere = Store("postgresql://rollover@127.0.0.1:1/roster", tmp_path, tmp_path)

    done = run_process([], {**nowhere.env(), "STEP": "reset", **env})

    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and expected in errors[0], done.stderr
    assert "Traceback" not in done.stderr


def test_an_unreachable_database_fails_naming_host_port_and_database_only(
    store: Store, tmp_path: Path
) -> None:
    url = f"postgresql://rollover:s3cret-pw@127.0.0.1:{free_port()}/roster"
    log = tmp_path / "termination-log"

    done = run_process(
        ["--termination-log", str(log)], {**store.env(), "STEP": "archive", "DATABASE_URL": url}
    )

    assert done.returncode == 1
    assert "cannot connect to the roster store (host=127.0.0.1 port=" in done.stderr
    assert "s3cret-pw" not in done.stderr + done.stdout + log.read_text()
    assert json.loads(log.read_text())["exitCode"] == 1


def test_a_job_with_the_password_in_a_secret_file_archives_and_never_prints_it(
    store: Store, tmp_path: Path
) -> None:
    url, password = without_password(store.url)
    secret = tmp_path / "password"
    secret.write_text(password + "\n")
    log = tmp_path / "termination-log"
    env = {**store.env(), "STEP": "archive", "DATABASE_URL": url, "DATABASE_PASSWORD_FILE": str(secret)}

    done = run_process(["--termination-log", str(log)], env)

    assert done.returncode == 0, done.stderr
    result = json.loads(log.read_text())
    assert (result["step"], result["status"], result["exitCode"]) == ("archive", "archived", 0)
    assert "imagine_math.usage_records" in done.stderr  # progress: rows per table and rate
    assert password not in done.stderr + done.stdout + log.read_text()


def test_the_step_on_the_command_line_must_agree_with_step(store: Store) -> None:
    done = run_process(["archive"], {**store.env(), "STEP": "reset"})

    assert done.returncode == 2
    assert "STEP=reset but the command line runs archive" in done.stderr
