"""Kubernetes label-selector matching (matchLabels + matchExpressions), for raw selector dicts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str] | None) -> bool:
    """Whether `labels` satisfy `selector`. An empty or missing selector matches nothing:
    a rollover must never pause every CronJob of a namespace by accident."""
    if not selector:
        return False
    labels = labels or {}
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not match_labels and not expressions:
        return False
    if any(labels.get(k) != v for k, v in match_labels.items()):
        return False
    return all(_requirement(e, labels) for e in expressions)


def required_label(selector: Mapping[str, Any] | None) -> tuple[str, str] | None:
    """One label (key, value) that every label set `selector` matches must carry, or None when no
    single label is required (it may then match anything, or nothing). What an index of targets by
    label looks a selector up by."""
    if not selector:
        return None
    match_labels = selector.get("matchLabels") or {}
    for key, value in match_labels.items():
        return str(key), str(value)
    for expr in selector.get("matchExpressions") or []:
        values = expr.get("values") or []
        if expr.get("operator") == "In" and len(values) == 1:
            return str(expr.get("key", "")), str(values[0])
    return None


def _requirement(expr: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, op, values = expr.get("key", ""), expr.get("operator"), expr.get("values") or []
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    return False  # unknown operator: admission rejects it; never match on a guess
