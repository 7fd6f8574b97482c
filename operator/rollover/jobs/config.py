"""A step's inputs: each from its command-line option or else its environment variable, validated.

The Job sets DISTRICT_ID, SCHOOL_YEAR, RESET_DATE, PRODUCT, STEP, DATABASE_URL and ARCHIVE_URI; a
person runs the same step by hand with the matching options. The database password may come from the
URL, from a mounted Secret file named by DATABASE_PASSWORD_FILE, or from libpq's own PGPASSWORD /
PGPASSFILE. Passwords never reach a log line: a message shows only `redaction.describe(url)`, and
error texts are scrubbed of `known_secrets` (see rollover.jobs.redaction).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg.conninfo

from rollover.api.models import DISTRICT_ID_PATTERN, SCHOOL_YEAR_PATTERN
from rollover.catalog import ProductPolicy, load_catalog
from rollover.jobs import redaction
from rollover.jobs.destination import S3_OPTION_ENV
from rollover.jobs.errors import UsageError
from rollover.jobs.limits import DEFAULT_LIMITS, SessionLimits, session_limits

PASSWORD_FILE_ENV = "DATABASE_PASSWORD_FILE"  # noqa: S105 - the variable's name, not a password
S3_SECRET_ENV = S3_OPTION_ENV["secret"]
DATABASE_SCHEMES = ("postgresql", "postgres")


@dataclass(frozen=True)
class ArchiveKey:
    """Which archive: one product's, for one district and school year (restore, export, purge)."""

    district_id: str
    school_year: str
    product: str


@dataclass(frozen=True)
class Target(ArchiveKey):
    """What an archive or reset acts on: one product's data for one district and school year."""

    reset_date: dt.date
    policy: ProductPolicy


@dataclass(frozen=True)
class Database:
    """How to reach the roster store; `password` is the Secret file's, if one is mounted."""

    url: str
    password: str | None = None
    limits: SessionLimits = field(default=DEFAULT_LIMITS)

    @property
    def redacted(self) -> str:
        """Host, port and database only: fit for logs, errors and results."""
        return redaction.describe(self.url)

    def params(self) -> dict[str, str]:
        """libpq connection parameters, password and session limits included."""
        params = {k: str(v) for k, v in psycopg.conninfo.conninfo_to_dict(self.url).items() if v is not None}
        if self.password is not None:
            params["password"] = self.password
        return {**params, **self.limits.connection_params(params.get("options"))}


# --- options ------------------------------------------------------------------------------------

#: option dest -> environment variable
ENV_NAMES = {
    "district": "DISTRICT_ID",
    "school_year": "SCHOOL_YEAR",
    "reset_date": "RESET_DATE",
    "product": "PRODUCT",
    "database_url": "DATABASE_URL",
    "archive_uri": "ARCHIVE_URI",
}


def add_options(parser: argparse.ArgumentParser, *dests: str) -> None:
    """Add `--district`-style options for `dests`, each defaulting to its environment variable."""
    for dest in dests:
        parser.add_argument(
            "--" + dest.replace("_", "-"),
            dest=dest,
            metavar=ENV_NAMES[dest],
            help=f"default: ${ENV_NAMES[dest]}",
        )


def value(args: argparse.Namespace, dest: str, env: Mapping[str, str]) -> str:
    """The option if given, else the environment variable; UsageError if neither is set."""
    given: str | None = getattr(args, dest, None)
    found = given if given is not None else env.get(ENV_NAMES[dest], "")
    if not found.strip():
        flag = "--" + dest.replace("_", "-")
        raise UsageError(f"{ENV_NAMES[dest]} is not set (or pass {flag})")
    return found.strip()


# --- validation ---------------------------------------------------------------------------------


def parse_district(raw: str) -> str:
    if not re.fullmatch(DISTRICT_ID_PATTERN, raw):
        raise UsageError(f"DISTRICT_ID {raw!r} is malformed: 1-63 letters, digits, '.', '_' or '-'")
    return raw


def parse_school_year(raw: str) -> str:
    if not re.fullmatch(SCHOOL_YEAR_PATTERN, raw) or int(raw[5:]) != int(raw[:4]) + 1:
        raise UsageError(f"SCHOOL_YEAR {raw!r} is malformed: two consecutive years, e.g. 2025-2026")
    return raw


def parse_reset_date(raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise UsageError(f"RESET_DATE {raw!r} is not a date (YYYY-MM-DD)") from None


def parse_product(raw: str) -> ProductPolicy:
    try:
        return load_catalog().policy(raw)
    except KeyError as exc:
        raise UsageError(f"PRODUCT: {exc.args[0]}") from None


def target(args: argparse.Namespace, env: Mapping[str, str]) -> Target:
    """The validated district, school year, reset date and product of an archive or reset."""
    district_id = parse_district(value(args, "district", env))
    school_year = parse_school_year(value(args, "school_year", env))
    reset_date = parse_reset_date(value(args, "reset_date", env))
    product = value(args, "product", env)
    return Target(district_id, school_year, product, reset_date, parse_product(product))


def archive_key(args: argparse.Namespace, env: Mapping[str, str]) -> ArchiveKey:
    """The validated district, school year and product of an existing archive."""
    district_id = parse_district(value(args, "district", env))
    school_year = parse_school_year(value(args, "school_year", env))
    product = value(args, "product", env)
    parse_product(product)
    return ArchiveKey(district_id, school_year, product)


def database(args: argparse.Namespace, env: Mapping[str, str]) -> Database:
    """The validated DATABASE_URL (a postgresql:// URL or libpq key=value string), with the password from
    DATABASE_PASSWORD_FILE when set, and the session limits of the environment."""
    url = value(args, "database_url", env)
    shown = redaction.describe(url)
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", url)
    if scheme is not None and scheme.group(1) not in DATABASE_SCHEMES:
        raise UsageError(f"DATABASE_URL ({shown}) is not a postgresql:// URL")
    if not redaction.plausible(url):  # libpq's own message may quote the password: never relayed
        raise UsageError(
            "DATABASE_URL is malformed (libpq cannot parse it, or it reads part of it as host, port or "
            "database: percent-encode '/', '@' and '%' in a URL's password, or use DATABASE_PASSWORD_FILE)"
        )
    limits = session_limits(env)
    password_file = env.get(PASSWORD_FILE_ENV)
    if not password_file:
        return Database(url, limits=limits)
    return Database(url, read_password(password_file), limits)


def read_password(path: str, source: str = PASSWORD_FILE_ENV) -> str:
    """A mounted Secret file's password (one trailing newline dropped); UsageError, naming where the
    path came from, if unreadable."""
    try:
        return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise UsageError(f"{source} {path}: {exc.strerror}") from None


def known_secrets(argv: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """Every secret a step was given: connection strings with passwords (in the environment or on the
    command line), their passwords, the password file's content, and the S3 secret key. For scrubbing
    error texts."""
    found = redaction.secrets_in([env.get(ENV_NAMES["database_url"]), *argv])
    if env.get(S3_SECRET_ENV):
        found.append(env[S3_SECRET_ENV])
    password_file = env.get(PASSWORD_FILE_ENV)
    if password_file:
        with contextlib.suppress(UsageError):  # unreadable: nothing of it can be in a message
            found.append(read_password(password_file))
    return found
