"""Applying the planner's actions to the cluster, idempotently. The `cluster` package is the only code
that writes to the API: this module the targets, Jobs, status and finalizer; `events.py` the Events.

Every write uses the one field manager `district-rollover`, so GitOps tools can be told to ignore
exactly our changes (e.g. CronJob spec.suspend while a rollover is paused).
"""

from __future__ import annotations

import logging
from typing import Any

from lightkube import ApiError, AsyncClient
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.batch_v1 import CronJob, Job
from lightkube.resources.core_v1 import Pod
from lightkube.types import PatchType

from rollover import FIELD_MANAGER
from rollover.api.models import SyncTargetKind
from rollover.cluster.jobs import job_manifest
from rollover.cluster.resources import DistrictRollover
from rollover.config import OperatorConfig
from rollover.labels import FINALIZER, ORIGINAL_STATE_ANNOTATION
from rollover.observed import controller_uid, controlling_rollover
from rollover.planner import CreateJob, PauseTarget, RepairTarget, RestoreTarget

log = logging.getLogger(__name__)

_RESOURCES: dict[SyncTargetKind, type[CronJob] | type[Deployment]] = {
    SyncTargetKind.CRON_JOB: CronJob,
    SyncTargetKind.DEPLOYMENT: Deployment,
}
HTTP_NOT_FOUND, HTTP_CONFLICT = 404, 409
#: The label the Job controller puts on the pods of the Job with that UID (Kubernetes >= 1.27).
JOB_CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"


def _paused_spec(kind: SyncTargetKind) -> dict[str, Any]:
    return {"suspend": True} if kind is SyncTargetKind.CRON_JOB else {"replicas": 0}


async def pause_target(client: AsyncClient, namespace: str, action: PauseTarget) -> dict[str, Any] | None:
    """Pause and record the original state in one merge PATCH (atomic: no crash can split them).

    Like every write here, returns the object as the server stored it (None if it vanished)."""
    patch = {
        "metadata": {"annotations": {ORIGINAL_STATE_ANNOTATION: action.original.to_annotation()}},
        "spec": _paused_spec(action.kind),
    }
    return await _patch(client, action.kind, namespace, action.name, patch)


async def repair_target(client: AsyncClient, namespace: str, action: RepairTarget) -> dict[str, Any] | None:
    """Re-pause a drifted target; its original-state annotation stays as it is."""
    return await _patch(client, action.kind, namespace, action.name, {"spec": _paused_spec(action.kind)})


async def restore_target(client: AsyncClient, namespace: str, action: RestoreTarget) -> dict[str, Any] | None:
    """Put back exactly the recorded state and drop the annotation, in one PATCH."""
    original = action.original
    spec: dict[str, Any] = (
        {"suspend": bool(original.suspend)}
        if action.kind is SyncTargetKind.CRON_JOB
        else {"replicas": original.replicas if original.replicas is not None else 1}
    )
    patch = {"metadata": {"annotations": {ORIGINAL_STATE_ANNOTATION: None}}, "spec": spec}
    return await _patch(client, action.kind, namespace, action.name, patch)


async def _patch(
    client: AsyncClient, kind: SyncTargetKind, namespace: str, name: str, patch: dict[str, Any]
) -> dict[str, Any] | None:
    try:
        written = await client.patch(
            _RESOURCES[kind],
            name,
            patch,
            namespace=namespace,
            patch_type=PatchType.MERGE,
            field_manager=FIELD_MANAGER,
        )
    except ApiError as exc:
        if exc.status.code != HTTP_NOT_FOUND:
            raise
        # Deleted since we looked: nothing to pause or restore; the next pass sees it gone.
        log.info("%s %s/%s vanished before we could patch it", kind.value, namespace, name)
        return None
    return _as_dict(written)


