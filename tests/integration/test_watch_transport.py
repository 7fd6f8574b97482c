"""Watches never starve requests (issue 15): with one watch stream per namespace and kind, an
operator serving many listed namespaces must still have connections left for its reconciles."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from rollover.devcluster.objects import district_namespace, district_rollover, sync_cronjob
from tests.conftest import RunningControlPlane
from tests.integration.kube import operator, wait_for

pytestmark = pytest.mark.integration

#: Three informers watching each: 180 streams, far more than the default 64 request connections.
NAMESPACES = 60
#: At least this far: paused, CronJobs suspended (later phases keep them suspended).
SERVED = {"Paused", "Archiving"}


def test_sixty_listed_namespaces_are_all_served_without_pool_timeouts(
    control_plane: RunningControlPlane, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    names = [f"w{tag}-{i:03d}" for i in range(NAMESPACES)]
    items: list[dict[str, object]] = []
    for i, ns in enumerate(names):
        district, labels = f"IL-NS-{i:03d}", {"district": f"d{i:03d}"}
        items += [
            district_namespace(ns, [district]),
            sync_cronjob("roster-sync", ns, labels),
            district_rollover(
                "rollover",
                ns,
                district_id=district,
                reset_date="2027-07-16",
                products=["imagine-math"],
                sync_labels=labels,
            ),
        ]
    # Namespaces first (a List is applied in order), all in one kubectl call.
    items.sort(key=lambda doc: doc["kind"] != "Namespace")
    control_plane.kubectl(
        "apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
    )
    log = tmp_path / "operator.log"
    try:
        extra = [arg for ns in names[1:] for arg in ("--namespace", ns)]
        with operator(control_plane, names[0], log, extra=extra):

            def unserved() -> list[str]:
                listed = json.loads(
                    control_plane.kubectl("get", "districtrollovers", "-A", "-o", "json").stdout
                )
                served = {
                    r["metadata"]["namespace"]
                    for r in listed["items"]
                    if (r.get("status") or {}).get("phase") in SERVED
                }
                return [ns for ns in names if ns not in served]

            wait_for(lambda: not unserved(), timeout=45, what="every rollover to pause its sync")
            cronjobs = json.loads(control_plane.kubectl("get", "cronjobs", "-A", "-o", "json").stdout)
            suspended = {c["metadata"]["namespace"] for c in cronjobs["items"] if c["spec"].get("suspend")}
            assert set(names) <= suspended
        text = log.read_text(errors="replace")
        assert "PoolTimeout" not in text, text[-4000:]
    finally:
        control_plane.kubectl("delete", "namespace", *names, "--wait=false", check=False)
