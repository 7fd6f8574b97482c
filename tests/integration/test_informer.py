"""The slim informer against the real apiserver: LIST then WATCH, bookmarks, recovery from 410
Gone, and from a connection that stops carrying bytes without being closed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from lightkube import AsyncClient, KubeConfig
from lightkube.resources.batch_v1 import CronJob

from rollover.controller import informer as informer_module
from rollover.controller.handlers import CRONJOBS
from rollover.controller.informer import Informer
from rollover.devcluster.objects import sync_cronjob
from tests.conftest import RunningControlPlane

pytestmark = pytest.mark.integration

WAIT_S = 30


class Seen:
    """What the informer handed over, as (event type, name)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self._changed = asyncio.Event()

    def handle(self, event: str, raw: dict[str, Any]) -> None:
        self.events.append((event, raw["metadata"]["name"]))
        self._changed.set()

    async def until(self, wanted: tuple[str, str]) -> None:
        async with asyncio.timeout(WAIT_S):
            while wanted not in self.events:
                self._changed.clear()
                await self._changed.wait()


@contextlib.asynccontextmanager
async def client_for(control_plane: RunningControlPlane) -> AsyncIterator[AsyncClient]:
    async with client_at(Path(control_plane.kubeconfig)) as client:
        yield client


@contextlib.asynccontextmanager
async def client_at(kubeconfig: Path) -> AsyncIterator[AsyncClient]:
    client = AsyncClient(KubeConfig.from_file(kubeconfig))
    try:
        yield client
    finally:
        await client.close()


def informer(client: AsyncClient, scopes: list[str], namespace: str, seen: Seen) -> Informer:
    return Informer(client, CRONJOBS, scopes, lambda ns: ns == namespace, seen.handle)


async def create(client: AsyncClient, namespace: str, name: str) -> None:
    await client.create(CronJob.from_dict(sync_cronjob(name, namespace, {"app": "sync"})))


async def test_lists_then_watches_only_served_namespaces(
    control_plane: RunningControlPlane, namespace: str
) -> None:
    seen = Seen()
    async with client_for(control_plane) as client:
        await create(client, namespace, "before")
        watched = informer(client, ["*"], namespace, seen)  # cluster-wide, filtered to one namespace
        await watched.list_all()
        assert seen.events == [("ADDED", "before")]
        task = asyncio.create_task(watched.watch_all())
        try:
            await create(client, namespace, "after")
            await seen.until(("ADDED", "after"))
            await client.patch(CronJob, "before", {"spec": {"suspend": True}}, namespace=namespace)
            await seen.until(("MODIFIED", "before"))
            await client.delete(CronJob, "after", namespace=namespace)
            await seen.until(("DELETED", "after"))
        finally:
            task.cancel()
    assert all(name in {"before", "after"} for _, name in seen.events)


