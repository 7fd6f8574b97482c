"""`rollover schema`: the JSON Schema of a DistrictRollover document, for editors and kubeconform.

The committed copy is schemas/districtrollover.schema.json; district files point at it with a
`# yaml-language-server: $schema=...` modeline, and kubeconform finds it with
`-schema-location 'schemas/{{.ResourceKind}}.schema.json'`.
"""

from __future__ import annotations

import argparse
import sys

from rollover.api.jsonschema import render_editor_schema
from rollover.cli.reporting import EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `rollover schema`."""
    parser = subparsers.add_parser(
        "schema",
        help="print the JSON Schema of DistrictRollover documents",
        description="Print the JSON Schema (draft-07) of a DistrictRollover document, generated from the API "
        "models, for yaml-language-server and kubeconform.",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the schema; returns the exit status."""
    sys.stdout.write(render_editor_schema())
    return EXIT_OK
