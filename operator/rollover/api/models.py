"""The DistrictRollover API (rostering.k12.dev/v1alpha1): the one source of truth.

The CRD's OpenAPI schema (`rollover.api.crd`), the editor JSON Schema (`rollover schema`) and the
reference docs are generated from these models; tests check that the committed copies agree.
Field names are camelCase on the wire (aliases) and snake_case in Python.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

DISTRICT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
SCHOOL_YEAR_PATTERN = r"^[0-9]{4}-[0-9]{4}$"
CONDITION_REASON_PATTERN = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
PRODUCT_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
LABEL_KEY_MAX = 317  # optional 253-char DNS prefix, '/', 63-char name
LABEL_VALUE_PATTERN = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"


class _Model(BaseModel):
    """Base: camelCase on the wire, unknown fields rejected, immutable values."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


# --- spec -------------------------------------------------------------------------------------


class SelectorOperator(StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class LabelSelectorRequirement(_Model):
    """One matchExpressions entry of a Kubernetes label selector."""

    key: Annotated[str, StringConstraints(min_length=1, max_length=LABEL_KEY_MAX)]
    operator: SelectorOperator
    values: list[Annotated[str, StringConstraints(max_length=63, pattern=LABEL_VALUE_PATTERN)]] = Field(
        default_factory=list, max_length=64
    )


class LabelSelector(_Model):
    """Selects the district's roster-sync CronJobs and CSV-import Deployments in the namespace."""

    match_labels: dict[
        Annotated[str, StringConstraints(min_length=1, max_length=LABEL_KEY_MAX)],
        Annotated[str, StringConstraints(max_length=63, pattern=LABEL_VALUE_PATTERN)],
    ] = Field(default_factory=dict, max_length=32)
    match_expressions: list[LabelSelectorRequirement] = Field(default_factory=list, max_length=32)


class CalendarSpec(_Model):
    """Which days are business days for this district."""

    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2,3}$")] = Field(
        default="US", description="Country code of the `holidays` package (ISO 3166-1 alpha-2)."
    )
    subdivision: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{1,3}$")] | None = Field(
        default=None, description="State/territory code of the `holidays` package, e.g. IL, AZ, GU."
    )
    closures: list[dt.date] = Field(
        default_factory=list, max_length=366, description="District closure days; not business days."
    )


class PauseSpec(_Model):
    """When roster sync pauses relative to the reset date."""

    business_days_before: int = Field(
        default=1, ge=1, le=10, description="Business days before resetDate that roster sync pauses."
    )


class ExceptionSpec(_Model):
    """A CSM-approved exception to the June 1 - October 1 reset window."""

    approved_by: Annotated[str, StringConstraints(min_length=1, max_length=128)] = Field(
        description="Who approved it, e.g. csm:jane.doe."
    )
    reason: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class DistrictRolloverSpec(_Model):
    """What a platform engineer declares for one district's yearly rollover."""

    district_id: Annotated[str, StringConstraints(pattern=DISTRICT_ID_PATTERN)] = Field(
        description="The district's ID in the SIS / rostering provider. Immutable."
    )
    display_name: Annotated[str, StringConstraints(max_length=256)] | None = Field(
        default=None, description="Human-readable district name."
    )
    school_year: Annotated[str, StringConstraints(pattern=SCHOOL_YEAR_PATTERN)] = Field(
        description="The school year being closed, YYYY-YYYY (consecutive years)."
    )
    reset_date: dt.date = Field(description="The day last year's data is archived and reset.")
    time_zone: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="IANA time zone of the district; dates are midnights in this zone."
    )
    calendar: CalendarSpec = Field(default_factory=CalendarSpec)
    school_year_end: dt.date | None = Field(default=None, description="Last day of the school year.")
    summer_school_end: dt.date | None = Field(default=None, description="Last day of summer school.")
    pause: PauseSpec = Field(default_factory=PauseSpec)
    products: list[Annotated[str, StringConstraints(pattern=PRODUCT_PATTERN)]] = Field(
        min_length=1, max_length=16, description="Products rolled over, from the product catalog."
    )
    sync_selector: LabelSelector = Field(
        description="Selects the roster-sync CronJobs and CSV-import Deployments in this namespace."
    )
    exception: ExceptionSpec | None = Field(
        default=None, description="CSM-approved exception to the reset window and school-year rule."
    )
    suspend: bool = Field(default=False, description="CSM kill switch: no further action while true.")

    def school_year_bounds(self) -> tuple[int, int]:
        """The two calendar years of `schoolYear`."""
        first, second = self.school_year.split("-")
        return int(first), int(second)


