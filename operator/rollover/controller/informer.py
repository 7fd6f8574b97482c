"""A slim informer: LIST one kind, then WATCH it from the list's version, handing every object to a
callback as it is read.

Every kind the operator reads is watched here rather than by kopf: DistrictRollovers, sync targets,
Jobs, Namespaces and claims. kopf keeps a memory record and runs a
worker task for every object it sees, and at start-up it queues every listed object at once:
with tens of thousands of CronJobs that was most of the operator's peak memory, and kopf's
per-event pipeline (worker, cause detection, diff base, a thread hop for sync handlers) most of its
CPU in the herd. These kinds need none of it: each event only updates a slim cache entry.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

import httpx2
from lightkube import ApiError, AsyncClient
from lightkube.core import resource as res
from lightkube.core.dictmixin import DictMixin
from lightkube.core.selector import build_selector
from lightkube.generic_resource import Generic, create_api_info

from rollover.controller.retry import (
    RETRIABLE,
    Backoff,
    describe,
    is_retriable,
    jittered,
    retry_after,
    until_done,
)

log = logging.getLogger(__name__)

PAGE_SIZE = 500
GONE = 410
#: A watch event that carries only a resourceVersion.
BOOKMARK = "BOOKMARK"
#: Waits between attempts to LIST or WATCH again.
BACKOFF = Backoff(first=0.5, cap=10.0)
#: Between opening one scope's watch stream and the next (with a namespace list): 50 a second per kind.
OPEN_STAGGER_S = 0.02
#: Server-side watch timeout, at least: the stream is re-opened from the last version it delivered.
#: Each stream draws its own, up to twice this (as client-go does): with a thousand listed namespaces
#: the streams opened together all ended together, and those whose namespace had been quiet asked for
#: a version the apiserver no longer had (410), so that every scope was listed again at once.
WATCH_TIMEOUT_S = 600
#: A stream that delivers nothing for this long is given up and resumed on a new connection. Every
#: stream asks for bookmarks, and the apiserver's watch cache sends one about every minute even to
#: a stream whose scope is quiet, so this much silence means a dead connection that was never
#: closed: the apiserver's host lost power or the network between dropped it (a half-open TCP
#: connection). HTTP/1.1 would wait on it forever, and the scope's changes would never arrive.
#: (client-go's answer is HTTP/2 health pings; on HTTP/1.1 the bookmarks serve as the heartbeat.)
WATCH_SILENCE_S = 150.0


class StreamSilent(httpx2.ReadTimeout):
    """A watch stream delivered neither an event nor a bookmark for too long: a read timeout of the
    stream as a whole, retried like any other (lightkube sets no read timeout on watches)."""


#: (event type, object): ADDED, MODIFIED or DELETED, and the object as the apiserver sent it.
Handler = Callable[[str, dict[str, Any]], None]


class SlimMetadata(DictMixin):
    """The metadata the caches read of a sync target, Job or Namespace."""

    name: str = ""
    namespace: str | None = None
    uid: str | None = None
    resourceVersion: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    ownerReferences: list[dict[str, Any]] | None = None


class SlimSpec(DictMixin):
    suspend: bool | None = None  # CronJob
    replicas: int | None = None  # Deployment


class SlimStatus(DictMixin):
    conditions: list[dict[str, Any]] | None = None  # Job


class Slim(DictMixin):
    """A sync target, Job or Namespace as the caches read it: decoded from the apiserver's JSON
    without the rest (a CronJob's template, managedFields), which was most of the start-up's
    decoding: the CronJobs are three quarters of the objects listed at 15,000 rollovers."""

    metadata: SlimMetadata
    spec: SlimSpec | None = None
    status: SlimStatus | None = None


def raw_resource(
    group: str, version: str, kind: str, plural: str, *, namespaced: bool = True, slim: bool = False
) -> type[res.NamespacedResourceG] | type[res.GlobalResource]:
    """A lightkube resource whose objects are handed on as plain dicts: no typed model is built
    per object (and lightkube's registry, which already holds the typed model, is left alone);
    `slim`: only the fields of `Slim` are decoded."""
    api_info = create_api_info(
        group, version, kind, plural, verbs=["list", "watch", "global_list", "global_watch"]
    )
    base = res.NamespacedResourceG if namespaced else res.GlobalResource
    return type(kind, (base, Slim if slim else Generic), {"_api_info": api_info})


@dataclass
class Informer:
    """One kind in some namespaces ("*" for all; "" for a cluster-scoped kind), filtered by `served`
    (and on the server by `labels`), delivered to `handle`."""

    client: AsyncClient
    resource: type[res.NamespacedResourceG] | type[res.GlobalResource]
    scopes: list[str]
    served: Callable[[str], bool]
    handle: Handler
    labels: dict[str, str] | None = None
    silence_s: float = WATCH_SILENCE_S
    _known: dict[str, set[tuple[str, str]]] = field(default_factory=dict)  # scope -> (ns, name)
    _versions: dict[str, str] = field(default_factory=dict)  # scope -> last version delivered

    async def list_all(self) -> None:
        """LIST every scope (paged), so that the caches are whole before anyone plans."""
        for scope in self.scopes:
            await self._list(scope)

    async def watch_all(self) -> None:
        """Watch every scope until cancelled (call `list_all` first). With a namespace list the
        streams are opened OPEN_STAGGER_S apart: a thousand namespaces opened at once were 4,000 TLS
        handshakes at once, which timed out (and so did the reconciles' requests) and, retried in
        step, timed out again. A stream opened later misses nothing: it starts from the listed version."""
        streams: list[asyncio.Task[None]] = []
        try:
            for scope in self.scopes:
                streams.append(asyncio.create_task(self._watch(scope), name=f"watch-{self.kind}-{scope}"))
                if len(self.scopes) > 1:
                    await asyncio.sleep(OPEN_STAGGER_S)
            await asyncio.gather(*streams)
        finally:
            for stream in streams:  # one failed for good, or we are cancelled: the others stop too
                stream.cancel()

    async def _list(self, scope: str) -> None:
        """LIST a scope; objects that vanished since the last LIST (missed while a watch was down)
        are delivered as DELETED."""
        seen: set[tuple[str, str]] = set()
        # (lightkube's overloads type namespaced and cluster-scoped kinds apart; both are listed alike.)
        listing = self.client.list(
            cast(Any, self.resource),
            namespace=scope or None,
            chunk_size=PAGE_SIZE,
            labels=cast(Any, self.labels),
        )
        async for obj in _dicts(listing):
            meta = obj["metadata"]
            if self.served(meta.get("namespace", "")):
                seen.add((meta.get("namespace", ""), meta["name"]))
                self.handle("ADDED", obj)
        for namespace, name in self._known.get(scope, set()) - seen:
            self.handle("DELETED", {"metadata": {"namespace": namespace, "name": name}})
        self._known[scope] = seen
        self._versions[scope] = listing.resourceVersion

    async def _watch(self, scope: str) -> None:
        failures = 0
        while True:
            version = self._versions[scope]
            try:
                await self._stream(scope)
            except RETRIABLE as exc:
                if isinstance(exc, ApiError) and exc.status.code == GONE:
                    # Our version was compacted away: what happened meanwhile is only in a fresh LIST.
                    log.info("watch of %s in %s expired (410 Gone); listing again", self.kind, scope)
                    await self._relist(scope)
                    failures = 0
                    continue
                if not is_retriable(exc):
                    raise  # RBAC or a resource no longer served: no retry will help
                # An apiserver restart, a dropped or dead connection, an etcd error inside the
                # stream, throttling: resume from the last version delivered.
                failures = 1 if self._versions[scope] != version else failures + 1
                # Jittered: the streams an apiserver restart cut off at once must not return at once.
                throttled_for = retry_after(exc)
                delay = jittered(throttled_for if throttled_for is not None else BACKOFF.delay(failures))
                log.warning(
                    "watch of %s in %s failed (%s); resuming in %.1fs", self.kind, scope, describe(exc), delay
                )
                await asyncio.sleep(delay)

    async def _stream(self, scope: str) -> None:
        """Deliver the events after the last known version (lightkube re-opens the stream from the
        last version it read whenever the server ends it), asking for bookmarks: the apiserver then
        tells a quiet scope's stream how far the cluster has come (every minute and before the
        stream's timeout), so that it resumes from a version the watch cache still holds instead of
        being answered 410 and listed again (1,014 of 4,000 streams, at 1,000 listed namespaces)."""
        known = self._known.setdefault(scope, set())
        # lightkube's watch() takes no allowWatchBookmarks; its request builder and watch driver do
        # (private to lightkube, which is pinned; the driver resumes from a bookmark's version too).
        generic = self.client._client
        request = generic.prepare_request(
            "list",
            res=self.resource,
            namespace=scope or None,
            watch=True,
            params={
                "timeoutSeconds": int(jittered(WATCH_TIMEOUT_S)),
                "resourceVersion": self._versions[scope],
                "labelSelector": build_selector(cast(Any, self.labels)) if self.labels else None,
                "allowWatchBookmarks": "true",
            },
        )
        async for kind, obj in _until_silent(generic.watch(request), self.silence_s):
            raw = as_dict(obj)
            meta = raw["metadata"]
            self._versions[scope] = meta["resourceVersion"]
            if kind == BOOKMARK or not self.served(meta.get("namespace", "")):
                continue
            key = (meta.get("namespace", ""), meta["name"])
            if kind == "DELETED":
                known.discard(key)
            else:
                known.add(key)
            self.handle(kind, raw)

    async def _relist(self, scope: str) -> None:
        await until_listed(lambda: self._list(scope), f"listing {self.kind}")

    @property
    def kind(self) -> str:
        return self.resource._api_info.resource.kind


async def until_listed(listing: Callable[[], Awaitable[None]], what: str) -> None:
    """Run `listing` until it succeeds: an unreachable or throttling apiserver is waited for."""
    await until_done(listing, what, BACKOFF)


async def _until_silent(events: AsyncGenerator[Any, None], silence_s: float) -> AsyncIterator[Any]:
    """`events`, until none arrives for `silence_s`: then StreamSilent (the stream is closed, and
    its connection with it: a response not read to its end is never reused)."""
    try:
        while True:
            try:
                async with asyncio.timeout(silence_s):
                    event = await anext(events)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise StreamSilent(f"no event or bookmark for {silence_s:g}s") from None
            yield event
    finally:
        await events.aclose()


async def _dicts(listing: Any) -> AsyncIterator[dict[str, Any]]:
    async for obj in listing:
        yield as_dict(obj)


def as_dict(obj: Any) -> dict[str, Any]:
    """A listed or watched object as the plain dict the handlers read."""
    return cast(dict[str, Any], obj.to_dict()) if isinstance(obj, Slim) else dict(obj)
