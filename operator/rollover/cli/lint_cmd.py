"""`rollover lint PATH...`: check DistrictRollover YAML before it is merged.

Prints `FILE:LINE:COL: error: MESSAGE` (or `warning:`) per finding, or GitHub workflow annotations with
`--format github`. Exit status: 0 clean or warnings only, 1 on any error, 2 on usage errors or
unreadable YAML. The other file-reading subcommands share this module's clock option and formats.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from dataclasses import dataclass
from typing import Any, Literal

from rollover.documents import CheckedDocument, LoadError, UsageError, check_documents, load_paths

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2
Style = Literal["text", "github"]


@dataclass(frozen=True)
class Diagnostic:
    """One line of output: a finding or an unreadable file."""

    path: str
    line: int  # 1-based; 0 when unknown
    col: int
    severity: str
    message: str
    code: str

    def render(self, style: Style = "text") -> str:
        """`FILE:LINE:COL: severity: message`, or a GitHub workflow annotation."""
        if style == "github":
            where = f"file={_escape_property(self.path)}" + (
                f",line={self.line},col={self.col}" if self.line else ""
            )
            return f"::{self.severity} {where},title={self.code}::{_escape_data(self.message)}"
        where = f"{self.path}:{self.line}:{self.col}" if self.line else self.path
        return f"{where}: {self.severity}: {self.message}"


def diagnostics(checked: CheckedDocument) -> list[Diagnostic]:
    """The diagnostics of one checked document, in file order."""
    path = checked.document.path
    return [
        Diagnostic(path, item.line, item.col, item.finding.severity, str(item.finding), item.finding.code)
        for item in checked.findings
    ]


def load_error_diagnostic(error: LoadError) -> Diagnostic:
    """The diagnostic of a file that could not be loaded."""
    return Diagnostic(error.path, error.line, error.col, "error", error.message, "InvalidYAML")


def parse_now(text: str) -> dt.datetime:
    """An ISO 8601 date or date-time; without an offset it is UTC."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 date-time, e.g. 2026-11-24T09:00-06:00"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def add_now_argument(parser: argparse.ArgumentParser) -> None:
    """The `--now` option: the clock the date rules use."""
    parser.add_argument(
        "--now",
        type=parse_now,
        metavar="ISO8601",
        help="the current time for the date rules (default: the system clock; no offset means UTC)",
    )


def now_of(args: argparse.Namespace) -> dt.datetime:
    """`--now`, or the system clock."""
    value: dt.datetime | None = args.now
    return value or dt.datetime.now(dt.UTC)


def plural(count: int, noun: str) -> str:
    """`1 error`, `2 errors`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def fail_usage(command: str, message: Any) -> int:
    """Report a usage error on one line; returns the exit status."""
    print(f"rollover {command}: {message}", file=sys.stderr)
    return EXIT_USAGE


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
    add_now_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Lint the paths; returns the exit status."""
    try:
        documents, load_errors = load_paths(args.paths)
    except UsageError as exc:
        return fail_usage("lint", exc)
    checked = check_documents(documents, now_of(args))
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
    if load_errors:
        return EXIT_USAGE
    return EXIT_ERRORS if any(item.has_errors for item in checked) else EXIT_OK


def _escape_data(text: str) -> str:
    # The encoding of the GitHub Actions toolkit (core/command.ts).
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")
