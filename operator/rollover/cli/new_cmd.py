"""`rollover new --from CSV --out DIR`: one DistrictRollover file per row of a spreadsheet export.

The CSV has a header row; its columns are `rollover.csv_import.CSV_COLUMNS` (districtId, displayName, state,
timeZone, products, namespace, selectorLabel; optionally country, resetDate, schoolYear, name). Row N
becomes DIR/NAME.yaml, NAME being metadata.name (by default the districtId in lowercase, other
characters as '-'), with the examples' layout and a yaml-language-server modeline.

A file is written only if its document passes validation as `rollover lint` would check it (dates
chosen now), together with the districts already in DIR; a row that does not is reported as
`CSV:LINE: error: COLUMN: message`. Existing files are overwritten only with --force. Exit status as
for `rollover lint`: 0 every row written, 1 some row was not, 2 usage errors, an unreadable CSV or DIR.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rollover.api.models import DistrictRolloverSpec
from rollover.cli.arguments import add_now_argument, date_argument, now_of
from rollover.cli.reporting import EXIT_ERRORS, EXIT_OK, EXIT_USAGE, fail_usage, plural
from rollover.csv_import import CSV_COLUMNS, RowError, column_of, header_columns, row_document
from rollover.documents import LoadError, UsageError, load_paths, read_text
from rollover.findings import Finding
from rollover.validation import check_document, cross_document_findings
from rollover.yamledit import create_file, render_document, write_files

COMMAND = "new"
SCHEMA = Path("schemas") / "districtrollover.schema.json"


@dataclass
class _Row:
    """One CSV row on its way to a file."""

    line: int  # where the row starts in the CSV, 1-based
    cells: dict[str, str]
    messages: list[tuple[str, str]] = field(default_factory=list)  # (severity, message)
    document: dict[str, Any] | None = None
    spec: DistrictRolloverSpec | None = None
    target: Path | None = None

    @property
    def present(self) -> set[str]:
        """The columns with a value in this row."""
        return {column for column, value in self.cells.items() if value.strip()}

    @property
    def ok(self) -> bool:
        """Whether the row is still to be written."""
        return self.spec is not None and not any(severity == "error" for severity, _ in self.messages)

    def add(self, finding: Finding) -> None:
        """Report a finding on the document under the column the field came from."""
        self.messages.append(
            (finding.severity, f"{column_of(finding.field, self.present)}: {finding.message}")
        )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `rollover new`."""
    columns = "; ".join(f"{name}: {what}" for name, what in CSV_COLUMNS.items())
    parser = subparsers.add_parser(
        COMMAND,
        help="create DistrictRollover files from a CSV export",
        description="Create one DistrictRollover file per CSV row, written only if it passes validation. "
        f"CSV columns (header row): {columns}.",
    )
    parser.add_argument("--from", dest="csv", required=True, metavar="CSV", help="the spreadsheet export")
    parser.add_argument("--out", required=True, metavar="DIR", help="where to write DIR/NAME.yaml")
    parser.add_argument(
        "--reset-date",
        type=date_argument,
        metavar="DATE",
        help="resetDate for rows whose resetDate cell is empty, YYYY-MM-DD",
    )
    parser.add_argument("--force", action="store_true", help="overwrite files that exist")
    add_now_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Create the files; returns the exit status."""
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        return fail_usage(COMMAND, f"{args.out}: not a directory")
    try:
        rows = _read_rows(args.csv)
    except LoadError as exc:
        return fail_usage(COMMAND, f"{exc.path}: {exc.message}")
    except ValueError as exc:
        return fail_usage(COMMAND, exc)
    now = now_of(args)
    targets: dict[Path, int] = {}
    for row in rows:
        _check_row(row, out, args.reset_date, now, args.force, targets)
    _check_together(rows, out, args.force, now)

    status = EXIT_OK if all(row.ok for row in rows) else EXIT_ERRORS
    comment = _schema_comment(out)
    written = 0
    for row in rows:
        for severity, message in row.messages:
            print(f"{args.csv}:{row.line}: {severity}: {message}")
        if row.ok and row.document is not None and row.target is not None:
            try:
                _write(row.target, render_document(row.document, [comment]), args.force)
            except OSError as exc:
                print(f"rollover {COMMAND}: {row.target}: cannot write: {exc.strerror}", file=sys.stderr)
                status = EXIT_USAGE
                continue
            written += 1
            metadata = row.document["metadata"]
            print(f"{row.target}: written from line {row.line} ({metadata['namespace']}/{metadata['name']})")
    failed = sum(1 for row in rows if not row.ok)
    counts = f"{plural(written, 'file')} written, {plural(failed, 'row')} with errors"
    print(f"{plural(len(rows), 'row')}: {counts}", file=sys.stderr)
    return status


def _read_rows(path: str) -> list[_Row]:
    """The non-blank rows of the CSV, keyed by canonical column; LoadError or ValueError if unusable."""
    reader = csv.reader(io.StringIO(read_text(Path(path)), newline=""))
    try:
        columns = header_columns(next(reader, []))
        rows = []
        start = reader.line_num + 1
        for cells in reader:
            if any(cell.strip() for cell in cells):
                rows.append(_Row(start, dict(zip(columns, cells, strict=False))))
                if len(cells) > len(columns):
                    rows[-1].messages.append(
                        ("error", f"{len(cells)} cells, but the header has {len(columns)} columns")
                    )
            start = reader.line_num + 1
    except (csv.Error, ValueError) as exc:
        raise ValueError(f"{path}:{reader.line_num or 1}: {exc}") from None
    return rows


def _check_row(
    row: _Row,
    out: Path,
    default_reset: dt.date | None,
    now: dt.datetime,
    force: bool,
    targets: dict[Path, int],
) -> None:
    """Build and validate one row's document and choose its file."""
    if row.messages:
        return
    try:
        row.document = row_document(row.cells, default_reset)
    except RowError as exc:
        row.messages.append(("error", str(exc)))
        return
    report = check_document(row.document, now)
    for finding in report.findings:
        row.add(finding)
    row.spec = report.spec
    name = row.document["metadata"]["name"]
    row.target = out / f"{name}.yaml"
    if not row.ok:
        return
    where = column_of("metadata.name", row.present)
    if row.target in targets:
        row.messages.append(("error", f"{where}: {name!r} is also the name of line {targets[row.target]}"))
    elif row.target.exists() and not force:
        row.messages.append(("error", f"{row.target} exists; --force overwrites it"))
    else:
        targets[row.target] = row.line


