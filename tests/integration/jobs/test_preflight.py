"""`rollover-job preflight` on a real PostgreSQL: read-only checks that fail as the archive and reset
would, and a preview whose counts are what the reset then deletes."""

from __future__ import annotations

import pytest
from psycopg.conninfo import make_conninfo

from rollover.jobs.preflight import RESET_APPENDS
from tests.integration.jobs.conftest import DISTRICT, YEAR, Store

pytestmark = pytest.mark.integration

PRODUCTS = ("imagine-math", "imagine-math-facts", "twig-science")


def preview(result: dict) -> dict[str, dict[str, int]]:
    return {t["table"]: {k: t[k] for k in ("archive", "delete", "keep")} for t in result["tables"]}


def snapshot(store: Store) -> list[tuple]:
    """Every table's size: the preflight must leave all of them as they were."""
    return store.query(
        "SELECT schemaname, relname, n_live_tup FROM pg_stat_user_tables ORDER BY 1, 2"
    ) + store.query("SELECT count(*) FROM rollover.resets")


@pytest.mark.parametrize("product", PRODUCTS)
def test_the_preview_counts_exactly_what_the_reset_then_deletes(store: Store, product: str) -> None:
    code, result = store.run("preflight", product)

    assert code == 0, result
    assert result["status"] == "passed" and result["step"] == "preflight"
    counts = preview(result)
    assert sum(c["delete"] for c in counts.values()) > 0
    assert all(c["archive"] == c["delete"] + c["keep"] for c in counts.values())
    assert store.run("archive", product)[0] == 0
    code, reset = store.run("reset", product)
    assert code == 0, reset
    assert reset["deleted"] == {table: c["delete"] for table, c in counts.items() if c["delete"]}
    kept = {table: c["keep"] for table, c in counts.items() if c["keep"]}
    assert {table: store.count(table, product) for table in kept} == kept


def test_twig_keeps_student_answers_and_assessment_results(store: Store) -> None:
    counts = preview(store.run("preflight", "twig-science")[1])

    assert counts["twig.student_answers"]["delete"] == 0 < counts["twig.student_answers"]["keep"]
    assert counts["twig.classes"]["keep"] == 0 < counts["twig.classes"]["delete"]


def test_the_preflight_changes_nothing_and_leaves_no_probe(store: Store) -> None:
    before = store.count("imagine_math.student_accounts", "imagine-math")

    assert store.run("preflight", "imagine-math")[0] == 0
    assert store.run("preflight", "imagine-math")[0] == 0, "a second run is as good as the first"

    assert store.count("imagine_math.student_accounts", "imagine-math") == before
    assert not store.query("SELECT 1 FROM rollover.resets")
    assert [p.name for p in store.archive_root.rglob("*")] == [DISTRICT, YEAR], "only the probe's parents"


def test_an_unreachable_archive_fails_and_the_fixed_one_passes(store: Store) -> None:
    missing = store.tmp / "not-mounted"

    code, result = store.run("preflight", "imagine-math", ARCHIVE_URI=missing.as_uri())

    assert code == 1
    assert "does not exist (is the volume mounted?)" in result["error"]
    missing.mkdir()
    assert store.run("preflight", "imagine-math", ARCHIVE_URI=missing.as_uri())[0] == 0


def test_an_archive_where_nothing_can_be_written_fails(store: Store) -> None:
    # (Tests run as root, which permissions do not stop: a file where the district's directory goes
    # makes the write fail as a read-only volume would.)
    (store.archive_root / DISTRICT).write_text("not a directory")

    code, result = store.run("preflight", "imagine-math")

    assert code == 1
    assert "cannot write, read and delete a probe" in result["error"]


def test_a_leftover_probe_of_a_killed_run_is_cleared(store: Store) -> None:
    leftover = store.archive_root / DISTRICT / YEAR / ".imagine-math.preflight-probe"
    leftover.mkdir(parents=True)
    (leftover / "probe").write_bytes(b"from a run killed mid-check")

    assert store.run("preflight", "imagine-math")[0] == 0
    assert not leftover.exists()


def test_a_district_without_data_fails(store: Store) -> None:
    code, result = store.run("preflight", "imagine-math", DISTRICT_ID="d9")

    assert code == 1
    assert "no imagine-math rows for district d9 in 2025-2026" in result["error"]


def test_an_unmigrated_store_fails(empty_store: Store) -> None:
    empty_store.query(
        "DELETE FROM rollover.schema_migrations"
        " WHERE version = (SELECT max(version) FROM rollover.schema_migrations)"
    )

    code, result = empty_store.run("preflight", "imagine-math")

    assert code == 1
    assert "rollover-job migrate" in result["error"]


def test_a_missing_secret_is_named(store: Store) -> None:
    code, result = store.run(
        "preflight", "imagine-math", DATABASE_URL="", JOB_SECRETS="rollover-roster-store"
    )

    assert code == 1
    assert "DATABASE_URL not set" in result["error"]
    assert "Secret(s) rollover-roster-store" in result["error"]


def test_a_role_without_the_resets_privileges_fails_before_reset_day(store: Store) -> None:
    store.query("CREATE ROLE preflight_reader LOGIN PASSWORD 'reader-pw'")
    store.query("GRANT USAGE ON SCHEMA roster, imagine_math, twig, rollover TO preflight_reader")
    store.query(
        "GRANT SELECT ON ALL TABLES IN SCHEMA roster, imagine_math, twig, rollover TO preflight_reader"
    )
    url = make_conninfo(store.url, user="preflight_reader", password="reader-pw")

    code, result = store.run("preflight", "imagine-math", DATABASE_URL=url)

    assert code == 1
    assert "DELETE on imagine_math.student_accounts" in result["error"]
    assert all(f"INSERT on {table}" in result["error"] for table in RESET_APPENDS)
    assert "reader-pw" not in str(result)
