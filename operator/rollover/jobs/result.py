"""The step's JSON result in the termination log, where the operator copies it into status.

Kubernetes keeps at most 4096 bytes of a termination message, so the result is compact JSON and
shrinks if it must: per-table counts become totals, then lists go and long strings are cut.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

TERMINATION_LOG = Path("/dev/termination-log")
LIMIT = 4096
LONG_STRING = 600


def _dumps(result: dict[str, Any]) -> str:
    return json.dumps(result, separators=(",", ":"), default=str)


def compact(result: dict[str, Any]) -> str:
    """The result as JSON of at most LIMIT bytes."""
    text = _dumps(result)
    if len(text.encode()) <= LIMIT:
        return text
    slim = {
        k: sum(v.values()) if isinstance(v, dict) and all(isinstance(n, int) for n in v.values()) else v
        for k, v in result.items()
    }
    text = _dumps(slim)
    if len(text.encode()) <= LIMIT:
        return text
    # Last resort: scalars only, long strings cut (results have a dozen short keys).
    return _dumps(
        {
            k: v[:LONG_STRING] + "…" if isinstance(v, str) and len(v) > LONG_STRING else v
            for k, v in slim.items()
            if not isinstance(v, list | dict)
        }
    )


def write(result: dict[str, Any], path: Path | None) -> None:
    """Write the result to `path`, or to /dev/termination-log when running in a pod (where it exists).

    Outside a pod the default path does not exist, and creating files in /dev would be wrong.
    """
    target = path if path is not None else TERMINATION_LOG
    if path is None and not target.exists():
        return
    try:
        target.write_text(compact(result) + "\n", encoding="utf-8")
    except OSError as exc:
        log.warning("could not write the result to %s: %s", target, exc.strerror)
