"""`rollover-job restore` and `rollover-job export`: an archive read back, for a district that asks for
its data after the reset.

Both need the private key (`--identity-file`) of an encrypted archive, and both prove what they read in
the same pass that reads it: each file's size and SHA-256 against the manifest (before decryption),
age's authentication of every chunk, and for tables the digest and row count of the decompressed CSV.

restore loads every archived table into a new scratch schema (`--into-schema`), one table per archived
table with the source's columns, in one transaction: any mismatch, a kill, or an existing schema of
that name rolls everything back, so a re-run starts clean. export writes the decrypted Student Data
Export into a directory, as a private file (0600) that appears under its final name only once proven.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import logging
import os
import re
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from pyrage import x25519

from rollover.jobs import grants
from rollover.jobs.config import ArchiveKey, Database
from rollover.jobs.destination import DIRECTORY_MODE, FILE_MODE, MANIFEST, Destination
from rollover.jobs.encryption import SUFFIX, decrypt_stream
from rollover.jobs.errors import StepFailed, UsageError
from rollover.jobs.filesink import DEFLATE, GZIP_WBITS
from rollover.jobs.manifest import (
    ArchivedFile,
    HashingReader,
    Manifest,
    archive_dir,
    location,
    require_manifest,
)
from rollover.jobs.migrate import require_current
from rollover.jobs.store import connect

log = logging.getLogger(__name__)
APPLICATION = "rollover-job restore"
#: A lower-case PostgreSQL identifier, as `rollover-job grant` accepts for a role's name.
SCHEMA_PATTERN = grants.ROLE_PATTERN
#: The store's own schemas, and PostgreSQL's: a restore never writes into them.
RESERVED_SCHEMAS = frozenset({*grants.SCHEMAS, "public", "information_schema"})


def parse_schema(raw: str) -> str:
    """A scratch schema name: lower-case identifier, not one the store or PostgreSQL uses."""
    if not re.fullmatch(SCHEMA_PATTERN, raw) or raw in RESERVED_SCHEMAS or raw.startswith("pg_"):
        raise UsageError(
            f"--into-schema {raw!r}: a new schema's name (lower-case letters, digits, '_'; not "
            f"{', '.join(sorted(RESERVED_SCHEMAS))} or pg_*)"
        )
    return raw


def restore(
    key: ArchiveKey, db: Database, dest: Destination, identities: Sequence[x25519.Identity], schema: str
) -> dict[str, Any]:
    """Load the archive of `key` into the new schema `schema`; the step's result."""
    dest.check()
    manifest = _manifest(dest, key, identities)
    files = {f.name: f for f in manifest.files}
    restored: dict[str, int] = {}
    with connect(db, APPLICATION) as conn:
        require_current(conn)
        try:
            with conn.transaction():
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
                for table in manifest.tables:
                    rows, digest = _load_table(
                        conn, dest, key, files[table.file], identities, table.table, schema
                    )
                    if rows != table.rows:
                        raise StepFailed(
                            f"{table.file} holds {rows} rows, the manifest {table.rows}; nothing was restored"
                        )
                    if digest != table.digest:
                        raise StepFailed(
                            f"{table.file} does not hold the archived rows (its CSV's digest {digest[:12]}…, "
                            f"manifest {table.digest[:12]}…); nothing was restored"
                        )
                    restored[table.table] = rows
        except psycopg.errors.DuplicateSchema:
            raise StepFailed(
                f"schema {schema} already exists: restore into a new schema (or drop it first)"
            ) from None
    log.info("restored %d tables of %s into schema %s", len(restored), location(dest, key), schema)
    return {
        "status": "restored",
        "manifest": f"{location(dest, key)}/{MANIFEST}",
        "digest": manifest.digest(),
        "schema": schema,
        "rows": restored,
    }


def _load_table(
    conn: psycopg.Connection[Any],
    dest: Destination,
    key: ArchiveKey,
    entry: ArchivedFile,
    identities: Sequence[x25519.Identity],
    table: str,
    schema: str,
) -> tuple[int, str]:
    """COPY one archived table's CSV into `schema`.<table's name>; (rows loaded, the CSV's SHA-256)."""
    scratch = sql.Identifier(schema, table.split(".")[-1])
    conn.execute(
        sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS)").format(
            scratch, sql.Identifier(*table.split("."))
        )
    )
    with conn.cursor() as cur:
        with contextlib.ExitStack() as stack:
            loader = _CsvLoader(cur, stack, scratch)
            _read_plain(dest, key, entry, identities, _gunzip(loader.feed))
        return max(cur.rowcount, 0), loader.sha256.hexdigest()