# --- status -----------------------------------------------------------------------------------


class Phase(StrEnum):
    """Where a rollover is, for humans and printer columns."""

    PENDING = "Pending"  # not yet observed, or the spec is invalid
    SCHEDULED = "Scheduled"
    PAUSED = "Paused"
    ARCHIVING = "Archiving"
    RESETTING = "Resetting"
    RESUMING = "Resuming"
    COMPLETED = "Completed"
    FAILED = "Failed"


class ConditionType(StrEnum):
    READY = "Ready"
    RECONCILING = "Reconciling"
    STALLED = "Stalled"
    SPEC_VALID = "SpecValid"
    SYNC_PAUSED = "SyncPaused"
    ARCHIVED = "Archived"
    DATA_RESET = "DataReset"
    SUSPENDED = "Suspended"


ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(_Model):
    """A metav1.Condition."""

    type: Annotated[str, StringConstraints(max_length=316)]
    status: ConditionStatus
    reason: Annotated[str, StringConstraints(min_length=1, max_length=1024, pattern=CONDITION_REASON_PATTERN)]
    message: Annotated[str, StringConstraints(max_length=32768)] = ""
    last_transition_time: dt.datetime
    observed_generation: int | None = Field(default=None, ge=0)


class SyncTargetKind(StrEnum):
    CRON_JOB = "CronJob"
    DEPLOYMENT = "Deployment"


class SyncTargetState(StrEnum):
    PAUSED = "Paused"
    RESTORED = "Restored"


class SyncTarget(_Model):
    """A roster-sync object we paused, with the state to restore it to."""

    kind: SyncTargetKind
    name: str
    original_suspend: bool | None = Field(default=None, description="CronJob: spec.suspend before the pause.")
    original_replicas: int | None = Field(default=None, description="Deployment: replicas before the pause.")
    state: SyncTargetState = SyncTargetState.PAUSED
    paused_at: dt.datetime | None = None


class Step(StrEnum):
    ARCHIVE = "archive"
    RESET = "reset"


class JobState(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class JobRecord(_Model):
    """One archive or reset Job of this cycle."""

    name: str
    step: Step
    product: str
    attempt: int = Field(default=0, ge=0)
    state: JobState = JobState.PENDING
    started_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    message: str = ""
    result: dict[str, Any] | None = Field(default=None, description="The Job's JSON termination message.")


class HistoryEntry(_Model):
    """One finished cycle."""

    school_year: str
    reset_date: dt.date
    pause_at: dt.datetime
    reset_at: dt.datetime
    completed_at: dt.datetime
    outcome: Literal["Completed", "Failed"]
    jobs: list[JobRecord] = Field(default_factory=list)


class DistrictRolloverStatus(_Model):
    """What the operator reports. Written only by the operator (status subresource)."""

    phase: Phase = Phase.PENDING
    school_year: str | None = Field(default=None, description="The cycle these fields describe.")
    reset_date: dt.date | None = Field(
        default=None, description="The reset date accepted for this cycle (validated when it was chosen)."
    )
    pause_date: dt.date | None = None
    pause_at: dt.datetime | None = None
    reset_at: dt.datetime | None = None
    next_transition_at: dt.datetime | None = None
    observed_generation: int | None = None
    retry_token: str | None = Field(default=None, description="Last rostering.k12.dev/retry value acted on.")
    conditions: list[Condition] = Field(default_factory=list)
    sync_targets: list[SyncTarget] = Field(default_factory=list)
    jobs: list[JobRecord] = Field(default_factory=list)
    history: list[HistoryEntry] = Field(default_factory=list)

    def condition(self, type_: ConditionType | str) -> Condition | None:
        """The condition of that type, if set."""
        return next((c for c in self.conditions if c.type == type_), None)


def parse_spec(raw: dict[str, Any]) -> DistrictRolloverSpec:
    """Parse a spec from its wire form (camelCase)."""
    return DistrictRolloverSpec.model_validate(raw)


def parse_status(raw: dict[str, Any] | None) -> DistrictRolloverStatus:
    """Parse a status from its wire form; a missing status is the empty status."""
    return DistrictRolloverStatus.model_validate(raw or {})


def dump(model: BaseModel) -> dict[str, Any]:
    """A model's wire form: camelCase, JSON-compatible, no unset optionals."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)
