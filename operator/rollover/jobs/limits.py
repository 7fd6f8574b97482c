"""Time limits of every database session of a step, so a dead or stuck Job cannot hold locks for hours.

A step holds its step lock (a session advisory lock) and, while archiving or comparing, an open
REPEATABLE READ transaction. If its pod is killed or its node vanishes, nothing tells the server: it
would keep both until the kernel gives up on the TCP connection (two hours and more by default). So
every session (ours and psql's) gets:

- TCP keepalives on both ends: libpq's `keepalives*` parameters for our side, the server's
  `tcp_keepalives_*` settings for its side, which end a dead client's session (and free its locks)
  within idle + interval x count seconds;
- `lock_timeout`: a step never queues behind another's locks for long; it fails and the Job retries;
- `idle_in_transaction_session_timeout`: a stuck (not dead) Job's transaction ends. It must outlast
  the longest stretch our session idles in a transaction while psql streams in its snapshot: the whole
  archive, or the reset's comparison (26 s and 20 s at 500,000 students, measured);
- `statement_timeout`: a last resort only. One legitimate statement may be a COPY of 7 million rows or
  a DELETE of them (the whole reset of 500,000 students took 50 s), so it is hours, not seconds.

Each is an environment variable (values in PostgreSQL's units: 90s, 30min, 2h) with a default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from rollover.jobs.errors import UsageError

#: environment variable -> (setting, default)
DURATIONS = {
    "DATABASE_LOCK_TIMEOUT": ("lock_timeout", "1min"),
    "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT": ("idle_in_transaction_session_timeout", "30min"),
    "DATABASE_STATEMENT_TIMEOUT": ("statement_timeout", "4h"),
}
#: environment variable -> (libpq parameter, server setting, default): a dead peer is noticed in
#: 60 + 10 x 6 s, two minutes
KEEPALIVES = {
    "DATABASE_KEEPALIVES_IDLE": ("keepalives_idle", "tcp_keepalives_idle", "60"),
    "DATABASE_KEEPALIVES_INTERVAL": ("keepalives_interval", "tcp_keepalives_interval", "10"),
    "DATABASE_KEEPALIVES_COUNT": ("keepalives_count", "tcp_keepalives_count", "6"),
}
_DURATION = re.compile(r"[1-9][0-9]*(ms|s|min|h|d)?")


@dataclass(frozen=True)
class SessionLimits:
    """Server settings and libpq parameters for every session of a step."""

    settings: Mapping[str, str]
    keepalives: Mapping[str, str]

    def connection_params(self, given_options: str | None = None) -> dict[str, str]:
        """libpq parameters: the client's keepalives, and the server settings as `options` (after the
        connection string's own `given_options`)."""
        return {"keepalives": "1", **self.keepalives, "options": options(self.settings, given_options)}


def session_limits(env: Mapping[str, str]) -> SessionLimits:
    """The limits from the environment, defaults for what is unset; UsageError for a malformed value."""
    settings = {}
    for name, (setting, default) in DURATIONS.items():
        raw = env.get(name, "").strip() or default
        if not _DURATION.fullmatch(raw):
            raise UsageError(f"{name} {raw!r} is not a duration (a positive number with ms, s, min, h or d)")
        settings[setting] = raw
    keepalives = {}
    for name, (parameter, setting, default) in KEEPALIVES.items():
        raw = env.get(name, "").strip() or default
        if not raw.isdigit() or int(raw) == 0:
            raise UsageError(f"{name} {raw!r} is not a positive number of seconds (or probes)")
        keepalives[parameter] = settings[setting] = str(int(raw))
    return SessionLimits(settings, keepalives)


DEFAULT_LIMITS = session_limits({})


def options(settings: Mapping[str, str], given: str | None = None) -> str:
    """libpq's `options` value setting `settings` after any `given` (ours win: later -c overrides)."""
    ours = " ".join(f"-c {k}={v}" for k, v in settings.items())
    return f"{given} {ours}" if given else ours