def _check_together(rows: Sequence[_Row], out: Path, force: bool, now: dt.datetime) -> None:
    """The rules across documents (one DistrictRollover per district) over the rows still to be written
    and the districts already in `out`, except those that --force overwrites. Files in `out` that cannot
    be read are not ours to report: `rollover lint` does."""
    overwritten = {row.target for row in rows if row.ok}
    try:
        documents = load_paths([str(out)])[0] if out.is_dir() else []
    except UsageError:  # no YAML files in `out` yet
        documents = []
    existing = [
        (document.label, spec)
        for document in documents
        if not (force and Path(document.path) in overwritten)
        and (spec := check_document(document.data, now, date_chosen=False).spec) is not None
    ]
    pending = [(row, row.spec) for row in rows if row.ok and row.spec is not None]
    labelled = existing + [(f"line {row.line}", spec) for row, spec in pending]
    for index, finding in cross_document_findings(labelled):
        if index >= len(existing):
            pending[index - len(existing)][0].add(finding)


def _schema_comment(out: Path) -> str:
    """The modeline pointing editors at the committed JSON Schema, relative to `out`, when `out` is in a
    checkout that has it; otherwise how to get the schema."""
    directory = out.resolve()
    for parent in (directory, *directory.parents):
        if (parent / SCHEMA).is_file():
            relative = Path(os.path.relpath(parent / SCHEMA, directory))
            return f"yaml-language-server: $schema={relative.as_posix()}"
    return "For editor validation: rollover schema > districtrollover.schema.json, then add a modeline for it"


def _write(path: Path, text: str, force: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if force:
        write_files([(path, text)])
    else:
        create_file(path, text)
