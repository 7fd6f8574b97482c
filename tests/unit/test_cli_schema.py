"""`rollover schema`: the committed editor schema, and the examples that point at it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rollover.cli.main import main

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
SCHEMA_FILE = REPO / "schemas" / "districtrollover.schema.json"
EXAMPLES = sorted((REPO / "examples" / "districts").glob("*.yaml"))
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$", re.MULTILINE)


def test_schema_prints_the_committed_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0

    out = capsys.readouterr().out
    assert out == SCHEMA_FILE.read_text(encoding="utf-8")
    assert json.loads(out)["title"] == "DistrictRollover"


def test_there_are_at_least_six_examples() -> None:
    assert len(EXAMPLES) >= 6


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.name)
def test_each_example_has_a_modeline_to_the_committed_schema(example: Path) -> None:
    match = MODELINE.search(example.read_text(encoding="utf-8"))

    assert match, "no yaml-language-server modeline"
    assert (example.parent / match.group(1)).resolve() == SCHEMA_FILE
