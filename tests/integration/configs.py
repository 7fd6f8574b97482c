"""Operator configuration files for integration tests whose Jobs run against the harness's store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def jobs_config(path: Path, store_url: str, archive: Path, **sections: Any) -> Path:
    """Write a configuration whose Jobs use `store_url` and archive under `archive`, fail on their first
    error (backoffLimit 0), and carry the other top-level `sections` as given; return `path`."""
    default_job = {
        "backoffLimit": 0,
        "env": [
            {"name": "DATABASE_URL", "value": store_url},
            {"name": "ARCHIVE_URI", "value": archive.as_uri()},
        ],
    }
    path.write_text(json.dumps({"defaultJob": default_job, **sections}))
    return path
