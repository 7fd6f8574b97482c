"""The apiserver's own Prometheus metrics (`/metrics`), read by the benchmarks and fault tests."""

from __future__ import annotations

import re
from collections.abc import Iterator

from rollover.devcluster.controlplane import ControlPlane

_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][\w:]*)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def samples(plane: ControlPlane, name: str) -> Iterator[tuple[dict[str, str], float]]:
    """(labels, value) of each sample of the apiserver's metric `name`."""
    for line in plane.get("/metrics", timeout=30).decode().splitlines():
        match = _SAMPLE.match(line)
        if match is not None and match["name"] == name:
            yield dict(_LABEL.findall(match["labels"] or "")), float(match["value"])


def metric_sum(plane: ControlPlane, name: str, **labels: str) -> float:
    """The sum of the apiserver's `name` samples whose labels include `labels`."""
    return sum(
        value for found, value in samples(plane, name) if all(found.get(k) == v for k, v in labels.items())
    )
