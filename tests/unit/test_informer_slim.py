"""The informers decode sync targets, Jobs and Namespaces slim: the caches hold exactly what they
would from the whole object."""

from __future__ import annotations

import json
from typing import Any

import pytest
from lightkube.core.decoders import decode_list, decode_object

from rollover.api.models import SyncTargetKind
from rollover.controller.cache import Cache
from rollover.controller.handlers import CRONJOBS, DEPLOYMENTS, JOBS, NAMESPACES
from rollover.controller.informer import as_dict
from rollover.labels import DISTRICTS_ANNOTATION, ORIGINAL_STATE_ANNOTATION
from rollover.observed import OriginalState

pytestmark = pytest.mark.unit

NS = "district-il"
MANAGED = [{"manager": "kubectl", "operation": "Update", "fieldsV1": {"f:spec": {"f:schedule": {}}}}]


def metadata(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": NS,
        "uid": f"uid-{name}",
        "resourceVersion": "42",
        "managedFields": MANAGED,
    } | extra


def cronjob(suspend: bool) -> dict[str, Any]:
    paused = OriginalState("springfield", "2026-2027", suspend=False).to_annotation()
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata(
            "sync", labels={"app": "roster-sync"}, annotations={ORIGINAL_STATE_ANNOTATION: paused}
        ),
        "spec": {"schedule": "15 3 * * *", "suspend": suspend, "jobTemplate": {"spec": {"template": {}}}},
        "status": {"lastScheduleTime": "2026-11-29T03:15:00Z"},
    }


def deployment() -> dict[str, Any]:
    return {
        "metadata": metadata("csv-import", labels={"app": "csv-import"}),
        "spec": {"replicas": 3, "template": {"spec": {"containers": []}}},
        "status": {"conditions": [{"type": "Available", "status": "True"}], "replicas": 3},
    }


def job() -> dict[str, Any]:
    owner = {
        "apiVersion": "rostering.k12.dev/v1alpha1",
        "kind": "DistrictRollover",
        "name": "springfield",
        "uid": "uid-springfield",
        "controller": True,
    }
    return {
        "metadata": metadata("springfield-archive", labels={"a": "b"}, ownerReferences=[owner]),
        "spec": {"suspend": False, "template": {}},
        "status": {"conditions": [{"type": "Failed", "status": "True", "message": "exit 3"}], "failed": 1},
    }


def slim(resource: Any, body: dict[str, Any]) -> dict[str, Any]:
    return as_dict(decode_object(json.dumps(body).encode(), resource))


@pytest.mark.parametrize("suspend", [False, True])
def test_a_slim_sync_target_makes_the_same_cache_entry(suspend: bool) -> None:
    for kind, resource, body in [
        (SyncTargetKind.CRON_JOB, CRONJOBS, cronjob(suspend)),
        (SyncTargetKind.DEPLOYMENT, DEPLOYMENTS, deployment()),
    ]:
        whole, slimmed = Cache(), Cache()
        whole.put_target(kind, body)
        slimmed.put_target(kind, slim(resource, body))
        assert slimmed.targets == whole.targets
        assert "managedFields" not in slim(resource, body)["metadata"]


def test_a_slim_job_makes_the_same_cache_entry() -> None:
    whole, slimmed = Cache(), Cache()
    assert slimmed.job_changed("ADDED", slim(JOBS, job())) == whole.job_changed("ADDED", job())
    assert slimmed.jobs == whole.jobs


def test_a_slim_namespace_keeps_its_districts() -> None:
    body = {
        "metadata": {"name": NS, "annotations": {DISTRICTS_ANNOTATION: "IL-1"}},
        "status": {"phase": "Active"},
    }
    whole, slimmed = Cache(), Cache()
    whole.namespace_changed("ADDED", body)
    slimmed.namespace_changed("ADDED", slim(NAMESPACES, body))
    assert slimmed.namespace_districts == whole.namespace_districts == {NS: frozenset({"IL-1"})}


def test_a_listed_page_decodes_slim_with_its_continuation() -> None:
    page = {"metadata": {"resourceVersion": "9", "continue": "next"}, "items": [cronjob(False)] * 3}
    cont, version, items = decode_list(json.dumps(page).encode(), CRONJOBS)
    assert (cont, version) == ("next", "9")
    assert [as_dict(i)["metadata"]["name"] for i in items] == ["sync"] * 3
