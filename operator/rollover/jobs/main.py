"""`rollover-job`: the archive, reset, certify and purge Jobs, and the migrate, seed, restore, export and
check-ids tools.

A Job runs `rollover-job` with STEP (and the other inputs) in its environment, or names the step on
the command line. Exit codes: 0 success, 1 the step failed or refused (nothing deleted), 2 bad input.
Progress goes to stderr; the JSON result goes to the termination log (--termination-log to change it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pyrage import x25519

from rollover.jobs import (
    archive,
    certificate,
    certify,
    config,
    encryption,
    grants,
    ledger,
    migrate,
    preflight,
    redaction,
    reset,
    restore,
    result,
    seed,
)
from rollover.jobs.destination import open_destination
from rollover.jobs.errors import EXIT_FAILED, EXIT_OK, JobError, StepFailed, UsageError
from rollover.jobs.store import connect, one_line, require_district
from rollover.labels import JOB_SECRETS_ENV

log = logging.getLogger("rollover.jobs")
STEP_ENV = "STEP"
RETENTION_ENV = "RETENTION_UNTIL"
Outcome = tuple[int, dict[str, Any]]
Handler = Callable[[argparse.Namespace, Mapping[str, str]], Outcome]


class _Parser(argparse.ArgumentParser):
    """Usage errors as UsageError: one line, exit 2, and still a result in the termination log."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument(
        "--termination-log",
        type=Path,
        metavar="PATH",
        help=f"where the JSON result goes (default: {result.TERMINATION_LOG}, when it exists)",
    )
    parser = _Parser(prog="rollover-job", description=__doc__.split("\n\n")[0] if __doc__ else None)
    steps = parser.add_subparsers(dest="step", required=True, metavar="STEP", parser_class=_Parser)

    p = steps.add_parser("migrate", parents=[common], help="apply the roster store's schema migrations")
    config.add_options(p, "database_url")
    p.set_defaults(func=_migrate)

    p = steps.add_parser(
        "grant", parents=[common], help="create a database role that can act on one district's rows only"
    )
    config.add_options(p, "district", "database_url")
    p.add_argument("--role", required=True, help="the role's name (created if it does not exist)")
    p.add_argument("--password-file", type=Path, metavar="FILE", help="set the role's password from FILE")
    p.set_defaults(func=_grant)

    p = steps.add_parser(
        "seed", parents=[common], help="generate a realistic district (demos, tests, benchmarks)"
    )
    config.add_options(p, "district", "school_year", "database_url")
    p.add_argument("--students", type=int, required=True, help="number of students")
    p.add_argument("--seed", type=int, default=0, help="the same seed gives the same rows (default 0)")
    p.set_defaults(func=_seed)

    for name, func, text in (
        ("preflight", _preflight, "check the store and the archive destination; count what would change"),
        ("archive", _archive, "archive the product's year data for the district"),
        ("reset", _reset, "delete the product's archived year data, per the catalog"),
    ):
        p = steps.add_parser(name, parents=[common], help=text)
        config.add_options(
            p, "district", "school_year", "reset_date", "product", "database_url", "archive_uri"
        )
        p.set_defaults(func=func)
        if name == "archive":
            p.add_argument(
                "--supersede",
                action="store_true",
                help="move an existing archive aside (kept) and archive afresh, e.g. after a late sync",
            )

    p = steps.add_parser(
        "restore", parents=[common], help="decrypt, verify and load an archive into a new scratch schema"
    )
    config.add_options(p, "district", "school_year", "product", "database_url", "archive_uri")
    _add_identity_option(p)
    p.add_argument("--into-schema", required=True, metavar="NAME", help="the new schema to load into")
    p.set_defaults(func=_restore)

    p = steps.add_parser(
        "export", parents=[common], help="write an archive's Student Data Export, decrypted, to a directory"
    )
    config.add_options(p, "district", "school_year", "product", "archive_uri")
    _add_identity_option(p)
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="directory to write it to")
    p.set_defaults(func=_export)

    for name, func, text in (
        ("certify", _certify, "write the cycle's signed certificate of deletion, once every reset succeeded"),
        ("purge", _purge, "delete the cycle's archives, prove them gone, write the signed purge certificate"),
    ):
        p = steps.add_parser(name, parents=[common], help=text)
        # PRODUCT: the cycle's products, comma-separated.
        config.add_options(p, "district", "school_year", "product", "archive_uri")
        if name == "certify":
            config.add_options(p, "database_url")
            p.add_argument(
                "--retention-until",
                metavar="DATE",
                help=f"when the archive is due for purge (default: ${RETENTION_ENV})",
            )
        p.add_argument(
            "--key-file",
            type=Path,
            metavar="PEM",
            help=f"Ed25519 private key that signs the certificate (default: ${certificate.KEY_FILE_ENV})",
        )
        p.set_defaults(func=func)

    p = steps.add_parser(
        "check-ids", parents=[common], help="report sourcedIds of a users.csv that are retired"
    )
    p.add_argument("users_csv", type=Path, metavar="USERS_CSV", help="a OneRoster 1.1 users.csv")
    config.add_options(p, "district", "database_url")
    p.set_defaults(func=_check_ids)
    return parser


