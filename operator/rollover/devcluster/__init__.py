"""The local development control plane and PostgreSQL used by tests, the demo and benchmarks."""

from __future__ import annotations

import os
from pathlib import Path

from rollover.devcluster.binaries import repo_root


def default_state_dir() -> Path:
    """Where `rollover dev-cluster` keeps its state unless told otherwise (reused between runs)."""
    override = os.environ.get("ROLLOVER_DEV_CLUSTER_DIR")
    if override:
        return Path(override)
    return cache_root() / "dev-cluster"


def cache_root() -> Path:
    """The project's cache (built binaries and images), as tools/build-*.sh place it."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "district-rollover"


def default_crd_dir() -> Path | None:
    """The repository's crds/ directory, applied on start-up, when running from a checkout."""
    root = repo_root()
    return root / "crds" if root is not None and (root / "crds").is_dir() else None
