"""A broken rule at a field, and how findings name fields and values for the people who read them.

Shared by the rules (`validation`) and the translation of pydantic's errors (`pydantic_findings`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rollover.reasons import Reason, RuleCode

Severity = Literal["error", "warning"]
PathSegment = str | int

SHOW_MAX = 80  # characters of a value repeated in a message; longer ones are cut, with their length
#: What a label name may contain, as messages say it.
LABEL_CHARACTERS = "letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PATH_TOKEN = re.compile(r'\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]')


@dataclass(frozen=True)
class Finding:
    """One broken rule at one field; `str(finding)` is `field: message`, the line people read."""

    severity: Severity
    field: str  # dotted path, e.g. spec.resetDate, spec.products[2], metadata.labels["a.b/c"]
    message: str  # what is wrong and what is allowed, e.g. "2027-07-17 is a Saturday; choose a business day"
    code: RuleCode | Reason  # the condition reason it makes, e.g. ResetDateOnHoliday

    @classmethod
    def error(cls, field: str, code: RuleCode | Reason, message: str) -> Finding:
        """An error at `field`."""
        return cls("error", field, message, code)

    @classmethod
    def warning(cls, field: str, code: RuleCode | Reason, message: str) -> Finding:
        """A warning at `field`."""
        return cls("warning", field, message, code)

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


# --- field paths ------------------------------------------------------------------------------


def format_path(segments: Sequence[PathSegment]) -> str:
    """`('spec', 'products', 2)` -> `spec.products[2]`; keys that are not identifiers are quoted."""
    out = ""
    for segment in segments:
        if isinstance(segment, int):
            out += f"[{segment}]"
        elif _IDENTIFIER.match(segment):
            out += f".{segment}" if out else segment
        else:
            out += f"[{json.dumps(segment)}]"
    return out


def parse_path(path: str) -> tuple[PathSegment, ...]:
    """The inverse of `format_path`; stops at the first token it does not understand."""
    segments: list[PathSegment] = []
    position = 0
    while match := _PATH_TOKEN.match(path, position):
        name, index, quoted = match.groups()
        segments.append(name if name else int(index) if index else json.loads(quoted))
        position = match.end()
    return tuple(segments)


# --- values in messages -----------------------------------------------------------------------


def show_value(value: Any) -> str:
    """A value as a message repeats it: quoted if text, and cut to SHOW_MAX characters."""
    if isinstance(value, Mapping | list):
        return f"a {type_name(value)}"
    if isinstance(value, str):
        if len(value) <= SHOW_MAX:
            return repr(value)
        return f"{value[:SHOW_MAX]!r}... ({len(value)} characters)"
    try:
        text = str(value)
    except ValueError:  # e.g. an integer of more digits than Python converts
        return f"a {type_name(value)} too long to show"
    return text if len(text) <= SHOW_MAX else f"{text[:SHOW_MAX]}... ({len(text)} characters)"


def type_name(value: Any) -> str:
    """What kind of YAML value `value` is, for messages: `mapping`, `list`, `nothing`, `int`, ..."""
    if value is None:
        return "nothing"
    if isinstance(value, Mapping):
        return "mapping"
    if isinstance(value, list):
        return "list"
    return type(value).__name__
