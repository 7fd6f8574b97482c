"""`rollover-job preflight`: days before the pause, check what the archive and reset will need, and
count what they will do. It changes nothing in the roster store.

With the step's own credentials (the Job gets the archive's environment), in this order:
the archive destination is there and writable (a probe object is written, read back and deleted);
the store is reachable and its schema at the version this rollover-job knows; the role may act on the
district, and holds the privileges the archive (SELECT) and the reset (DELETE, and INSERT on the
ledger and the completed resets) use; the district has data for the school year and product. The
result's `tables` is the preview: per table the archive exports, its rows in scope, how many the
reset deletes and how many it keeps, counted in one snapshot with the table mapping and scope the
archive and reset use (`rollover.jobs.tables`), so the counts are those a reset on the same data
deletes.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import IsolationLevel, sql

from rollover.jobs import grants
from rollover.jobs.config import Database, Target
from rollover.jobs.destination import Destination
from rollover.jobs.errors import StepFailed
from rollover.jobs.manifest import cycle_dir
from rollover.jobs.migrate import require_current
from rollover.jobs.store import completed_reset, connect, require_district
from rollover.jobs.tables import StoreTable, scope, tables_for

log = logging.getLogger(__name__)
APPLICATION = "rollover-job preflight"
#: What a reset writes besides its DELETEs, each in the same transaction.
RESET_APPENDS = grants.APPEND_ONLY


def probe_dir(target: Target) -> str:
    """Where the probe object goes: beside the product's archive, under a name no step uses."""
    return f"{cycle_dir(target.district_id, target.school_year)}/.{target.product}.preflight-probe"


def run(target: Target, db: Database, dest: Destination) -> dict[str, Any]:
    """Every check, then the preview; StepFailed naming the first check that fails."""
    check_destination(dest, target)
    with connect(db, APPLICATION) as conn:
        schema_version = require_current(conn)
        require_district(conn, target.district_id)
        archived = tables_for(target.product, target.policy.archive)
        deleted = tables_for(target.product, target.policy.delete)
        _require_privileges(conn, archived, deleted)
        already = completed_reset(conn, target)
        counts = count_rows(conn, target, archived)
    if already is None and not any(counts.values()):
        raise StepFailed(
            f"the roster store has no {target.product} rows for district {target.district_id} in "
            f"{target.school_year}: check spec.districtId and spec.schoolYear, or whether the product "
            "is rostered for this district"
        )
    deleted_names = {t.name for t in deleted}
    tables: list[dict[str, Any]] = [
        {
            "table": table.name,
            "archive": counts[table.name],
            "delete": counts[table.name] if table.name in deleted_names else 0,
            "keep": 0 if table.name in deleted_names else counts[table.name],
        }
        for table in archived
    ]
    log.info(
        "preflight passed: %d rows to archive, %d to delete",
        sum(counts.values()),
        sum(counts[name] for name in deleted_names),
    )
    result: dict[str, Any] = {"status": "passed", "schemaVersion": schema_version, "tables": tables}
    if already is not None:
        result["alreadyResetAt"] = str(already.completed_at)
    return result


def check_destination(dest: Destination, target: Target) -> None:
    """StepFailed unless a probe object can be written, read back whole and deleted. A probe left by a
    killed run is removed first (its name is fixed, so runs never leave more than one)."""
    dest.check()
    directory = probe_dir(target)
    path = f"{directory}/probe"
    token = secrets.token_bytes(32)
    try:
        dest.remove_tree(directory)
        with dest.open_write(path) as fh:
            fh.write(token)
        with dest.open_read(path) as fh:
            back = fh.read()
        dest.remove_tree(directory)
        gone = not dest.exists(path)
    except OSError as exc:
        raise StepFailed(
            f"archive destination {dest.uri}: cannot write, read and delete a probe: {exc}"
        ) from None
    if back != token:
        raise StepFailed(
            f"archive destination {dest.uri}: a probe object read back differs from what was written"
        )
    if not gone:
        raise StepFailed(f"archive destination {dest.uri}: a probe object is still there after deleting it")
    log.info("archive destination %s: probe written, read back and deleted", dest.uri)


def _require_privileges(
    conn: psycopg.Connection[Any], archived: tuple[StoreTable, ...], deleted: tuple[StoreTable, ...]
) -> None:
    """StepFailed naming every privilege the archive or the reset would miss (row-level security
    still limits them to the district; this only finds what would be refused outright)."""
    needed = [(t.name, "SELECT") for t in archived]
    needed += [(t.name, "DELETE") for t in deleted]
    needed += [(name, "INSERT") for name in RESET_APPENDS]
    rows = conn.execute(
        "SELECT t, p, has_table_privilege(t, p) FROM unnest(%s::text[], %s::text[]) AS n(t, p)",
        ([t for t, _ in needed], [p for _, p in needed]),
    ).fetchall()
    missing = [f"{privilege} on {table}" for table, privilege, granted in rows if not granted]
    if missing:
        raise StepFailed(
            f"the database role lacks {', '.join(missing)}: the archive or the reset would be refused "
            "(`rollover-job grant` grants a district role what they need)"
        )


def count_rows(
    conn: psycopg.Connection[Any], target: Target, tables: tuple[StoreTable, ...]
) -> Mapping[str, int]:
    """The target's rows in each table, all counted in one read-only snapshot (the archive and reset
    each read one snapshot too, so the counts agree with each other as theirs do)."""
    conn.isolation_level = IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    with conn.transaction():
        return {
            table.name: int(
                conn.execute(
                    sql.SQL("SELECT count(*) FROM {} WHERE {}").format(table.identifier, scope(target))
                ).fetchone()[0]  # type: ignore[index]
            )
            for table in tables
        }
