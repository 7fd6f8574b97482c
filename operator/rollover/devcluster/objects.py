"""Manifests for the demo, benchmarks and tests: DistrictRollovers, and stand-in roster-sync objects
(what a platform's Clever or OneRoster import CronJob looks like to the operator: it reads labels and
spec.suspend only)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rollover import GROUP, KIND, VERSION
from rollover.labels import DISTRICTS_ANNOTATION

SYNC_IMAGE = "example.invalid/roster-sync"  # never pulled: the local control plane has no kubelet


def district_namespace(name: str, district_ids: Iterable[str]) -> dict[str, Any]:
    """A district namespace, annotated (as the platform team would) with the districts its
    DistrictRollovers may roll over: without it, the operator and admission refuse them all."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "annotations": {DISTRICTS_ANNOTATION: ",".join(sorted(set(district_ids)))},
        },
    }


#: A real roster sync runs nightly ("15 3 * * *"); the local cluster's fire only at 03:15 on January 1,
#: so that a test, demo or benchmark running at 03:15 UTC is not joined by a sync Job from every
#: CronJob (a 5,000-rollover herd met 15,000 of them, and the pause waited for them to drain).
SYNC_SCHEDULE = "15 3 1 1 *"


def sync_cronjob(
    name: str, namespace: str, labels: dict[str, str], *, schedule: str = SYNC_SCHEDULE, suspend: bool = False
) -> dict[str, Any]:
    """A roster-sync CronJob manifest."""
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "schedule": schedule,
            "suspend": suspend,
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [{"name": "sync", "image": SYNC_IMAGE}],
                        }
                    }
                }
            },
        },
    }


def csv_import_deployment(name: str, namespace: str, labels: dict[str, str], replicas: int) -> dict[str, Any]:
    """A manual-CSV-import Deployment manifest (the operator scales it to 0 and back)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "csv", "image": "example.invalid/csv"}]},
            },
        },
    }


def district_rollover(
    name: str,
    namespace: str,
    *,
    district_id: str,
    reset_date: str,
    products: Iterable[str],
    sync_labels: dict[str, str],
) -> dict[str, Any]:
    """A DistrictRollover for school year 2026-2027 in Chicago (Illinois calendar) whose syncSelector
    matches `sync_labels`."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "districtId": district_id,
            "schoolYear": "2026-2027",
            "resetDate": reset_date,
            "timeZone": "America/Chicago",
            "calendar": {"country": "US", "subdivision": "IL"},
            "products": list(products),
            "syncSelector": {"matchLabels": sync_labels},
        },
    }
