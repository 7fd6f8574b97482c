"""District YAML files: multi-document loading with ruamel.yaml positions, and checking them together.

Every finding gets the line and column of its field (or of the nearest enclosing field that exists,
for a missing one), so the CLI can print `FILE:LINE:COL: error: ...` for editors and CI annotations.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from rollover.api.models import DistrictRolloverSpec
from rollover.findings import Finding, parse_path
from rollover.notices import ChannelScopes, unknown_channels, usable_channels
from rollover.reasons import Reason
from rollover.validation import check_document, cross_document_findings, readiness_due_findings

YAML_SUFFIXES = (".yaml", ".yml")


class LoadError(Exception):
    """A file that cannot be read as YAML; `line`/`col` are 1-based, 0 when unknown."""

    def __init__(self, path: str, message: str, line: int = 0, col: int = 0) -> None:
        super().__init__(message)
        self.path, self.message, self.line, self.col = path, message, line, col


class UsageError(Exception):
    """A command-line argument that names nothing usable (a missing file, an empty directory)."""


@dataclass(frozen=True)
class Document:
    """One YAML document of a file, as loaded by ruamel.yaml's round-trip loader."""

    path: str
    index: int  # position in the file's stream, empty documents included
    data: CommentedMap

    @property
    def name(self) -> str | None:
        """metadata.name, if it is a string."""
        return _string_at(self.data, "metadata", "name")

    @property
    def namespace(self) -> str | None:
        """metadata.namespace, if it is a string."""
        return _string_at(self.data, "metadata", "namespace")

    @property
    def line(self) -> int:
        """The 1-based line where the document's content starts."""
        return int(self.data.lc.line) + 1

    @property
    def label(self) -> str:
        """Where the document is, for messages: `FILE:LINE (namespace/name)`."""
        ident = "/".join(part for part in (self.namespace, self.name) if part) or f"document {self.index + 1}"
        return f"{self.path}:{self.line} ({ident})"

    def position(self, field: str) -> tuple[int, int]:
        """1-based (line, column) of a dotted field path such as `spec.products[2]`; for a field that is
        not there, of the nearest enclosing one."""
        node: Any = self.data
        line, col = node.lc.line, node.lc.col
        for segment in parse_path(field):
            if isinstance(node, CommentedMap) and isinstance(segment, str) and segment in node:
                line, col = node.lc.key(segment)
            elif isinstance(node, CommentedSeq) and isinstance(segment, int) and 0 <= segment < len(node):
                line, col = node.lc.item(segment)
            else:
                break
            node = node[segment]
        return int(line) + 1, int(col) + 1


@dataclass(frozen=True)
class Located:
    """A finding with the position of its field."""

    finding: Finding
    line: int
    col: int


@dataclass(frozen=True)
class CheckedDocument:
    """A document, its spec when it parsed, and its findings in file order."""

    document: Document
    spec: DistrictRolloverSpec | None
    findings: tuple[Located, ...]

    @property
    def has_errors(self) -> bool:
        """Whether any finding is an error."""
        return any(located.finding.severity == "error" for located in self.findings)


def new_yaml() -> YAML:
    """The round-trip loader used for district files (keeps positions, comments and quoting)."""
    return YAML(typ="rt")


def read_text(path: Path) -> str:
    """A file's text, newlines untranslated; LoadError if it cannot be read."""
    try:
        with path.open(encoding="utf-8", newline="") as stream:
            return stream.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise LoadError(str(path), f"cannot read: {getattr(exc, 'strerror', None) or exc}") from None


def load_file(path: Path) -> list[Document]:
    """The non-empty documents of a YAML file; LoadError if it is unreadable or not YAML mappings."""
    return parse_documents(str(path), read_text(path))


def parse_documents(path: str, text: str) -> list[Document]:
    """The non-empty documents of `text`, read from `path`; LoadError if they are not YAML mappings."""
    documents = []
    try:
        for index, data in enumerate(new_yaml().load_all(text)):
            if data is None:
                continue
            if not isinstance(data, CommentedMap):
                raise LoadError(path, f"document {index + 1} is not a mapping", *_position_of(data))
            documents.append(Document(path, index, data))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        raise LoadError(path, f"invalid YAML: {exc.problem or exc.context}", *where) from None
    except YAMLError as exc:
        raise LoadError(path, f"invalid YAML: {exc}") from None
    return documents


def _position_of(data: Any) -> tuple[int, int]:
    lc = getattr(data, "lc", None)
    return (int(lc.line) + 1, int(lc.col) + 1) if lc is not None else (0, 0)


def expand_paths(paths: Iterable[str]) -> list[Path]:
    """Files as given, and the *.yaml / *.yml files under directories (sorted); UsageError for a path
    that does not exist or a directory without YAML files."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file())
            if not found:
                raise UsageError(f"{raw}: no *.yaml or *.yml files in this directory")
            files += found
        elif path.exists():
            files.append(path)
        else:
            raise UsageError(f"{raw}: no such file or directory")
    return files


def load_paths(paths: Iterable[str]) -> tuple[list[Document], list[LoadError]]:
    """Every document under `paths`, and the files that could not be loaded (the others still are)."""
    documents: list[Document] = []
    errors: list[LoadError] = []
    for path in expand_paths(paths):
        try:
            documents += load_file(path)
        except LoadError as exc:
            errors.append(exc)
    return documents, errors


def check_documents(
    documents: Sequence[Document],
    now: dt.datetime,
    channels: ChannelScopes | None = None,
    readiness_days: int | None = None,
) -> list[CheckedDocument]:
    """Validate each document (with the date treated as being chosen now) and the documents together;
    with the operator configuration's webhook `channels`, an unknown spec.notify channel is a warning
    (notices to it would not go out; the rollover itself is not affected); with `readiness_days`,
    readiness items still open that many business days before the pause are warnings."""
    reports = [check_document(document.data, now) for document in documents]
    parsed = [(i, report.spec) for i, report in enumerate(reports) if report.spec is not None]
    extra: dict[int, list[Finding]] = {}
    for k, finding in cross_document_findings([(documents[i].label, spec) for i, spec in parsed]):
        extra.setdefault(parsed[k][0], []).append(finding)
    for i, spec in parsed if channels is not None else ():
        extra.setdefault(i, []).extend(
            Finding.warning(
                path,
                Reason.NOTIFY_CHANNEL_UNKNOWN,
                f"no webhook channel {name!r} for this namespace in the operator configuration; known: "
                f"{', '.join(sorted(usable_channels(channels or {}, documents[i].namespace))) or 'none'}",
            )
            for path, name in unknown_channels(spec, channels or {}, documents[i].namespace)
        )
    if readiness_days is not None:
        for i, spec in parsed:
            extra.setdefault(i, []).extend(readiness_due_findings(spec, now, readiness_days))
    checked = []
    for i, (document, report) in enumerate(zip(documents, reports, strict=True)):
        located = (Located(f, *document.position(f.field)) for f in (*report.findings, *extra.get(i, ())))
        findings = tuple(sorted(located, key=lambda item: (item.line, item.col)))
        checked.append(CheckedDocument(document, report.spec, findings))
    return checked


def _string_at(data: CommentedMap, *keys: str) -> str | None:
    node: Any = data
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node if isinstance(node, str) else None
