"""Keeping database credentials inside the Job: what a connection string may show, and scrubbing the rest.

The result of a step ends up in `status.jobs[].result` of a DistrictRollover, which every reader of
rollovers sees, so a connection string is described only by libpq's own parse of it (a URL parser
disagrees with libpq: libpq takes `#` and `?` unencoded in a password), and only by host, port and
database. Error texts that might quote a connection string (libpq's parse errors do, verbatim) are
scrubbed of every secret the Job was given before they are printed or reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import psycopg
import psycopg.conninfo

UNPARSEABLE = "<unparseable connection string>"
#: What libpq's parse of a connection string raises: a ProgrammingError (quoting the offending text,
#: which may be the password), or UnicodeDecodeError when percent-decoding yields bytes that are not UTF-8.
PARSE_ERRORS = (psycopg.ProgrammingError, UnicodeDecodeError)
MASK = "***"
#: What a description may show; user, password and every other parameter stay out.
SHOWN = ("host", "port", "dbname")
#: A value of a shown parameter must look like one: anything else means libpq read a password (an
#: unencoded '/' or '@' in a URL's userinfo) as host, port or database, and it must not be shown.
_PLAUSIBLE = {
    "host": re.compile(r"[A-Za-z0-9._:,/%-]*"),
    "port": re.compile(r"[0-9,]*"),
    "dbname": re.compile(r"[A-Za-z0-9._$-]*"),
}


def describe(conninfo: str) -> str:
    """`host=H port=P dbname=D` as libpq reads `conninfo` (URL or key=value); never user or password."""
    try:
        params = psycopg.conninfo.conninfo_to_dict(conninfo)
    except PARSE_ERRORS:
        return UNPARSEABLE
    shown = {k: str(params[k]) for k in SHOWN if params.get(k) is not None}
    if not all(_PLAUSIBLE[k].fullmatch(v) for k, v in shown.items()):
        return UNPARSEABLE
    return " ".join(f"{k}={v}" for k, v in shown.items()) or "(libpq defaults)"


def plausible(conninfo: str) -> bool:
    """Whether libpq parses `conninfo` into a host, port and database that can be shown as they are."""
    return describe(conninfo) != UNPARSEABLE


def secrets_in(candidates: Iterable[str | None]) -> list[str]:
    """The secrets among `candidates` (connection strings, arguments): each connection string that carries
    a password or may hide one (libpq cannot parse it, or reads part of it as host, port or database),
    and the password libpq reads from it."""
    found = []
    for text in candidates:
        if not text or not text.strip():
            continue
        try:
            password = psycopg.conninfo.conninfo_to_dict(text).get("password")
        except PARSE_ERRORS:
            # Not a connection string: secret only if it looks like one (a malformed DATABASE_URL).
            if "://" in text or "password" in text.lower():
                found.append(text)
            continue
        if password:
            found += [text, str(password)]
        elif not plausible(text):
            found.append(text)
    return found


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every occurrence of each secret replaced by ***; longest first, so a password inside
    a connection string never leaves part of that string behind."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if secret:
            text = text.replace(secret, MASK)
    return text
