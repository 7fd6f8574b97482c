"""The operator installed by its Helm chart (`helm install`) on the local node, from the image built
here (docs/local-node.md): for the demo and the chart's integration test.

The harness installs the DistrictRollover CRD and the policies on DistrictRollovers from crds/
already, and helm does not adopt objects it did not create: the release skips the CRD and leaves
those policies off (the operator's fence, the release's own, stays on).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rollover.devcluster.binaries import ensure_binaries, repo_root
from rollover.devcluster.controlplane import ControlPlane

#: Where each key of an operator configuration file goes in the chart's values.
_VALUES_OF_CONFIG = {
    "defaultJob": ("jobs", "defaultJob"),
    "certificates": ("operator", "certificates"),
    "archives": ("operator", "archives"),
    "preflight": ("operator", "preflight"),
    "notifications": ("notifications",),
}
INSTALL_TIMEOUT = "3m"


class ChartError(RuntimeError):
    """helm failed; the message has its output."""


def chart_values(
    image: str,
    settings: dict[str, Any],
    *,
    namespaces: list[str] | None = None,
    clock: tuple[str, float] | None = None,
) -> dict[str, Any]:
    """The chart's values for the image (never pulled: there is no registry), the operator
    configuration `settings` (keys of an operator configuration file), the namespaces to serve
    (default: all) and the demo clock (start, rate)."""
    repository, tag = image.rsplit(":", 1)
    values: dict[str, Any] = {
        "image": {"repository": repository, "tag": tag, "pullPolicy": "Never"},
        "admissionPolicy": {"enabled": False},
        "operator": {},
        # The Jobs' environment is the configuration's, whole: no Secret of the chart's adds to it.
        "jobs": {"rosterStoreSecret": ""},
    }
    if namespaces is not None:
        values["scope"] = {"mode": "namespaces", "namespaces": namespaces}
    if clock is not None:
        values["operator"]["demoClock"] = {"start": clock[0], "rate": clock[1]}
    for key, setting in settings.items():
        if key not in _VALUES_OF_CONFIG:
            raise ChartError(f"no chart value for the operator setting {key!r}")
        *parents, leaf = _VALUES_OF_CONFIG[key]
        node = values
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = setting
    return values


@contextmanager
def installed_operator(
    plane: ControlPlane, release: str, values: dict[str, Any], work: Path
) -> Iterator[str]:
    """`helm install --wait` the chart as `release` in a namespace of that name (the operator's pod
    Ready: its probes passed); yields the namespace; `helm uninstall` afterwards."""
    helm = ensure_binaries() / "helm"
    root = repo_root()
    if root is None:
        raise ChartError("the chart is installed from a source checkout")
    values_file = work / f"{release}-values.yaml"
    values_file.write_text(json.dumps(values, indent=2))  # JSON is YAML
    common = ["--kubeconfig", str(plane.kubeconfig), "--namespace", release]
    install = [
        str(helm), "install", release, str(root / "charts" / "district-rollover"), *common,
        "--create-namespace", "--skip-crds", "--values", str(values_file),
        "--wait", "--timeout", INSTALL_TIMEOUT,
    ]  # fmt: skip
    try:
        done = subprocess.run(install, capture_output=True, text=True, check=False, timeout=300)
        if done.returncode != 0:
            raise ChartError(f"helm install {release} failed: {done.stderr.strip()[-2000:]}")
        yield release
    finally:
        uninstall = [str(helm), "uninstall", release, *common, "--wait"]
        subprocess.run(uninstall, capture_output=True, check=False, timeout=120)
