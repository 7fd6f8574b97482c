"""`rollover lint PATH...`: check DistrictRollover YAML before it is merged.

Prints `FILE:LINE:COL: error: MESSAGE` (or `warning:`) per finding, or GitHub workflow annotations with
`--format github`. Exit status: 0 clean or warnings only, 1 on any error, 2 on usage errors or
unreadable YAML.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rollover.cli.arguments import add_now_argument, now_of
from rollover.cli.reporting import (
    diagnostics,
    exit_status,
    fail_usage,
    load_error_diagnostic,
    plural,
)
from rollover.config import ConfigError, load_config
from rollover.documents import UsageError, check_documents, load_paths

#: `rollover lint` warns about open readiness items from this many business days before the pause
#: (the operator's preflight default: the district hears it from both at the same time).
READINESS_WARNING_DAYS = 5


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `rollover lint`."""
    parser = subparsers.add_parser(
        "lint",
        help="check DistrictRollover YAML files",
        description="Check DistrictRollover documents against the schema and the rollover rules.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="YAML files, or directories of *.yaml/*.yml")
    parser.add_argument(
        "--format",
        choices=("text", "github"),
        default="text",
        help="github: workflow annotations (default: text)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        help="the operator configuration: spec.notify.channels it does not define are warnings "
        "(without it, channel names are checked only for their syntax)",
    )
    parser.add_argument(
        "--readiness-days",
        type=int,
        default=READINESS_WARNING_DAYS,
        metavar="N",
        help="warn about unacknowledged readiness items from N business days before the pause "
        f"(default {READINESS_WARNING_DAYS})",
    )
    add_now_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Lint the paths; returns the exit status."""
    try:
        documents, load_errors = load_paths(args.paths)
        channels = load_config(args.config).notifications.channel_scopes() if args.config else None
    except (UsageError, ConfigError) as exc:
        return fail_usage("lint", exc)
    now = now_of(args)
    checked = check_documents(documents, now, channels, readiness_days=args.readiness_days)
    for error in load_errors:
        print(load_error_diagnostic(error).render(args.format))
    for item in checked:
        for diagnostic in diagnostics(item):
            print(diagnostic.render(args.format))
    if args.format == "text":
        errors = sum(1 for item in checked for f in item.findings if f.finding.severity == "error")
        warnings = sum(1 for item in checked for f in item.findings if f.finding.severity == "warning")
        counts = f"{plural(errors + len(load_errors), 'error')}, {plural(warnings, 'warning')}"
        print(f"{plural(len(checked), 'document')}: {counts}", file=sys.stderr)
    return exit_status(checked, load_errors)
