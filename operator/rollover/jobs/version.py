"""Who wrote a record: this rollover-job and its version, as manifests, resets and certificates name it."""

from __future__ import annotations

import importlib.metadata


def running_as() -> str:
    """`rollover-job <version>` of this package."""
    try:
        return f"rollover-job {importlib.metadata.version('district-rollover')}"
    except importlib.metadata.PackageNotFoundError:  # run from a source tree that is not installed
        return "rollover-job unknown"
