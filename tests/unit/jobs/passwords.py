"""Hypothesis strategies for passwords that break naive parsers, and the connection strings carrying them.

Shared by the unit tests of redaction and the integration tests that run rollover-job against the
harness's PostgreSQL with such passwords.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from urllib.parse import quote

from hypothesis import strategies as st

#: URL and conninfo syntax (libpq takes '#' and '?' unencoded in a URL's password), quoting, spaces.
SPECIAL = "#?/@:[]% \"'\\"
passwords = st.text(alphabet=SPECIAL + string.ascii_letters + string.digits, min_size=12, max_size=40).filter(
    lambda p: len(set(p)) >= 6 and any(c in SPECIAL for c in p)  # never a substring of output by chance
)
FORMS = ("url-encoded", "url-raw", "key-value", "password-file")


@dataclass(frozen=True)
class Credentials:
    """A DATABASE_URL and, for the password-file form, the file's content."""

    database_url: str
    password_file: str | None = None


def credentials(form: str, user: str, password: str, host: str, port: int, dbname: str) -> Credentials:
    """`password` as a Job may be given it: in a URL (percent-encoded, or raw as libpq also takes it), in
    a libpq key=value string, or in a Secret file next to a URL without one."""
    if form == "url-encoded":
        return Credentials(f"postgresql://{user}:{quote(password, safe='')}@{host}:{port}/{dbname}")
    if form == "url-raw":
        return Credentials(f"postgresql://{user}:{password}@{host}:{port}/{dbname}")
    if form == "key-value":
        quoted = password.replace("\\", "\\\\").replace("'", "\\'")
        return Credentials(f"host={host} port={port} dbname={dbname} user={user} password='{quoted}'")
    if form == "password-file":
        return Credentials(f"postgresql://{user}@{host}:{port}/{dbname}", password)
    raise ValueError(form)


def spellings(password: str) -> tuple[str, ...]:
    """Every way the password could show up in output: as given, percent-encoded, conninfo-quoted."""
    return (password, quote(password, safe=""), password.replace("\\", "\\\\").replace("'", "\\'"))
