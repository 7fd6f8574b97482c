"""`rollover plan PATH...`: the schedule of every district, or how many pause and reset each day.

The default reset dates make spikes (many districts on the same Friday); `--by-date` shows them.
Exit status as for `rollover lint`: districts with errors are still listed, with what could be planned.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from rollover.calendar import CalendarError, PreflightWindow, Schedule, compute_schedule, preflight_window
from rollover.catalog import load_catalog
from rollover.cli.arguments import add_now_argument, now_of
from rollover.cli.reporting import (
    diagnostics,
    exit_status,
    fail_usage,
    load_error_diagnostic,
    plural,
)
from rollover.cli.tables import by_date, by_date_table, columns
from rollover.config import PreflightConfig
from rollover.documents import CheckedDocument, UsageError, check_documents, load_paths

PREFLIGHT_DAYS = PreflightConfig().business_days_before


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `rollover plan`."""
    parser = subparsers.add_parser(
        "plan",
        help="show when each district pauses and resets",
        description="Show each district's schedule: preflight, pause and reset instants, product steps, "
        "findings.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="YAML files, or directories of *.yaml/*.yml")
    parser.add_argument("-o", "--output", choices=("table", "json"), default="table", help="default: table")
    parser.add_argument(
        "--by-date", action="store_true", help="summarize by day: how many districts pause and reset"
    )
    parser.add_argument(
        "--preflight-days",
        type=int,
        default=PREFLIGHT_DAYS,
        metavar="N",
        help=f"the operator's preflight.businessDaysBefore (default {PREFLIGHT_DAYS})",
    )
    add_now_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Plan the paths; returns the exit status."""
    try:
        documents, load_errors = load_paths(args.paths)
    except UsageError as exc:
        return fail_usage("plan", exc)
    checked = check_documents(documents, now_of(args))
    rows = sorted((plan_row(item, args.preflight_days) for item in checked), key=_row_order)
    if args.by_date:
        days = by_date(rows)
        print(json.dumps(days, indent=2) if args.output == "json" else by_date_table(days))
    elif args.output == "json":
        print(json.dumps(rows, indent=2))
    else:
        print(_table(rows))
        for item in checked:
            for diagnostic in diagnostics(item):
                print(diagnostic.render(), file=sys.stderr)
    for error in load_errors:
        print(load_error_diagnostic(error).render(), file=sys.stderr)
    return exit_status(checked, load_errors)


def plan_row(item: CheckedDocument, preflight_days: int = PREFLIGHT_DAYS) -> dict[str, Any]:
    """One district's plan, JSON-ready with camelCase keys; dates are null where they cannot be planned."""
    spec = item.spec
    schedule = _schedule(item)
    preflight: PreflightWindow | None = None
    if spec is not None and schedule is not None:
        preflight = preflight_window(spec, schedule, preflight_days)
    return {
        "name": item.document.name,
        "namespace": item.document.namespace,
        "districtId": spec.district_id if spec else None,
        "resetDate": spec.reset_date.isoformat() if spec else None,
        "preflightDate": preflight.date.isoformat() if preflight else None,
        "preflightAt": preflight.starts_at.isoformat() if preflight else None,
        "pauseDate": schedule.pause_date.isoformat() if schedule else None,
        "pauseAt": schedule.pause_at.isoformat() if schedule else None,
        "resetAt": schedule.reset_at.isoformat() if schedule else None,
        "timeZone": spec.time_zone if spec else None,
        "steps": _steps(spec.products) if spec else [],
        "errors": _findings(item, "error"),
        "warnings": _findings(item, "warning"),
    }


def _schedule(item: CheckedDocument) -> Schedule | None:
    if item.spec is None:
        return None
    try:
        return compute_schedule(item.spec)
    except CalendarError:
        return None  # already a finding


def _findings(item: CheckedDocument, severity: str) -> list[dict[str, Any]]:
    return [
        {"field": f.finding.field, "line": f.line, "message": f.finding.message}
        for f in item.findings
        if f.finding.severity == severity
    ]


def _steps(products: list[str]) -> list[dict[str, Any]]:
    """What the rollover runs on resetDate: every product's archive first, then every product's reset."""
    catalog = load_catalog().products
    known = [p for p in products if p in catalog]
    archives = [{"step": "archive", "product": p, "data": list(catalog[p].archive)} for p in known]
    resets = [{"step": "reset", "product": p, "data": list(catalog[p].delete)} for p in known]
    return archives + resets


def _row_order(row: dict[str, Any]) -> tuple[bool, dt.datetime, str, str]:
    # By reset instant; districts that cannot be planned last.
    unplanned = row["resetAt"] is None
    reset_at = (
        dt.datetime.max.replace(tzinfo=dt.UTC) if unplanned else dt.datetime.fromisoformat(row["resetAt"])
    )
    return unplanned, reset_at, row["namespace"] or "", row["name"] or ""


def _table(rows: list[dict[str, Any]]) -> str:
    header = (
        "NAMESPACE", "NAME", "DISTRICT", "PREFLIGHT", "PAUSE AT", "RESET AT", "TIME ZONE", "PRODUCTS",
        "ISSUES",
    )  # fmt: skip
    lines = [
        (
            row["namespace"] or "-",
            row["name"] or "-",
            row["districtId"] or "-",
            row["preflightDate"] or "-",
            row["pauseAt"] or "-",
            row["resetAt"] or "-",
            row["timeZone"] or "-",
            ",".join(step["product"] for step in row["steps"] if step["step"] == "archive") or "-",
            _issues(row),
        )
        for row in rows
    ]
    return columns([header, *lines])


def _issues(row: dict[str, Any]) -> str:
    counts = [
        plural(len(row[key]), noun)
        for key, noun in (("errors", "error"), ("warnings", "warning"))
        if row[key]
    ]
    return ", ".join(counts) or "ok"
