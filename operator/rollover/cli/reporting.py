"""How the file-reading subcommands (`rollover lint | plan | set-date | new | roll-forward`) report:
`FILE:LINE:COL: severity: message` diagnostics (or GitHub workflow annotations), counts, usage errors,
and the exit statuses they share: 0 clean or warnings only, 1 on any error, 2 on usage errors or
unreadable input."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rollover.documents import CheckedDocument, LoadError

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


def exit_status(checked: Sequence[CheckedDocument], load_errors: Sequence[LoadError]) -> int:
    """EXIT_USAGE if a file could not be loaded, else EXIT_ERRORS if a document has errors, else EXIT_OK."""
    if load_errors:
        return EXIT_USAGE
    return EXIT_ERRORS if any(item.has_errors for item in checked) else EXIT_OK


def plural(count: int, noun: str) -> str:
    """`1 error`, `2 errors`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def fail_usage(command: str, message: Any) -> int:
    """Report a usage error on one line; returns the exit status."""
    print(f"rollover {command}: {message}", file=sys.stderr)
    return EXIT_USAGE


def _escape_data(text: str) -> str:
    # The encoding of the GitHub Actions toolkit (core/command.ts).
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")