# --- steps --------------------------------------------------------------------------------------


def _migrate(args: argparse.Namespace, env: Mapping[str, str]) -> Outcome:
    with connect(config.database(args, env), "rollover-job migrate") as conn:
        return EXIT_OK, migrate.migrate(conn)


def _grant(args: argparse.Namespace, env: Mapping[str, str]) -> Outcome:
    district = config.parse_district(config.value(args, "district", env))
    role = grants.parse_role(args.role)
    password = (
        None if args.password_file is None else config.read_password(args.password_file, "--password-file")
    )
    with connect(config.database(args, env), "rollover-job grant") as conn:
        migrate.require_current(conn)
        return EXIT_OK, grants.grant(conn, district, role, password)


def _seed(args: argparse.Namespace, env: Mapping[str, str]) -> Outcome:
    district = config.parse_district(config.value(args, "district", env))
    year = (
        args.school_year or env.get(config.ENV_NAMES["school_year"]) or _current_school_year(dt.date.today())
    )
    year = config.parse_school_year(year)
    with connect(config.database(args, env), "rollover-job seed") as conn:
        migrate.require_current(conn)
        return EXIT_OK, seed.seed(
            conn, district_id=district, school_year=year, students=args.students, seed=args.seed
        )


def _current_school_year(today: dt.date) -> str:
    first = today.year if today.month >= 7 else today.year - 1
    return f"{first}-{first + 1}"


def _preflight(args: argparse.Namespace, env: Mapping[str, str]) -> Outcome:
    target = config.target(args, env)
    _require_secret_settings(args, env)
    db = config.database(args, env)
    dest = open_destination(config.value(args, "archive_uri", env), env)
    return EXIT_OK, {**_identity(target), **preflight.run(target, db, dest)}


def _require_secret_settings(args: argparse.Namespace, env: Mapping[str, str]) -> None:
    """StepFailed naming the Secrets of the Job when a setting they provide is absent: the preflight's
    Secret references are optional, so a missing Secret shows here as unset variables."""
    secrets = [name for name in env.get(JOB_SECRETS_ENV, "").split(",") if name]
    if not secrets:
        return
    missing = [
        config.ENV_NAMES[dest]
        for dest in ("database_url", "archive_uri")
        if getattr(args, dest, None) is None and not env.get(config.ENV_NAMES[dest], "").strip()
    ]
    password_file = env.get(config.PASSWORD_FILE_ENV)
    if password_file and not Path(password_file).is_file():
        missing.append(f"{config.PASSWORD_FILE_ENV} ({password_file})")
    if missing:
        raise StepFailed(
            f"{', '.join(missing)} not set: the Job reads them from Secret(s) {', '.join(secrets)} in this "
            "namespace; is it missing, or does it lack the key? The archive and reset Jobs would not start"
        )


def _archive(args: argparse.Namespace, env: Mapping[str, str]) -> Outcome:
    target, db = config.target(args, env), config.database(args, env)
    dest = open_destination(config.value(args, "archive_uri", env), env)
    recipients = encryption.recipients_from(env)
    outcome = archive.run(target, db, dest, supersede=args.supersede, recipients=recipients)
    return EXIT_OK, {**_identity(target), **outcome}


def _reset(args: argparse.Namespace, env: Mapping[str, str]) -> Outcome:
    target, db = config.target(args, env), config.database(args, env)
    dest = open_destination(config.value(args, "archive_uri", env), env)
    return EXIT_OK, {**_identity(target), **reset.run(target, db, dest)}


def _add_identity_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--identity-file",
        type=Path,
        metavar="FILE",
        help="age identity file (the private key, AGE-SECRET-KEY-1…) of an encrypted archive",
    )


def _identities(args: argparse.Namespace) -> list[x25519.Identity]:
    return [] if args.identity_file is None else encryption.read_identities(args.identity_file)


def _restore(args: argparse.Namespace, env: Mapping[str, str]) -> Outcome:
    key, db = config.archive_key(args, env), config.database(args, env)
    schema = restore.parse_schema(args.into_schema)
    dest = open_destination(config.value(args, "archive_uri", env), env)
    return EXIT_OK, {**_identity(key), **restore.restore(key, db, dest, _identities(args), schema)}


def _export(args: argparse.Namespace, env: Mapping[str, str]) -> Outcome:
    key = config.archive_key(args, env)
    dest = open_destination(config.value(args, "archive_uri", env), env)
    return EXIT_OK, {**_identity(key), **restore.export(key, dest, _identities(args), args.out)}


def _cycle(args: argparse.Namespace, env: Mapping[str, str]) -> certify.Cycle:
    district = config.parse_district(config.value(args, "district", env))
    year = config.parse_school_year(config.value(args, "school_year", env))
    products = tuple(dict.fromkeys(p.strip() for p in config.value(args, "product", env).split(",")))
    for product in products:
        config.parse_product(product)
    return certify.Cycle(district, year, products)


