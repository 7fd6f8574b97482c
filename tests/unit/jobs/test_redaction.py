"""No password leaves the Job through a description of its connection string or an error text."""

from __future__ import annotations

import argparse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollover.jobs import config, redaction
from rollover.jobs.errors import UsageError
from tests.unit.jobs.passwords import FORMS, credentials, passwords, spellings

pytestmark = pytest.mark.unit


def namespace() -> argparse.Namespace:
    return argparse.Namespace(database_url=None)


@pytest.mark.parametrize(
    ("conninfo", "described"),
    [
        (
            "postgresql://rollover:S3cr#t?pw@db.internal:5432/roster",
            "host=db.internal port=5432 dbname=roster",
        ),
        ("postgresql://u:p%40ss@h/db?sslmode=require&password=x", "host=h dbname=db"),
        ("host=/run/pg dbname=roster user=u password='a b'", "host=/run/pg dbname=roster"),
        ("postgresql://u:p@[::1]:5432,h2:5433/db", "host=::1,h2 port=5432,5433 dbname=db"),
        ("postgresql://", "(libpq defaults)"),
        ("postgresql://u:p%zz@h/db", "<unparseable connection string>"),
        ("postgresql://u:ab/cd@h/db", "<unparseable connection string>"),  # libpq: host u, port ab
    ],
)
def test_a_connection_string_is_described_by_host_port_and_database_only(
    conninfo: str, described: str
) -> None:
    assert redaction.describe(conninfo) == described


def test_scrub_replaces_the_longest_secret_first() -> None:
    url = "postgresql://u:pw@h/db"

    assert redaction.scrub(f"bad {url}, pw", [url, "pw"]) == "bad ***, ***"


@given(password=passwords, form=st.sampled_from(FORMS))
def test_no_password_in_any_description_or_usage_error(password: str, form: str) -> None:
    given_ = credentials(form, "rollover", password, "db.internal", 5432, "roster")
    env = {"DATABASE_URL": given_.database_url}

    try:
        db = config.database(namespace(), env)
    except UsageError as exc:  # refused before any connection: the message quotes nothing of the URL
        shown = str(exc)
    else:
        shown = db.redacted
        assert shown == "host=db.internal port=5432 dbname=roster"
    assert not any(spelling in shown for spelling in spellings(password))
    if given_.password_file is None:  # error texts get the whole string scrubbed, whatever libpq made of it
        assert given_.database_url in config.known_secrets([], env)


@given(password=passwords)
def test_every_well_formed_spelling_reaches_libpq_intact(password: str) -> None:
    for form in ("url-encoded", "key-value"):
        url = credentials(form, "rollover", password, "db", 5432, "roster").database_url

        assert config.database(namespace(), {"DATABASE_URL": url}).params()["password"] == password
