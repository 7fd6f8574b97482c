"""Options the file-reading subcommands share: the `--now` clock of the date rules, and dates."""

from __future__ import annotations

import argparse
import datetime as dt

from rollover.csv_import import parse_date


def parse_now(text: str) -> dt.datetime:
    """An ISO 8601 date or date-time; without an offset it is UTC."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 date-time, e.g. 2026-11-24T09:00-06:00"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def add_now_argument(parser: argparse.ArgumentParser) -> None:
    """The `--now` option: the clock the date rules use."""
    parser.add_argument(
        "--now",
        type=parse_now,
        metavar="ISO8601",
        help="the current time for the date rules (default: the system clock; no offset means UTC)",
    )


def now_of(args: argparse.Namespace) -> dt.datetime:
    """`--now`, or the system clock."""
    value: dt.datetime | None = args.now
    return value or dt.datetime.now(dt.UTC)


def date_argument(text: str) -> dt.date:
    """A YYYY-MM-DD argument; ArgumentTypeError, which argparse reports as a usage error, otherwise."""
    try:
        return parse_date(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