async def test_gone_relists_and_reports_what_vanished_meanwhile(
    control_plane: RunningControlPlane, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A watch from a compacted version gets 410 Gone from the apiserver: the informer lists again
    and delivers the deletions it missed, then keeps watching."""
    seen = Seen()
    async with client_for(control_plane) as client:
        await create(client, namespace, "kept")
        await create(client, namespace, "vanished")
        watched = informer(client, [namespace], namespace, seen)
        await watched.list_all()
        await client.delete(CronJob, "vanished", namespace=namespace)  # while nobody watches
        watched._versions[namespace] = "1"  # older than anything the apiserver still has
        caplog.set_level(logging.INFO, logger="rollover.controller.informer")
        task = asyncio.create_task(watched.watch_all())
        try:
            await seen.until(("DELETED", "vanished"))
            await create(client, namespace, "later")
            await seen.until(("ADDED", "later"))
        finally:
            task.cancel()
    assert "expired (410 Gone); listing again" in caplog.text


async def test_a_quiet_scope_s_stream_is_kept_current_by_bookmarks(
    control_plane: RunningControlPlane, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CronJob writes in other namespaces move the CronJobs' watch cache on; the apiserver's bookmarks
    tell the stream of a namespace where nothing happens, so that it resumes from a version the
    watch cache still holds (no 410 and re-list at a thousand quiet namespaces). The apiserver
    bookmarks a stream 2 s before its timeout (shortened here from 10 minutes to seconds) with the
    version its cache reached since the stream opened."""
    monkeypatch.setattr(informer_module, "WATCH_TIMEOUT_S", 4)
    seen = Seen()
    elsewhere: list[str] = []
    async with client_for(control_plane) as client:
        watched = informer(client, [namespace], namespace, seen)
        await watched.list_all()
        listed = int(watched._versions[namespace])
        task = asyncio.create_task(watched.watch_all())
        try:
            async with asyncio.timeout(WAIT_S):
                while int(watched._versions[namespace]) <= listed:
                    elsewhere.append(f"bookmark-{uuid.uuid4().hex[:8]}")
                    await create(client, "default", elsewhere[-1])
                    await asyncio.sleep(0.5)
        finally:
            task.cancel()
            for name in elsewhere:
                await client.delete(CronJob, name, namespace="default")
    assert seen.events == []  # a bookmark is no event of the namespace's


class Relay:
    """A TCP relay to the apiserver whose open connections can be made to stop carrying bytes
    without being closed: what a client sees of a half-open connection (the apiserver's host lost
    power, a NAT or load balancer forgot the flow). Connections opened later are relayed as before."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.opened = 0
        self._open: set[int] = set()
        self._dead: set[int] = set()

    async def start(self) -> asyncio.Server:
        return await asyncio.start_server(self._relay, "127.0.0.1", 0)

    def kill_open_connections(self) -> None:
        """From now on, every connection open now swallows whatever either side sends."""
        self._dead |= self._open

    async def _relay(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        connection, self.opened = self.opened, self.opened + 1
        self._open.add(connection)
        server_in, server_out = await asyncio.open_connection(*self.upstream)
        try:
            await asyncio.gather(
                self._pump(connection, client_in, server_out), self._pump(connection, server_in, client_out)
            )
        finally:
            self._open.discard(connection)
            for writer in (client_out, server_out):
                writer.close()

    async def _pump(self, connection: int, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        while chunk := await source.read(65536):
            if connection not in self._dead:
                sink.write(chunk)
                await sink.drain()
        sink.close()  # one side closed: so does the other (a dead connection's too, once the client gives up)


def through_relay(kubeconfig: Path, port: int, into: Path) -> Path:
    """A copy of `kubeconfig` that reaches the apiserver through the relay on `port`."""
    config = yaml.safe_load(kubeconfig.read_text())
    for cluster in config["clusters"]:  # the apiserver's certificate names 127.0.0.1, whatever the port
        cluster["cluster"]["server"] = f"https://127.0.0.1:{port}"
    path = into / "relayed.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


async def test_a_stream_whose_connection_goes_silent_resumes_on_a_new_one_and_misses_nothing(
    control_plane: RunningControlPlane, namespace: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Streams ask for bookmarks, so a healthy one is never silent for long; one that is has a dead
    connection, which HTTP/1.1 would wait on forever. The informer gives it up after its silence
    (shortened here from 150 s) and resumes from the last version it delivered, on a new connection:
    the CronJob created while the old connection was dead arrives."""
    silence_s = 3.0
    server = urlsplit(str(KubeConfig.from_file(control_plane.kubeconfig).get().cluster.server))
    assert server.hostname is not None and server.port is not None
    relay = Relay(server.hostname, server.port)
    relaying = await relay.start()
    relayed_config = through_relay(
        Path(control_plane.kubeconfig), relaying.sockets[0].getsockname()[1], tmp_path
    )
    seen = Seen()
    caplog.set_level(logging.WARNING, logger="rollover.controller.informer")
    async with client_for(control_plane) as direct, client_at(relayed_config) as relayed:
        watched = informer(relayed, [namespace], namespace, seen)
        watched.silence_s = silence_s
        await watched.list_all()
        task = asyncio.create_task(watched.watch_all())
        try:
            await create(direct, namespace, "before")
            await seen.until(("ADDED", "before"))  # the stream is open and just delivered: not silent
            relay.kill_open_connections()
            killed_at = asyncio.get_running_loop().time()
            await create(direct, namespace, "meanwhile")
            await seen.until(("ADDED", "meanwhile"))
            waited = asyncio.get_running_loop().time() - killed_at
        finally:
            task.cancel()
            relaying.close()
    assert waited >= silence_s, f"arrived after {waited:.1f}s: the dead connection was not what delayed it"
    assert (
        f"watch of CronJob in {namespace} failed (StreamSilent: no event or bookmark for 3s)" in caplog.text
    )
    assert relay.opened >= 2  # the resumed stream came on a new connection
    assert seen.events == [("ADDED", "before"), ("ADDED", "meanwhile")]  # nothing twice, nothing lost
