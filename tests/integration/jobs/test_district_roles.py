"""Row-level security: a role bound to district B, run through the real entry point, can neither read
nor delete district A's rows, even when its Job is told DISTRICT_ID=A; with B it archives and resets."""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest

from rollover.jobs import archive, reset
from rollover.jobs.main import main
from tests.integration.jobs.conftest import DISTRICT, OTHER_DISTRICT, Store
from tests.integration.jobs.test_reset import IMAGINE_MATH_TABLES, counts

pytestmark = pytest.mark.integration

PASSWORD = "B's #?/@ secret"


def grant(store: Store, district: str, role: str, *extra: str) -> tuple[int, dict[str, object]]:
    """`rollover-job grant` as the store's administrative (owner) role."""
    secret = store.tmp / f"{role}.password"
    secret.write_text(PASSWORD + "\n")
    log = store.tmp / f"grant-{uuid.uuid4().hex}.json"
    argv = ["grant", "--district", district, "--role", role, "--password-file", str(secret), *extra]
    code = main([*argv, "--database-url", store.url, "--termination-log", str(log)], env={})
    return code, json.loads(log.read_text())


def role_url(store: Store, role: str) -> str:
    parts = urlsplit(store.url)
    return urlunsplit(
        parts._replace(netloc=f"{role}:{quote(PASSWORD, safe='')}@{parts.hostname}:{parts.port}")
    )


@pytest.fixture
def role_b(store: Store) -> str:
    """The DATABASE_URL of a new role bound to district B (OTHER_DISTRICT)."""
    role = f"district_b_{uuid.uuid4().hex[:8]}"
    code, result = grant(store, OTHER_DISTRICT, role)
    assert (code, result["status"], result["created"]) == (0, "granted", True), result
    return role_url(store, role)


def test_a_district_role_archives_and_resets_its_own_district(store: Store, role_b: str) -> None:
    a_before = counts(store, IMAGINE_MATH_TABLES, "imagine-math", DISTRICT)
    b_before = counts(store, IMAGINE_MATH_TABLES, "imagine-math", OTHER_DISTRICT)
    as_b = {"DISTRICT_ID": OTHER_DISTRICT, "DATABASE_URL": role_b}

    archived = store.run("archive", "imagine-math", **as_b)
    code, result = store.run("reset", "imagine-math", **as_b)

    assert archived[0] == 0, archived[1]
    assert archived[1]["rows"] == b_before
    assert code == 0, result
    assert result["deleted"] == b_before
    assert counts(store, IMAGINE_MATH_TABLES, "imagine-math", OTHER_DISTRICT) == dict.fromkeys(
        IMAGINE_MATH_TABLES, 0
    )
    assert counts(store, IMAGINE_MATH_TABLES, "imagine-math", DISTRICT) == a_before
    students = b_before["imagine_math.student_accounts"]
    assert store.query("SELECT district_id, count(*) FROM rollover.retired_ids GROUP BY 1") == [
        (OTHER_DISTRICT, students)
    ]


def test_a_district_role_told_another_district_refuses_clearly(store: Store, role_b: str) -> None:
    assert store.run("archive")[0] == 0  # district A's own archive, by the administrative role
    a_before = counts(store, IMAGINE_MATH_TABLES, "imagine-math", DISTRICT)

    for step in ("archive", "reset"):
        code, result = store.run(step, "imagine-math", DATABASE_URL=role_b)

        assert code == 1, result
        assert f"is bound to district {OTHER_DISTRICT}, not {DISTRICT}" in result["error"]
    assert counts(store, IMAGINE_MATH_TABLES, "imagine-math", DISTRICT) == a_before


