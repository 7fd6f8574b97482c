"""Shared fixtures: the real local control plane (session-wide) and a fresh namespace per test.

Integration tests never skip for a missing control plane: if it cannot be built or started, the
fixture errors with the reason, so CI goes red instead of quietly testing less.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from rollover.devcluster.binaries import repo_root
from rollover.devcluster.controlplane import ControlPlane
from rollover.labels import DISTRICTS_ANNOTATION

REPO = Path(__file__).resolve().parents[1]

# Property tests check behaviour, not speed (benchmarks/ does that): on a loaded 2-core CI machine a
# slow first draw or example must not fail a test.
settings.register_profile("project", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("project")


@dataclass(frozen=True)
class RunningControlPlane:
    """What a test sees of the control plane."""

    plane: ControlPlane

    @property
    def kubeconfig(self) -> str:
        return str(self.plane.kubeconfig)

    def env(self) -> dict[str, str]:
        """The environment for a subprocess that talks to this control plane."""
        return {**os.environ, "KUBECONFIG": self.kubeconfig}

    def kubectl(
        self, *args: str, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against the control plane; output captured as text."""
        return subprocess.run(
            ["kubectl", *args],
            env=self.env(),
            input=input,
            text=True,
            capture_output=True,
            check=check,
            timeout=120,
        )

    def allow_districts(self, namespace: str, *district_ids: str) -> None:
        """Let `namespace` roll over these districts too (the platform team's annotation on the
        Namespace: without it the operator refuses every rollover there)."""
        found = self.kubectl(
            "get", "namespace", namespace, "-o", f"jsonpath={{.metadata.annotations.{_JSONPATH_DISTRICTS}}}"
        ).stdout
        allowed = sorted({d.strip() for d in found.split(",") if d.strip()} | set(district_ids))
        self.kubectl(
            "annotate", "--overwrite", "namespace", namespace, f"{DISTRICTS_ANNOTATION}={','.join(allowed)}"
        )


_JSONPATH_DISTRICTS = DISTRICTS_ANNOTATION.replace(".", "\\.")


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningControlPlane]:
    """A real etcd + kube-apiserver + kube-controller-manager with the CRDs from crds/ installed."""
    assert repo_root() == REPO
    plane = ControlPlane(tmp_path_factory.mktemp("control-plane"), REPO / "crds")
    plane.start()
    try:
        yield RunningControlPlane(plane)
    finally:
        plane.stop()


@pytest.fixture
def namespace(control_plane: RunningControlPlane) -> Iterator[str]:
    """A fresh namespace for one test, deleted (without waiting) afterwards."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    control_plane.kubectl("create", "namespace", name)
    # The district of tests.integration.kube.rollover_doc (Kube.apply allows any other it applies).
    control_plane.allow_districts(name, "IL-0631950")
    yield name
    control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)
