"""Kubernetes Events on a DistrictRollover: what CSMs read in `kubectl describe` and
`kubectl rollover explain`. The planner decides which Events to post; this only posts them."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from lightkube import ApiError, AsyncClient
from lightkube.models.core_v1 import EventSource, ObjectReference
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Event

from rollover import FIELD_MANAGER, GROUP, KIND, VERSION, logs
from rollover.planner import EmitEvent

log = logging.getLogger(__name__)

#: The apiserver rejects longer Event messages.
MESSAGE_MAX = 1024


async def post(client: AsyncClient, rollover: dict[str, Any], event: EmitEvent) -> None:
    """Post one Event on the rollover; a failure is worth a log line, never a failed reconcile."""
    meta = rollover["metadata"]
    now = dt.datetime.now(dt.UTC)  # events happen in real time, even under a demo clock
    try:
        await client.create(
            Event(
                metadata=ObjectMeta(
                    name=f"{meta['name']}.{uuid.uuid4().hex[:12]}", namespace=meta["namespace"]
                ),
                involvedObject=ObjectReference(
                    apiVersion=f"{GROUP}/{VERSION}",
                    kind=KIND,
                    name=meta["name"],
                    namespace=meta["namespace"],
                    uid=meta.get("uid"),
                ),
                type=event.type,
                reason=event.reason,
                message=event.message[:MESSAGE_MAX],
                source=EventSource(component=FIELD_MANAGER),
                firstTimestamp=now,
                lastTimestamp=now,
                count=1,
            ),
            field_manager=FIELD_MANAGER,
        )
    except ApiError as exc:
        log.warning(
            "could not post event %s on %s: %s",
            event.reason,
            meta["name"],
            exc,
            extra=logs.fields(meta["namespace"], meta["name"]),
        )
