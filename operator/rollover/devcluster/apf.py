"""API Priority and Fairness on the dev control plane: throttle one ServiceAccount for fault tests.

The harness's admin certificate is in system:masters, which the mandatory `exempt` FlowSchema
matches before anything else, so a throttled operator runs as a ServiceAccount of its own (a token,
as in a cluster). The 429s then come from kube-apiserver itself, not from a proxy.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
import urllib.error
import urllib.request
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


class SeatHog:
    """Keeps a priority level's seats busy, so that the real apiserver rejects (429) the other
    requests it routes there: a level with no seats still runs one request when none is running
    (APF guarantees progress), so a rejecting level alone never rejects one-at-a-time Lease calls.

    `threads` loops LIST `path` with a resourceVersion far ahead of etcd, which the watch cache holds
    for ~3 s before answering 504 (a slow request that writes nothing); as one finishes the others,
    retrying their 429s at once, take the seat back. Use as a context manager.
    """

    def __init__(self, plane: ControlPlane, token: str, path: str, *, threads: int = 4) -> None:
        self.url = f"{plane.server}{path}?resourceVersion=999999999999"
        self.token = token
        self.context = ssl.create_default_context(cafile=str(plane.pki.ca_cert))
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._hog, daemon=True) for _ in range(threads)]
        self.rejected = 0

    def _hog(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        request = urllib.request.Request(self.url, headers=headers)  # noqa: S310 - our loopback https URL
        while not self.stopping.is_set():
            try:
                with urllib.request.urlopen(  # noqa: S310 - our own loopback https URL
                    request, context=self.context, timeout=10
                ) as response:
                    response.read()
            except urllib.error.HTTPError as exc:
                self.rejected += exc.code == 429
                exc.close()
            except OSError:  # the apiserver restarting: try again
                self.stopping.wait(0.1)
            self.stopping.wait(0.002)

    def __enter__(self) -> SeatHog:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=10)


def kubeconfig_token(path: Path) -> str:
    """The bearer token of a kubeconfig written by `token_kubeconfig`."""
    return str(json.loads(path.read_text())["users"][0]["user"]["token"])
