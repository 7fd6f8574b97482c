"""No password reaches stdout, stderr or the termination log (hence status.jobs[].result), whatever its
characters and however the Job is given it: the real entry point, in a process of its own, against the
harness's PostgreSQL, when the password is accepted, refused, or never sent (unreachable store)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg import sql

from rollover.devcluster.controlplane import free_port
from rollover.devcluster.postgres import PostgresServer
from tests.integration.jobs.conftest import MIGRATED, run_process
from tests.unit.jobs.passwords import FORMS, credentials, passwords, spellings

pytestmark = pytest.mark.integration

PROBE = f"leak_probe_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def probe_db(templates: PostgresServer) -> Iterator[tuple[PostgresServer, str]]:
    """A migrated database of its own, and a login role (PROBE) to set passwords on."""
    name = f"secrets_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(templates.url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(MIGRATED))
        )
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN SUPERUSER").format(sql.Identifier(PROBE)))
    try:
        yield templates, name
    finally:
        with psycopg.connect(templates.url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(PROBE)))


@settings(max_examples=24)  # each runs rollover-job in a process of its own
@given(
    password=passwords,
    form=st.sampled_from(FORMS),
    outcome=st.sampled_from(["accepted", "refused", "unreachable"]),
)
def test_no_password_reaches_any_output_of_the_job(
    probe_db: tuple[PostgresServer, str], tmp_path_factory: pytest.TempPathFactory, password: str, form: str,
    outcome: str,
) -> None:  # fmt: skip
    server, dbname = probe_db
    with psycopg.connect(server.url, autocommit=True) as conn:
        role_password = password if outcome == "accepted" else password + "-not-this"
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(PROBE), role_password))
    port = server.port if outcome != "unreachable" else free_port()
    given_ = credentials(form, PROBE, password, "127.0.0.1", port, dbname)
    tmp = tmp_path_factory.mktemp("secrets")
    env = {"STEP": "migrate", "DATABASE_URL": given_.database_url}
    if given_.password_file is not None:
        (tmp / "password").write_text(given_.password_file + "\n")
        env["DATABASE_PASSWORD_FILE"] = str(tmp / "password")
    log = tmp / "termination-log"

    done = run_process(["--termination-log", str(log)], env)

    output = done.stdout + done.stderr + log.read_text()
    leaked = [spelling for spelling in spellings(password) if spelling in output]
    assert not leaked, output
    assert given_.database_url not in output
    if form != "url-raw":  # a raw URL may mean another password to libpq, or be refused as malformed
        assert done.returncode == (0 if outcome == "accepted" else 1), output
    assert "Traceback" not in done.stderr
