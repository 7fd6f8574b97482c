"""`rollover-job grant`: a login role that can act on one district's rows only, enforced by the store.

Row-level security (migration 0005) restricts every district-scoped table to the district bound to
`current_user` in rollover.district_roles. This command binds a role (creating it if need be) and
grants it exactly what the archive, reset and check-ids steps of that district need: SELECT on the
tables the catalog archives and the roster tables the Student Data Export joins, DELETE on the tables
some product's reset deletes, INSERT on the ledger and the completed resets, SELECT on the schema
version and on the bindings. Run it as the tables' owner; it is idempotent.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
from psycopg import sql

from rollover.catalog import load_catalog
from rollover.jobs.errors import StepFailed, UsageError
from rollover.jobs.tables import tables_for

ROLE_PATTERN = r"[a-z_][a-z0-9_]{0,62}"
#: Read by every step of every district role: the export's joins, the version check, the bindings.
READ_ONLY = ("roster.users", "roster.orgs", "rollover.schema_migrations", "rollover.district_roles")
#: Written by a reset in its own district: the ledger and the completed resets (also read).
APPEND_ONLY = ("rollover.retired_ids", "rollover.resets")
SCHEMAS = ("roster", "imagine_math", "twig", "rollover")


def parse_role(raw: str) -> str:
    if not re.fullmatch(ROLE_PATTERN, raw):
        raise UsageError(f"--role {raw!r} is malformed: 1-63 lower-case letters, digits or '_'")
    return raw


def product_privileges() -> dict[str, tuple[str, ...]]:
    """Per product table: SELECT if some product archives it, DELETE too if some product's reset
    deletes it."""
    privileges: dict[str, tuple[str, ...]] = {}
    for product, policy in load_catalog().products.items():
        for table in tables_for(product, policy.archive):
            privileges.setdefault(table.name, ("SELECT",))
        for table in tables_for(product, policy.delete):
            privileges[table.name] = ("SELECT", "DELETE")
    return privileges


def grant(conn: psycopg.Connection[Any], district_id: str, role: str, password: str | None) -> dict[str, Any]:
    """Bind `role` to `district_id` (creating the role, with `password` if given) and grant it its
    district's steps; StepFailed if it is bound elsewhere or would bypass row-level security."""
    with conn.transaction():
        bound = conn.execute(
            "SELECT district_id FROM rollover.district_roles WHERE role_name = %s", (role,)
        ).fetchone()
        if bound is not None and bound[0] != district_id:
            raise StepFailed(
                f"role {role} is bound to district {bound[0]}; use one role per district (another name)"
            )
        _refuse_a_role_above_the_policies(conn, role)
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is not None
        name = sql.Identifier(role)
        if not exists:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS").format(name))
        if password is not None:
            # Only the SCRAM verifier leaves this process: the password never reaches the server's logs.
            verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
            conn.execute(
                sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(name, sql.Literal(verifier.decode()))
            )
        conn.execute(
            "INSERT INTO rollover.district_roles (role_name, district_id) VALUES (%s, %s)"
            " ON CONFLICT (role_name) DO NOTHING",
            (role, district_id),
        )
        for statement in _grants(conn, name):
            conn.execute(statement)
    return {"status": "granted", "role": role, "district": district_id, "created": not exists}


def _refuse_a_role_above_the_policies(conn: psycopg.Connection[Any], role: str) -> None:
    """Superusers, BYPASSRLS roles and (members of) the tables' owners are not subject to row-level
    security: binding one would promise an isolation the store does not give."""
    row = conn.execute(
        "SELECT r.rolsuper OR r.rolbypassrls OR EXISTS ("
        "  SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        "  WHERE n.nspname = ANY(%s) AND c.relkind = 'r' AND pg_has_role(r.oid, c.relowner, 'USAGE'))"
        " FROM pg_roles r WHERE r.rolname = %s",
        (list(SCHEMAS), role),
    ).fetchone()
    if row is not None and row[0]:
        raise StepFailed(
            f"role {role} is a superuser, has BYPASSRLS or owns the store's tables: row-level security "
            "would not apply to it; bind a role of its own to the district"
        )


def _grants(conn: psycopg.Connection[Any], role: sql.Identifier) -> list[sql.Composed]:
    row = conn.execute("SELECT current_database()").fetchone()
    assert row is not None
    grants = [
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(row[0]), role),
        sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
            sql.SQL(", ").join(sql.Identifier(s) for s in SCHEMAS), role
        ),
    ]
    tables = {
        **product_privileges(),
        **dict.fromkeys(READ_ONLY, ("SELECT",)),
        **dict.fromkeys(APPEND_ONLY, ("SELECT", "INSERT")),
    }
    for table, privileges in sorted(tables.items()):
        grants.append(
            sql.SQL("GRANT {} ON {} TO {}").format(
                sql.SQL(", ").join(sql.SQL(p) for p in privileges), sql.Identifier(*table.split(".")), role
            )
        )
    return grants
