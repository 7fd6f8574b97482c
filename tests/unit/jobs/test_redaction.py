"""No password leaves the Job through a description of its connection string or an error text."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollover.jobs import config, redaction
from rollover.jobs.destination import open_destination
from rollover.jobs.errors import UsageError
from rollover.jobs.main import main
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


#: Archive URIs that carry a secret, raw as a platform admin might paste them (an AWS secret key holds
#: '/' and '+', so a URL parser may take part of it for the path).
ARCHIVE_URIS_WITH_SECRETS = (
    "s3://AKIAEXAMPLE:{secret}@rollover-archives/district",
    "s3://rollover-archives/district?aws_secret_access_key={secret}",
    "https://archive:{secret}@store.example/rollover",
    "file://backup:{secret}@/archive",
    "s3://rollover-archives/district#{secret}",
)


@given(secret=passwords, form=st.sampled_from(ARCHIVE_URIS_WITH_SECRETS))
def test_an_archive_uri_with_credentials_is_refused_and_described_by_its_scheme_only(
    secret: str, form: str
) -> None:
    uri = form.format(secret=secret)

    with pytest.raises(UsageError) as refused:
        open_destination(uri, {})

    assert redaction.describe_uri(uri) == uri.split("://")[0] + "://***"
    assert not any(spelling in str(refused.value) for spelling in spellings(secret))


@pytest.mark.parametrize("form", ARCHIVE_URIS_WITH_SECRETS)
def test_no_archive_uri_secret_reaches_the_job_s_result_or_log(
    form: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    log = tmp_path / "result.json"
    env = {
        "DISTRICT_ID": "IL-0631950", "SCHOOL_YEAR": "2026-2027", "PRODUCT": "imagine-math",
        "RESET_DATE": "2027-07-16", "DATABASE_URL": "postgresql://rollover@db.internal/roster",
        "ARCHIVE_URI": form.format(secret=secret),
    }  # fmt: skip

    code = main(["archive", "--termination-log", str(log)], env=env)

    assert code == 2
    assert "no user, key, query or fragment in the URI" in json.loads(log.read_text())["error"]
    assert secret not in log.read_text() and secret not in caplog.text
    assert "wJalrXUtnFEMI" not in log.read_text() + caplog.text


@pytest.mark.parametrize("uri", ["s3://rollover-archives/district-il", "file:///archive", "file:///"])
def test_an_archive_uri_without_credentials_is_shown_as_it_is(uri: str) -> None:
    assert redaction.describe_uri(uri) == uri
