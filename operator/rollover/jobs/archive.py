"""`rollover-job archive`: export everything the product's reset will delete (and what the catalog
says to archive besides) from one REPEATABLE READ snapshot to the archive destination.

Files go to a staging directory `.<product>.partial-<uuid>` next to the final one and are published
only when complete, manifest last; a run killed part-way leaves no manifest, and the next run (which
holds the step lock, so no live run can own a staging directory) removes the leftovers. A run that
finds a complete archive verifies its files instead of writing again; `--supersede` moves it aside to
`<product>.superseded-<snapshot time>` (never deleting it) and archives afresh, for after a late sync.

With recipients (ARCHIVE_RECIPIENTS), every file but the manifest is age-encrypted to them as it
streams, and named `<file>.age`; the Job holds only those public keys.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
from psycopg import IsolationLevel, sql
from pyrage import x25519

from rollover.jobs import export
from rollover.jobs.config import Database, Target
from rollover.jobs.destination import MANIFEST, Destination
from rollover.jobs.encryption import SUFFIX, fingerprint
from rollover.jobs.filesink import FileSink, WrittenFile
from rollover.jobs.manifest import (
    ArchivedFile,
    ArchivedTable,
    Encryption,
    Manifest,
    StudentDataExport,
    archive_dir,
    check_files,
    cycle_dir,
    location,
    read_manifest,
    staging_prefix,
    superseded_prefix,
)
from rollover.jobs.migrate import require_current
from rollover.jobs.psql import CopyStats, SnapshotCopier, export_snapshot
from rollover.jobs.store import connect, hold_step_lock, require_district
from rollover.jobs.tables import StoreTable, scope, tables_for
from rollover.jobs.version import running_as

log = logging.getLogger(__name__)
APPLICATION = "rollover-job archive"
#: COPY streams run at once. Each keeps one server core formatting rows while our side compresses;
#: two overlap the export's aggregation with the table copies without crowding a small database.
PARALLEL_COPIES = 2


def run(
    target: Target,
    db: Database,
    dest: Destination,
    *,
    supersede: bool = False,
    recipients: tuple[x25519.Recipient, ...] = (),
) -> dict[str, Any]:
    """Archive the target (or verify its existing archive), encrypted to `recipients` if any; the step's
    result for the operator."""
    dest.check()
    with connect(db, APPLICATION) as conn:
        schema_version = require_current(conn)
        require_district(conn, target.district_id)
        hold_step_lock(conn, target)
        existing = read_manifest(dest, target)
        if existing is not None and not supersede:
            check_files(dest, target, existing)
            log.info(
                "complete archive found at %s; every file verified, nothing written", location(dest, target)
            )
            wanted = sorted(fingerprint(r) for r in recipients)
            found = sorted(existing.encryption.recipients) if existing.encryption else []
            if wanted != found:  # a key rotation after this archive: it stays as written, say so
                log.warning(
                    "the archive is encrypted to %s, ARCHIVE_RECIPIENTS now names %s; "
                    "`--supersede` re-archives to the current recipients",
                    ", ".join(found) or "nobody (plain)",
                    ", ".join(wanted) or "nobody",
                )
            return _result("verified", existing, dest, target)
        if existing is not None:
            aside = (
                f"{cycle_dir(target.district_id, target.school_year)}/"
                f"{superseded_prefix(target)}{existing.snapshot_time:%Y%m%dT%H%M%SZ}"
            )
            dest.move_tree(archive_dir(target), aside)
            log.info("moved the previous archive aside to %s/%s", dest.uri, aside)
        _remove_partials(dest, target)
        manifest = _write(conn, db, dest, target, schema_version, recipients)
    return _result("archived", manifest, dest, target)


def _remove_partials(dest: Destination, target: Target) -> None:
    parent = cycle_dir(target.district_id, target.school_year)
    for name in dest.list(parent):
        if name.startswith(staging_prefix(target)):
            log.info("removing %s/%s/%s left by an interrupted run", dest.uri, parent, name)
            dest.remove_tree(f"{parent}/{name}")


def _write(
    conn: psycopg.Connection[Any],
    db: Database,
    dest: Destination,
    target: Target,
    schema_version: int,
    recipients: tuple[x25519.Recipient, ...],
) -> Manifest:
    suffix = SUFFIX if recipients else ""
    parent = cycle_dir(target.district_id, target.school_year)
    staging = f"{parent}/{staging_prefix(target)}{uuid.uuid4().hex}"
    deleted_kinds = set(target.policy.delete)
    tables = tables_for(target.product, target.policy.archive)
    conn.isolation_level = IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    with conn.transaction(), ThreadPoolExecutor(PARALLEL_COPIES, thread_name_prefix="copy") as pool:
        copier = SnapshotCopier(db, export_snapshot(conn), APPLICATION)
        row = conn.execute("SELECT now()").fetchone()
        assert row is not None
        snapshot_time: dt.datetime = row[0]
        # Longest first (the export aggregates the big tables; then tables by size), so the last
        # stream to finish is a short one.
        pending_export = None
        if target.policy.student_data_export:
            query = export.export_query(target).as_string(conn)
            pending_export = pool.submit(
                _copy_to_file,
                copier,
                dest,
                f"{staging}/{export.FILE_NAME}{suffix}",
                query,
                "student data export",
                recipients,
                export.SETTINGS,
            )
        sizes = _table_sizes(conn, tables)
        pending_tables = {
            table: pool.submit(
                _copy_to_file,
                copier,
                dest,
                f"{staging}/{table.file_name}{suffix}",
                sql.SQL("SELECT * FROM {} WHERE {}").format(table.identifier, scope(target)).as_string(conn),
                table.name,
                recipients,
            )
            for table in sorted(tables, key=lambda t: sizes[t.name], reverse=True)
        }
        try:
            archived_tables: list[ArchivedTable] = []
            files: list[ArchivedFile] = []
            for table in tables:  # the manifest lists tables in catalog order, whatever order they ran in
                stats, written = pending_tables[table].result()
                name = table.file_name + suffix
                files.append(ArchivedFile(name=name, size=written.size, sha256=written.sha256))
                archived_tables.append(
                    ArchivedTable(
                        table=table.name,
                        kind=table.kind,
                        file=name,
                        rows=stats.rows,
                        digest=stats.digest,
                        deleted_by_reset=table.kind in deleted_kinds,
                    )
                )
            student_export = None
            if pending_export is not None:
                stats, written = pending_export.result()
                name = export.FILE_NAME + suffix
                files.append(ArchivedFile(name=name, size=written.size, sha256=written.sha256))
                student_export = StudentDataExport(file=name, rows=stats.rows)
        except BaseException:  # a failed stream fails the archive: don't start the queued ones
            for future in (*pending_tables.values(), pending_export):
                if future is not None:
                    future.cancel()
            raise
    manifest = Manifest(
        district_id=target.district_id,
        school_year=target.school_year,
        product=target.product,
        reset_date=target.reset_date,
        schema_version=schema_version,
        snapshot_time=snapshot_time,
        created_at=dt.datetime.now(dt.UTC),
        created_by=running_as(),
        tables=tuple(archived_tables),
        student_data_export=student_export,
        files=tuple(files),
        encryption=Encryption(recipients=tuple(fingerprint(r) for r in recipients)) if recipients else None,
    )
    with dest.open_write(f"{staging}/{MANIFEST}") as fh:
        fh.write(manifest.to_json())
    dest.move_tree(staging, archive_dir(target))
    log.info("archive complete: %s (digest %s)", location(dest, target), manifest.digest())
    return manifest


def _table_sizes(conn: psycopg.Connection[Any], tables: tuple[StoreTable, ...]) -> dict[str, int]:
    """On-disk size of each table by name: how long its COPY will take, near enough to order them."""
    rows = conn.execute(
        "SELECT t, pg_relation_size(t::regclass) FROM unnest(%s::text[]) AS t", [[t.name for t in tables]]
    ).fetchall()
    return dict(rows)


def _copy_to_file(
    copier: SnapshotCopier,
    dest: Destination,
    path: str,
    query: str,
    label: str,
    recipients: tuple[x25519.Recipient, ...],
    settings: Mapping[str, str] | None = None,
) -> tuple[CopyStats, WrittenFile]:
    started = time.monotonic()
    gzip = path.removesuffix(SUFFIX).endswith(".gz")
    with dest.open_write(path) as fh:
        sink = FileSink(fh, gzip=gzip, recipients=recipients)
        try:
            stats = copier.copy(query, label, sink.write, settings)
        finally:
            written = sink.close()
    seconds = max(time.monotonic() - started, 1e-6)
    log.info(
        "%s: %d rows, %.1f MB CSV%s in %.1f s (%.0f rows/s)",
        label,
        stats.rows,
        stats.size / 1e6,
        f" -> {written.size / 1e6:.1f} MB {'encrypted ' if recipients else ''}{'gzip' if gzip else 'file'}",
        seconds,
        stats.rows / seconds,
    )
    return stats, written


def _result(status: str, manifest: Manifest, dest: Destination, target: Target) -> dict[str, Any]:
    result: dict[str, Any] = {
        "status": status,
        "manifest": f"{location(dest, target)}/{MANIFEST}",
        "digest": manifest.digest(),
        "snapshotTime": manifest.snapshot_time.isoformat(),
        "rows": {t.table: t.rows for t in manifest.tables},
    }
    if manifest.student_data_export is not None:
        result["studentDataExportRows"] = manifest.student_data_export.rows
    if manifest.encryption is not None:
        result["encryptedTo"] = list(manifest.encryption.recipients)
    return result
