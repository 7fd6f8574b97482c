"""`rollover lint`: positions, formats, exit statuses, and one clear line for every kind of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from rollover.cli.main import main

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
NOW = "2026-11-24T12:00:00Z"

DISTRICT = """\
apiVersion: rostering.k12.dev/v1alpha1
kind: DistrictRollover
metadata:
  name: {name}
  namespace: district-il
spec:
  districtId: {district}
  schoolYear: 2026-2027
  resetDate: {reset}
  timeZone: America/Chicago
  calendar:
    subdivision: IL
  products:
    - imagine-math
    - {product}
  syncSelector:
    matchLabels:
      rostering.k12.dev/district: il-1
"""


def district(
    name: str = "one", district: str = "IL-1", reset: str = "2027-07-16", product: str = "twig-science"
) -> str:
    return DISTRICT.format(name=name, district=district, reset=reset, product=product)


def lint(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], str]:
    status = main(["lint", "--now", NOW, *args])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_examples_are_clean(capsys: pytest.CaptureFixture[str]) -> None:
    status, lines, err = lint(capsys, str(REPO / "examples" / "districts"))

    assert (status, lines) == (0, [])
    assert "7 documents: 0 errors, 0 warnings" in err


def test_errors_point_at_their_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "d.yaml", district(reset="2027-07-17", product="imagine-reading"))

    status, lines, _ = lint(capsys, str(path))

    assert status == 1
    assert lines == [
        f"{path}:9:3: error: spec.resetDate: 2027-07-17 is a Saturday; choose a business day (Monday-Friday)",
        f"{path}:15:7: error: spec.products[1]: 'imagine-reading' is not in the product catalog; "
        "known: imagine-math, imagine-math-facts, twig-science",
    ]


def test_a_missing_field_points_at_its_parent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "d.yaml", district().replace("  timeZone: America/Chicago\n", ""))

    status, lines, _ = lint(capsys, str(path))

    assert (status, lines) == (1, [f"{path}:6:1: error: spec.timeZone: is required"])


def test_warnings_alone_exit_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = district().replace("  products:", "  summerSchoolEnd: 2027-07-15\n  products:")
    path = write(tmp_path, "d.yaml", text)

    status, lines, err = lint(capsys, str(path))

    assert status == 0
    assert [line.split(": ", 2)[1:2] for line in lines] == [["warning"]]
    assert lines[0].startswith(f"{path}:13:3: warning: spec.summerSchoolEnd: summer school ends 2027-07-15")
    assert "1 document: 0 errors, 1 warning" in err


def test_positions_are_per_document_in_multi_document_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    second = district(name="two", district="IL-2", reset="2027-07-05")
    path = write(tmp_path, "two.yaml", f"{district()}---\n# the second district\n{second}")

    status, lines, _ = lint(capsys, str(path))

    assert status == 1
    assert lines == [
        f"{path}:29:3: error: spec.resetDate: 2027-07-05 is a holiday in US-IL "
        "(Independence Day (observed)); choose a business day"
    ]


def test_the_clock_decides_what_is_in_the_future(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "d.yaml", district())

    status = main(["lint", "--now", "2027-07-16T08:00:00-05:00", str(path)])

    assert status == 1
    assert "is not in the future (today is 2027-07-16 in America/Chicago)" in capsys.readouterr().out


def test_a_district_id_used_in_two_files_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = write(tmp_path, "a.yaml", district())
    write(tmp_path, "b.yaml", district(name="two", product="imagine-math-facts"))

    status, lines, _ = lint(capsys, str(tmp_path))

    assert status == 1
    assert lines == [
        f"{tmp_path / 'b.yaml'}:7:3: error: spec.districtId: 'IL-1' is also used by {first}:1 "
        "(district-il/one); one DistrictRollover per district"
    ]


def test_github_format_prints_workflow_annotations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "d,1.yaml", district(reset="2027-07-17"))

    status, lines, _ = lint(capsys, "--format", "github", str(path))

    escaped = str(path).replace(",", "%2C")
    assert (status, lines) == (
        1,
        [
            f"::error file={escaped},line=9,col=3,title=ResetDateOnWeekend::spec.resetDate: 2027-07-17 is a "
            "Saturday; choose a business day (Monday-Friday)"
        ],
    )


REFUSED = [
    (
        "resetDate: 2027-07-16",
        "resetDate: 2027-07-16T00:00:00Z",
        ":9:3: error: spec.resetDate: 2027-07-16T00",
    ),
    ("resetDate: 2027-07-16", "resetDate: 1815696000", ":9:3: error: spec.resetDate: 1815696000 is not a"),
    ("resetDate: 2027-07-16", "resetDate: '2027-07-16T00:00:00Z'", ":9:3: error: spec.resetDate: '2027-07-"),
    ("  calendar:", "  suspend: 'yes'\n  calendar:", ":11:3: error: spec.suspend: 'yes' is not a boolean"),
    (
        "  calendar:",
        "  pause:\n    businessDaysBefore: '2'\n  calendar:",
        ":12:5: error: spec.pause.businessDaysBefore: '2' is not an integer",
    ),
    ("name: one", 'name: "one\\n"', ":4:3: error: metadata.name: 'one\\n' is not a valid name"),
    ("name: one", "name: " + "n" * 64, ":4:3: error: metadata.name: at most 63 characters, it labels"),
    (
        "namespace: district-il",
        "namespace: district-il\n  labels:\n    tier: a b",
        ":7:5: error: metadata.labels.tier: 'a b' is not a label value",
    ),
    (
        "rostering.k12.dev/district: il-1",
        "$(rm -rf /): x",
        ":18:7: error: spec.syncSelector.matchLabels[\"$(rm -rf /)\"]: '$(rm -rf /)' is invalid",
    ),
    (
        "matchLabels:\n      rostering.k12.dev/district: il-1",
        "{}",
        ":16:3: error: spec.syncSelector: selects",
    ),
]


@pytest.mark.parametrize(("old", "new", "line"), REFUSED)
def test_what_the_apiserver_refuses_lint_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, line: str
) -> None:
    text = district()
    assert old in text
    path = write(tmp_path, "d.yaml", text.replace(old, new))

    status, lines, _ = lint(capsys, str(path))

    assert status == 1
    assert len(lines) == 1 and lines[0].startswith(f"{path}{line}"), lines


def test_dates_typed_by_yaml_or_quoted_are_both_dates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = district().replace("  calendar:\n", "  calendar:\n    closures: [2027-07-02, '2027-07-05']\n")
    path = write(tmp_path, "d.yaml", text.replace("resetDate: 2027-07-16", "resetDate: '2027-07-16'"))

    assert lint(capsys, str(path))[:2] == (0, [])


def test_a_wrong_kind_is_one_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")

    status, lines, _ = lint(capsys, str(path))

    assert (status, lines) == (
        1,
        [f"{path}:2:1: error: kind: 'ConfigMap' is not DistrictRollover; expected DistrictRollover"],
    )


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("spec:\n  resetDate: [2027-07-16\n", ":3:1: error: invalid YAML: "),
        ("spec: {}\nspec: {}\n", ':2:1: error: invalid YAML: found duplicate key "spec"'),
        ("- a list\n- not a mapping\n", ":1:1: error: document 1 is not a mapping"),
    ],
)
def test_unreadable_yaml_exits_two_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, line: str
) -> None:
    path = write(tmp_path, "bad.yaml", text)
    good = write(tmp_path, "good.yaml", district())

    status, lines, err = lint(capsys, str(path), str(good))

    assert status == 2
    assert len(lines) == 1
    assert lines[0].startswith(f"{path}{line}")
    assert "Traceback" not in err


def test_a_file_that_is_not_text_exits_two(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")

    status, lines, _ = lint(capsys, str(path))

    assert status == 2
    assert lines == [
        f"{path}: error: cannot read: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"
    ]


@pytest.mark.parametrize(
    ("target", "message"),
    [("missing.yaml", "no such file or directory"), ("empty", "no *.yaml or *.yml files in this directory")],
)
def test_paths_that_name_nothing_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str, message: str
) -> None:
    (tmp_path / "empty").mkdir()

    status, lines, err = lint(capsys, str(tmp_path / target))

    assert (status, lines) == (2, [])
    assert err == f"rollover lint: {tmp_path / target}: {message}\n"


def test_a_bad_clock_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["lint", "--now", "yesterday", "x.yaml"])

    assert exited.value.code == 2
    assert "'yesterday' is not an ISO 8601 date-time" in capsys.readouterr().err


@pytest.mark.parametrize(
    "example", sorted((REPO / "examples" / "districts").glob("*.yaml")), ids=lambda p: p.name
)
def test_examples_follow_the_conventions(example: Path) -> None:
    (document,) = YAML(typ="safe").load_all(example.read_text(encoding="utf-8"))
    spec = document["spec"]
    labels = spec["syncSelector"].get("matchLabels") or {
        e["key"]: e["values"][0] for e in spec["syncSelector"]["matchExpressions"] if e["operator"] == "In"
    }

    assert document["metadata"]["namespace"].startswith("district-")
    assert document["metadata"]["name"]
    assert labels["rostering.k12.dev/district"] == spec["districtId"].lower()
    assert spec["schoolYear"] == "2026-2027"
    assert spec["resetDate"].year == 2027


def test_notify_channels_are_checked_against_the_operator_config_when_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        district() + "  notify:\n    emails: [it@il-1.k12.example.org]\n    channels: [csm-ops, csm-chat]\n"
    )
    path = write(tmp_path, "d.yaml", text)
    config = write(
        tmp_path, "config.yaml", "notifications:\n  channels:\n    csm-ops: {url: https://h.example.org}\n"
    )

    assert lint(capsys, str(path))[:2] == (0, [])  # no configuration: lint cannot know the channels
    status, lines, _ = lint(capsys, "--config", str(config), str(path))

    assert status == 0, "a notice channel never blocks the rollover: a warning"
    assert lines == [
        f"{path}:21:25: warning: spec.notify.channels[1]: no webhook channel 'csm-chat' for this namespace "
        "in the operator configuration; known: csm-ops"
    ]


def test_a_malformed_contact_email_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = district() + "  notify:\n    emails: ['IT <it@il-1.org>']\n"
    status, lines, _ = lint(capsys, str(write(tmp_path, "d.yaml", text)))

    assert status == 1 and "spec.notify.emails[0]" in lines[0]
