"""`rollover`: one entry point; each subcommand lives in its own module with a `register` function."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

#: Subcommand modules, in help order. Each defines `register(subparsers) -> None`, which adds its
#: parser(s) with `set_defaults(func=handler)`; a handler takes the parsed args and returns an exit code.
COMMAND_MODULES: tuple[str, ...] = (
    "rollover.cli.lint_cmd",
    "rollover.cli.plan_cmd",
    "rollover.cli.set_date_cmd",
    "rollover.cli.new_cmd",
    "rollover.cli.roll_forward_cmd",
    "rollover.cli.schema_cmd",
    "rollover.cli.operator_cmd",
    "rollover.cli.dev_cluster_cmd",
    "rollover.cli.verify_certificate_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    """The full `rollover` argument parser."""
    parser = argparse.ArgumentParser(
        prog="rollover", description="Declarative K-12 roster rollovers on Kubernetes."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.func
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