def _signing_key(args: argparse.Namespace, env: Mapping[str, str]) -> Ed25519PrivateKey:
    path = args.key_file or (
        Path(env[certificate.KEY_FILE_ENV]) if env.get(certificate.KEY_FILE_ENV) else None
    )
    if path is None:
        raise UsageError(f"{certificate.KEY_FILE_ENV} is not set (or pass --key-file)")
    try:
        return certificate.load_private_key(Path(path))
    except certificate.KeyUnusable as exc:
        raise UsageError(f"{certificate.KEY_FILE_ENV}: {exc}") from None


def _certify(args: argparse.Namespace, env: Mapping[str, str]) -> Outcome:
    cycle, db = _cycle(args, env), config.database(args, env)
    raw = args.retention_until or env.get(RETENTION_ENV, "")
    if not raw.strip():
        raise UsageError(f"{RETENTION_ENV} is not set (or pass --retention-until)")
    try:
        retention_until = dt.date.fromisoformat(raw.strip())
    except ValueError:
        raise UsageError(f"{RETENTION_ENV} {raw!r} is not a date (YYYY-MM-DD)") from None
    key = _signing_key(args, env)
    dest = open_destination(config.value(args, "archive_uri", env), env)
    outcome = certify.certify(cycle, db, dest, key, retention_until, dt.datetime.now(dt.UTC))
    return EXIT_OK, {"district": cycle.district_id, "schoolYear": cycle.school_year, **outcome}


def _purge(args: argparse.Namespace, env: Mapping[str, str]) -> Outcome:
    cycle, key = _cycle(args, env), _signing_key(args, env)
    dest = open_destination(config.value(args, "archive_uri", env), env)
    outcome = certify.purge(cycle, dest, key, dt.datetime.now(dt.UTC))
    return EXIT_OK, {"district": cycle.district_id, "schoolYear": cycle.school_year, **outcome}


def _identity(target: config.ArchiveKey) -> dict[str, str]:
    return {"district": target.district_id, "schoolYear": target.school_year, "product": target.product}


def _check_ids(args: argparse.Namespace, env: Mapping[str, str]) -> Outcome:
    district = config.parse_district(config.value(args, "district", env))
    path: Path = args.users_csv
    checked = 0

    def entries() -> Iterator[tuple[int, str]]:
        nonlocal checked
        for entry in ledger.read_sourced_ids(path):
            checked += 1
            yield entry

    lines: list[int] = []
    with connect(config.database(args, env), "rollover-job check-ids") as conn:
        migrate.require_current(conn)
        require_district(conn, district)
        for hit in ledger.find_retired(conn, district, entries()):
            print(hit.describe(path), flush=True)
            lines.append(hit.line)
    log.info("%s: %d sourcedIds checked, %d retired", path, checked, len(lines))
    outcome = {
        "status": "retiredIdsFound" if lines else "clean",
        "checked": checked,
        "retired": len(lines),
        "lines": lines[:100],
    }
    return (EXIT_FAILED if lines else EXIT_OK), outcome


# --- entry point --------------------------------------------------------------------------------


def _with_step(argv: list[str], env: Mapping[str, str]) -> list[str]:
    """The command line, with $STEP as the subcommand when none is given."""
    step = env.get(STEP_ENV, "").strip()
    if not step:
        return argv
    if not argv or argv[0].startswith("-"):
        return [step, *argv]
    if argv[0] != step:
        raise UsageError(f"{STEP_ENV}={step} but the command line runs {argv[0]}")
    return argv


def _setup_logging() -> None:
    root = logging.getLogger()
    if root.handlers:  # embedded (tests, another CLI): leave logging to the host
        return
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter("%(asctime)sZ %(levelname)s %(module)s: %(message)s", "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Run one step; returns the exit code."""
    _setup_logging()
    env = os.environ if env is None else env
    started = time.monotonic()
    args: argparse.Namespace | None = None
    step = None
    given = list(sys.argv[1:] if argv is None else argv)
    try:
        arguments = _with_step(given, env)
        step = arguments[0] if arguments and not arguments[0].startswith("-") else None
        args = build_parser().parse_args(arguments)
        handler: Handler = args.func
        code, outcome = handler(args, env)
    except JobError as exc:
        code, outcome = exc.exit_code, {"status": "failed", "error": str(exc)}
    except (psycopg.Error, OSError) as exc:  # the store or the volume failed mid-step
        code, outcome = EXIT_FAILED, {"status": "failed", "error": one_line(exc)}
    except KeyboardInterrupt:
        return 130
    if "error" in outcome:  # libpq's parse errors quote connection strings; no secret leaves the Job
        outcome["error"] = redaction.scrub(outcome["error"], config.known_secrets(given, env))
    if code != EXIT_OK and "error" in outcome:
        log.error("%s", outcome["error"])
    outcome = {
        "step": step,
        **outcome,
        "exitCode": code,
        "durationSeconds": round(time.monotonic() - started, 3),
    }
    log.info("result: %s", result.compact(outcome))
    result.write(outcome, getattr(args, "termination_log", None))
    return code


if __name__ == "__main__":
    sys.exit(main())
