"""`rollover new`: the sample CSV bootstraps clean files; bad rows are reported by CSV line and not
written; existing files are kept unless --force."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rollover.cli.main import main

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "examples" / "districts.csv"
SCHEMA = REPO / "schemas" / "districtrollover.schema.json"
NOW = "2026-11-24T12:00:00Z"
HEADER = "districtId,displayName,state,timeZone,products,namespace,selectorLabel,resetDate,name\n"


def row(district: str, reset: str = "2027-07-16", **cells: str) -> str:
    values = {
        "districtId": district,
        "displayName": f"{district} Schools",
        "state": "IL",
        "timeZone": "America/Chicago",
        "products": "imagine-math;twig-science",
        "namespace": "district-il",
        "selectorLabel": f"rostering.k12.dev/district={district.lower()}",
        "resetDate": reset,
        "name": "",
    } | cells
    return ",".join(values.values()) + "\n"


def new(capsys: pytest.CaptureFixture[str], csv: Path, out: Path, *args: str) -> tuple[int, list[str], str]:
    status = main(["new", "--now", NOW, "--from", str(csv), "--out", str(out), *args])
    captured = capsys.readouterr()
    return status, captured.out.splitlines(), captured.err


def write_csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "districts.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_sample_bootstraps_clean_files_with_the_schema_modeline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A checkout with the committed schema: the modeline points at it, as in examples/districts.
    (tmp_path / "schemas").mkdir()
    shutil.copy(SCHEMA, tmp_path / "schemas")
    out = tmp_path / "examples" / "districts"

    status, lines, err = new(capsys, SAMPLE, out, "--reset-date", "2027-07-16")

    assert status == 0
    assert err == "7 rows: 7 files written, 0 rows with errors\n"
    assert lines[0] == f"{out / 'oh-maplehts.yaml'}: written from line 2 (district-oh/oh-maplehts)"
    assert main(["lint", "--now", NOW, str(out)]) == 0
    assert capsys.readouterr().err == "7 documents: 0 errors, 0 warnings\n"
    assert (out / "ca-on-mapleleaf.yaml").read_text(encoding="utf-8") == (
        "# yaml-language-server: $schema=../../schemas/districtrollover.schema.json\n"
        "apiVersion: rostering.k12.dev/v1alpha1\n"
        "kind: DistrictRollover\n"
        "metadata:\n"
        "  name: ca-on-mapleleaf\n"
        "  namespace: district-ca-on\n"
        "spec:\n"
        "  districtId: CA-ON-MAPLELEAF\n"
        "  displayName: Maple Leaf District School Board\n"
        "  schoolYear: 2026-2027\n"
        "  resetDate: 2027-07-30\n"
        "  timeZone: America/Toronto\n"
        "  calendar:\n"
        "    country: CA\n"
        '    subdivision: "ON"\n'  # quoted: YAML 1.1 (kubectl) would read ON as true
        "  products:\n"
        "    - twig-science\n"
        "  syncSelector:\n"
        "    matchLabels:\n"
        "      rostering.k12.dev/district: ca-on-mapleleaf\n"
    )


def test_outside_a_checkout_the_file_says_how_to_get_the_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = write_csv(tmp_path, HEADER + row("IL-1"))

    assert new(capsys, csv, tmp_path / "out")[0] == 0
    first_line = (tmp_path / "out" / "il-1.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first_line == (
        "# For editor validation: rollover schema > districtrollover.schema.json, then add a modeline for it"
    )


def test_bad_rows_are_reported_by_line_and_the_others_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = write_csv(
        tmp_path,
        HEADER
        + row("IL-1")
        + row("IL-2", displayName='"Two\nLines"')  # a quoted cell over two lines: line numbers still right
        + row("IL-3", "2027-07-17")
        + "\n"  # blank lines are skipped, and counted
        + row("IL-4", timeZone="Mars/Olympus", products="imagine-math;algebra-pro")
        + row("IL-5", selectorLabel="il-5")
        + row("IL-1", name="il-1-again")
        + row("IL-6", reset="")
        + row("IL-7").replace("\n", ",extra\n"),
    )
    out = tmp_path / "out"

    status, lines, err = new(capsys, csv, out)

    assert status == 1
    assert lines == [
        f"{out / 'il-1.yaml'}: written from line 2 (district-il/il-1)",
        f"{out / 'il-2.yaml'}: written from line 3 (district-il/il-2)",
        f"{csv}:5: error: resetDate: 2027-07-17 is a Saturday; choose a business day (Monday-Friday)",
        f"{csv}:7: error: products: 'algebra-pro' is not in the product catalog; known: imagine-math, "
        "imagine-math-facts, twig-science",
        f"{csv}:7: error: timeZone: 'Mars/Olympus' is not an IANA time zone, e.g. America/Chicago",
        f"{csv}:8: error: selectorLabel: 'il-5' is not key=value, e.g. rostering.k12.dev/district=il-1",
        f"{csv}:9: error: districtId: 'IL-1' is also used by line 2; one DistrictRollover per district",
        f"{csv}:10: error: resetDate: is empty and there is no --reset-date",
        f"{csv}:11: error: 10 cells, but the header has 9 columns",
    ]
    assert err == "8 rows: 2 files written, 6 rows with errors\n"
    assert sorted(path.name for path in out.iterdir()) == ["il-1.yaml", "il-2.yaml"]


def test_values_that_do_not_come_from_a_cell_say_where_they_came_from(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = write_csv(tmp_path, HEADER + row("IL-1", reset=""))

    status, lines, _ = new(capsys, csv, tmp_path / "out", "--reset-date", "2027-07-05")

    assert status == 1
    assert lines == [
        f"{csv}:2: error: --reset-date: 2027-07-05 is a holiday in US-IL (Independence Day (observed)); "
        "choose a business day"
    ]


def test_existing_files_are_kept_unless_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "il-1.yaml").write_text("# edited by hand\n", encoding="utf-8")
    csv = write_csv(tmp_path, HEADER + row("IL-1"))

    status, lines, _ = new(capsys, csv, out)

    assert (status, lines) == (1, [f"{csv}:2: error: {out / 'il-1.yaml'} exists; --force overwrites it"])
    assert (out / "il-1.yaml").read_text(encoding="utf-8") == "# edited by hand\n"

    assert new(capsys, csv, out, "--force")[0] == 0
    assert "districtId: IL-1" in (out / "il-1.yaml").read_text(encoding="utf-8")


def test_a_district_already_in_the_directory_is_not_created_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert new(capsys, write_csv(tmp_path, HEADER + row("IL-1")), out)[0] == 0
    csv = write_csv(tmp_path, HEADER + row("IL-1", name="another-name"))

    status, lines, _ = new(capsys, csv, out)

    assert status == 1
    assert lines == [
        f"{csv}:2: error: districtId: 'IL-1' is also used by {out / 'il-1.yaml'}:2 (district-il/il-1); "
        "one DistrictRollover per district"
    ]
    assert not (out / "another-name.yaml").exists()


def test_two_rows_with_one_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = write_csv(tmp_path, HEADER + row("IL-1", name="same") + row("IL-2", name="same"))

    status, lines, _ = new(capsys, csv, tmp_path / "out")

    assert status == 1
    assert lines[1] == f"{csv}:3: error: name: 'same' is also the name of line 2"


def test_header_names_as_spreadsheets_write_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    header = (
        "\ufeffDistrict ID,Display Name,State,Time Zone,Products,Namespace,Selector Label,Reset Date,NAME\n"
    )
    csv = write_csv(tmp_path, header + row("IL-1"))

    assert new(capsys, csv, tmp_path / "out")[0] == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "districtId,zip\n",
            "districts.csv:1: unknown column 'zip'; columns: districtId, displayName, state,",
        ),
        (
            "districtId,state\nIL-1,IL\n",
            "districts.csv:1: missing column(s): displayName, timeZone, products,",
        ),
        ("", "districts.csv:1: missing column(s): districtId, "),
    ],
)
def test_a_bad_header_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    status, lines, err = new(capsys, write_csv(tmp_path, text), tmp_path / "out")

    assert (status, lines) == (2, [])
    assert err.startswith(f"rollover new: {tmp_path}/{message}")
    assert not (tmp_path / "out").exists()


def test_unusable_paths_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = write_csv(tmp_path, HEADER + row("IL-1"))

    assert new(capsys, tmp_path / "nope.csv", tmp_path / "out")[0:3:2] == (
        2,
        f"rollover new: {tmp_path / 'nope.csv'}: cannot read: No such file or directory\n",
    )
    assert new(capsys, csv, csv)[0:3:2] == (2, f"rollover new: {csv}: not a directory\n")
    (tmp_path / "latin1.csv").write_bytes(
        HEADER.encode() + row("IL-1", displayName="Caf\xe9").encode("latin-1")
    )
    status, _, err = new(capsys, tmp_path / "latin1.csv", tmp_path / "out")
    assert status == 2
    assert err.startswith(f"rollover new: {tmp_path / 'latin1.csv'}: cannot read: 'utf-8' codec can't decode")


def test_a_malformed_reset_date_option_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        new(capsys, tmp_path / "x.csv", tmp_path, "--reset-date", "July 16")

    assert exited.value.code == 2
    assert "'July 16' is not a date; expected YYYY-MM-DD" in capsys.readouterr().err


def test_a_broken_file_in_the_directory_is_left_to_lint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "broken.yaml").write_text("spec: [\n", encoding="utf-8")

    assert new(capsys, write_csv(tmp_path, HEADER + row("IL-1")), out)[0] == 0
    assert (out / "il-1.yaml").exists()
