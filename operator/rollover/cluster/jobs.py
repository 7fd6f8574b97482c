"""A Job manifest of any step: the operator's template plus the rollover's identity."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any, cast

from lightkube.resources.batch_v1 import Job

from rollover import GROUP, KIND, VERSION
from rollover.api.models import Step
from rollover.config import JobTemplate
from rollover.labels import (
    JOB_SECRETS_ENV,
    LABEL_ATTEMPT,
    LABEL_PRODUCT,
    LABEL_ROLLOVER,
    LABEL_SCHOOL_YEAR,
    LABEL_STEP,
)
from rollover.planner import CreateJob


def job_manifest(
    rollover: dict[str, Any], action: CreateJob, template: JobTemplate, ttl_seconds_after_finished: int
) -> Job:
    """A Job controlled by the rollover (the controller reference is what makes it count as ours; the
    labels only index it), deleted `ttl_seconds_after_finished` after it finishes."""
    meta = rollover["metadata"]
    spec = rollover.get("spec") or {}
    if action.step is Step.PREFLIGHT:
        template = _tolerating_missing_secrets(template)
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
        # certify and purge cover the whole cycle: PRODUCT lists its products, comma-separated.
        {"name": "PRODUCT", "value": ",".join(action.products) if action.products else action.product},
        {"name": "STEP", "value": action.step.value},
        *template.env,
    ]
    if action.retention_until is not None:
        env.append({"name": "RETENTION_UNTIL", "value": action.retention_until.isoformat()})
    if action.step is Step.PREFLIGHT:
        env.append({"name": JOB_SECRETS_ENV, "value": ",".join(secret_names(template))})
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


def secret_names(template: JobTemplate) -> list[str]:
    """The names of the Secrets a template's env, envFrom and volumes refer to, sorted."""
    refs = _secret_refs(template.env, template.env_from, template.volumes)
    return sorted({ref[key] for ref, key in refs if ref.get(key)})


def _secret_refs(
    env: list[dict[str, Any]], env_from: list[dict[str, Any]], volumes: list[dict[str, Any]]
) -> Iterator[tuple[dict[str, Any], str]]:
    """Each Secret reference in env (secretKeyRef), envFrom (secretRef) and volumes (secret), with
    the key that names its Secret."""
    for ref, key in (
        *(((e.get("valueFrom") or {}).get("secretKeyRef"), "name") for e in env),
        *((e.get("secretRef"), "name") for e in env_from),
        *((v.get("secret"), "secretName") for v in volumes),
    ):
        if ref:
            yield ref, key


def _tolerating_missing_secrets(template: JobTemplate) -> JobTemplate:
    """The preflight's template with every Secret reference optional. A missing Secret then leaves
    its variables unset and its files absent, and `rollover-job preflight` reports which Secret is
    missing; a required reference would keep the pod Pending (CreateContainerConfigError), which only
    a pod watch could see. The operator needs no access to Secrets for this (it has none)."""
    env, env_from, volumes = (
        copy.deepcopy(template.env),
        copy.deepcopy(template.env_from),
        copy.deepcopy(template.volumes),
    )
    for ref, _ in _secret_refs(env, env_from, volumes):
        ref["optional"] = True
    return template.model_copy(update={"env": env, "env_from": env_from, "volumes": volumes})
