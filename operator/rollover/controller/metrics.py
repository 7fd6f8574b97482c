"""Prometheus metrics. Labels are bounded: namespace/name of a rollover, phase, step, outcome —
never free text such as messages."""

from __future__ import annotations

import contextlib

from prometheus_client import Counter, Gauge, start_http_server

from rollover.api.models import DistrictRolloverStatus, JobState, Phase

PHASE = Gauge("rollover_phase", "1 for the rollover's current phase", ["namespace", "name", "phase"])
NEXT_TRANSITION = Gauge(
    "rollover_next_transition_timestamp_seconds",
    "When the operator acts next on this rollover (unix time)",
    ["namespace", "name"],
)
TRANSITIONS = Counter("rollover_transitions_total", "Phase transitions", ["phase"])
JOB_OUTCOMES = Counter("rollover_jobs_total", "Archive/reset Jobs that finished", ["step", "outcome"])
JOB_DURATION = Gauge(
    "rollover_job_duration_seconds",
    "Duration of the latest Job per rollover and step",
    ["namespace", "name", "step", "product"],
)
RECONCILE_ERRORS = Counter("rollover_reconcile_errors_total", "Reconciles that raised")
LEADER = Gauge("rollover_leader", "1 while this replica holds the leader lease (or runs without election)")


def serve(port: int) -> None:
    """Serve /metrics on `port`."""
    start_http_server(port)


def record(namespace: str, name: str, old: DistrictRolloverStatus, new: DistrictRolloverStatus) -> None:
    """Update the metrics from one reconcile's status change."""
    if old.phase != new.phase:
        TRANSITIONS.labels(new.phase.value).inc()
    for phase in Phase:
        PHASE.labels(namespace, name, phase.value).set(1 if phase is new.phase else 0)
    if new.next_transition_at is not None:
        NEXT_TRANSITION.labels(namespace, name).set(new.next_transition_at.timestamp())
    finished_before = {j.name for j in old.jobs if j.completed_at is not None}
    for job in new.jobs:
        if job.completed_at is None or job.name in finished_before:
            continue
        outcome = "succeeded" if job.state is JobState.SUCCEEDED else "failed"
        JOB_OUTCOMES.labels(job.step.value, outcome).inc()
        if job.started_at is not None:
            JOB_DURATION.labels(namespace, name, job.step.value, job.product).set(
                (job.completed_at - job.started_at).total_seconds()
            )


def forget(namespace: str, name: str) -> None:
    """Drop a deleted rollover's series (keeps cardinality bounded by live rollovers)."""
    for phase in Phase:
        _remove(PHASE, namespace, name, phase.value)
    _remove(NEXT_TRANSITION, namespace, name)


def _remove(metric: Gauge, *labels: str) -> None:
    with contextlib.suppress(KeyError):  # never had that series
        metric.remove(*labels)
