"""`rollover set-date FILE DATE [--name N]`: change one district's resetDate in place.

The new date must pass validation as a newly chosen date (business day, window, in the future, ...);
otherwise the file is left untouched. ruamel.yaml locates the exact characters of the old value and
only those are replaced, so comments, key order, quoting and layout are preserved byte for byte.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rollover import KIND
from rollover.calendar import compute_schedule
from rollover.cli.arguments import add_now_argument, date_argument, now_of
from rollover.cli.reporting import EXIT_ERRORS, EXIT_OK, Diagnostic, fail_usage, load_error_diagnostic
from rollover.documents import Document, LoadError, parse_documents, read_text
from rollover.validation import check_document
from rollover.yamledit import ScalarEdit, replace_scalars, write_files


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `rollover set-date`."""
    parser = subparsers.add_parser(
        "set-date",
        help="change a district's resetDate in place",
        description="Change spec.resetDate in a DistrictRollover file, keeping everything else as it is. "
        "Refuses a date that fails validation.",
    )
    parser.add_argument("file", metavar="FILE", help="the YAML file")
    parser.add_argument("date", metavar="DATE", type=date_argument, help="the new reset date, YYYY-MM-DD")
    parser.add_argument("--name", metavar="N", help="metadata.name of the district, if FILE holds several")
    add_now_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Change the date; returns the exit status."""
    path, new_date = Path(args.file), args.date
    if not path.is_file():
        return fail_usage(
            "set-date", f"{args.file}: no such file" if not path.exists() else f"{args.file}: not a file"
        )
    try:
        text = read_text(path)
        document = _select(parse_documents(args.file, text), args.name)
    except LoadError as exc:
        print(load_error_diagnostic(exc).render())
        return fail_usage("set-date", f"{args.file} was not changed")
    except LookupError as exc:
        return fail_usage("set-date", f"{args.file}: {exc.args[0]}")

    spec = document.data.get("spec")
    if not isinstance(spec, dict) or "resetDate" not in spec:
        return fail_usage("set-date", f"{document.label}: there is no spec.resetDate to change")
    report = check_document({**document.data, "spec": {**spec, "resetDate": new_date}}, now_of(args))
    for finding in report.findings:
        line, col = document.position(finding.field)
        print(Diagnostic(document.path, line, col, finding.severity, str(finding), finding.code).render())
    if report.spec is None or any(f.severity == "error" for f in report.findings):
        print(f"rollover set-date: {args.file} was not changed: {new_date} fails validation", file=sys.stderr)
        return EXIT_ERRORS
    try:
        edit = ScalarEdit(document.index, ("spec", "resetDate"), new_date.isoformat())
        new_text = replace_scalars(text, [edit])
    except LookupError as exc:
        return fail_usage("set-date", f"{document.label}: cannot change it in place: {exc.args[0]}")

    try:
        write_files([(path, new_text)])
    except OSError as exc:
        return fail_usage("set-date", f"{args.file}: cannot write: {exc.strerror}")
    schedule = compute_schedule(report.spec)
    print(
        f"{document.label}: resetDate {spec['resetDate']} -> {new_date}; roster sync pauses "
        f"{schedule.pause_at.isoformat()}, reset at {schedule.reset_at.isoformat()}"
    )
    return EXIT_OK


def _select(documents: list[Document], name: str | None) -> Document:
    rollovers = [d for d in documents if d.data.get("kind") == KIND]
    if name is not None:
        rollovers = [d for d in rollovers if d.name == name]
    if len(rollovers) == 1:
        return rollovers[0]
    names = ", ".join(d.name or f"document {d.index + 1}" for d in rollovers)
    if not rollovers:
        raise LookupError(f"no {KIND}" + (f" named {name!r}" if name else ""))
    raise LookupError(f"{len(rollovers)} {KIND} documents ({names}); choose one with --name")
