"""`rollover-job archive` against a real store: layout, manifest, files, export, re-runs."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json

import pytest

from rollover.jobs.migrate import latest_version
from rollover.jobs.result import LIMIT
from tests.integration.jobs.conftest import DISTRICT, YEAR, Store

pytestmark = pytest.mark.integration


def test_archive_writes_every_table_the_catalog_names_with_a_manifest_that_proves_them(store: Store) -> None:
    code, result = store.run("archive", "imagine-math")

    assert code == 0, result
    directory = store.archive_dir()
    manifest = json.loads((directory / "manifest.json").read_text())
    assert (manifest["districtId"], manifest["schoolYear"], manifest["product"]) == (
        DISTRICT,
        YEAR,
        "imagine-math",
    )
    assert manifest["schemaVersion"] == latest_version()
    tables = {t["table"]: t for t in manifest["tables"]}
    assert set(tables) == {
        f"imagine_math.{name}"
        for name in ("student_accounts", "classrooms", "classroom_students", "student_tokens", "think_points",
                     "student_avatars", "assessment_results", "progress_records", "pathway_records",
                     "usage_records")
    }  # fmt: skip
    assert all(t["deletedByReset"] for t in tables.values())
    for name, table in tables.items():
        assert table["rows"] == store.count(name, "imagine-math") > 0, name
        raw = (directory / table["file"]).read_bytes()
        csv_bytes = gzip.decompress(raw)
        assert hashlib.sha256(csv_bytes).hexdigest() == table["digest"]  # zcat FILE | sha256sum
        assert len(csv_bytes.splitlines()) == table["rows"] + 1  # header
    files = {f["name"]: f for f in manifest["files"]}
    for name, entry in files.items():
        data = (directory / name).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (entry["size"], entry["sha256"])
    assert sorted(p.name for p in directory.iterdir()) == sorted([*files, "manifest.json"])
    assert [p.name for p in directory.parent.iterdir()] == ["imagine-math"]  # no staging left
    assert result["status"] == "archived"
    assert result["manifest"] == f"{store.archive_root.as_uri()}/{DISTRICT}/{YEAR}/imagine-math/manifest.json"
    assert result["rows"] == {name: t["rows"] for name, t in tables.items()}
    assert len(json.dumps(result)) < LIMIT


def test_the_student_data_export_has_one_row_per_student_with_year_to_date_usage_and_results(
    store: Store,
) -> None:
    store.run("archive", "imagine-math")

    text = (store.archive_dir() / "student-data-export.csv").read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == store.count("imagine_math.student_accounts", "imagine-math")
    first = rows[0]
    minutes, sessions = store.query(
        "SELECT sum(minutes), count(*) FROM imagine_math.usage_records WHERE product = 'imagine-math'"
        " AND user_sourced_id = %s",
        (first["sourcedId"],),
    )[0]
    assert (int(first["minutes"]), int(first["sessions"])) == (minutes, sessions)
    assert {"givenName", "school", "thinkPoints", "tokens", "averageAssessmentScore", "pathways"} <= set(
        first
    )


def test_twig_archives_kept_answers_and_results_too_and_has_no_student_export(store: Store) -> None:
    code, _ = store.run("archive", "twig-science")

    assert code == 0
    manifest = json.loads((store.archive_dir("twig-science") / "manifest.json").read_text())
    deleted = {t["table"]: t["deletedByReset"] for t in manifest["tables"]}
    assert deleted == {
        "twig.classes": True, "twig.enrollments": True, "twig.assignments": True,
        "twig.student_answers": False, "twig.assessment_results": False,
    }  # fmt: skip
    assert manifest["studentDataExport"] is None


def test_a_rerun_verifies_the_complete_archive_instead_of_writing_again(store: Store) -> None:
    _, first = store.run("archive")
    manifest = store.archive_dir() / "manifest.json"
    before = manifest.stat().st_mtime_ns

    code, again = store.run("archive")

    assert code == 0
    assert again["status"] == "verified"
    assert again["digest"] == first["digest"]
    assert manifest.stat().st_mtime_ns == before


def test_a_rerun_refuses_an_archive_whose_file_changed(store: Store) -> None:
    store.run("archive")
    (store.archive_dir() / "imagine_math.usage_records.csv.gz").write_bytes(b"not the archive")

    code, result = store.run("archive")

    assert code == 1
    assert "imagine_math.usage_records.csv.gz has changed" in result["error"]


def test_supersede_keeps_the_old_archive_aside_and_writes_a_new_one(store: Store) -> None:
    store.run("archive")
    store.query("UPDATE imagine_math.usage_records SET minutes = minutes + 1 WHERE id = 1")

    code, result = store.run("archive", "imagine-math", "--supersede")

    assert code == 0 and result["status"] == "archived"
    siblings = sorted(p.name for p in store.archive_dir().parent.iterdir())
    assert siblings[0] == "imagine-math"
    assert siblings[1].startswith("imagine-math.superseded-")
    assert (store.archive_dir().parent / siblings[1] / "manifest.json").exists()


def test_a_missing_destination_fails_before_touching_anything(store: Store) -> None:
    code, result = store.run("archive", ARCHIVE_URI="file:///nonexistent/volume")

    assert code == 1
    assert (
        result["error"] == "archive destination /nonexistent/volume does not exist (is the volume mounted?)"
    )
