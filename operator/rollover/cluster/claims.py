"""Writing district claims (see `rollover.claims`) and asking whether a claim's holder still exists.

A claim is created atomically (a rival's create in between is AlreadyExists) and changed only at the
resourceVersion the planner decided on (a rival's change in between is a Conflict); either failure
fails the reconcile, which is retried on the claim as it now is.
"""

from __future__ import annotations

from typing import Any

from lightkube import ApiError, AsyncClient
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap

from rollover import FIELD_MANAGER
from rollover.claims import LABEL_CLAIM, Holder, claim_data, claim_name
from rollover.cluster.resources import DistrictRollover
from rollover.planner import ClaimDistrict

HTTP_NOT_FOUND = 404


async def write_claim(client: AsyncClient, namespace: str, action: ClaimDistrict) -> dict[str, Any]:
    """Create or change the claim ConfigMap in the operator's `namespace`; the object as stored."""
    claim = ConfigMap(
        metadata=ObjectMeta(
            name=claim_name(action.district_id, action.school_year),
            namespace=namespace,
            labels={LABEL_CLAIM: "true"},
            # Set for a change: a replace at the version the decision was made on, so a rival's
            # change in between is a 409. None for a create, which a rival's create makes a 409.
            resourceVersion=action.version,
        ),
        data=claim_data(action.district_id, action.school_year, action.holders),
    )
    if action.version is None:
        written = await client.create(claim, field_manager=FIELD_MANAGER)
    else:
        written = await client.replace(claim, field_manager=FIELD_MANAGER)
    return dict(written.to_dict())


async def holder_exists(client: AsyncClient, holder: Holder) -> bool:
    """Whether the rollover holding a claim still exists (the same incarnation). Anything but a
    clear answer (no permission to read that namespace, an error) counts as existing: a claim is
    never taken on a guess."""
    try:
        found = await client.get(DistrictRollover, holder.name, namespace=holder.namespace)
    except ApiError as exc:
        return exc.status.code != HTTP_NOT_FOUND
    return bool(found.metadata is None or found.metadata.uid == holder.uid)
