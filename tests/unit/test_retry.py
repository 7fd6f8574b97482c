"""The controller's failure handling, for every shape an API failure arrives in: a Status answer, a
plain-text answer (API priority and fairness, a proxy), an error event inside a watch stream (no
HTTP response of its own), a dropped connection."""

from __future__ import annotations

import httpx2
import pytest
from lightkube import ApiError
from lightkube.models.meta_v1 import Status

from rollover.controller.retry import DEFAULT_RETRY_AFTER_S, describe, is_retriable, retry_after, status_code

pytestmark = pytest.mark.unit

REQUEST = httpx2.Request("GET", "https://apiserver.invalid/apis/batch/v1/cronjobs")


def answered(
    code: int, *, json: dict[str, object] | None = None, text: str = "", **headers: str
) -> httpx2.Response:
    if json is not None:
        return httpx2.Response(code, json=json, headers=headers, request=REQUEST)
    return httpx2.Response(code, text=text, headers=headers, request=REQUEST)


def status_answer(code: int, message: str, **details: object) -> ApiError:
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "code": code}
    return ApiError(REQUEST, answered(code, json=body | ({"details": details} if details else {})))


def plain_answer(code: int, text: str, **headers: str) -> httpx2.HTTPStatusError:
    return httpx2.HTTPStatusError(text, request=REQUEST, response=answered(code, text=text, **headers))


def watch_error_event(code: int, message: str) -> ApiError:
    """What lightkube raises for an ERROR line inside a watch stream: a Status without a response."""
    return ApiError(status=Status(code=code, message=message, status="Failure"))


def test_an_error_event_inside_a_watch_stream_is_retried_and_told_in_one_line() -> None:
    exc = watch_error_event(500, "etcdserver: request timed out")
    assert status_code(exc) == 500
    assert is_retriable(exc)
    assert retry_after(exc) is None
    assert describe(exc) == "ApiError: etcdserver: request timed out"


def test_a_forbidden_error_event_is_not_retried() -> None:
    assert not is_retriable(watch_error_event(403, "cronjobs is forbidden"))


def test_a_status_answer_is_told_by_its_code_never_its_body() -> None:
    exc = status_answer(500, "etcd cluster is unavailable: secret detail")
    assert status_code(exc) == 500
    assert is_retriable(exc)
    assert describe(exc) == "HTTP 500 Internal Server Error"


def test_a_throttled_status_answer_waits_what_its_details_ask() -> None:
    assert retry_after(status_answer(429, "too many requests", retryAfterSeconds=7)) == 7.0
    assert retry_after(status_answer(429, "too many requests")) == DEFAULT_RETRY_AFTER_S


def test_a_plain_text_429_waits_its_retry_after_header() -> None:
    exc = plain_answer(429, "Too many requests, please try again later.\n", **{"Retry-After": "3"})
    assert status_code(exc) == 429
    assert is_retriable(exc)
    assert retry_after(exc) == 3.0
    assert retry_after(plain_answer(429, "slow down")) == DEFAULT_RETRY_AFTER_S
    assert describe(exc) == "HTTP 429 Too Many Requests"


def test_rbac_and_unserved_resources_are_not_retried() -> None:
    for code in (401, 403, 404, 405):
        assert not is_retriable(status_answer(code, "no"))
        assert not is_retriable(plain_answer(code, "no"))


def test_a_dropped_connection_is_retried() -> None:
    exc = httpx2.RemoteProtocolError("Server disconnected without sending a response.")
    assert is_retriable(exc)
    assert status_code(exc) is None
    assert retry_after(exc) is None
    assert describe(exc) == "RemoteProtocolError: Server disconnected without sending a response."


def test_anything_else_is_not_an_api_failure() -> None:
    assert not is_retriable(KeyError("metadata"))
