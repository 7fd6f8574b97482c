"""Stand-in roster-sync objects for the demo, benchmarks and tests: what a platform's Clever or
OneRoster import CronJob looks like to the operator (it reads labels and spec.suspend only)."""

from __future__ import annotations

from typing import Any

SYNC_IMAGE = "example.invalid/roster-sync"  # never pulled: the local control plane has no kubelet


def sync_cronjob(
    name: str, namespace: str, labels: dict[str, str], *, schedule: str = "15 3 * * *", suspend: bool = False
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
