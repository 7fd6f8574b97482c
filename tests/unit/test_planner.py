"""The pure state machine: every decision at time t, with no cluster and no clock."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollover.api.models import (
    LABEL_VALUE_PATTERN,
    NAME_PATTERN,
    ConditionType,
    DistrictRolloverStatus,
    JobState,
    Phase,
    Step,
    SyncTargetKind,
    dump,
    parse_status,
)
from rollover.catalog import load_catalog
from rollover.observed import Observed, ObservedJob, ObservedTarget, OriginalState
from rollover.planner import (
    CreateJob,
    EmitEvent,
    PauseTarget,
    Plan,
    RepairTarget,
    RestoreTarget,
    Rollover,
    Settings,
    job_name,
    plan,
)

pytestmark = pytest.mark.unit

CHICAGO = ZoneInfo("America/Chicago")
NAME = "springfield"
YEAR = "2026-2027"
CREATED = dt.datetime(2026, 11, 24, 12, tzinfo=dt.UTC)
PAUSE_AT = dt.datetime(2027, 7, 15, tzinfo=CHICAGO)  # Thursday: one business day before
RESET_AT = dt.datetime(2027, 7, 16, tzinfo=CHICAGO)  # Friday


def spec(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "districtId": "IL-0631950",
        "schoolYear": YEAR,
        "resetDate": "2027-07-16",
        "timeZone": "America/Chicago",
        "calendar": {"country": "US", "subdivision": "IL"},
        "products": ["imagine-math", "twig-science"],
        "syncSelector": {"matchLabels": {"district": "springfield"}},
    }
    return base | overrides


def rollover(status: DistrictRolloverStatus | None = None, generation: int = 1, **overrides: Any) -> Rollover:
    """A rollover whose date was accepted when it was created (unless a status is given)."""
    return Rollover("district-il", NAME, generation, spec(**overrides), status or accepted())


def accepted() -> DistrictRolloverStatus:
    fresh = Rollover("district-il", NAME, 1, spec(), DistrictRolloverStatus())
    return plan(fresh, Observed(), CREATED).status


def cronjob(
    name: str, *, suspended: bool = False, original: OriginalState | None = None, matches: bool = True
) -> ObservedTarget:
    return ObservedTarget(SyncTargetKind.CRON_JOB, name, matches, suspended=suspended, original=original)


def mine(suspend: bool | None = False, replicas: int | None = None) -> OriginalState:
    return OriginalState(NAME, YEAR, suspend=suspend, replicas=replicas)


def actions(p: Plan, kind: type) -> list[Any]:
    return [a for a in p.actions if isinstance(a, kind)]


def cond(p: Plan, type_: ConditionType) -> tuple[str, str]:
    c = p.status.condition(type_)
    assert c is not None, type_
    return c.status, c.reason


def step_through(r: Rollover, observed: Observed, now: dt.datetime) -> Plan:
    """Plan once, then once more from the written status (as the next reconcile would)."""
    first = plan(r, observed, now)
    return plan(Rollover(r.namespace, r.name, r.generation, r.spec, first.status), observed, now)


def job(step: Step, product: str, state: JobState, attempt: int = 0, message: str = "") -> ObservedJob:
    return ObservedJob(
        job_name(NAME, YEAR, step, product, attempt), step, product, YEAR, attempt, state, message
    )


# --- scheduled ---------------------------------------------------------------------------------


def test_waiting_for_the_pause_is_ready_and_wakes_at_pause_time() -> None:
    p = plan(rollover(), Observed(targets=(cronjob("clever-sync"),)), CREATED)
    assert p.status.phase is Phase.SCHEDULED
    assert cond(p, ConditionType.READY) == ("True", "WaitingForPauseDate")
    assert cond(p, ConditionType.RECONCILING)[0] == "False"
    assert p.wake_at == PAUSE_AT
    assert p.status.next_transition_at == PAUSE_AT
    assert p.status.pause_at == PAUSE_AT and p.status.reset_at == RESET_AT
    assert not actions(p, PauseTarget)


def test_an_unchanged_rollover_plans_the_identical_status_so_nothing_is_written() -> None:
    first = plan(rollover(), Observed(), CREATED)
    later = plan(rollover(first.status), Observed(), CREATED + dt.timedelta(days=30))
    assert dump(later.status) == dump(first.status)
    assert not later.actions


def test_the_status_round_trips_through_its_wire_form() -> None:
    p = plan(rollover(), Observed(), CREATED)
    assert parse_status(dump(p.status)) == p.status


# --- pause -------------------------------------------------------------------------------------


def test_at_pause_time_every_matching_target_is_paused_with_its_original_state() -> None:
    observed = Observed(
        targets=(
            cronjob("clever-sync"),
            cronjob("oneroster-nightly", suspended=True),  # suspended by someone else before the pause
            ObservedTarget(SyncTargetKind.DEPLOYMENT, "csv-import", True, replicas=3),
            cronjob("unrelated", matches=False),
        )
    )
    p = plan(rollover(), observed, PAUSE_AT)
    paused = {a.name: a.original for a in actions(p, PauseTarget)}
    assert set(paused) == {"clever-sync", "oneroster-nightly", "csv-import"}
    assert paused["oneroster-nightly"].suspend is True
    assert paused["csv-import"].replicas == 3
    assert p.status.phase is Phase.PAUSED
    assert cond(p, ConditionType.RECONCILING) == ("True", "Pausing")
    assert {t.name for t in p.status.sync_targets} == set(paused)
    assert any(isinstance(a, EmitEvent) and a.reason == "SyncPaused" for a in p.actions)


def test_once_paused_it_is_ready_and_waits_for_the_reset_time() -> None:
    observed = Observed(targets=(cronjob("clever-sync", suspended=True, original=mine()),))
    p = plan(rollover(), observed, PAUSE_AT + dt.timedelta(hours=1))
    assert p.status.phase is Phase.PAUSED
    assert cond(p, ConditionType.READY) == ("True", "WaitingForResetDate")
    assert cond(p, ConditionType.SYNC_PAUSED) == ("True", "Paused")
    assert p.wake_at == RESET_AT
    assert not [a for a in p.actions if not isinstance(a, EmitEvent)]


def test_drift_during_the_pause_is_repaired_with_a_warning() -> None:
    observed = Observed(targets=(cronjob("clever-sync", suspended=False, original=mine()),))
    p = plan(rollover(), observed, PAUSE_AT + dt.timedelta(hours=1))
    assert actions(p, RepairTarget) == [RepairTarget(SyncTargetKind.CRON_JOB, "clever-sync")]
    assert any(
        isinstance(a, EmitEvent) and a.type == "Warning" and a.reason == "DriftRepaired" for a in p.actions
    )


def test_a_target_paused_by_another_rollover_is_left_alone() -> None:
    other = OriginalState("another", YEAR, suspend=False)
    p = plan(rollover(), Observed(targets=(cronjob("shared", suspended=True, original=other),)), PAUSE_AT)
    assert not actions(p, PauseTarget) and not actions(p, RestoreTarget)


def test_only_a_target_it_selects_is_reported_as_paused_by_another_rollover() -> None:
    # The cache hands over what the selector selects and what this rollover paused; a target another
    # rollover paused that this one does not select must never be warned about (N rollovers pausing
    # in one namespace would otherwise post N^2 Warning events).
    other = OriginalState("another", YEAR, suspend=False)
    observed = Observed(
        targets=(
            cronjob("clever-sync"),
            cronjob("shared", suspended=True, original=other),
            cronjob("theirs", suspended=True, original=other, matches=False),
        )
    )

    p = plan(rollover(), observed, PAUSE_AT)

    warned = [a.message for a in actions(p, EmitEvent) if a.reason == "TargetOwnedElsewhere"]
    assert warned == ["CronJob shared was paused by rollover another; leaving it alone"]
    assert [a.name for a in actions(p, PauseTarget)] == ["clever-sync"]
    assert [t.name for t in p.status.sync_targets] == ["clever-sync"]


def test_a_target_of_another_rollover_it_does_not_select_is_never_warned_about() -> None:
    other = OriginalState("another", YEAR, suspend=False)
    observed = Observed(targets=(cronjob("theirs", suspended=True, original=other, matches=False),))

    for now in (PAUSE_AT, PAUSE_AT + dt.timedelta(hours=1), RESET_AT):
        p = step_through(rollover(), observed, now)
        assert not [a for a in p.actions if isinstance(a, EmitEvent) and a.type == "Warning"], now
        assert not actions(p, PauseTarget) and not actions(p, RestoreTarget)


def test_moving_the_date_later_during_the_pause_resumes_sync() -> None:
    paused = step_through(
        rollover(), Observed(targets=(cronjob("c", suspended=True, original=mine()),)), PAUSE_AT
    )
    moved = rollover(paused.status, generation=2, resetDate="2027-08-13")
    p = plan(moved, Observed(targets=(cronjob("c", suspended=True, original=mine()),)), PAUSE_AT)
    assert actions(p, RestoreTarget) == [RestoreTarget(SyncTargetKind.CRON_JOB, "c", mine())]
    assert p.status.phase is Phase.SCHEDULED


# --- drain, archive, reset ---------------------------------------------------------------------


def paused_observed(*jobs: ObservedJob, active_sync: tuple[str, ...] = ()) -> Observed:
    return Observed(
        targets=(cronjob("c", suspended=True, original=mine()),), jobs=jobs, active_sync_jobs=active_sync
    )


def test_archiving_waits_for_running_sync_jobs_then_stalls_after_the_drain_timeout() -> None:
    settings = Settings(drain_timeout=dt.timedelta(hours=2))
    p = plan(rollover(), paused_observed(active_sync=("c-123",)), RESET_AT, settings)
    assert cond(p, ConditionType.RECONCILING) == ("True", "WaitingForSyncDrain")
    assert not actions(p, CreateJob)
    assert p.wake_at == RESET_AT + settings.drain_poll
    late = plan(
        rollover(), paused_observed(active_sync=("c-123",)), RESET_AT + dt.timedelta(hours=3), settings
    )
    assert cond(late, ConditionType.STALLED) == ("True", "SyncDrainTimeout")
    assert not actions(late, CreateJob)


def test_at_reset_time_one_archive_job_per_product_and_no_reset_job() -> None:
    p = plan(rollover(), paused_observed(), RESET_AT)
    created = actions(p, CreateJob)
    assert {(a.step, a.product) for a in created} == {
        (Step.ARCHIVE, "imagine-math"),
        (Step.ARCHIVE, "twig-science"),
    }
    assert p.status.phase is Phase.ARCHIVING
    assert all(len(a.name) <= 63 for a in created)


def test_reset_jobs_start_only_after_every_archive_succeeded() -> None:
    half = paused_observed(
        job(Step.ARCHIVE, "imagine-math", JobState.SUCCEEDED),
        job(Step.ARCHIVE, "twig-science", JobState.RUNNING),
    )
    assert not actions(plan(rollover(), half, RESET_AT), CreateJob)
    done = paused_observed(
        job(Step.ARCHIVE, "imagine-math", JobState.SUCCEEDED),
        job(Step.ARCHIVE, "twig-science", JobState.SUCCEEDED),
    )
    p = plan(rollover(), done, RESET_AT)
    assert {(a.step, a.product) for a in actions(p, CreateJob)} == {
        (Step.RESET, "imagine-math"),
        (Step.RESET, "twig-science"),
    }
    assert p.status.phase is Phase.RESETTING


@given(st.lists(st.sampled_from(list(JobState)), min_size=2, max_size=2), st.booleans())
def test_no_reset_job_is_ever_planned_unless_all_archives_succeeded(
    states: list[JobState], retry: bool
) -> None:
    observed = paused_observed(
        job(Step.ARCHIVE, "imagine-math", states[0]), job(Step.ARCHIVE, "twig-science", states[1])
    )
    status = plan(rollover(), observed, RESET_AT).status
    again = Observed(observed.targets, observed.jobs, retry_token="x" if retry else None)
    p = plan(rollover(status), again, RESET_AT + dt.timedelta(minutes=5))
    resets = [a for a in actions(p, CreateJob) if a.step is Step.RESET]
    if resets:
        assert states == [JobState.SUCCEEDED, JobState.SUCCEEDED]


def test_a_failed_archive_fails_the_rollover_keeps_sync_paused_and_retry_reruns_only_it() -> None:
    failed = paused_observed(
        job(Step.ARCHIVE, "imagine-math", JobState.SUCCEEDED),
        job(Step.ARCHIVE, "twig-science", JobState.FAILED, message="BackoffLimitExceeded"),
    )
    p = step_through(rollover(), failed, RESET_AT)
    assert p.status.phase is Phase.FAILED
    assert cond(p, ConditionType.STALLED) == ("True", "ArchiveFailed")
    assert "BackoffLimitExceeded" in p.status.condition(ConditionType.STALLED).message  # type: ignore[union-attr]
    assert not actions(p, CreateJob) and not actions(p, RestoreTarget)

    retried = Observed(failed.targets, failed.jobs, retry_token="2027-07-16T09:00")
    r = plan(rollover(p.status), retried, RESET_AT + dt.timedelta(hours=1))
    assert [(a.step, a.product, a.attempt) for a in actions(r, CreateJob)] == [
        (Step.ARCHIVE, "twig-science", 1)
    ]
    assert r.status.retry_token == "2027-07-16T09:00"
    # The same retry token again changes nothing.
    again = plan(rollover(r.status), retried, RESET_AT + dt.timedelta(hours=2))
    assert not actions(again, CreateJob)


def test_after_every_reset_job_targets_are_restored_exactly_then_completed() -> None:
    jobs = [job(s, p, JobState.SUCCEEDED) for s in Step for p in ("imagine-math", "twig-science")]
    targets = (
        cronjob("c", suspended=True, original=mine(suspend=False)),
        cronjob("was-off", suspended=True, original=mine(suspend=True)),
    )
    resuming = plan(rollover(), Observed(targets=targets, jobs=tuple(jobs)), RESET_AT + dt.timedelta(hours=1))
    restores = {a.name: a.original.suspend for a in actions(resuming, RestoreTarget)}
    assert restores == {"c": False, "was-off": True}  # a CronJob we did not suspend stays suspended
    assert resuming.status.phase is Phase.RESUMING
    restored = (cronjob("c"), cronjob("was-off", suspended=True))
    done = plan(
        rollover(resuming.status),
        Observed(targets=restored, jobs=tuple(jobs)),
        RESET_AT + dt.timedelta(hours=1),
    )
    assert done.status.phase is Phase.COMPLETED
    assert cond(done, ConditionType.READY) == ("True", "RolloverCompleted")
    assert [h.school_year for h in done.status.history] == [YEAR]
    assert not actions(done, PauseTarget)


def test_next_school_year_starts_a_new_cycle() -> None:
    jobs = tuple(job(s, p, JobState.SUCCEEDED) for s in Step for p in ("imagine-math", "twig-science"))
    done = step_through(
        rollover(), Observed(targets=(cronjob("c"),), jobs=jobs), RESET_AT + dt.timedelta(hours=1)
    )
    assert done.status.phase is Phase.COMPLETED
    nxt = rollover(done.status, generation=2, schoolYear="2027-2028", resetDate="2028-07-14")
    p = plan(nxt, Observed(targets=(cronjob("c"),), jobs=jobs), RESET_AT + dt.timedelta(days=30))
    assert p.status.phase is Phase.SCHEDULED
    assert p.status.school_year == "2027-2028" and p.status.jobs == []
    assert len(p.status.history) == 1


# --- spec problems, suspend, deletion ----------------------------------------------------------


def test_an_invalid_spec_changes_nothing_and_says_why() -> None:
    bad = Rollover(
        "district-il", NAME, 1, spec(resetDate="2027-07-05"), DistrictRolloverStatus()
    )  # July 4 observed
    p = plan(bad, Observed(targets=(cronjob("c"),)), dt.datetime(2027, 7, 2, tzinfo=CHICAGO))
    assert not [a for a in p.actions if not isinstance(a, EmitEvent)]
    status, reason = cond(p, ConditionType.SPEC_VALID)
    assert status == "False" and reason
    assert cond(p, ConditionType.STALLED)[0] == "True"
    assert "spec.resetDate" in p.status.condition(ConditionType.SPEC_VALID).message  # type: ignore[union-attr]


def test_an_unparseable_spec_is_reported_not_raised() -> None:
    bad = Rollover("district-il", NAME, 1, spec(products="imagine-math"), DistrictRolloverStatus())
    p = plan(bad, Observed(), CREATED)
    assert cond(p, ConditionType.SPEC_VALID)[0] == "False"
    assert p.status.phase is Phase.PENDING


def test_a_date_in_the_past_is_not_re_raised_for_a_rollover_under_way() -> None:
    accepted = plan(rollover(), Observed(), CREATED).status
    p = plan(rollover(accepted), paused_observed(), PAUSE_AT + dt.timedelta(hours=2))
    assert cond(p, ConditionType.SPEC_VALID)[0] == "True"


def test_locked_fields_keep_their_values_after_archiving_started() -> None:
    archiving = step_through(rollover(), paused_observed(), RESET_AT)
    assert archiving.status.phase is Phase.ARCHIVING
    edited = rollover(archiving.status, generation=2, resetDate="2027-08-13", products=["imagine-math"])
    p = plan(
        edited,
        paused_observed(*(job(Step.ARCHIVE, x, JobState.RUNNING) for x in ("imagine-math", "twig-science"))),
        RESET_AT,
    )
    assert cond(p, ConditionType.SPEC_VALID) == ("False", "LockedAfterArchiveStarted")
    assert p.status.reset_date == dt.date(2027, 7, 16)
    assert p.status.phase is Phase.ARCHIVING


def test_suspend_halts_all_actions() -> None:
    p = plan(rollover(suspend=True), Observed(targets=(cronjob("c"),)), PAUSE_AT)
    assert not [a for a in p.actions if not isinstance(a, EmitEvent)]
    assert cond(p, ConditionType.SUSPENDED)[0] == "True"


def test_deletion_during_the_pause_restores_then_releases() -> None:
    deleting = Observed(targets=(cronjob("c", suspended=True, original=mine()),), deleting=True)
    p = plan(rollover(), deleting, PAUSE_AT)
    assert actions(p, RestoreTarget) and not p.release_finalizer
    gone = plan(rollover(), Observed(targets=(cronjob("c"),), deleting=True), PAUSE_AT)
    assert gone.release_finalizer


def test_deletion_waits_for_a_running_reset_job() -> None:
    status = plan(rollover(), paused_observed(), RESET_AT).status
    running = Observed(
        targets=(cronjob("c", suspended=True, original=mine()),),
        jobs=(job(Step.RESET, "imagine-math", JobState.RUNNING),),
        deleting=True,
    )
    p = plan(rollover(status), running, RESET_AT)
    assert not actions(p, RestoreTarget) and not p.release_finalizer


@given(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=253),
    st.sampled_from(list(Step)),
    st.integers(0, 20),
)
def test_job_names_are_deterministic_valid_and_distinct_per_attempt(
    name: str, step: Step, attempt: int
) -> None:
    a = job_name(name, YEAR, step, "imagine-math-facts", attempt)
    assert a == job_name(name, YEAR, step, "imagine-math-facts", attempt)
    assert len(a) <= 63
    assert a != job_name(name, YEAR, step, "imagine-math-facts", attempt + 1)


def test_job_names_stay_valid_label_values_for_the_longest_names() -> None:
    longest = max(load_catalog().products, key=len)
    for name in ("n" * 63, "a." * 31 + "b", "a-" * 31 + "b", "a" * 51 + ".b" + "c" * 10):
        for step in Step:
            for attempt in (0, 1, 99999):
                job = job_name(name, "9999-9999", step, longest, attempt)
                assert len(job) <= 63, job
                assert re.fullmatch(LABEL_VALUE_PATTERN, job) and re.fullmatch(NAME_PATTERN, job), job


def test_job_names_of_ordinary_rollovers_are_spelled_out() -> None:
    assert job_name("springfield", YEAR, Step.ARCHIVE, "imagine-math", 0) == (
        "springfield-2026-2027-archive-imagine-math"
    )
    assert (
        job_name("springfield", YEAR, Step.RESET, "twig-science", 2)
        == "springfield-2026-2027-reset-twig-science-r2"
    )


def test_a_name_too_long_to_label_its_jobs_is_invalid_and_nothing_is_touched() -> None:
    fresh = Rollover("district-il", "n" * 64, 1, spec(), DistrictRolloverStatus())

    p = plan(fresh, Observed(targets=(cronjob("clever-sync"),)), PAUSE_AT)

    assert cond(p, ConditionType.SPEC_VALID) == ("False", "NameInvalid")
    assert cond(p, ConditionType.STALLED) == ("True", "NameInvalid")
    message = p.status.condition(ConditionType.SPEC_VALID).message  # type: ignore[union-attr]
    assert message.startswith("metadata.name: at most 63 characters, it labels the rollover's Jobs")
    assert not [a for a in p.actions if not isinstance(a, EmitEvent)]


def test_a_name_too_long_stops_even_a_cycle_under_way_instead_of_failing_to_create_jobs() -> None:
    # A rollover stored before admission refused such names: it paused, then its Jobs could never be
    # created. It now says why and waits to be deleted (deletion restores roster sync).
    long = "n" * 64
    paused = Observed(
        targets=(cronjob("c", suspended=True, original=OriginalState(long, YEAR, suspend=False)),)
    )
    archiving = plan(rollover(), paused_observed(), RESET_AT).status

    p = plan(Rollover("district-il", long, 1, spec(), archiving), paused, RESET_AT + dt.timedelta(hours=1))

    assert cond(p, ConditionType.SPEC_VALID) == ("False", "NameInvalid")
    assert not actions(p, CreateJob)
    deleting = Observed(targets=paused.targets, deleting=True)
    restored = plan(Rollover("district-il", long, 1, spec(), archiving), deleting, RESET_AT)
    assert [a.name for a in actions(restored, RestoreTarget)] == ["c"]


@pytest.mark.parametrize(
    "selector",
    [
        {},
        {"matchExpressions": [{"key": "district", "operator": "In", "values": []}]},
        {
            "matchLabels": {"district": "springfield"},
            "matchExpressions": [{"key": "x", "operator": "Exists", "values": ["y"]}],
        },
    ],
)
def test_a_selector_kubernetes_would_refuse_is_invalid_and_pauses_nothing(selector: dict[str, Any]) -> None:
    p = plan(rollover(syncSelector=selector), Observed(targets=(cronjob("clever-sync"),)), PAUSE_AT)

    assert cond(p, ConditionType.SPEC_VALID) == ("False", "FieldInvalid")
    assert "spec.syncSelector" in p.status.condition(ConditionType.SPEC_VALID).message  # type: ignore[union-attr]
    assert not [a for a in p.actions if not isinstance(a, EmitEvent)]


def test_the_finalizer_is_held_only_while_there_is_something_to_undo() -> None:
    assert not plan(rollover(), Observed(targets=(cronjob("c"),)), CREATED).hold_finalizer
    assert plan(rollover(), Observed(targets=(cronjob("c"),)), PAUSE_AT).hold_finalizer  # pausing
    assert plan(rollover(), paused_observed(), RESET_AT).hold_finalizer  # archiving
    jobs = tuple(job(s, p, JobState.SUCCEEDED) for s in Step for p in ("imagine-math", "twig-science"))
    done = step_through(
        rollover(), Observed(targets=(cronjob("c"),), jobs=jobs), RESET_AT + dt.timedelta(hours=1)
    )
    assert done.status.phase is Phase.COMPLETED
    assert not done.hold_finalizer


def test_each_transition_says_one_thing() -> None:
    p = plan(rollover(), Observed(targets=(cronjob("c"),)), PAUSE_AT)
    reasons = [a.reason for a in p.actions if isinstance(a, EmitEvent)]
    assert reasons == ["SyncPaused"]


def test_a_pass_that_died_between_two_archive_job_creates_still_archives_every_product() -> None:
    # Status written before the pass (Paused, no Jobs recorded); one of the two archive Jobs made it.
    paused = step_through(rollover(), paused_observed(), PAUSE_AT).status
    assert paused.phase is Phase.PAUSED and not paused.jobs
    p = plan(rollover(paused), paused_observed(job(Step.ARCHIVE, "imagine-math", JobState.RUNNING)), RESET_AT)
    assert [a.product for a in actions(p, CreateJob)] == ["twig-science"]
    assert cond(p, ConditionType.SPEC_VALID) == ("True", "Accepted")
    assert {j.product for j in p.status.jobs if j.step is Step.ARCHIVE} == {"imagine-math", "twig-science"}