class _CsvLoader:
    """Feeds a table's CSV to COPY FROM STDIN, naming the columns its header names (the order they were
    archived in, which need not be the table's order after a migration), and hashes it."""

    def __init__(
        self, cur: psycopg.Cursor[Any], stack: contextlib.ExitStack[Any], table: sql.Identifier
    ) -> None:
        self._cur = cur
        self._stack = stack
        self._table = table
        self._header = bytearray()
        self._copy: psycopg.Copy | None = None
        self.sha256 = hashlib.sha256()

    def feed(self, data: bytes) -> None:
        self.sha256.update(data)
        if self._copy is None:
            self._header.extend(data)
            if b"\n" not in self._header:
                return
            first_line = bytes(self._header).split(b"\n", 1)[0].decode()
            columns = next(csv.reader(io.StringIO(first_line)))
            statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, HEADER)").format(
                self._table, sql.SQL(", ").join(map(sql.Identifier, columns))
            )
            self._copy = self._stack.enter_context(self._cur.copy(statement))
            data = bytes(self._header)
        self._copy.write(data)


def export(
    key: ArchiveKey, dest: Destination, identities: Sequence[x25519.Identity], out: Path
) -> dict[str, Any]:
    """Write the archive's Student Data Export, decrypted, into the directory `out`; the step's result."""
    dest.check()
    manifest = _manifest(dest, key, identities)
    if manifest.student_data_export is None:
        raise StepFailed(f"the archive at {location(dest, key)} has no Student Data Export ({key.product})")
    entry = next(f for f in manifest.files if f.name == manifest.student_data_export.file)
    out.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    final = out / f"{key.district_id}_{key.school_year}_{key.product}_student-data-export.csv"
    partial = final.with_name(f".{final.name}.partial-{uuid.uuid4().hex}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as fh:
            _read_plain(dest, key, entry, identities, fh.write)  # type: ignore[arg-type]
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)
    log.info("wrote the Student Data Export of %s to %s", location(dest, key), final)
    return {
        "status": "exported",
        "manifest": f"{location(dest, key)}/{MANIFEST}",
        "file": str(final),
        "rows": manifest.student_data_export.rows,
    }


def _manifest(dest: Destination, key: ArchiveKey, identities: Sequence[x25519.Identity]) -> Manifest:
    manifest = require_manifest(dest, key)
    if manifest.encryption is not None and not identities:
        raise UsageError(
            f"the archive at {location(dest, key)} is encrypted (to "
            f"{', '.join(manifest.encryption.recipients)}): pass --identity-file with its private key"
        )
    return manifest


def _read_plain(
    dest: Destination,
    key: ArchiveKey,
    entry: ArchivedFile,
    identities: Sequence[x25519.Identity],
    emit: Callable[[bytes], None],
) -> None:
    """Hand the content of one archive file (decrypted if it is `.age`) to `emit`, then prove the file
    is the one the manifest lists; StepFailed if not (the caller discards what it was given)."""
    path = f"{archive_dir(key)}/{entry.name}"
    if not dest.exists(path):
        raise StepFailed(f"{entry.name} is missing from the archive at {location(dest, key)}")
    with dest.open_read(path) as fh:
        reader = HashingReader(fh)
        if entry.name.endswith(SUFFIX):
            decrypt_stream(reader.read, emit, identities, entry.name)
        else:
            while chunk := reader.read():
                emit(chunk)
    if (changed := reader.changed_from(entry)) is not None:
        raise StepFailed(changed)


def _gunzip(emit: Callable[[bytes], None]) -> Callable[[bytes], None]:
    """A consumer of gzip bytes that hands the decompressed bytes to `emit`."""
    decompressor = DEFLATE.decompressobj(wbits=GZIP_WBITS)

    def feed(data: bytes) -> None:
        try:
            plain = decompressor.decompress(data)
        except DEFLATE.error:
            raise StepFailed("an archived table file is not valid gzip") from None
        if plain:
            emit(plain)

    return feed
