"""The API client the operator (and the benchmarks' floor) talks to the apiserver with."""

from __future__ import annotations

import httpx2
from lightkube import AsyncClient, KubeConfig
from lightkube.config.client_adapter import verify_cluster

#: Seconds an idle connection is kept: longer than the gaps between a herd's bursts.
KEEPALIVE_S = 60.0


def pooled_client(
    config: KubeConfig, connections: int, field_manager: str | None = None, *, timeout_s: float | None = None
) -> AsyncClient:
    """A lightkube client that keeps up to `connections` TLS connections open for reuse.

    httpx's default pool opens up to 100 connections but keeps only 20 idle: with more requests in
    flight than that, every extra one paid a TCP and TLS handshake and a close, which was a fifth of
    the operator's CPU in the herd profile. A transport of our own is the only way to set the pool,
    so it carries the kubeconfig's TLS context (CA and client certificate) itself. `timeout_s`
    replaces lightkube's default timeouts (10 s for each of connect, read, write and pool wait).
    """
    single = config.get()
    assert single is not None and single.user is not None, "kubeconfig without a current context and user"
    limits = httpx2.Limits(
        max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=KEEPALIVE_S
    )
    transport = httpx2.AsyncHTTPTransport(
        verify=verify_cluster(single.cluster, single.user, single.abs_file), limits=limits
    )
    timeout = httpx2.Timeout(timeout_s) if timeout_s is not None else None  # None: lightkube's default
    return AsyncClient(config, field_manager=field_manager, transport=transport, timeout=timeout)
