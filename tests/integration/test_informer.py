"""The slim informer against the real apiserver: LIST then WATCH, bookmarks, and recovery from 410
Gone."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
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
    client = AsyncClient(KubeConfig.from_file(control_plane.kubeconfig))
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
