"""`rollover-job reset`: deletes exactly what the catalog says, only rows proven archived, atomically."""

from __future__ import annotations

import gzip
import hashlib
import json

import psycopg
import pytest

from rollover.jobs import reset
from tests.integration.jobs.conftest import DISTRICT, OTHER_DISTRICT, RESET_DATE, YEAR, Store

pytestmark = pytest.mark.integration

IMAGINE_MATH_TABLES = [
    f"imagine_math.{name}"
    for name in ("usage_records", "pathway_records", "progress_records", "assessment_results",
                 "student_avatars", "think_points", "student_tokens", "classroom_students", "classrooms",
                 "student_accounts")
]  # fmt: skip
SHARED_TABLES = ["roster.orgs", "roster.users", "roster.classes", "roster.enrollments"]
TWIG_TABLES = [
    "twig.classes",
    "twig.enrollments",
    "twig.assignments",
    "twig.student_answers",
    "twig.assessment_results",
]


def counts(
    store: Store, tables: list[str], product: str | None = None, district: str = DISTRICT
) -> dict[str, int]:
    return {t: store.count(t, product, district) for t in tables}


def test_imagine_math_reset_deletes_its_year_data_and_nothing_else(store: Store) -> None:
    im_before = counts(store, IMAGINE_MATH_TABLES, "imagine-math")
    facts_before = counts(store, IMAGINE_MATH_TABLES, "imagine-math-facts")
    shared_before = counts(store, SHARED_TABLES)
    twig_before = counts(store, TWIG_TABLES)
    other_before = counts(store, IMAGINE_MATH_TABLES, "imagine-math", OTHER_DISTRICT)
    assert store.run("archive", "imagine-math")[0] == 0

    code, result = store.run("reset", "imagine-math")

    assert code == 0, result
    assert result["status"] == "reset"
    assert result["deleted"] == im_before
    assert counts(store, IMAGINE_MATH_TABLES, "imagine-math") == dict.fromkeys(IMAGINE_MATH_TABLES, 0)
    assert counts(store, IMAGINE_MATH_TABLES, "imagine-math-facts") == facts_before
    assert counts(store, SHARED_TABLES) == shared_before  # educators, organizations, the roster
    assert counts(store, TWIG_TABLES) == twig_before
    assert counts(store, IMAGINE_MATH_TABLES, "imagine-math", OTHER_DISTRICT) == other_before
    ledger = store.query(
        "SELECT district_id, school_year, product, reset_date::text, count(*) FROM rollover.retired_ids"
        " GROUP BY 1, 2, 3, 4"
    )
    students = im_before["imagine_math.student_accounts"]
    assert ledger == [(DISTRICT, YEAR, "imagine-math", RESET_DATE, students)]
    assert result["retiredIds"] == students


def test_a_rerun_after_success_deletes_nothing_and_succeeds(store: Store) -> None:
    store.run("archive")
    store.run("reset")

    code, result = store.run("reset")

    assert code == 0
    assert (result["status"], result["deleted"], result["retiredIds"]) == ("alreadyReset", {}, 0)


def test_twig_reset_removes_classes_enrollments_assignments_and_keeps_answers_and_results(
    store: Store,
) -> None:
    answers, results = store.count("twig.student_answers"), store.count("twig.assessment_results")
    store.run("archive", "twig-science")

    code, result = store.run("reset", "twig-science")

    assert code == 0, result
    assert [store.count(t) for t in ("twig.classes", "twig.enrollments", "twig.assignments")] == [0, 0, 0]
    assert (store.count("twig.student_answers"), store.count("twig.assessment_results")) == (answers, results)
    assert result["retiredIds"] == 0  # Twig keeps student accounts
    assert store.count("imagine_math.student_accounts") > 0


def test_no_archive_no_reset(store: Store) -> None:
    before = counts(store, IMAGINE_MATH_TABLES, "imagine-math")

    code, result = store.run("reset")

    assert code == 1
    assert "no complete archive" in result["error"] and "run the archive step first" in result["error"]
    assert counts(store, IMAGINE_MATH_TABLES, "imagine-math") == before


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("UPDATE imagine_math.usage_records SET minutes = minutes + 1 WHERE id = (SELECT min(id) FROM"
         " imagine_math.usage_records WHERE district_id = 'd1' AND product = 'imagine-math')",
         "imagine_math.usage_records has the archive's {n} rows but not their content"),
        ("INSERT INTO imagine_math.usage_records (product, district_id, school_year, user_sourced_id,"
         " session_date, minutes, lessons_completed, recorded_at) VALUES ('imagine-math', 'd1', '2025-2026',"
         " 'd1-stu-0000001', '2026-06-01', 12, 1, '2026-06-01T10:00:00Z')",
         "imagine_math.usage_records has {n1} rows, the archive {n}"),
    ],
    ids=["changed-row", "late-sync-insert"],
)  # fmt: skip
def test_a_change_after_the_archive_makes_reset_refuse_and_delete_nothing(
    store: Store, change: str, message: str
) -> None:
    store.run("archive")
    n = store.count("imagine_math.usage_records", "imagine-math")
    store.query(change)
    before = counts(store, IMAGINE_MATH_TABLES, "imagine-math")

    code, result = store.run("reset")

    assert code == 1
    assert message.format(n=n, n1=n + 1) in result["error"]
    assert "nothing was deleted" in result["error"]
    assert counts(store, IMAGINE_MATH_TABLES, "imagine-math") == before
    assert store.query("SELECT count(*) FROM rollover.retired_ids") == [(0,)]


