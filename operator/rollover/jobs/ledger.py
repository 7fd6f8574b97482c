"""`rollover-job check-ids`: find, in a new year's OneRoster users.csv, the sourcedIds already retired.

The ledger (rollover.retired_ids) gets every user whose product account a reset deleted. User IDs are
never reused, so a sync pipeline runs this before importing and stops on exit 1. The file is streamed
and looked up in batches: memory stays flat for any roster size.
"""

from __future__ import annotations

import csv
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from rollover.jobs.errors import UsageError

log = logging.getLogger(__name__)
BATCH = 5000
SOURCED_ID = "sourcedId"


@dataclass(frozen=True)
class RetiredId:
    """A sourcedId of the file found in the ledger, with where it was retired."""

    line: int
    sourced_id: str
    retirements: tuple[str, ...]  # "2025-2026 imagine-math (reset 2026-07-19)"

    def describe(self, path: Path) -> str:
        return f"{path}:{self.line}: sourcedId {self.sourced_id} is retired: {'; '.join(self.retirements)}"


def read_sourced_ids(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, sourcedId) of each record of a OneRoster users.csv; UsageError if it is not one."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None or SOURCED_ID not in header:
                raise UsageError(f"{path}: no {SOURCED_ID} column in the header (not a OneRoster users.csv?)")
            column = header.index(SOURCED_ID)
            start = reader.line_num + 1  # a quoted field may span lines: report where the record starts
            for record in reader:
                if len(record) > column and record[column].strip():
                    yield start, record[column].strip()
                start = reader.line_num + 1
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror}") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not a readable CSV ({exc})") from None


def find_retired(
    conn: psycopg.Connection[Any], district_id: str, entries: Iterable[tuple[int, str]]
) -> Iterator[RetiredId]:
    """Every (line, sourcedId) entry whose sourcedId the district's ledger holds, in file order."""
    batch: list[tuple[int, str]] = []
    for entry in entries:
        batch.append(entry)
        if len(batch) == BATCH:
            yield from _lookup(conn, district_id, batch)
            batch = []
    yield from _lookup(conn, district_id, batch)


def _lookup(
    conn: psycopg.Connection[Any], district_id: str, batch: list[tuple[int, str]]
) -> Iterator[RetiredId]:
    if not batch:
        return
    retirements: dict[str, list[str]] = defaultdict(list)
    for sourced_id, school_year, product, reset_date in conn.execute(
        "SELECT sourced_id, school_year, product, reset_date FROM rollover.retired_ids"
        " WHERE district_id = %s AND sourced_id = ANY(%s) ORDER BY school_year, product",
        (district_id, [sourced_id for _, sourced_id in batch]),
    ):
        retirements[sourced_id].append(f"{school_year} {product} (reset {reset_date})")
    for line, sourced_id in batch:
        if sourced_id in retirements:
            yield RetiredId(line, sourced_id, tuple(retirements[sourced_id]))
