"""The controller's one place for failures of the API: which are retried, how each is told in one
log line, and how long to wait before the next try.

The reconciler, the informers and the leader election all retry through here, so a 429 from API
priority and fairness, a plain-text 5xx from a proxy or a dropped connection is handled the same way
wherever it happens (controller-runtime keeps this in one package for the same reason). The notifier
waits between failed deliveries with the same `Backoff`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx2
from lightkube import ApiError

log = logging.getLogger(__name__)

#: Errors a live cluster produces (conflicts, throttling, an apiserver restart, an etcd hiccup):
#: retried, one line logged. A 429 from API priority and fairness is plain text, so it arrives as
#: HTTPStatusError, and so does a 5xx from a proxy in front of the apiserver.
RETRIABLE: tuple[type[Exception], ...] = (ApiError, httpx2.TransportError, httpx2.HTTPStatusError)
#: Answers that no retry can change: the operator is not allowed (RBAC) or the resource is not served.
FOR_GOOD = frozenset({401, 403, 404, 405})
THROTTLED, DEFAULT_RETRY_AFTER_S = 429, 1.0


def status_code(exc: BaseException) -> int | None:
    """The HTTP status of an API failure, if it had one."""
    if isinstance(exc, ApiError):
        return int(exc.status.code or 0) or None
    response = _response(exc)
    return response.status_code if response is not None else None


def is_retriable(exc: BaseException) -> bool:
    """Whether trying again may succeed."""
    return isinstance(exc, RETRIABLE) and status_code(exc) not in FOR_GOOD


def describe(exc: BaseException) -> str:
    """One line for an API failure (never a whole response body)."""
    response = _response(exc)
    if response is not None:
        return f"HTTP {response.status_code} {response.reason_phrase}"
    return f"{type(exc).__name__}: {exc}"


def retry_after(exc: BaseException) -> float | None:
    """Seconds the apiserver asked us to wait when it throttled us (429), else None."""
    if status_code(exc) != THROTTLED:
        return None
    seconds: float | None = None
    response = _response(exc)
    if isinstance(exc, ApiError):
        seconds = exc.status.details.retryAfterSeconds if exc.status.details else None
    elif response is not None:
        header = response.headers.get("Retry-After", "")
        seconds = float(header) if header.isdigit() else None
    return float(seconds or DEFAULT_RETRY_AFTER_S)


def _response(exc: BaseException) -> httpx2.Response | None:
    """The HTTP response an API failure came with. An ApiError raised for an error event inside a
    watch stream (an etcd failure under the watch) has none: it is one line of a 200 response."""
    return exc.response if isinstance(exc, httpx2.HTTPStatusError) else None


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff: `first` after one failure, doubling up to `cap`."""

    first: float = 0.5
    cap: float = 10.0

    def delay(self, failures: int) -> float:
        """Seconds to wait after `failures` consecutive failures (at least one)."""
        return float(min(self.cap, self.first * 2 ** (max(1, failures) - 1)))

    def after(self, exc: BaseException | None, failures: int) -> tuple[int, float]:
        """After `failures` earlier failures and now `exc` (None: a failure without an exception): the
        count of failures and the wait. A throttling apiserver's wait is taken (with jitter, so the
        herd it turned away does not return at once) and does not count: throttling is no sign that
        this caller is failing. Anything else counts, and waits the backoff for the new count."""
        throttled_for = retry_after(exc) if exc is not None else None
        if throttled_for is not None:
            return failures, jittered(throttled_for)
        return failures + 1, self.delay(failures + 1)


def jittered(seconds: float) -> float:
    """Between `seconds` and twice that, at random: a throttled herd does not return at once."""
    return seconds * (1 + random.random())  # noqa: S311 - jitter, not secrets


async def until_done(attempt: Callable[[], Awaitable[None]], what: str, backoff: Backoff) -> None:
    """Run `attempt` until it succeeds: API failures are waited out with `backoff`, one warning per
    failed attempt (even a 403: RBAC applied in the same release may not have reached the apiserver
    yet); any other failure is raised."""
    failures = 0
    while True:
        try:
            await attempt()
            return
        except RETRIABLE as exc:
            failures, delay = backoff.after(exc, failures)
            log.warning("%s failed (%s); retrying in %.1fs", what, describe(exc), delay)
            await asyncio.sleep(delay)