def test_after_a_refusal_supersede_and_reset_succeed(store: Store) -> None:
    store.run("archive")
    store.query(
        "UPDATE imagine_math.think_points SET points = points + 5 WHERE user_sourced_id = 'd1-stu-0000004'"
    )
    assert store.run("reset")[0] == 1

    assert store.run("archive", "imagine-math", "--supersede")[0] == 0
    code, result = store.run("reset")

    assert code == 0, result
    assert store.count("imagine_math.think_points", "imagine-math") == 0


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_a_damaged_archive_makes_reset_refuse(store: Store, damage: str) -> None:
    store.run("archive")
    victim = store.archive_dir() / "imagine_math.student_avatars.csv.gz"
    if damage == "missing":
        victim.unlink()
    else:
        data = bytearray(victim.read_bytes())
        data[len(data) // 2] ^= 0xFF
        victim.write_bytes(bytes(data))
    before = counts(store, IMAGINE_MATH_TABLES, "imagine-math")

    code, result = store.run("reset")

    assert code == 1
    expected = "is missing" if damage == "missing" else "has changed"
    assert f"imagine_math.student_avatars.csv.gz {expected}" in result["error"]
    assert counts(store, IMAGINE_MATH_TABLES, "imagine-math") == before


@pytest.mark.parametrize(
    ("rewritten", "message"),
    [
        ("file and its sha256", "imagine_math.usage_records.csv.gz does not hold the archived rows"),
        ("file, its sha256 and the table digest", "imagine_math.usage_records has the archive's"),
    ],
)
def test_an_archive_rewritten_with_its_manifest_hashes_makes_reset_refuse_and_delete_nothing(
    store: Store, rewritten: str, message: str
) -> None:
    """An attacker swaps two rows of the archived CSV and updates the manifest to match: the digest
    re-derived from the file, or the rows in the store, give it away."""
    store.run("archive")
    victim = store.archive_dir() / "imagine_math.usage_records.csv.gz"
    header, first, second, *rest = gzip.decompress(victim.read_bytes()).splitlines(keepends=True)
    tampered_csv = b"".join([header, second, first, *rest])
    victim.write_bytes(gzip.compress(tampered_csv))
    manifest_path = store.archive_dir() / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    for entry in manifest["files"]:
        if entry["name"] == victim.name:
            entry.update(size=victim.stat().st_size, sha256=hashlib.sha256(victim.read_bytes()).hexdigest())
    if "table digest" in rewritten:
        for table in manifest["tables"]:
            if table["file"] == victim.name:
                table["digest"] = hashlib.sha256(tampered_csv).hexdigest()
    manifest_path.write_text(json.dumps(manifest))
    before = counts(store, IMAGINE_MATH_TABLES, "imagine-math")

    code, result = store.run("reset")

    assert code == 1
    assert message in result["error"] and "nothing was deleted" in result["error"]
    assert counts(store, IMAGINE_MATH_TABLES, "imagine-math") == before
    assert store.query("SELECT count(*) FROM rollover.retired_ids") == [(0,)]


def test_a_late_sync_between_check_and_delete_rolls_everything_back(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rows were compared in the reset's snapshot; a sync commits a change before the DELETE."""
    store.run("archive")
    compare = reset._compare_with_archive

    def compare_then_sync(*args: object) -> None:
        compare(*args)  # type: ignore[arg-type]
        store.query(
            "UPDATE imagine_math.usage_records SET minutes = 0 WHERE user_sourced_id = 'd1-stu-0000002'"
        )

    monkeypatch.setattr(reset, "_compare_with_archive", compare_then_sync)
    before = counts(store, IMAGINE_MATH_TABLES, "imagine-math")

    code, result = store.run("reset")

    assert code == 1
    assert "changed while the reset ran" in result["error"]
    assert counts(store, IMAGINE_MATH_TABLES, "imagine-math") == before
    assert store.query("SELECT count(*) FROM rollover.resets") == [(0,)]


def test_a_row_locked_beyond_the_lock_timeout_makes_reset_give_up_and_delete_nothing(store: Store) -> None:
    store.run("archive")
    before = counts(store, IMAGINE_MATH_TABLES, "imagine-math")

    with psycopg.connect(store.url) as sync:  # a sync's open transaction holding one row
        sync.execute(
            "SELECT 1 FROM imagine_math.usage_records WHERE user_sourced_id = 'd1-stu-0000002' FOR UPDATE"
        )
        code, result = store.run("reset", DATABASE_LOCK_TIMEOUT="1s")

    assert code == 1
    assert "stayed locked by another transaction (a sync?) beyond DATABASE_LOCK_TIMEOUT" in result["error"]
    assert counts(store, IMAGINE_MATH_TABLES, "imagine-math") == before


def test_the_retired_id_ledger_is_append_only(store: Store) -> None:
    store.run("archive")
    store.run("reset")

    for statement in ("DELETE FROM rollover.retired_ids", "TRUNCATE rollover.retired_ids",
                      "UPDATE rollover.retired_ids SET sourced_id = 'x'"):  # fmt: skip
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            store.query(statement)
