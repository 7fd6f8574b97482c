"""`rollover roll-forward`: the examples roll forward a year and lint clean; only two values change in
each file; one bad file means nothing is written."""

from __future__ import annotations

import difflib
import json
import shutil
from pathlib import Path

import pytest

from rollover.cli.main import main

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "districts"
NOW = "2026-11-24T12:00:00Z"
DEFAULTS = "2028-07-14,2028-07-28,2028-08-11"

DISTRICT = """\
# {name}: comments stay where they are.
apiVersion: rostering.k12.dev/v1alpha1
kind: DistrictRollover
metadata:
  name: {name}
  namespace: district-gu
spec:
  districtId: {name}
  schoolYear: "{year}"
  resetDate: '{reset}'   # agreed with the district office
  timeZone: Pacific/Guam
  calendar: {{country: US, subdivision: GU}}
  products: [imagine-math]
  syncSelector:
    matchLabels: {{rostering.k12.dev/district: {name}}}
"""


def district(name: str, reset: str = "2027-07-22", year: str = "2026-2027") -> str:
    return DISTRICT.format(name=name, reset=reset, year=year)


def roll(capsys: pytest.CaptureFixture[str], *args: str, defaults: str = DEFAULTS) -> tuple[int, str, str]:
    status = main(["roll-forward", "--now", NOW, "--defaults", defaults, *args])
    out, err = capsys.readouterr()
    return status, out, err