def test_row_level_security_stops_a_job_that_skips_the_check(
    store: Store, role_b: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without rollover-job's own check (as in a modified image), the store still shows B's role
    none of A's rows: the reset finds nothing matching A's archive and deletes nothing."""
    assert store.run("archive")[0] == 0
    a_before = counts(store, IMAGINE_MATH_TABLES, "imagine-math", DISTRICT)
    for module in (archive, reset):
        monkeypatch.setattr(module, "require_district", lambda conn, district_id: None)

    code, result = store.run("reset", "imagine-math", DATABASE_URL=role_b)
    supersede = store.run("archive", "imagine-math", "--supersede", DATABASE_URL=role_b)

    assert code == 1
    assert "imagine_math.student_accounts has 0 rows, the archive" in result["error"]
    assert supersede[1]["rows"] == dict.fromkeys(IMAGINE_MATH_TABLES, 0)  # sees zero rows of A
    assert counts(store, IMAGINE_MATH_TABLES, "imagine-math", DISTRICT) == a_before
    assert store.query("SELECT count(*) FROM rollover.retired_ids") == [(0,)]


def test_the_district_binding_is_not_something_the_role_can_change(store: Store, role_b: str) -> None:
    with psycopg.connect(role_b, autocommit=True) as conn:
        conn.execute("SELECT set_config('rollover.district_id', %s, false)", (DISTRICT,))
        assert conn.execute(
            "SELECT count(*) FROM imagine_math.usage_records WHERE district_id = %s", (DISTRICT,)
        ).fetchone() == (0,)
        deleted = conn.execute("DELETE FROM imagine_math.usage_records WHERE district_id = %s", (DISTRICT,))
        assert deleted.rowcount == 0
        for statement, params in [
            ("INSERT INTO rollover.district_roles VALUES (current_user, %s)", (DISTRICT,)),
            ("UPDATE rollover.district_roles SET district_id = %s", (DISTRICT,)),
            ("DELETE FROM roster.users WHERE district_id = %s", (DISTRICT,)),
            ("INSERT INTO rollover.retired_ids (district_id, sourced_id, school_year, product, reset_date)"
             " VALUES (%s, 'x', '2025-2026', 'imagine-math', '2026-07-19')", (DISTRICT,)),
            ("SET ROLE postgres", ()),
        ]:  # fmt: skip
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement, params)
    assert store.count("imagine_math.usage_records") > 0


def test_grant_is_idempotent_and_binds_a_role_to_one_district_only(store: Store) -> None:
    role = f"district_a_{uuid.uuid4().hex[:8]}"
    assert grant(store, DISTRICT, role)[0] == 0

    again = grant(store, DISTRICT, role)
    elsewhere = grant(store, OTHER_DISTRICT, role)
    superuser = grant(store, DISTRICT, "postgres")

    assert (again[0], again[1]["created"]) == (0, False)
    assert elsewhere[0] == 1 and f"role {role} is bound to district {DISTRICT}" in str(elsewhere[1]["error"])
    assert superuser[0] == 1 and "row-level security would not apply to it" in str(superuser[1]["error"])


def test_check_ids_of_another_district_is_refused(store: Store, role_b: str) -> None:
    users = store.tmp / "users.csv"
    users.write_text("sourcedId,role\nd1-stu-0000001,student\n")
    log = store.tmp / "check.json"

    code = main(["check-ids", str(users), "--district", DISTRICT, "--database-url", role_b,
                 "--termination-log", str(log)], env={})  # fmt: skip

    assert code == 1
    assert "is bound to district d2, not d1" in json.loads(log.read_text())["error"]


def test_every_district_scoped_table_is_under_row_level_security(store: Store) -> None:
    """A guard for later migrations: a new table with a district_id column (resets, certificates, ...)
    must enable row-level security and carry the district policy, or district roles would read it whole."""
    tables = store.query(
        "SELECT c.oid::regclass::text, c.relrowsecurity,"
        "       EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'district_rows')"
        " FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'district_id' AND NOT a.attisdropped"
        " WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
        "   AND c.oid <> 'rollover.district_roles'::regclass"
    )

    assert {"rollover.resets", "rollover.retired_ids", "roster.users"} <= {name for name, _, _ in tables}
    assert [name for name, secured, policy in tables if not (secured and policy)] == []
