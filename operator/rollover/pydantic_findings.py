"""pydantic's errors on a spec, said as findings people read: the field path, what is wrong, and what is
allowed (a pattern's meaning, the allowed keys, the closest key to a misspelt one)."""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from rollover.api.models import (
    COUNTRY_PATTERN,
    DISTRICT_ID_PATTERN,
    LABEL_KEY_MAX,
    LABEL_KEY_PATTERN,
    LABEL_VALUE_PATTERN,
    NON_BLANK_PATTERN,
    PRODUCT_PATTERN,
    SCHOOL_YEAR_PATTERN,
    SUBDIVISION_PATTERN,
    DistrictRolloverSpec,
)
from rollover.catalog import load_catalog
from rollover.findings import LABEL_CHARACTERS, Finding, PathSegment, format_path, show_value, type_name
from rollover.reasons import RuleCode

_PATTERN_MEANINGS = {
    DISTRICT_ID_PATTERN: "1-63 letters, digits, '.', '_' or '-', starting with a letter or digit",
    SCHOOL_YEAR_PATTERN: "two consecutive years as YYYY-YYYY, e.g. 2026-2027",
    COUNTRY_PATTERN: "an uppercase country code of the holidays package, e.g. US",
    SUBDIVISION_PATTERN: "an uppercase subdivision code of the holidays package, e.g. IL",
    LABEL_VALUE_PATTERN: "a label value: letters, digits, '-', '_' or '.', starting and ending alphanumeric",
    LABEL_KEY_PATTERN: f"a label key: 1-63 {LABEL_CHARACTERS}, maybe after a DNS subdomain prefix and '/'",
    NON_BLANK_PATTERN: "some text, not only spaces",
}


def finding_from_pydantic(error: ErrorDetails) -> Finding:
    """The finding of one error of `DistrictRolloverSpec.model_validate`, its field under `spec`."""
    loc = [segment for segment in error["loc"] if segment != "[key]"]
    finding = _finding_of(error, loc)
    # A key too long to be one is not repeated in the path: the finding names its mapping.
    long = next((i for i, s in enumerate(loc) if isinstance(s, str) and len(s) > LABEL_KEY_MAX), None)
    if long is None:
        return finding
    field = format_path(["spec", *loc[:long]])
    return dataclasses.replace(
        finding, field=field, message=f"key {show_value(loc[long])}: {finding.message}"
    )


def _finding_of(error: ErrorDetails, loc: Sequence[PathSegment]) -> Finding:
    field = format_path(["spec", *loc])
    kind, value, ctx = error["type"], error["input"], error.get("ctx", {})
    if kind == "missing":
        return Finding.error(field, RuleCode.FIELD_REQUIRED, "is required")
    if kind == "extra_forbidden":
        return Finding.error(field, RuleCode.FIELD_UNKNOWN, _unknown_field_text(loc))
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern"))
        if pattern == PRODUCT_PATTERN:
            meaning = f"a product of the catalog: {', '.join(load_catalog().products)}"
        else:
            meaning = _PATTERN_MEANINGS.get(pattern, f"text matching {pattern}")
        return Finding.error(
            field, RuleCode.FIELD_INVALID, f"{show_value(value)} is invalid; expected {meaning}"
        )
    if kind.startswith("date_"):
        return Finding.error(
            field, RuleCode.FIELD_INVALID, f"{show_value(value)} is not a date; expected YYYY-MM-DD"
        )
    if kind in ("greater_than_equal", "less_than_equal"):
        bound = "minimum" if kind == "greater_than_equal" else "maximum"
        return Finding.error(
            field,
            RuleCode.FIELD_INVALID,
            f"{show_value(value)} is out of range; the {bound} is {_limit(ctx)}",
        )
    if kind == "bool_type":
        return Finding.error(
            field, RuleCode.FIELD_INVALID, f"{show_value(value)} is not a boolean; expected true or false"
        )
    if kind == "int_type":
        return Finding.error(
            field,
            RuleCode.FIELD_INVALID,
            f"{show_value(value)} is not an integer; expected a whole number, unquoted",
        )
    if kind == "string_type" and isinstance(value, int | float):
        return Finding.error(
            field, RuleCode.FIELD_INVALID, f"{show_value(value)} is a number; expected a string, quote it"
        )
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return Finding.error(field, RuleCode.FIELD_INVALID, f"expected a mapping, got {type_name(value)}")
    if kind == "list_type":
        return Finding.error(field, RuleCode.FIELD_INVALID, f"expected a list, got {type_name(value)}")
    return Finding.error(field, RuleCode.FIELD_INVALID, f"{show_value(value)}: {error['msg']}")


def _unknown_field_text(loc: Sequence[PathSegment]) -> str:
    allowed = _allowed_keys(loc[:-1])
    if not allowed:
        return "unknown field"
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
    hint = f"did you mean {close[0]}?" if close else f"allowed: {', '.join(allowed)}"
    return f"unknown field; {hint}"


def _allowed_keys(loc: Sequence[PathSegment]) -> list[str]:
    """The wire names of the model found at `loc` under the spec; [] when `loc` is not a model."""
    model: type[BaseModel] | None = DistrictRolloverSpec
    for segment in loc:
        if isinstance(segment, int) or model is None:
            continue  # list indices keep the item model found at the list's field
        field = next((f for f in model.model_fields.values() if f.alias == segment), None)
        model = _model_in(field.annotation) if field else None
    return [f.alias or name for name, f in model.model_fields.items()] if model else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as `X`, `X | None` or `list[X]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (list, types.UnionType, typing.Union):
        return next(filter(None, map(_model_in, typing.get_args(annotation))), None)
    return None


def _limit(ctx: Mapping[str, Any]) -> Any:
    return ctx.get("ge", ctx.get("le"))
