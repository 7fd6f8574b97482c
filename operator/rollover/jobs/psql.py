"""COPY out of one exported snapshot, through psql.

Why psql: the server sends COPY output one message per row, and taking 20 million messages one by
one in Python costs as much CPU as the server spends producing them (measured: the psycopg loop plus
gzip reached 0.55x of `psql \\copy`). psql takes them in C and hands us a pipe we read a megabyte at a
time, leaving Python only the compression and hashing, which run outside the GIL.

Each COPY runs in its own short psql session that imports the caller's snapshot (`SET TRANSACTION
SNAPSHOT`), so every table of an archive, and the rows a reset deletes, come from one consistent
view. Session settings that change how values print are pinned, and parallel and synchronized scans
are off, so the same rows always produce the same bytes: the digest of a table is the SHA-256 of
that CSV.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
import psycopg.conninfo

from rollover.jobs.config import Database
from rollover.jobs.errors import StepFailed, UsageError
from rollover.jobs.limits import options
from rollover.jobs.store import CONNECT_TIMEOUT_S

log = logging.getLogger(__name__)

CHUNK = 1 << 20
PROGRESS_EVERY_S = 10.0
#: Output formats that must not depend on the server's or the role's defaults, and a scan order that
#: depends only on where rows lie.
SESSION_OPTIONS = {
    "TimeZone": "UTC",
    "DateStyle": "ISO,YMD",
    "IntervalStyle": "postgres",
    "extra_float_digits": "1",
    "bytea_output": "hex",
    "synchronize_seqscans": "off",
    "max_parallel_workers_per_gather": "0",
}


@dataclass(frozen=True)
class CopyStats:
    """What one COPY produced: rows, CSV bytes, and the SHA-256 of that CSV (the table's digest)."""

    rows: int
    size: int
    digest: str


def find_psql() -> str:
    """The psql binary on PATH (Debian's postgresql-client puts a wrapper in /usr/bin)."""
    found = shutil.which("psql")
    if found is None:
        raise UsageError(
            "psql (the PostgreSQL client) is not installed; archive and reset stream COPY through it"
        )
    return found


def export_snapshot(conn: psycopg.Connection[Any]) -> str:
    """Export the snapshot of `conn`'s open REPEATABLE READ transaction for psql sessions to import."""
    row = conn.execute("SELECT pg_export_snapshot()").fetchone()
    assert row is not None
    return str(row[0])


class SnapshotCopier:
    """Runs `COPY (query) TO STDOUT` in a given snapshot and streams the CSV to a consumer."""

    def __init__(self, db: Database, snapshot: str, application_name: str) -> None:
        if not re.fullmatch(r"[0-9A-F]+-[0-9A-F]+-[0-9]+", snapshot):
            raise ValueError(f"not a snapshot id: {snapshot!r}")
        self._psql = find_psql()
        self._snapshot = snapshot
        params = db.params()
        password = params.pop("password", None)
        params.setdefault("connect_timeout", str(CONNECT_TIMEOUT_S))
        # In the conninfo, not PGOPTIONS: a conninfo's `options` (the session limits) would override it.
        params["options"] = options(SESSION_OPTIONS, params.get("options"))
        self._conninfo = psycopg.conninfo.make_conninfo(**params)
        self._env = {
            **os.environ,
            "PGAPPNAME": application_name,
            "PGCLIENTENCODING": "UTF8",
        }
        if password is not None:  # in the child's environment, never on a command line
            self._env["PGPASSWORD"] = password

    def copy(
        self,
        query: str,
        label: str,
        consume: Callable[[bytes], None],
        settings: Mapping[str, str] | None = None,
    ) -> CopyStats:
        """Stream the CSV (with header) of `query` to `consume`; StepFailed with psql's error if it fails.

        `settings` are set for this COPY only (SET LOCAL), e.g. more work_mem for an aggregation.
        """
        if "\n" in query:
            raise ValueError("psql's \\copy takes its query on one line")
        command = [
            self._psql, "-X", "-v", "ON_ERROR_STOP=1", "-o", "/dev/stderr", "-d", self._conninfo,
            "-c", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            "-c", f"SET TRANSACTION SNAPSHOT '{self._snapshot}'",
            *(arg for k, v in (settings or {}).items() for arg in ("-c", f"SET LOCAL {k} = '{v}'")),
            # \copy ... TO PSTDOUT: data on stdout; the "COPY n" status goes to -o, i.e. stderr.
            "-c", f"\\copy ({query}) TO PSTDOUT WITH (FORMAT csv, HEADER)",
            "-c", "COMMIT",
        ]  # fmt: skip
        digest = hashlib.sha256()
        size = 0
        started = last_report = time.monotonic()
        proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self._env
        )
        assert proc.stdout is not None and proc.stderr is not None
        try:
            while chunk := proc.stdout.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                consume(chunk)
                now = time.monotonic()
                if now - last_report >= PROGRESS_EVERY_S:
                    last_report = now
                    log.info(
                        "%s: %.0f MB so far (%.1f MB/s)", label, size / 1e6, size / 1e6 / (now - started)
                    )
        except BaseException:
            proc.kill()
            raise
        finally:
            status = proc.stderr.read().decode(errors="replace")
            proc.wait()
        counted = re.search(r"^COPY (\d+)$", status, re.MULTILINE)
        if proc.returncode != 0 or counted is None:
            errors = [line for line in status.splitlines() if "ERROR" in line or "error" in line] or [status]
            raise StepFailed(f"COPY of {label} failed: {' '.join(errors[0].split())}")
        return CopyStats(rows=int(counted.group(1)), size=size, digest=digest.hexdigest())