async def create_job(
    client: AsyncClient, rollover: dict[str, Any], action: CreateJob, config: OperatorConfig
) -> dict[str, Any]:
    """Create the Job; the Job as stored.

    AlreadyExists returns the Job that has the name. The cache counts it as ours only if this
    rollover's UID controls it (a previous pass or a peer created it): then it is adopted. Any other
    Job with our name is foreign, and the planner stalls the rollover on it rather than trusting it.
    """
    job = job_manifest(
        rollover, action, config.template(action.product, action.step), config.job_ttl_seconds_after_finished
    )
    try:
        created = await client.create(job, field_manager=FIELD_MANAGER)
    except ApiError as exc:
        if exc.status.code != HTTP_CONFLICT:
            raise
        existing = _as_dict(await client.get(Job, action.name, namespace=rollover["metadata"]["namespace"]))
        ours = controlling_rollover(existing["metadata"]) == rollover["metadata"]["uid"]
        log.info("Job %s already exists; %s", action.name, "adopting it" if ours else "it is not ours")
        return existing
    return _as_dict(created)


async def write_status(
    client: AsyncClient, namespace: str, name: str, old: dict[str, Any], new: dict[str, Any]
) -> dict[str, Any]:
    """Merge-patch the status subresource (keys that disappeared are set to null); the rollover as
    stored."""
    patch = dict(new) | {k: None for k in old if k not in new}
    written = await client.patch(
        DistrictRollover.Status,
        name,
        {"status": patch},
        namespace=namespace,
        patch_type=PatchType.MERGE,
        field_manager=FIELD_MANAGER,
    )
    return _as_dict(written)


def _as_dict(obj: Any) -> dict[str, Any]:
    return dict(obj.to_dict())


async def ensure_finalizer(client: AsyncClient, body: dict[str, Any]) -> dict[str, Any] | None:
    """Add our finalizer (JSON patch guarded by resourceVersion, so no one else's is lost).

    Returns the rollover as stored, or None when the finalizer was already there.
    """
    meta = body["metadata"]
    finalizers = meta.get("finalizers") or []
    if FINALIZER in finalizers:
        return None
    ops: list[dict[str, Any]] = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": meta["resourceVersion"]}
    ]
    ops.append(
        {"op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER}
        if finalizers
        else {"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]}
    )
    return await _json_patch_rollover(client, meta, ops)


async def release_finalizer(client: AsyncClient, body: dict[str, Any]) -> dict[str, Any] | None:
    """Remove our finalizer, guarded so a concurrent change to the list is not overwritten.

    Returns the rollover as stored, or None when there was nothing to remove.
    """
    meta = body["metadata"]
    finalizers = meta.get("finalizers") or []
    if FINALIZER not in finalizers:
        return None
    index = finalizers.index(FINALIZER)
    ops = [
        {"op": "test", "path": f"/metadata/finalizers/{index}", "value": FINALIZER},
        {"op": "remove", "path": f"/metadata/finalizers/{index}"},
    ]
    try:
        return await _json_patch_rollover(client, meta, ops)
    except ApiError as exc:
        if exc.status.code != HTTP_NOT_FOUND:
            raise
        return None


async def _json_patch_rollover(
    client: AsyncClient, meta: dict[str, Any], ops: list[dict[str, Any]]
) -> dict[str, Any]:
    """Apply guarded JSON-patch `ops` to the rollover; the rollover as stored."""
    written = await client.patch(
        DistrictRollover,
        meta["name"],
        ops,
        namespace=meta["namespace"],
        patch_type=PatchType.JSON,
        field_manager=FIELD_MANAGER,
    )
    return _as_dict(written)


async def read_termination_message(client: AsyncClient, namespace: str, job_uid: str) -> str | None:
    """The termination message of the Job's last finished pod, if any.

    Only the Job's own pods count: found by the controller-uid label the Job controller sets, and
    checked by their controller reference, since anyone who can create pods can copy a label."""
    message = None
    async for pod in client.list(Pod, namespace=namespace, labels={JOB_CONTROLLER_UID_LABEL: job_uid}):
        if controller_uid(_as_dict(pod)["metadata"], "batch/v1", "Job") != job_uid:
            continue
        for cs in (pod.status.containerStatuses if pod.status else None) or []:
            terminated = cs.state.terminated if cs.state else None
            if terminated is not None and terminated.message:
                message = terminated.message
    return message
