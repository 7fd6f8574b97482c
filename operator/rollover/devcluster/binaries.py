"""Finding the control-plane binaries: built from Go modules by tools/build-controlplane.sh, cached."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REQUIRED = ("etcd", "kube-apiserver", "kube-controller-manager")
BIN_ENV = "ROLLOVER_CONTROLPLANE_BIN"


class BinariesUnavailable(RuntimeError):
    """The control plane can be neither found nor built."""


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
    override = os.environ.get(BIN_ENV)
    if override:
        directory = Path(override)
    else:
        root = repo_root()
        if root is None:
            raise BinariesUnavailable(
                f"no tools/build-controlplane.sh next to this package; set {BIN_ENV} to a directory "
                f"holding {', '.join(REQUIRED)}"
            )
        # The script streams its progress to our stderr and prints the directory last.
        done = subprocess.run(
            ["bash", str(root / "tools" / "build-controlplane.sh")],
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise BinariesUnavailable(
                f"building the control plane failed (exit {done.returncode}); see above"
            )
        directory = Path(done.stdout.strip().splitlines()[-1])
    missing = [b for b in REQUIRED if not (directory / b).is_file()]
    if missing:
        raise BinariesUnavailable(f"{directory} lacks {', '.join(missing)}")
    return directory
