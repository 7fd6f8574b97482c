"""A step's inputs: options over environment, validation with one-line messages, redaction."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import pytest

from rollover.jobs import config
from rollover.jobs.destination import s3_options
from rollover.jobs.errors import UsageError

pytestmark = pytest.mark.unit

ENV = {
    "DISTRICT_ID": "springfield-il",
    "SCHOOL_YEAR": "2025-2026",
    "RESET_DATE": "2026-07-19",
    "PRODUCT": "imagine-math",
    "DATABASE_URL": "postgresql://rollover:pw@db:5432/roster",
}


def namespace(**options: str | None) -> argparse.Namespace:
    return argparse.Namespace(**{dest: options.get(dest) for dest in config.ENV_NAMES})


def test_the_environment_supplies_what_the_options_do_not() -> None:
    target = config.target(namespace(), ENV)

    assert (target.district_id, target.school_year, target.product) == (
        "springfield-il",
        "2025-2026",
        "imagine-math",
    )
    assert target.reset_date == dt.date(2026, 7, 19)
    assert target.policy.student_data_export


def test_an_option_wins_over_its_environment_variable() -> None:
    target = config.target(namespace(product="twig-science", district="shelbyville"), ENV)

    assert (target.product, target.district_id) == ("twig-science", "shelbyville")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"DISTRICT_ID": "  "}, "DISTRICT_ID is not set (or pass --district)"),
        ({"DISTRICT_ID": "../etc"}, "DISTRICT_ID '../etc' is malformed"),
        ({"SCHOOL_YEAR": "2025-2025"}, "SCHOOL_YEAR '2025-2025' is malformed: two consecutive years"),
        ({"RESET_DATE": "2026-02-30"}, "RESET_DATE '2026-02-30' is not a date (YYYY-MM-DD)"),
        (
            {"PRODUCT": "nope"},
            "PRODUCT: unknown product 'nope'; known: imagine-math, imagine-math-facts, twig-science",
        ),
    ],
)
def test_malformed_inputs_are_usage_errors(override: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        config.target(namespace(), {**ENV, **override})

    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "mysql://u:pw@db/roster",
            "DATABASE_URL (<unparseable connection string>) is not a postgresql:// URL",
        ),
        ("postgresql://u:pw@db/x?badparam=1", "DATABASE_URL is malformed (libpq cannot parse it"),
        ("postgresql://u:p%zzw@db/x", "DATABASE_URL is malformed (libpq cannot parse it"),
        ("postgresql://u:p/w@db/x", "DATABASE_URL is malformed (libpq cannot parse it"),
    ],
    ids=["scheme", "bad-parameter", "bad-percent-encoding", "unencoded-slash"],
)
def test_a_bad_database_url_is_a_usage_error_without_its_password(url: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        config.database(namespace(), {"DATABASE_URL": url})

    assert str(caught.value).startswith(message)
    assert "pw" not in str(caught.value) and "p%zzw" not in str(caught.value)


def test_a_key_value_conninfo_is_accepted() -> None:
    db = config.database(namespace(), {"DATABASE_URL": "host=db dbname=roster user=u password='a b'"})

    assert (db.params()["password"], db.redacted) == ("a b", "host=db dbname=roster")


def test_the_password_file_overrides_the_url(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("from-the-secret\n")

    db = config.database(namespace(), {**ENV, config.PASSWORD_FILE_ENV: str(secret)})

    assert db.params()["password"] == "from-the-secret"
    assert db.redacted == "host=db port=5432 dbname=roster"


def test_a_missing_password_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"DATABASE_PASSWORD_FILE .*missing: No such file"):
        config.database(namespace(), {**ENV, config.PASSWORD_FILE_ENV: str(tmp_path / "missing")})


def test_known_secrets_are_the_url_its_password_and_the_password_file(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("from-the-secret\n")
    env = {**ENV, config.PASSWORD_FILE_ENV: str(secret)}

    found = config.known_secrets(["archive", "--database-url", "postgresql://x:other@h/db"], env)

    assert sorted(found) == sorted(
        [ENV["DATABASE_URL"], "pw", "postgresql://x:other@h/db", "other", "from-the-secret"]
    )


def test_the_s3_secret_key_is_a_known_secret_and_reaches_s3fs_from_the_jobs_environment() -> None:
    env = {
        **ENV,
        "AWS_SECRET_ACCESS_KEY": "s3-secret",
        "AWS_ACCESS_KEY_ID": "id",
        "AWS_ENDPOINT_URL": "http://s",
    }

    assert "s3-secret" in config.known_secrets([], env)
    assert s3_options(env) == {"endpoint_url": "http://s", "key": "id", "secret": "s3-secret"}
    assert s3_options(ENV) == {}
