"""`rollover roll-forward PATH... --defaults DATE,DATE,...`: move every district to the next school year.

Each DistrictRollover's `schoolYear` moves on a year and its `resetDate` becomes the default closest to
last year's date by day of the year (ties: the later default), its own date a year on for a district
with a CSM exception, or the next business day after either when that is not one (the rules are in
`rollover.roll_forward`). Only those two values change in each file, character for character.

All or nothing: every edited file is validated as `rollover lint` would (the new dates being chosen
now) before anything is written; if one fails, no file changes and every failure is listed. Exit
status as for `rollover lint`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from rollover.cli.arguments import add_now_argument, date_argument, now_of
from rollover.cli.reporting import (
    EXIT_ERRORS,
    EXIT_OK,
    Diagnostic,
    diagnostics,
    fail_usage,
    load_error_diagnostic,
    plural,
)
from rollover.documents import (
    Document,
    LoadError,
    UsageError,
    check_documents,
    expand_paths,
    parse_documents,
    read_text,
)
from rollover.roll_forward import RollError, roll_forward
from rollover.validation import check_document
from rollover.yamledit import NotEditable, ScalarEdit, replace_scalars, write_files

COMMAND = "roll-forward"


@dataclass
class _FileChange:
    """One file's edit, worked out in memory."""

    path: Path
    text: str
    new_text: str
    rolled: list[tuple[Document, str]] = field(default_factory=list)  # (old document, what changed)
    errors: list[Diagnostic] = field(default_factory=list)  # districts that could not be rolled
    to_check: list[Document] = field(default_factory=list)  # documents of new_text to validate


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `rollover roll-forward`."""
    parser = subparsers.add_parser(
        COMMAND,
        help="move every district to the next school year and a default reset date",
        description="Move each DistrictRollover to the next schoolYear and set resetDate to the default "
        "closest to last year's by day of the year (ties: the later default; districts with a CSM "
        "exception keep their own date a year on; the next business day if that is not one). Writes "
        "nothing unless every edited file passes validation.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="YAML files, or directories of *.yaml/*.yml")
    parser.add_argument(
        "--defaults",
        required=True,
        type=parse_defaults,
        metavar="DATE,...",
        help="the new year's default reset dates, e.g. 2028-07-14,2028-07-28,2028-08-11",
    )
    add_now_argument(parser)
    parser.set_defaults(func=run)


def parse_defaults(text: str) -> tuple[dt.date, ...]:
    """Comma-separated dates of one year, sorted; ArgumentTypeError otherwise."""
    days = sorted({date_argument(item.strip()) for item in text.split(",") if item.strip()})
    if not days:
        raise argparse.ArgumentTypeError("expected dates YYYY-MM-DD separated by commas")
    if days[0].year != days[-1].year:
        raise argparse.ArgumentTypeError(
            f"{text!r} spans several years; the defaults are dates of the year the new school year closes"
        )
    return tuple(days)


def run(args: argparse.Namespace) -> int:
    """Roll the paths forward; returns the exit status."""
    now = now_of(args)
    try:
        paths = expand_paths(args.paths)
    except UsageError as exc:
        return fail_usage(COMMAND, exc)
    changes: list[_FileChange] = []
    load_errors: list[LoadError] = []
    for path in paths:
        try:
            text = read_text(path)
            changes.append(_change(path, text, parse_documents(str(path), text), args.defaults, now))
        except LoadError as exc:
            load_errors.append(exc)
    if load_errors:
        for error in load_errors:
            print(load_error_diagnostic(error).render())
        return fail_usage(COMMAND, f"nothing was written: {plural(len(load_errors), 'file')} cannot be read")

    # Validated together, as `rollover lint` would see the result (a districtId used twice is an error).
    checked = iter(check_documents([d for change in changes for d in change.to_check], now))
    failed_files = errors = 0
    for change in changes:
        found = [*change.errors]
        for item in islice(checked, len(change.to_check)):
            found += diagnostics(item)
        for diagnostic in sorted(found, key=lambda item: (item.line, item.col)):
            print(diagnostic.render())
        file_errors = sum(1 for item in found if item.severity == "error")
        errors += file_errors
        failed_files += bool(file_errors)
    if errors:
        print(
            f"rollover {COMMAND}: nothing was written: {plural(errors, 'error')} in "
            f"{plural(failed_files, 'file')}",
            file=sys.stderr,
        )
        return EXIT_ERRORS

    try:
        write_files([(change.path, change.new_text) for change in changes if change.new_text != change.text])
    except OSError as exc:
        return fail_usage(COMMAND, f"nothing was written: cannot write {exc.filename}: {exc.strerror}")
    for change in changes:
        for document, what in change.rolled:
            print(f"{document.label}: {what}")
    districts = sum(len(change.rolled) for change in changes)
    files = sum(1 for change in changes if change.rolled)
    print(f"{plural(districts, 'district')} in {plural(files, 'file')} rolled forward", file=sys.stderr)
    return EXIT_OK


def _change(
    path: Path, text: str, documents: list[Document], defaults: tuple[dt.date, ...], now: dt.datetime
) -> _FileChange:
    """Roll every DistrictRollover of one file, in memory."""
    change = _FileChange(path, text, text)
    failed: set[int] = set()
    for document in documents:
        # Other kinds, and districts whose spec does not parse, are left to the validation of the
        # result, which reports them as `rollover lint` does.
        spec = check_document(document.data, now, date_chosen=False).spec
        if spec is None:
            continue
        try:
            rolled = roll_forward(spec, defaults)
            change.new_text = replace_scalars(
                change.new_text,
                [
                    ScalarEdit(document.index, ("spec", "schoolYear"), rolled.school_year),
                    ScalarEdit(document.index, ("spec", "resetDate"), rolled.reset_date.isoformat()),
                ],
            )
        except (RollError, NotEditable) as exc:
            message = (
                f"{exc.field}: {exc}" if isinstance(exc, RollError) else f"{exc}; cannot change it in place"
            )
            line, col = document.position(exc.field)
            change.errors.append(Diagnostic(str(path), line, col, "error", message, "RollForwardFailed"))
            failed.add(document.index)
            continue
        what = (
            f"schoolYear {spec.school_year} -> {rolled.school_year}, resetDate {spec.reset_date} -> "
            f"{rolled.reset_date} ({rolled.explain(spec.reset_date)})"
        )
        change.rolled.append((document, what))
    # A district that could not be rolled is reported once, by its error, not again by validation.
    change.to_check = [d for d in parse_documents(str(path), change.new_text) if d.index not in failed]
    return change
