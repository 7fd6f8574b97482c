"""Every session of a step gets timeouts and keepalives, from the environment or sane defaults."""

from __future__ import annotations

import psycopg.conninfo
import pytest

from rollover.jobs.config import Database
from rollover.jobs.errors import UsageError
from rollover.jobs.limits import session_limits

pytestmark = pytest.mark.unit


def test_the_defaults_wait_briefly_for_locks_and_generously_for_statements() -> None:
    limits = session_limits({})

    assert limits.settings == {
        "lock_timeout": "1min",
        "idle_in_transaction_session_timeout": "30min",
        "statement_timeout": "4h",
        "tcp_keepalives_idle": "60",
        "tcp_keepalives_interval": "10",
        "tcp_keepalives_count": "6",
    }
    assert limits.keepalives == dict(keepalives_idle="60", keepalives_interval="10", keepalives_count="6")


def test_the_environment_overrides_each_limit() -> None:
    limits = session_limits({"DATABASE_STATEMENT_TIMEOUT": "12h", "DATABASE_KEEPALIVES_IDLE": "30"})

    assert (limits.settings["statement_timeout"], limits.keepalives["keepalives_idle"]) == ("12h", "30")
    assert limits.settings["tcp_keepalives_idle"] == "30"  # the server's side too


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_LOCK_TIMEOUT": "soon"}, "DATABASE_LOCK_TIMEOUT 'soon' is not a duration"),
        ({"DATABASE_STATEMENT_TIMEOUT": "0"}, "DATABASE_STATEMENT_TIMEOUT '0' is not a duration"),
        ({"DATABASE_KEEPALIVES_COUNT": "-1"}, "DATABASE_KEEPALIVES_COUNT '-1' is not a positive number"),
    ],
)
def test_a_malformed_limit_is_a_usage_error(env: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=f"^{message}"):
        session_limits(env)


def test_the_connection_carries_the_limits_after_the_urls_own_options() -> None:
    db = Database("postgresql://u:pw@db/roster?options=-c%20search_path%3Droster&keepalives_idle=999")

    params = db.params()

    assert params["keepalives"] == "1" and params["keepalives_idle"] == "60"
    assert params["options"].startswith("-c search_path=roster -c lock_timeout=1min ")
    assert psycopg.conninfo.conninfo_to_dict(psycopg.conninfo.make_conninfo(**params))["password"] == "pw"
