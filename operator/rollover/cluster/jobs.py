"""The archive/reset Job manifest: the operator's template plus the rollover's identity."""

from __future__ import annotations

from typing import Any, cast

from lightkube.resources.batch_v1 import Job

from rollover import GROUP, KIND, VERSION
from rollover.config import JobTemplate
from rollover.labels import LABEL_ATTEMPT, LABEL_PRODUCT, LABEL_ROLLOVER, LABEL_SCHOOL_YEAR, LABEL_STEP
from rollover.planner import CreateJob


def job_manifest(
    rollover: dict[str, Any], action: CreateJob, template: JobTemplate, ttl_seconds_after_finished: int
) -> Job:
    """A Job controlled by the rollover (the controller reference is what makes it count as ours; the
    labels only index it), deleted `ttl_seconds_after_finished` after it finishes."""
    meta = rollover["metadata"]
    spec = rollover.get("spec") or {}
    labels = {
        LABEL_ROLLOVER: meta["name"],
        LABEL_STEP: action.step.value,
        LABEL_PRODUCT: action.product,
        LABEL_SCHOOL_YEAR: action.school_year,
        LABEL_ATTEMPT: str(action.attempt),
    }
    env = [
        {"name": "ROLLOVER_NAME", "value": meta["name"]},
        {"name": "ROLLOVER_NAMESPACE", "value": meta["namespace"]},
        {"name": "DISTRICT_ID", "value": str(spec.get("districtId", ""))},
        {"name": "SCHOOL_YEAR", "value": action.school_year},
        {"name": "RESET_DATE", "value": action.reset_date.isoformat()},
        {"name": "PRODUCT", "value": action.product},
        {"name": "STEP", "value": action.step.value},
        *template.env,
    ]
    container: dict[str, Any] = {
        "name": action.step.value,
        "image": template.image,
        "command": template.command or ["rollover-job", action.step.value],
        "args": template.args,
        "env": env,
        "envFrom": template.env_from,
        "resources": template.resources,
        "volumeMounts": template.volume_mounts,
        "terminationMessagePolicy": "File",
        "securityContext": {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "containers": [container],
        "volumes": template.volumes,
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    }
    if template.service_account_name:
        pod_spec["serviceAccountName"] = template.service_account_name
    else:
        # The store's credentials come from a Secret in the env; the Job never talks to Kubernetes.
        pod_spec["automountServiceAccountToken"] = False
    body = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": action.name,
            "namespace": meta["namespace"],
            "labels": labels,
            "ownerReferences": [
                {
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": KIND,
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "backoffLimit": template.backoff_limit,
            "activeDeadlineSeconds": template.active_deadline_seconds,
            "ttlSecondsAfterFinished": ttl_seconds_after_finished,
            "template": {"metadata": {"labels": labels | template.pod_labels}, "spec": pod_spec},
        },
    }
    return cast(Job, Job.from_dict(body))
