"""JSON Schemas generated from the API models.

`spec_schema()` and `status_schema()` are self-contained (references inlined, optional fields simply
not required, never null): the CRD generator derives its structural schema from them. `editor_schema()`
describes a whole DistrictRollover document for editors (yaml-language-server) and kubeconform.
Run `rollover schema > schemas/districtrollover.schema.json` after changing the models or the catalog.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from pydantic import BaseModel

from rollover import GROUP, KIND, VERSION
from rollover.api.models import NAME_PATTERN, NAMESPACE_PATTERN, DistrictRolloverSpec, DistrictRolloverStatus
from rollover.catalog import load_catalog

Schema = dict[str, Any]

RESOURCE_DESCRIPTION = (
    f"{KIND} ({GROUP}/{VERSION}): one school district's yearly roster rollover. Roster sync pauses"
    " pause.businessDaysBefore business days before resetDate; on resetDate last year's data is archived"
    " and reset, then sync resumes."
)

#: Keywords whose value is one subschema, and those whose value maps names to subschemas.
_SUBSCHEMA = ("items", "additionalProperties", "propertyNames")
_SUBSCHEMA_MAPS = ("properties",)
#: Reading order of keywords in the generated files; others follow in pydantic's order.
_KEY_ORDER = (
    "type", "format", "description", "default", "const", "enum", "pattern", "minLength", "maxLength",
    "minimum", "maximum", "minItems", "maxItems", "uniqueItems", "maxProperties", "required", "properties",
    "additionalProperties", "propertyNames", "items",
)  # fmt: skip


def spec_schema() -> Schema:
    """The spec's schema; products are limited to the catalog's."""
    schema = _model_schema(DistrictRolloverSpec)
    schema["properties"]["products"]["items"]["enum"] = list(load_catalog().products)
    return schema


def status_schema() -> Schema:
    """The status's schema."""
    return _model_schema(DistrictRolloverStatus)


def editor_schema() -> Schema:
    """A JSON Schema (draft-07) of a whole DistrictRollover document."""
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": KIND,
        "description": RESOURCE_DESCRIPTION,
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": f"{GROUP}/{VERSION}"},
            "kind": {"const": KIND},
            "metadata": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "maxLength": 253, "pattern": NAME_PATTERN},
                    "namespace": {"type": "string", "maxLength": 63, "pattern": NAMESPACE_PATTERN},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
            "spec": spec_schema(),
            "status": status_schema(),
        },
        "additionalProperties": False,
    }


def render_editor_schema() -> str:
    """The editor schema as committed in schemas/districtrollover.schema.json."""
    return json.dumps(editor_schema(), indent=2, ensure_ascii=False) + "\n"


def _model_schema(model: type[BaseModel]) -> Schema:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    definitions: dict[str, Schema] = raw.pop("$defs", {})
    return _inline(raw, definitions)


def _inline(schema: Schema, definitions: dict[str, Schema]) -> Schema:
    """Resolve $refs, turn `X | None` into X, drop generated titles; recurse into subschemas only."""
    if "$ref" in schema:
        target = definitions[schema["$ref"].rsplit("/", 1)[-1]]
        # The field's own keywords (its description, default) win over the referenced model's.
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    if "anyOf" in schema:
        variants = [v for v in schema["anyOf"] if v != {"type": "null"}]
        rest = {k: v for k, v in schema.items() if k != "anyOf" and not (k == "default" and v is None)}
        if len(variants) == 1:
            return _inline({**variants[0], **rest}, definitions)
        schema = {**rest, "anyOf": variants}
    if "patternProperties" in schema and "additionalProperties" not in schema:
        # pydantic writes a dict whose keys have a pattern (label keys) as patternProperties, which lets
        # any other key through and is not in the Kubernetes dialect: say it as key and value schemas.
        ((pattern, values),) = schema["patternProperties"].items()
        rest = {k: v for k, v in schema.items() if k != "patternProperties"}
        schema = {**rest, "propertyNames": {**rest.get("propertyNames", {}), "pattern": pattern}}
        schema["additionalProperties"] = values
    out: Schema = {}
    for key, value in schema.items():
        if key == "title":
            continue
        if key in _SUBSCHEMA and isinstance(value, dict):
            out[key] = _inline(value, definitions)
        elif key in _SUBSCHEMA_MAPS:
            out[key] = {name: _inline(sub, definitions) for name, sub in value.items()}
        elif key == "anyOf":
            out[key] = [_inline(sub, definitions) for sub in value]
        else:
            out[key] = copy.deepcopy(value)  # no sharing between nodes: callers may edit the tree
    return dict(sorted(out.items(), key=lambda item: _rank(item[0])))


def _rank(key: str) -> int:
    return _KEY_ORDER.index(key) if key in _KEY_ORDER else len(_KEY_ORDER)
