"""Writing district YAML without disturbing it: in-place scalar edits, new documents, atomic writes.

An edit replaces only the characters of the old value (located by ruamel.yaml's composer), so comments,
key order, quoting and line ends stay byte for byte. Files are written to a temporary file beside them
and renamed into place, so a reader (or a crash) never sees half a file.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from rollover.documents import new_yaml

QUOTES = {"'", '"'}
_STR_TAG = "tag:yaml.org,2002:str"
# kubectl and most Kubernetes tooling read YAML 1.1, where e.g. `ON` (Ontario) is a boolean.
_YAML_1_1 = VersionedResolver(version=(1, 1))


class NotEditable(LookupError):
    """The value at `field` (a dotted path) is not a plain or quoted scalar, so it cannot be edited in
    place; the message says why, e.g. `spec.resetDate is not a plain or quoted scalar`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ScalarEdit:
    """Replace the scalar at `keys` (mapping keys from the document root) of one document of a stream."""

    document_index: int  # position in the stream, empty documents included (as `Document.index`)
    keys: tuple[str, ...]
    value: str


def replace_scalars(text: str, edits: Iterable[ScalarEdit]) -> str:
    """`text` with each edit applied in the old scalar's quoting style. NotEditable if an edit's keys do
    not lead to a plain or quoted scalar."""
    nodes: list[Node | None] = list(new_yaml().compose_all(text))
    spans = []
    for edit in edits:
        node = _scalar_at(nodes[edit.document_index], edit.keys)
        quote = node.style or ""
        spans.append((node.start_mark.index, node.end_mark.index, f"{quote}{edit.value}{quote}"))
    # From the end backwards, so each span's offsets are still those of the original text.
    for start, end, replacement in sorted(spans, reverse=True):
        text = f"{text[:start]}{replacement}{text[end:]}"
    return text


def _scalar_at(node: Node | None, keys: tuple[str, ...]) -> ScalarNode:
    field = ".".join(keys)
    for key in keys:
        if not isinstance(node, MappingNode):
            raise NotEditable(field, f"no mapping above {key!r}")
        node = next((v for k, v in node.value if isinstance(k, ScalarNode) and k.value == key), None)
    if not isinstance(node, ScalarNode) or node.style not in (None, *QUOTES):
        raise NotEditable(field, f"{field} is not a plain or quoted scalar")
    return node


def render_document(data: Mapping[str, Any], comments: Sequence[str] = ()) -> str:
    """A new YAML file for `data` in the examples' layout (block style, lists indented under their key),
    after `comments` (one `# ...` line each). Strings that YAML 1.1 would read as something else are
    double-quoted, so kubectl reads what lint checked."""
    yaml = new_yaml()
    yaml.indent(mapping=2, sequence=4, offset=2)
    stream = io.StringIO()
    yaml.dump(_quote_ambiguous(data), stream)
    return "".join(f"# {line}\n" for line in comments) + stream.getvalue()


def _quote_ambiguous(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _quote_ambiguous(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_quote_ambiguous(item) for item in value]
    if isinstance(value, str) and _YAML_1_1.resolve(ScalarNode, value, (True, False)) != _STR_TAG:
        return DoubleQuotedScalarString(value)
    return value


def write_files(contents: Sequence[tuple[Path, str]]) -> None:
    """Replace (or create) every file, or none: all are first written to temporary files beside their
    targets, and only when every one is written are they renamed into place. OSError if one cannot be."""
    staged: list[tuple[Path, Path]] = []
    try:
        for path, text in contents:
            staged.append((_stage(path, text), path))
    except OSError:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        raise
    for temporary, path in staged:
        os.replace(temporary, path)


def create_file(path: Path, text: str) -> None:
    """Write a new file atomically; FileExistsError (and nothing written) if `path` exists."""
    temporary = _stage(path, text)
    try:
        os.link(temporary, path)  # fails if `path` exists, unlike a rename
    finally:
        temporary.unlink()


def _stage(path: Path, text: str) -> Path:
    """`text` in a new temporary file beside `path`, with `path`'s permissions if it exists."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    # Mode 0o666 under the umask, as for a file created by an editor; mkstemp would make it 0o600.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with open(descriptor, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        if path.exists():
            shutil.copymode(path, temporary)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise
    return temporary
