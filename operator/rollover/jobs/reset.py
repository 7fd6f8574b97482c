"""`rollover-job reset`: delete the product's year data per the catalog, but only rows proven archived.

Before deleting, in this order: the archive's manifest is read and every file re-hashed; then, in one
REPEATABLE READ transaction, each table to delete is streamed again (through psql, in this
transaction's own snapshot) and its row count and digest compared with the manifest's. Equal digests
mean the rows are byte for byte those in the archive's CSV. The DELETEs then run in the same
transaction, hence the same snapshot: they remove exactly the rows just compared. A row a late sync
changes meanwhile makes its DELETE fail with a serialization error (rolling everything back); a row
inserted meanwhile is invisible to the snapshot and stays, unarchived and undeleted. Account rows go to
the retired-ID ledger, and a row in rollover.resets (with the version that ran it) marks completion, in
the same commit.

One transaction even at the largest scale: PostgreSQL deletes by marking tuples, so 20 million rows
cost WAL and time but neither undo space nor memory, and a kill at any point leaves nothing half done.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import psycopg
from psycopg import IsolationLevel, sql
from psycopg.types.json import Jsonb

from rollover.jobs.config import Database, Target
from rollover.jobs.destination import MANIFEST, Destination
from rollover.jobs.errors import StepFailed
from rollover.jobs.manifest import ArchivedTable, Manifest, check_files, location, require_manifest
from rollover.jobs.migrate import require_current
from rollover.jobs.psql import SnapshotCopier, export_snapshot
from rollover.jobs.store import completed_reset, connect, hold_step_lock, require_district
from rollover.jobs.tables import StoreTable, scope, tables_for
from rollover.jobs.version import running_as

log = logging.getLogger(__name__)
APPLICATION = "rollover-job reset"
NOTHING_DELETED = "nothing was deleted"


def run(target: Target, db: Database, dest: Destination) -> dict[str, Any]:
    """Reset the target's data after proving it archived; the step's result for the operator."""
    started = time.monotonic()
    dest.check()
    manifest_uri = f"{location(dest, target)}/{MANIFEST}"
    with connect(db, APPLICATION) as conn:
        schema_version = require_current(conn)
        require_district(conn, target.district_id)
        hold_step_lock(conn, target)
        done = completed_reset(conn, target)
        if done is not None:
            log.info("already reset at %s; %s", done.completed_at, NOTHING_DELETED)
            return {
                "status": "alreadyReset",
                "manifest": manifest_uri,
                "digest": done.archive_digest,
                "deleted": {},
                "retiredIds": 0,
            }
        manifest = _proven_archive(dest, target, schema_version)
        tables = tables_for(target.product, target.policy.delete)
        files_checked = time.monotonic()
        deleted, retired = _delete_archived_rows(conn, db, target, manifest, tables)
    return {
        "status": "reset",
        "manifest": manifest_uri,
        "digest": manifest.digest(),
        "deleted": deleted,
        "retiredIds": retired,
        "verifyFilesSeconds": round(files_checked - started, 3),
    }


def _proven_archive(dest: Destination, target: Target, schema_version: int) -> Manifest:
    manifest = require_manifest(dest, target, f"run the archive step first; {NOTHING_DELETED}")
    if manifest.schema_version != schema_version:
        raise StepFailed(
            f"the archive was taken at schema version {manifest.schema_version}, the store is at "
            f"{schema_version}: re-archive with `rollover-job archive --supersede`; {NOTHING_DELETED}"
        )
    archived = {t.table for t in manifest.tables}
    missing = [t.name for t in tables_for(target.product, target.policy.delete) if t.name not in archived]
    if missing:
        raise StepFailed(
            f"the archive lacks {', '.join(missing)}, which the reset deletes: "
            f"re-archive with `rollover-job archive --supersede`; {NOTHING_DELETED}"
        )
    check_files(dest, target, manifest, NOTHING_DELETED)
    log.info("archive %s: every file matches its manifest", location(dest, target))
    return manifest


def _delete_archived_rows(
    conn: psycopg.Connection[Any],
    db: Database,
    target: Target,
    manifest: Manifest,
    tables: tuple[StoreTable, ...],
) -> tuple[dict[str, int], int]:
    conn.isolation_level = IsolationLevel.REPEATABLE_READ
    conn.read_only = False
    archived = {t.table: t for t in manifest.tables}
    deleted: dict[str, int] = {}
    retired = 0
    try:
        with conn.transaction():
            copier = SnapshotCopier(db, export_snapshot(conn), APPLICATION)
            _compare_with_archive(conn, copier, target, archived, tables)
            for table in reversed(tables):  # referencing tables first
                started = time.monotonic()
                count, newly_retired = _delete(conn, table, target)
                expected = archived[table.name].rows
                if count != expected:  # cannot happen within one snapshot; never commit if it does
                    raise StepFailed(
                        f"{table.name}: deleting {count} rows, archived {expected}; {NOTHING_DELETED}"
                    )
                deleted[table.name] = count
                retired += newly_retired
                log.info("%s: deleted %d rows in %.1f s", table.name, count, time.monotonic() - started)
            conn.execute(
                "INSERT INTO rollover.resets"
                " (district_id, school_year, product, archive_digest, deleted, retired_ids, reset_by)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (
                    target.district_id,
                    target.school_year,
                    target.product,
                    manifest.digest(),
                    Jsonb(deleted),
                    retired,
                    running_as(),
                ),
            )
    except psycopg.errors.SerializationFailure:
        raise StepFailed(
            "rows being reset changed while the reset ran (a late sync?); the transaction rolled back and "
            + NOTHING_DELETED
        ) from None
    except psycopg.errors.LockNotAvailable:
        raise StepFailed(
            "rows being reset stayed locked by another transaction (a sync?) beyond DATABASE_LOCK_TIMEOUT; "
            f"the transaction rolled back and {NOTHING_DELETED}; re-run when it has finished"
        ) from None
    log.info("reset committed: %d rows deleted, %d user IDs retired", sum(deleted.values()), retired)
    return deleted, retired


def _compare_with_archive(
    conn: psycopg.Connection[Any],
    copier: SnapshotCopier,
    target: Target,
    archived_tables: dict[str, ArchivedTable],
    tables: tuple[StoreTable, ...],
) -> None:
    differences = []
    for table in tables:
        archived = archived_tables[table.name]
        query = sql.SQL("SELECT * FROM {} WHERE {}").format(table.identifier, scope(target)).as_string(conn)
        now = copier.copy(query, table.name, _discard)
        if now.rows != archived.rows:
            differences.append(f"{table.name} has {now.rows} rows, the archive {archived.rows}")
        elif now.digest != archived.digest:
            differences.append(f"{table.name} has the archive's {now.rows} rows but not their content")
    if differences:
        raise StepFailed(
            f"the data changed since it was archived (a late sync?): {'; '.join(differences)}; "
            f"{NOTHING_DELETED}. Once the change is understood, re-archive with "
            "`rollover-job archive --supersede` and reset again"
        )
    log.info("every table to delete matches the archive (%d tables)", len(tables))


def _discard(chunk: bytes) -> None:
    """Reset only hashes the rows; psql's CopyStats carries the digest."""


def _delete(conn: psycopg.Connection[Any], table: StoreTable, target: Target) -> tuple[int, int]:
    """Delete the target's rows of `table`; account rows also go to the ledger. (deleted, newly retired)"""
    if table.account_column is None:
        cur = conn.execute(sql.SQL("DELETE FROM {} WHERE {}").format(table.identifier, scope(target)))
        return cur.rowcount, 0
    row = conn.execute(
        sql.SQL(
            "WITH deleted AS (DELETE FROM {table} WHERE {scope} RETURNING {column}),"
            " retired AS (INSERT INTO rollover.retired_ids"
            " (district_id, sourced_id, school_year, product, reset_date)"
            " SELECT {district}, {column}, {year}, {product}, {reset_date} FROM deleted"
            " ON CONFLICT DO NOTHING RETURNING 1)"
            " SELECT (SELECT count(*) FROM deleted), (SELECT count(*) FROM retired)"
        ).format(
            table=table.identifier,
            scope=scope(target),
            column=sql.Identifier(table.account_column),
            district=sql.Literal(target.district_id),
            year=sql.Literal(target.school_year),
            product=sql.Literal(target.product),
            reset_date=sql.Literal(target.reset_date),
        )
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])
