"""Keeping credentials inside the Job: what a connection string or an archive URI may show, and
scrubbing the rest.

The result of a step ends up in `status.jobs[].result` of a DistrictRollover, which every reader of
rollovers sees, so a connection string is described only by libpq's own parse of it (a URL parser
disagrees with libpq: libpq takes `#` and `?` unencoded in a password), and only by host, port and
database. Error texts that might quote a connection string (libpq's parse errors do, verbatim) are
scrubbed of every secret the Job was given before they are printed or reported. An archive URI is
quoted in results, logs and signed certificates, so one that may carry credentials (a user or key
before `@`, a signature in a query) is refused, and described by its scheme only.
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
#: What may carry credentials in a URI: userinfo (`key:secret@`, where the secret may itself hold '/',
#: so no URL parser can be trusted to find where the host starts), a query or a fragment.
_CREDENTIAL_MARKS = frozenset("@?#")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
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


def uri_may_carry_credentials(uri: str) -> bool:
    """Whether an archive URI has userinfo, a query or a fragment, any of which may hold a secret."""
    return not _CREDENTIAL_MARKS.isdisjoint(uri)


def describe_uri(uri: str) -> str:
    """The URI as it may be shown: as it is when it cannot carry credentials, else its scheme only."""
    if not uri_may_carry_credentials(uri):
        return uri
    scheme = _SCHEME.match(uri)
    return f"{scheme.group(0) if scheme else ''}{MASK}"
