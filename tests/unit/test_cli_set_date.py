"""`rollover set-date`: only the date's characters change, and an invalid date changes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rollover.cli.main import main

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
NOW = "2026-11-24T12:00:00Z"

DISTRICT = """\
# A district; comments stay where they are.
apiVersion: rostering.k12.dev/v1alpha1
kind: DistrictRollover
metadata:
  name: {name}
spec:
  districtId: {name}
  schoolYear: "2026-2027"
  resetDate: {reset}   # agreed with the district office
  timeZone: America/Chicago
  products: [imagine-math]
  syncSelector:
    matchLabels: {{rostering.k12.dev/district: {name}}}
"""


def district(name: str = "one", reset: str = "2027-07-16") -> str:
    return DISTRICT.format(name=name, reset=reset)


def set_date(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["set-date", "--now", NOW, *args])
    out, err = capsys.readouterr()
    return status, out, err


def write(tmp_path: Path, text: str, newline: str = "\n") -> Path:
    path = tmp_path / "district.yaml"
    path.write_bytes(text.replace("\n", newline).encode())
    return path


def test_only_the_date_changes_in_an_example(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "il.yaml"
    shutil.copy(REPO / "examples" / "districts" / "il-prairie-valley.yaml", path)
    before = path.read_text(encoding="utf-8")

    status, out, _ = set_date(capsys, str(path), "2027-07-23")

    assert status == 0
    assert path.read_text(encoding="utf-8") == before.replace(
        "resetDate: 2027-07-16 #", "resetDate: 2027-07-23 #"
    )
    assert out == (
        f"{path}:4 (district-il/prairie-valley-cusd-204): resetDate 2027-07-16 -> 2027-07-23; "
        "roster sync pauses 2027-07-22T00:00:00-05:00, reset at 2027-07-23T00:00:00-05:00\n"
    )


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("2027-07-16", "2027-07-23"),
        ('"2027-07-16"', '"2027-07-23"'),
        ("'2027-07-16'", "'2027-07-23'"),
    ],
)
def test_quoting_is_preserved(tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str) -> None:
    path = write(tmp_path, district(reset=old))

    assert set_date(capsys, str(path), "2027-07-23")[0] == 0
    assert path.read_text(encoding="utf-8") == district(reset=new)


def test_crlf_line_ends_are_preserved(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, district(), newline="\r\n")

    assert set_date(capsys, str(path), "2027-07-23")[0] == 0
    assert path.read_bytes() == district(reset="2027-07-23").replace("\n", "\r\n").encode()


def test_flow_mappings_are_preserved(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flow = district().split("spec:")[0] + (
        "spec: {districtId: one, schoolYear: 2026-2027, resetDate: 2027-07-16, timeZone: America/Chicago,\n"
        "  products: [imagine-math], syncSelector: {matchLabels: {a: b}}}\n"
    )
    path = write(tmp_path, flow)

    assert set_date(capsys, str(path), "2027-07-23")[0] == 0
    assert path.read_text(encoding="utf-8") == flow.replace("2027-07-16", "2027-07-23")


@pytest.mark.parametrize(
    ("date", "message"),
    [
        ("2027-07-17", "spec.resetDate: 2027-07-17 is a Saturday; choose a business day (Monday-Friday)"),
        ("2027-07-05", "spec.resetDate: 2027-07-05 is a holiday in US (Independence Day (observed))"),
        ("2026-11-24", "spec.resetDate: 2026-11-24 is not in the future"),
        ("2027-10-04", "spec.resetDate: 2027-10-04 is outside the reset window June 1 - October 1"),
    ],
)
def test_a_date_that_fails_validation_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], date: str, message: str
) -> None:
    path = write(tmp_path, district())

    status, out, err = set_date(capsys, str(path), date)

    assert status == 1
    assert path.read_text(encoding="utf-8") == district()
    assert f"{path}:9:3: error: {message}" in out
    assert err == f"rollover set-date: {path} was not changed: {date} fails validation\n"


def test_warnings_are_shown_and_the_date_is_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, district().replace("  products:", "  summerSchoolEnd: 2027-07-22\n  products:"))

    status, out, _ = set_date(capsys, str(path), "2027-07-23")

    assert status == 0
    assert out.startswith(f"{path}:11:3: warning: spec.summerSchoolEnd: summer school ends 2027-07-22")
    assert "resetDate: 2027-07-23" in path.read_text(encoding="utf-8")


def test_name_chooses_among_several_districts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    second = district("two").replace("apiVersion", "---\napiVersion", 1)
    path = write(
        tmp_path, district() + second.replace("  resetDate: 2027-07-16", "  resetDate: '2027-07-16'")
    )
    before = path.read_text(encoding="utf-8")

    assert set_date(capsys, str(path), "2027-07-23")[0:3:2] == (
        2,
        f"rollover set-date: {path}: 2 DistrictRollover documents (one, two); choose one with --name\n",
    )
    assert set_date(capsys, str(path), "2027-07-23", "--name", "three")[0:3:2] == (
        2,
        f"rollover set-date: {path}: no DistrictRollover named 'three'\n",
    )
    assert set_date(capsys, str(path), "2027-07-23", "--name", "two")[0] == 0
    assert path.read_text(encoding="utf-8") == before.replace("'2027-07-16'", "'2027-07-23'")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (district().replace("2027-07-16   #", "|-\n    2027-07-16\n  #"), "is not a plain or quoted scalar"),
        (
            district().replace("  resetDate: 2027-07-16", "  resetdate: 2027-07-16"),
            "there is no spec.resetDate",
        ),
        ("kind: ConfigMap\n", "no DistrictRollover"),
        ("spec: [\n", "was not changed"),
    ],
)
def test_what_cannot_be_changed_in_place_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    path = write(tmp_path, text)

    status, _, err = set_date(capsys, str(path), "2027-07-23")

    assert status == 2
    assert message in err
    assert "Traceback" not in err
    assert path.read_text(encoding="utf-8") == text


def test_a_missing_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = set_date(capsys, str(tmp_path / "nope.yaml"), "2027-07-23")

    assert (status, err) == (2, f"rollover set-date: {tmp_path / 'nope.yaml'}: no such file\n")


def test_a_malformed_date_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["set-date", str(write(tmp_path, district())), "July 23"])

    assert exited.value.code == 2
    assert "'July 23' is not a date; expected YYYY-MM-DD" in capsys.readouterr().err
