"""Finding the control-plane, node and SeaweedFS binaries: built from Go modules by tools/build-*.sh,
cached."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REQUIRED = ("etcd", "kube-apiserver", "kube-controller-manager")
BIN_ENV = "ROLLOVER_CONTROLPLANE_BIN"
NODE_REQUIRED = ("kubelet", "kube-scheduler")
NODE_BIN_ENV = "ROLLOVER_NODE_BIN"
SEAWEEDFS_BIN_ENV = "ROLLOVER_SEAWEEDFS_BIN"


class BinariesUnavailable(RuntimeError):
    """A harness binary can be neither found nor built."""


def repo_root() -> Path | None:
    """The source checkout this package runs from, if any (the build script lives there)."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "tools" / "build-controlplane.sh").is_file():
            return parent
    return None


def ensure_binaries() -> Path:
    """The directory with etcd, kube-apiserver, kube-controller-manager (and helm), building on first use.

    `$ROLLOVER_CONTROLPLANE_BIN` overrides the lookup, for installations without the source tree.
    """
    return _built_by("build-controlplane.sh", REQUIRED, BIN_ENV, "the control plane")


def ensure_node_binaries() -> Path:
    """The directory with kubelet and kube-scheduler (tools/build-node.sh), building on first use.

    `$ROLLOVER_NODE_BIN` overrides the lookup, for installations without the source tree.
    """
    return _built_by("build-node.sh", NODE_REQUIRED, NODE_BIN_ENV, "the node")


def ensure_seaweedfs_binary() -> Path:
    """The directory with SeaweedFS's `weed` (tools/build-seaweedfs.sh), building on first use.

    `$ROLLOVER_SEAWEEDFS_BIN` overrides the lookup, for installations without the source tree.
    """
    return _built_by("build-seaweedfs.sh", ("weed",), SEAWEEDFS_BIN_ENV, "SeaweedFS")


def _built_by(script: str, required: tuple[str, ...], env: str, what: str) -> Path:
    override = os.environ.get(env)
    if override:
        directory = Path(override)
    else:
        root = repo_root()
        if root is None:
            raise BinariesUnavailable(
                f"no tools/{script} next to this package; set {env} to a directory "
                f"holding {', '.join(required)}"
            )
        # The script streams its progress to our stderr and prints the directory last.
        done = subprocess.run(
            ["bash", str(root / "tools" / script)],
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise BinariesUnavailable(f"building {what} failed (exit {done.returncode}); see above")
        directory = Path(done.stdout.strip().splitlines()[-1])
    missing = [b for b in required if not (directory / b).is_file()]
    if missing:
        raise BinariesUnavailable(f"{directory} lacks {', '.join(missing)}")
    return directory
