"""What the planner sees of the cluster: slim, immutable projections of the objects it acts on.

The controller builds these from its watch caches; tests build them by hand. Nothing here does I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rollover import GROUP, KIND, VERSION
from rollover.api.models import JobState, NoticeRecord, Step, SyncTargetKind
from rollover.claims import Claim, Holder


@dataclass(frozen=True)
class OriginalState:
    """How a sync target was before we paused it, and which rollover paused it."""

    rollover: str
    school_year: str
    suspend: bool | None = None  # CronJob
    replicas: int | None = None  # Deployment

    def to_annotation(self) -> str:
        """The annotation value (compact JSON)."""
        body: dict[str, Any] = {"rollover": self.rollover, "schoolYear": self.school_year}
        if self.suspend is not None:
            body["suspend"] = self.suspend
        if self.replicas is not None:
            body["replicas"] = self.replicas
        return json.dumps(body, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_annotation(cls, value: str) -> OriginalState | None:
        """Parse the annotation; None when it is not ours or is damaged (never guessed at)."""
        try:
            raw = json.loads(value)
            return cls(
                rollover=str(raw["rollover"]),
                school_year=str(raw["schoolYear"]),
                suspend=bool(raw["suspend"]) if "suspend" in raw else None,
                replicas=int(raw["replicas"]) if "replicas" in raw else None,
            )
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True)
class ObservedTarget:
    """A roster-sync CronJob or CSV-import Deployment in the rollover's namespace."""

    kind: SyncTargetKind
    name: str
    matches_selector: bool
    suspended: bool = False  # CronJob spec.suspend
    replicas: int = 0  # Deployment spec.replicas
    original: OriginalState | None = None  # the original-state annotation: anyone may have written it
    uid: str = ""  # metadata.uid: tells the object we paused from one recreated with its name

    @property
    def paused(self) -> bool:
        """Whether the target is in its paused state right now."""
        return self.suspended if self.kind is SyncTargetKind.CRON_JOB else self.replicas == 0


@dataclass(frozen=True)
class ObservedJob:
    """One of our archive/reset Jobs (controlled by this rollover's UID), from its labels, conditions
    and its own pod's termination message."""

    name: str
    step: Step
    product: str
    school_year: str
    attempt: int
    state: JobState
    message: str = ""
    result: dict[str, Any] | None = None


@dataclass(frozen=True)
class ClaimView:
    """The claim on the rollover's district and school year, as the operator last saw it."""

    claim: Claim | None = None
    version: str | None = None  # its resourceVersion: a change is guarded by it (None: create it)
    gone: frozenset[Holder] = frozenset()  # holders confirmed deleted: their products may be taken


@dataclass(frozen=True)
class Observed:
    """Everything the planner needs from the cluster for one rollover.

    `namespace_districts` and `claims` are None only for callers that cannot know them (`rollover
    plan` previewing a local file); the operator always passes them, so an unannotated namespace is
    an empty set there (fail closed).
    """

    targets: tuple[ObservedTarget, ...] = ()
    jobs: tuple[ObservedJob, ...] = ()
    #: Names of the namespace's Jobs this rollover does not control: a name of ours among them is
    #: taken (only the planner knows which names it will create, so the cache reports them all).
    foreign_job_names: frozenset[str] = frozenset()
    active_sync_jobs: tuple[str, ...] = ()  # Jobs of the sync CronJobs still running
    retry_token: str | None = None  # value of the retry annotation on the rollover
    deleting: bool = False  # deletionTimestamp is set
    namespace_districts: frozenset[str] | None = None  # the namespace's rostering.k12.dev/districts
    claims: ClaimView | None = None
    #: Notices the notifier delivered that status may not record yet (recorded by the next write).
    delivered: tuple[NoticeRecord, ...] = ()
    #: Why the last delivery failed (safe to show: no URL, no secret), until one succeeds.
    notice_error: str | None = None


def controller_uid(metadata: dict[str, Any], api_version: str, kind: str) -> str | None:
    """The UID of the object's controller if that controller is an `api_version` `kind`, else None.

    Labels and annotations can be written by anyone who can write the object; a controller
    reference names one object by UID, which is what ties a Job to its rollover and a pod to its Job.
    """
    for owner in metadata.get("ownerReferences") or []:
        if owner.get("controller") and owner.get("apiVersion") == api_version and owner.get("kind") == kind:
            return str(owner.get("uid") or "") or None
    return None


def controlling_rollover(metadata: dict[str, Any]) -> str | None:
    """The UID of the DistrictRollover that controls the object (one of its Jobs), if any."""
    return controller_uid(metadata, f"{GROUP}/{VERSION}", KIND)
