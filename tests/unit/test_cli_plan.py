"""`rollover plan`: the schedule per district (table and JSON) and the summary by date."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from rollover.cli.main import main

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "districts"
NOW = "2026-11-24T12:00:00Z"
KEYS = {
    "name", "namespace", "districtId", "resetDate", "preflightDate", "preflightAt", "pauseDate", "pauseAt",
    "resetAt", "timeZone", "steps", "errors", "warnings",
}  # fmt: skip

DISTRICT = """\
apiVersion: rostering.k12.dev/v1alpha1
kind: DistrictRollover
metadata:
  name: {name}
  namespace: district-tx
spec:
  districtId: {name}
  schoolYear: 2026-2027
  resetDate: {reset}
  timeZone: {zone}
  products: [twig-science]
  syncSelector:
    matchLabels: {{rostering.k12.dev/district: {name}}}
"""


def district(name: str, reset: str = "2027-07-16", zone: str = "America/Chicago") -> str:
    return DISTRICT.format(name=name, reset=reset, zone=zone)


def plan_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    status = main(["plan", "--now", NOW, "-o", "json", *args])
    return status, json.loads(capsys.readouterr().out)


def test_json_has_exactly_the_documented_keys(capsys: pytest.CaptureFixture[str]) -> None:
    status, rows = plan_json(capsys, str(EXAMPLES))

    assert status == 0
    assert len(rows) == len(list(EXAMPLES.glob("*.yaml")))
    assert all(set(row) == KEYS for row in rows)


def test_json_schedule_of_one_district(capsys: pytest.CaptureFixture[str]) -> None:
    _, rows = plan_json(capsys, str(EXAMPLES / "ny-hudson-highlands.yaml"))

    (row,) = rows
    assert {k: v for k, v in row.items() if k != "steps"} == {
        "name": "hudson-highlands-csd",
        "namespace": "district-ny",
        "districtId": "NY-HUDSON-HL",
        "resetDate": "2027-08-16",
        "preflightDate": "2027-08-04",  # five business days before the pause
        "preflightAt": "2027-08-04T00:00:00-04:00",
        "pauseDate": "2027-08-11",  # two business days before Monday, skipping Friday's closure
        "pauseAt": "2027-08-11T00:00:00-04:00",
        "resetAt": "2027-08-16T00:00:00-04:00",
        "timeZone": "America/New_York",
        "errors": [],
        "warnings": [],
    }
    assert [(s["step"], s["product"]) for s in row["steps"]] == [
        ("archive", "imagine-math"),
        ("archive", "twig-science"),
        ("reset", "imagine-math"),
        ("reset", "twig-science"),
    ]
    assert row["steps"][3]["data"] == ["classes", "enrollments", "assignments"]


def test_rows_are_in_reset_order_and_unplannable_ones_last(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.yaml").write_text(district("late", "2027-08-02"), encoding="utf-8")
    (tmp_path / "b.yaml").write_text(district("broken", zone="Mars/Olympus"), encoding="utf-8")
    (tmp_path / "c.yaml").write_text(district("guam", zone="Pacific/Guam"), encoding="utf-8")
    (tmp_path / "d.yaml").write_text(district("chicago"), encoding="utf-8")

    status, rows = plan_json(capsys, str(tmp_path))

    assert status == 1
    assert [row["name"] for row in rows] == ["guam", "chicago", "late", "broken"]
    assert rows[-1]["pauseAt"] is None
    assert rows[-1]["errors"] == [
        {
            "field": "spec.timeZone",
            "line": 10,
            "message": "'Mars/Olympus' is not an IANA time zone, e.g. America/Chicago",
        }
    ]


def test_invalid_districts_still_show_what_can_be_planned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "d.yaml").write_text(district("weekend", "2027-07-17"), encoding="utf-8")

    status, (row,) = plan_json(capsys, str(tmp_path))

    assert status == 1
    assert row["pauseDate"] == "2027-07-16"
    assert [(e["field"], e["line"]) for e in row["errors"]] == [("spec.resetDate", 9)]


def test_by_date_counts_pauses_and_resets_per_day(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(3):
        (tmp_path / f"friday-{i}.yaml").write_text(district(f"friday-{i}"), encoding="utf-8")
    (tmp_path / "monday.yaml").write_text(district("monday", "2027-07-19"), encoding="utf-8")

    status, days = plan_json(capsys, "--by-date", str(tmp_path))

    assert status == 0
    assert days == [
        {"date": "2027-07-15", "pauses": 3, "resets": 0},
        {"date": "2027-07-16", "pauses": 1, "resets": 3},
        {"date": "2027-07-19", "pauses": 0, "resets": 1},
    ]


def test_by_date_table_draws_the_spikes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(3):
        (tmp_path / f"friday-{i}.yaml").write_text(district(f"friday-{i}"), encoding="utf-8")

    main(["plan", "--now", NOW, "--by-date", str(tmp_path)])

    assert capsys.readouterr().out.splitlines() == [
        "DATE         PAUSES   RESETS",
        "2027-07-15   3        0        ###",
        "2027-07-16   0        3        ###",
    ]


def test_table_lists_each_district_and_its_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "d.yaml").write_text(district("weekend", "2027-07-17"), encoding="utf-8")

    status = main(["plan", "--now", NOW, str(EXAMPLES / "gu-marianas.yaml"), str(tmp_path / "d.yaml")])

    out, err = capsys.readouterr()
    header, weekend, guam = out.splitlines()  # in reset order: Chicago's Saturday, then Guam's Thursday
    assert status == 1
    assert re.split(r"\s{2,}", header) == [
        "NAMESPACE", "NAME", "DISTRICT", "PREFLIGHT", "PAUSE AT", "RESET AT", "TIME ZONE", "PRODUCTS",
        "ISSUES",
    ]  # fmt: skip
    assert guam.split() == [
        "district-gu", "marianas-public-schools", "GU-MARIANAS", "2027-07-13", "2027-07-20T00:00:00+10:00",
        "2027-07-22T00:00:00+10:00", "Pacific/Guam", "imagine-math,imagine-math-facts", "ok",
    ]  # fmt: skip
    assert weekend.endswith("1 error")
    assert err.startswith(f"{tmp_path / 'd.yaml'}:9:3: error: spec.resetDate: 2027-07-17 is a Saturday")


def test_the_preflight_date_follows_the_operators_setting(capsys: pytest.CaptureFixture[str]) -> None:
    _, rows = plan_json(capsys, "--preflight-days", "1", str(EXAMPLES / "ny-hudson-highlands.yaml"))

    assert (rows[0]["preflightDate"], rows[0]["preflightAt"]) == ("2027-08-10", "2027-08-10T00:00:00-04:00")


def test_a_missing_path_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err == f"rollover plan: {tmp_path / 'nope'}: no such file or directory\n"