def snapshot(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def test_the_examples_roll_forward_a_year_and_lint_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    districts = shutil.copytree(EXAMPLES, tmp_path / "districts")

    status, out, err = roll(capsys, str(districts))

    assert status == 0
    assert err == "7 districts in 7 files rolled forward\n"
    assert (
        f"{districts / 'il-prairie-valley.yaml'}:4 (district-il/prairie-valley-cusd-204): schoolYear " in out
    )
    assert main(["lint", "--now", NOW, str(districts)]) == 0
    assert capsys.readouterr().err == "7 documents: 0 errors, 0 warnings\n"
    assert main(["plan", "--now", NOW, "--by-date", "-o", "json", str(districts)]) == 0
    resets = {day["date"]: day["resets"] for day in json.loads(capsys.readouterr().out) if day["resets"]}
    assert resets == {"2028-01-27": 1, "2028-07-14": 3, "2028-07-28": 2, "2028-08-11": 1}


def test_only_the_two_values_change_in_each_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    districts = shutil.copytree(EXAMPLES, tmp_path / "districts")

    assert roll(capsys, str(districts))[0] == 0

    changes = {}
    for path in sorted(districts.iterdir()):
        before = (EXAMPLES / path.name).read_text(encoding="utf-8").splitlines()
        after = path.read_text(encoding="utf-8").splitlines()
        diff = [line for line in difflib.unified_diff(before, after, n=0, lineterm="") if line[:1] in "+-"]
        changes[path.stem] = [line for line in diff if not line.startswith(("+++", "---"))]
    assert changes["il-prairie-valley"] == [
        "-  schoolYear: 2026-2027",
        "-  resetDate: 2027-07-16 # a Friday; roster sync pauses Thursday 2027-07-15 at 00:00 Central",
        "+  schoolYear: 2027-2028",
        "+  resetDate: 2028-07-14 # a Friday; roster sync pauses Thursday 2027-07-15 at 00:00 Central",
    ]
    assert all(len(lines) == 4 for lines in changes.values())


def test_what_each_district_got_and_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    districts = shutil.copytree(EXAMPLES, tmp_path / "districts")

    _, out, _ = roll(capsys, str(districts))

    lines = {line.split(" (")[1].split(")")[0]: line.split("): ", 1)[1] for line in out.splitlines()}
    assert lines["district-gu/marianas-public-schools"] == (
        "schoolYear 2026-2027 -> 2027-2028, resetDate 2027-07-22 -> 2028-07-28 "
        "(the default closest to Jul 22)"
    )
    assert lines["district-intl/harbourside-international"] == (
        "schoolYear 2026-2027 -> 2027-2028, resetDate 2027-01-27 -> 2028-01-27 (own date kept "
        "(spec.exception): the same weekday a year on is 2028-01-26, a holiday in AU-NSW (Australia Day), "
        "so the next business day)"
    )


def test_a_default_on_a_state_holiday_is_moved_and_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "gu.yaml"
    path.write_text(district("gu-1"), encoding="utf-8")

    status, out, _ = roll(capsys, str(path), defaults="2028-07-21,2028-08-11")

    assert status == 0
    assert out.endswith(
        "resetDate 2027-07-22 -> 2028-07-24 (the default closest to Jul 22 is 2028-07-21, a holiday in US-GU "
        "(Liberation Day (Guam)), so the next business day)\n"
    )
    # Quoting, flow mappings and comments are kept.
    assert path.read_text(encoding="utf-8") == district("gu-1", reset="2028-07-24", year="2027-2028")


def test_every_district_of_a_multi_document_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "gu.yaml"
    path.write_text(district("gu-1") + "---\n" + district("gu-2", reset="2027-08-16"), encoding="utf-8")

    assert roll(capsys, str(path))[0:3:2] == (0, "2 districts in 1 file rolled forward\n")
    assert path.read_text(encoding="utf-8") == (
        district("gu-1", reset="2028-07-28", year="2027-2028")
        + "---\n"
        + district("gu-2", reset="2028-08-11", year="2027-2028")
    )


def test_one_bad_file_means_nothing_is_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    districts = shutil.copytree(EXAMPLES, tmp_path / "districts")
    # Summer school runs past the default the district would get: the new date fails validation.
    (districts / "late.yaml").write_text(
        district("late").replace("  products:", "  summerSchoolEnd: 2028-08-01\n  products:"),
        encoding="utf-8",
    )
    # Already rolled forward: the defaults are not of its new year.
    (districts / "rolled.yaml").write_text(district("rolled", "2028-07-28", "2027-2028"), encoding="utf-8")
    before = snapshot(districts)

    status, out, err = roll(capsys, str(districts))

    assert status == 1
    assert snapshot(districts) == before
    assert out.splitlines() == [
        f"{districts / 'late.yaml'}:10:3: error: spec.resetDate: 2028-07-28 is on or before "
        "spec.summerSchoolEnd (2028-08-01); choose a date after summer school ends",
        f"{districts / 'rolled.yaml'}:9:3: error: spec.schoolYear: 2027-2028 would roll forward to "
        "2028-2029, a school year closing in 2029, but the defaults are dates of 2028: roll forward "
        "districts of schoolYear 2026-2027 (was this one rolled forward already?)",
    ]
    assert err == "rollover roll-forward: nothing was written: 2 errors in 2 files\n"
    assert not [path for path in districts.iterdir() if path.name.startswith(".")]  # no temporary files


def test_a_date_no_longer_in_the_future_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "gu.yaml"
    path.write_text(district("gu-1"), encoding="utf-8")

    status, out, _ = roll(capsys, "--now", "2028-07-30T00:00:00+10:00", str(path))

    assert status == 1
    assert (
        "error: spec.resetDate: 2028-07-28 is not in the future (today is 2028-07-30 in Pacific/Guam)" in out
    )
    assert path.read_text(encoding="utf-8") == district("gu-1")


def test_documents_that_do_not_parse_are_reported_as_lint_reports_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.yaml").write_text(district("gu-1"), encoding="utf-8")
    (tmp_path / "b.yaml").write_text(
        district("gu-2").replace("Pacific/Guam", "[Pacific/Guam]"), encoding="utf-8"
    )
    (tmp_path / "c.yaml").write_text("kind: ConfigMap\n", encoding="utf-8")
    before = snapshot(tmp_path)

    status, out, _ = roll(capsys, str(tmp_path))

    assert status == 1
    assert snapshot(tmp_path) == before
    assert out.splitlines() == [
        f"{tmp_path / 'b.yaml'}:11:3: error: spec.timeZone: a list: Input should be a valid string",
        f"{tmp_path / 'c.yaml'}:1:1: error: kind: 'ConfigMap' is not DistrictRollover; "
        "expected DistrictRollover",
    ]


def test_a_value_that_cannot_be_edited_in_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "gu.yaml"
    path.write_text(district("gu-1").replace('"2026-2027"', "|-\n    2026-2027"), encoding="utf-8")

    status, out, _ = roll(capsys, str(path))

    assert status == 1
    assert (
        out
        == f"{path}:9:3: error: spec.schoolYear is not a plain or quoted scalar; cannot change it in place\n"
    )


@pytest.mark.parametrize(
    ("defaults", "message"),
    [
        ("2028-07-14,July 28", "'July 28' is not a date; expected YYYY-MM-DD"),
        ("2028-07-14,2029-07-13", "'2028-07-14,2029-07-13' spans several years"),
        (",", "expected dates YYYY-MM-DD separated by commas"),
    ],
)
def test_bad_defaults_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], defaults: str, message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        roll(capsys, str(tmp_path), defaults=defaults)

    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_unreadable_yaml_is_a_usage_error_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.yaml").write_text(district("gu-1"), encoding="utf-8")
    (tmp_path / "b.yaml").write_text("spec: [\n", encoding="utf-8")
    before = snapshot(tmp_path)

    status, out, err = roll(capsys, str(tmp_path))

    assert status == 2
    assert snapshot(tmp_path) == before
    assert out.startswith(f"{tmp_path / 'b.yaml'}:2:1: error: invalid YAML")
    assert err == "rollover roll-forward: nothing was written: 1 file cannot be read\n"


def test_a_missing_path_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert roll(capsys, str(tmp_path / "nope"))[0:3:2] == (
        2,
        f"rollover roll-forward: {tmp_path / 'nope'}: no such file or directory\n",
    )
