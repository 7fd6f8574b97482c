"""Reading a OneRoster users.csv for check-ids: sourcedIds with the line each record starts on."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollover.jobs.errors import UsageError
from rollover.jobs.ledger import read_sourced_ids

pytestmark = pytest.mark.unit


def test_line_numbers_follow_records_across_quoted_newlines_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text(
        "\ufeffsourcedId,role,givenName\n"  # a byte-order mark, as spreadsheets write
        "u1,student,Ann\n"
        'u2,student,"Two\nLines"\n'
        "\n"
        ",student,NoId\n"
        "u3,teacher,Tom\n",
        encoding="utf-8",
    )

    assert list(read_sourced_ids(path)) == [(2, "u1"), (3, "u2"), (7, "u3")]


@pytest.mark.parametrize("content", ["", "id,role\nu1,student\n"])
def test_a_file_without_a_sourced_id_header_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "users.csv"
    path.write_text(content)

    with pytest.raises(UsageError, match="no sourcedId column in the header"):
        list(read_sourced_ids(path))


def test_a_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_bytes(b"sourcedId\n\xff\xfe\x00")

    with pytest.raises(UsageError, match="not a readable CSV"):
        list(read_sourced_ids(path))
