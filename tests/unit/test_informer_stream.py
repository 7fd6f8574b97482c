"""A watch stream's bad moments, served by a scripted HTTP transport under lightkube: an error event
inside the stream (the apiserver's answer to an etcd failure under a watch, which the local
apiserver's watch cache never lets through) and a stream gone silent. Each resumes from the last
version delivered, without a new LIST. (A silent stream against the real apiserver, through a
connection that stops carrying bytes, is in tests/integration/test_informer.py.)"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import pytest
from lightkube import AsyncClient, KubeConfig
from lightkube.config.models import Cluster, User

from rollover.controller.handlers import CRONJOBS
from rollover.controller.informer import Informer
from rollover.devcluster.objects import sync_cronjob

pytestmark = pytest.mark.unit

NS = "district-il"
ETCD_FAILURE = {
    "kind": "Status",
    "apiVersion": "v1",
    "status": "Failure",
    "message": "etcdserver: request timed out",
    "reason": "InternalError",
    "code": 500,
}


def line(event: str, obj: dict[str, Any]) -> bytes:
    return json.dumps({"type": event, "object": obj}).encode() + b"\n"


def cronjob(name: str, version: int) -> dict[str, Any]:
    """A sync CronJob as the apiserver sends it: with its uid and version."""
    body = sync_cronjob(name, NS, {"app": "sync"})
    body["metadata"] |= {"uid": f"uid-{name}", "resourceVersion": str(version)}
    return body


async def then_nothing(*lines: bytes) -> AsyncIterator[bytes]:
    """A stream body: `lines`, then silence (the connection stays open)."""
    for chunk in lines:
        yield chunk
    await asyncio.Event().wait()


class ScriptedServer:
    """Answers the informer's LIST with an empty list at version 10, and its Nth watch request with
    the Nth scripted body; records the version each watch asked for."""

    def __init__(self, *watches: Callable[[], AsyncIterator[bytes]]) -> None:
        self.watches = list(watches)
        self.lists = 0
        self.watched_from: list[str] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.params.get("watch") != "true":
            self.lists += 1
            listing = {"kind": "CronJobList", "apiVersion": "batch/v1", "metadata": {"resourceVersion": "10"}}
            return httpx2.Response(200, json=listing | {"items": []})
        self.watched_from.append(request.url.params["resourceVersion"])
        body = self.watches.pop(0) if self.watches else then_nothing
        return httpx2.Response(200, content=body())


async def run_until(server: ScriptedServer, names: set[str], silence_s: float) -> list[tuple[str, str]]:
    """Run an informer of one namespace against `server` until it has handed over `names`."""
    seen: list[tuple[str, str]] = []
    arrived = asyncio.Event()

    def handle(event: str, raw: dict[str, Any]) -> None:
        seen.append((event, raw["metadata"]["name"]))
        if names <= {name for _, name in seen}:
            arrived.set()

    config = KubeConfig.from_one(cluster=Cluster(server="http://apiserver.invalid"), user=User())
    client = AsyncClient(config, transport=httpx2.MockTransport(server))
    informer = Informer(client, CRONJOBS, [NS], lambda ns: ns == NS, handle, silence_s=silence_s)
    await informer.list_all()
    watching = asyncio.create_task(informer.watch_all())
    try:
        async with asyncio.timeout(10):
            await arrived.wait()
    finally:
        watching.cancel()
        await client.close()
    return seen


async def test_an_error_event_inside_the_stream_resumes_from_the_last_version(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = ScriptedServer(
        lambda: then_nothing(line("ADDED", cronjob("sync-a", 11)), line("ERROR", ETCD_FAILURE)),
        lambda: then_nothing(line("ADDED", cronjob("sync-b", 12))),
    )
    with caplog.at_level(logging.WARNING, "rollover.controller.informer"):
        seen = await run_until(server, {"sync-a", "sync-b"}, silence_s=60)
    assert seen == [("ADDED", "sync-a"), ("ADDED", "sync-b")]
    assert server.watched_from == ["10", "11"]  # resumed after sync-a, not from the LIST's version
    assert server.lists == 1  # and not listed again
    assert f"watch of CronJob in {NS} failed (ApiError: etcdserver: request timed out)" in caplog.text


async def test_a_silent_stream_is_given_up_and_resumed_on_a_new_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = ScriptedServer(
        lambda: then_nothing(line("ADDED", cronjob("sync-a", 11))),
        lambda: then_nothing(line("ADDED", cronjob("sync-b", 12))),
    )
    with caplog.at_level(logging.WARNING, "rollover.controller.informer"):
        seen = await run_until(server, {"sync-a", "sync-b"}, silence_s=0.3)
    assert seen == [("ADDED", "sync-a"), ("ADDED", "sync-b")]
    assert server.watched_from[:2] == ["10", "11"]
    assert server.lists == 1
    assert "failed (StreamSilent: no event or bookmark for 0.3s)" in caplog.text


async def test_bookmarks_keep_a_quiet_stream_alive() -> None:
    """A stream that carries only bookmarks, more often than the silence allows, is never given up."""

    async def bookmarks() -> AsyncIterator[bytes]:
        for version in range(11, 41):
            yield line(
                "BOOKMARK",
                {"kind": "CronJob", "apiVersion": "batch/v1", "metadata": {"resourceVersion": str(version)}},
            )
            await asyncio.sleep(0.1)
        yield line("ADDED", cronjob("sync-a", 41))
        await asyncio.Event().wait()

    server = ScriptedServer(bookmarks)
    seen = await run_until(server, {"sync-a"}, silence_s=2.0)  # 30 bookmarks: 3 s of stream
    assert seen == [("ADDED", "sync-a")]
    assert server.watched_from == ["10"]  # one request: the stream was never given up
