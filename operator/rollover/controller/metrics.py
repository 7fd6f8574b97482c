"""Prometheus metrics. Labels are bounded: namespace/name of a rollover, phase, step, outcome —
never free text such as messages."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import REGISTRY, Counter, Gauge, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from rollover.api.models import DistrictRolloverStatus, JobState, Phase


class RolloverStates(Collector):
    """`rollover_phase` (1 for the current phase, 0 for the others) and
    `rollover_next_transition_timestamp_seconds` per rollover, built at scrape time from one entry
    per rollover. As labelled Gauges they held a child object per series, 8 per rollover: 83 MiB
    of the operator's memory at 15,000 rollovers."""

    def __init__(self) -> None:
        #: (namespace, name) -> (phase, next transition as unix time or None)
        self.states: dict[tuple[str, str], tuple[Phase, float | None]] = {}

    def describe(self) -> Iterator[Metric]:
        """The families without their series: a scrape that asks for other metrics only
        (`/metrics?name[]=...`) then does not build 165,000 series at 15,000 rollovers."""
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        phases, next_transition = self._families()
        for (namespace, name), (current, next_at) in list(self.states.items()):
            for phase in Phase:
                phases.add_metric([namespace, name, phase.value], 1.0 if phase is current else 0.0)
            if next_at is not None:
                next_transition.add_metric([namespace, name], next_at)
        yield phases
        yield next_transition

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        phases = GaugeMetricFamily(
            "rollover_phase", "1 for the rollover's current phase", labels=["namespace", "name", "phase"]
        )
        next_transition = GaugeMetricFamily(
            "rollover_next_transition_timestamp_seconds",
            "When the operator acts next on this rollover (unix time)",
            labels=["namespace", "name"],
        )
        return phases, next_transition


STATES = RolloverStates()
REGISTRY.register(STATES)
TRANSITIONS = Counter("rollover_transitions_total", "Phase transitions", ["phase"])
JOB_OUTCOMES = Counter("rollover_jobs_total", "Archive/reset Jobs that finished", ["step", "outcome"])
JOB_DURATION = Gauge(
    "rollover_job_duration_seconds",
    "Duration of the latest Job per rollover and step",
    ["namespace", "name", "step", "product"],
)
RECONCILE_ERRORS = Counter("rollover_reconcile_errors_total", "Reconciles that raised")
#: The reconciler's work, as controller-runtime's workqueue metrics tell it: a restart is serving
#: again once every rollover has a wake-up armed and nothing is queued.
WORKQUEUE_DEPTH = Gauge("rollover_workqueue_depth", "Rollovers waiting for a worker")
WAKEUPS_ARMED = Gauge(
    "rollover_wakeups_armed", "Rollovers reconciled and waiting for their next transition or retry"
)
LEADER = Gauge("rollover_leader", "1 while this replica holds the leader lease (or runs without election)")


def serve(port: int) -> None:
    """Serve /metrics on `port`."""
    start_http_server(port)


def follow_reconciler(depth: Callable[[], float], armed: Callable[[], float]) -> None:
    """Read the workqueue gauges from the reconciler at scrape time."""
    WORKQUEUE_DEPTH.set_function(depth)
    WAKEUPS_ARMED.set_function(armed)


def record(namespace: str, name: str, old: DistrictRolloverStatus, new: DistrictRolloverStatus) -> None:
    """Update the metrics from one reconcile's status change."""
    if old.phase != new.phase:
        TRANSITIONS.labels(new.phase.value).inc()
    next_at = new.next_transition_at.timestamp() if new.next_transition_at is not None else None
    STATES.states[(namespace, name)] = (new.phase, next_at)
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
    STATES.states.pop((namespace, name), None)
