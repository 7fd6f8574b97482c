"""API Priority and Fairness on the dev control plane: throttle one ServiceAccount for fault tests.

The harness's admin certificate is in system:masters, which the mandatory `exempt` FlowSchema
matches before anything else, so a throttled operator runs as a ServiceAccount of its own (a token,
as in a cluster). The 429s then come from kube-apiserver itself, not from a proxy.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rollover.devcluster.controlplane import ControlPlane

#: kubectl against the control plane as its admin: `kubectl(*args, input=..., check=...)`.
Kubectl = Callable[..., subprocess.CompletedProcess[str]]

#: A resourceRule matching every request on every resource.
EVERYTHING = {
    "verbs": ["*"],
    "apiGroups": ["*"],
    "resources": ["*"],
    "namespaces": ["*"],
    "clusterScope": True,
}
#: A resourceRule matching only Lease requests (leader election), in every namespace.
LEASES = {
    "verbs": ["*"],
    "apiGroups": ["coordination.k8s.io"],
    "resources": ["leases"],
    "namespaces": ["*"],
}


def apf(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A flowcontrol.apiserver.k8s.io/v1 object (FlowSchema or PriorityLevelConfiguration)."""
    return {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
    }


def rejecting_level(shares: int) -> dict[str, Any]:
    """A priority level with `shares` nominal shares that neither lends nor borrows and rejects (429)
    what it cannot seat at once; 0 shares rejects every request."""
    return {
        "type": "Limited",
        "limited": {
            "nominalConcurrencyShares": shares,
            "lendablePercent": 0,
            "borrowingLimitPercent": 0,
            "limitResponse": {"type": "Reject"},
        },
    }


def service_account_schema(
    level: str, namespace: str, sa: str, resource_rules: list[dict[str, Any]], *, non_resource: bool
) -> dict[str, Any]:
    """The spec of a FlowSchema sending `namespace/sa`'s requests matching `resource_rules` (and
    every non-resource URL if `non_resource`) to priority level `level`."""
    rule: dict[str, Any] = {
        "subjects": [{"kind": "ServiceAccount", "serviceAccount": {"name": sa, "namespace": namespace}}],
        "resourceRules": resource_rules,
    }
    if non_resource:
        rule["nonResourceRules"] = [{"verbs": ["*"], "nonResourceURLs": ["*"]}]
    return {
        "priorityLevelConfiguration": {"name": level},
        "matchingPrecedence": 100,
        "distinguisherMethod": {"type": "ByUser"},
        "rules": [rule],
    }


def apply(kubectl: Kubectl, doc: dict[str, Any]) -> None:
    kubectl("apply", "-f", "-", input=json.dumps(doc))


def token_kubeconfig(path: Path, cluster: dict[str, Any], token: str) -> Path:
    """A kubeconfig with one cluster and a bearer token (no admin certificate)."""
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "c",
                "clusters": [{"name": "c", "cluster": cluster}],
                "users": [{"name": "u", "user": {"token": token}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    return path


def admin_service_account(
    plane: ControlPlane, kubectl: Kubectl, namespace: str, sa: str, binding: str, path: Path
) -> Path:
    """Create ServiceAccount `namespace/sa` bound to cluster-admin (ClusterRoleBinding `binding`,
    the caller deletes it) and write a kubeconfig with its token (one hour) to `path`."""
    kubectl("-n", namespace, "create", "serviceaccount", sa)
    kubectl(
        "create",
        "clusterrolebinding",
        binding,
        "--clusterrole=cluster-admin",
        f"--serviceaccount={namespace}:{sa}",
    )
    token = kubectl("-n", namespace, "create", "token", sa, "--duration=1h").stdout.strip()
    cluster = {"server": plane.server, "certificate-authority": str(plane.pki.ca_cert)}
    return token_kubeconfig(path, cluster, token)
