"""The pure state machine: every decision at time t, with no cluster and no clock."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
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
    SyncTarget,
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
#: Five business days before the pause (Monday July 5 is Independence Day observed).
PREFLIGHT_AT = dt.datetime(2027, 7, 8, tzinfo=CHICAGO)
NO_PREFLIGHT = Settings(preflight_business_days=None)


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


def ours(*targets: ObservedTarget, status: DistrictRolloverStatus | None = None) -> DistrictRolloverStatus:
    """`status` (the accepted one by default) with our record of having paused `targets` from the
    state their annotations state: what the pass that paused them wrote."""
    records = [
        SyncTarget(
            kind=t.kind,
            name=t.name,
            uid=t.uid,
            original_suspend=t.original.suspend,
            original_replicas=t.original.replicas,
            paused_at=PAUSE_AT,
        )
        for t in targets
        if t.original is not None
    ]
    return (status or accepted()).model_copy(update={"sync_targets": records})


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
    assert p.wake_at == PREFLIGHT_AT, "the preflight comes first"
    assert p.status.next_transition_at == PREFLIGHT_AT
    unchecked = plan(rollover(), Observed(targets=(cronjob("clever-sync"),)), CREATED, NO_PREFLIGHT)
    assert unchecked.wake_at == PAUSE_AT
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
    p = plan(rollover(ours(*observed.targets)), observed, PAUSE_AT + dt.timedelta(hours=1))
    assert p.status.phase is Phase.PAUSED
    assert cond(p, ConditionType.READY) == ("True", "WaitingForResetDate")
    assert cond(p, ConditionType.SYNC_PAUSED) == ("True", "Paused")
    assert p.wake_at == RESET_AT
    assert not [a for a in p.actions if not isinstance(a, EmitEvent)]


def test_drift_during_the_pause_is_repaired_with_a_warning() -> None:
    observed = Observed(targets=(cronjob("clever-sync", suspended=False, original=mine()),))
    p = plan(rollover(ours(*observed.targets)), observed, PAUSE_AT + dt.timedelta(hours=1))
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
    paused = step_through(rollover(), Observed(targets=(cronjob("c"),)), PAUSE_AT)
    moved = rollover(paused.status, generation=2, resetDate="2027-08-13")
    p = plan(moved, Observed(targets=(cronjob("c", suspended=True, original=mine()),)), PAUSE_AT)
    assert actions(p, RestoreTarget) == [RestoreTarget(SyncTargetKind.CRON_JOB, "c", mine())]
    assert p.status.phase is Phase.SCHEDULED


# --- drain, archive, reset ---------------------------------------------------------------------


def paused_observed(*jobs: ObservedJob, active_sync: tuple[str, ...] = ()) -> Observed:
    return Observed(
        targets=(cronjob("c", suspended=True, original=mine()),), jobs=jobs, active_sync_jobs=active_sync
    )


def paused_status() -> DistrictRolloverStatus:
    return ours(*paused_observed().targets)


def test_archiving_waits_for_running_sync_jobs_then_stalls_after_the_drain_timeout() -> None:
    settings = Settings(drain_timeout=dt.timedelta(hours=2))
    p = plan(rollover(paused_status()), paused_observed(active_sync=("c-123",)), RESET_AT, settings)
    assert cond(p, ConditionType.RECONCILING) == ("True", "WaitingForSyncDrain")
    assert not actions(p, CreateJob)
    assert p.wake_at == RESET_AT + settings.drain_poll
    late = plan(
        rollover(paused_status()),
        paused_observed(active_sync=("c-123",)),
        RESET_AT + dt.timedelta(hours=3),
        settings,
    )
    assert cond(late, ConditionType.STALLED) == ("True", "SyncDrainTimeout")
    assert not actions(late, CreateJob)


def test_at_reset_time_one_archive_job_per_product_and_no_reset_job() -> None:
    p = plan(rollover(paused_status()), paused_observed(), RESET_AT)
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
    assert not actions(plan(rollover(paused_status()), half, RESET_AT), CreateJob)
    done = paused_observed(
        job(Step.ARCHIVE, "imagine-math", JobState.SUCCEEDED),
        job(Step.ARCHIVE, "twig-science", JobState.SUCCEEDED),
    )
    p = plan(rollover(paused_status()), done, RESET_AT)
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
    status = plan(rollover(paused_status()), observed, RESET_AT).status
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
    p = step_through(rollover(paused_status()), failed, RESET_AT)
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
    rerun = job(Step.ARCHIVE, "twig-science", JobState.RUNNING, attempt=1)
    again = plan(
        rollover(r.status),
        Observed(retried.targets, (*retried.jobs, rerun), retry_token="2027-07-16T09:00"),
        RESET_AT + dt.timedelta(hours=2),
    )
    assert not actions(again, CreateJob)


def test_a_failed_job_s_stalled_message_names_the_cause_its_result_gave_not_the_job_controller_s() -> None:
    failed = replace(
        job(
            Step.ARCHIVE,
            "twig-science",
            JobState.FAILED,
            message="Job has reached the specified backoff limit",
        ),
        result={"error": "cannot write the archive: s3://*** refused the credentials"},
    )
    p = step_through(rollover(paused_status()), paused_observed(failed), RESET_AT)
    stalled = p.status.condition(ConditionType.STALLED)
    assert stalled is not None
    assert "cannot write the archive: s3://*** refused the credentials" in stalled.message
    assert "backoff limit" not in stalled.message


def test_after_every_reset_job_targets_are_restored_exactly_then_completed() -> None:
    jobs = [job(s, p, JobState.SUCCEEDED) for s in Step for p in ("imagine-math", "twig-science")]
    targets = (
        cronjob("c", suspended=True, original=mine(suspend=False)),
        cronjob("was-off", suspended=True, original=mine(suspend=True)),
    )
    resuming = plan(
        rollover(ours(*targets)),
        Observed(targets=targets, jobs=tuple(jobs)),
        RESET_AT + dt.timedelta(hours=1),
    )
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
    archiving = step_through(rollover(paused_status()), paused_observed(), RESET_AT)
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
    p = plan(rollover(ours(*deleting.targets)), deleting, PAUSE_AT)
    assert actions(p, RestoreTarget) and not p.release_finalizer
    gone = plan(rollover(ours(*deleting.targets)), Observed(targets=(cronjob("c"),), deleting=True), PAUSE_AT)
    assert gone.release_finalizer


def test_deletion_waits_for_a_running_reset_job() -> None:
    status = plan(rollover(paused_status()), paused_observed(), RESET_AT).status
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
    archiving = plan(rollover(paused_status()), paused_observed(), RESET_AT).status

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
    assert plan(rollover(paused_status()), paused_observed(), RESET_AT).hold_finalizer  # archiving
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
    paused = step_through(rollover(paused_status()), paused_observed(), PAUSE_AT).status
    assert paused.phase is Phase.PAUSED and not paused.jobs
    p = plan(rollover(paused), paused_observed(job(Step.ARCHIVE, "imagine-math", JobState.RUNNING)), RESET_AT)
    assert [a.product for a in actions(p, CreateJob)] == ["twig-science"]
    assert cond(p, ConditionType.SPEC_VALID) == ("True", "Accepted")
    assert {j.product for j in p.status.jobs if j.step is Step.ARCHIVE} == {"imagine-math", "twig-science"}


# --- trust boundaries: only our Jobs count, restore only what we paused --------------------------

ARCHIVE_MATH = job_name(NAME, YEAR, Step.ARCHIVE, "imagine-math", 0)
RESET_MATH = job_name(NAME, YEAR, Step.RESET, "imagine-math", 0)
ARCHIVES_DONE = tuple(job(Step.ARCHIVE, p, JobState.SUCCEEDED) for p in ("imagine-math", "twig-science"))
ALL_DONE = tuple(
    job(s, p, JobState.SUCCEEDED)
    for s in (Step.ARCHIVE, Step.RESET)
    for p in ("imagine-math", "twig-science")
)


def warnings(p: Plan, reason: str) -> list[str]:
    return [a.message for a in actions(p, EmitEvent) if a.type == "Warning" and a.reason == reason]


def test_a_foreign_job_holding_an_archive_name_stalls_the_rollover_and_nothing_is_created() -> None:
    taken = Observed(paused_observed().targets, foreign_job_names=frozenset({ARCHIVE_MATH}))

    p = step_through(rollover(paused_status()), taken, RESET_AT)

    assert p.status.phase is Phase.ARCHIVING
    assert cond(p, ConditionType.STALLED) == ("True", "JobNameTaken")
    message = p.status.condition(ConditionType.STALLED).message  # type: ignore[union-attr]
    assert ARCHIVE_MATH in message and "delete or rename" in message
    assert not actions(p, CreateJob), "no Job of the step is created while one of its names is taken"
    assert not p.status.jobs
    first = plan(rollover(paused_status()), taken, RESET_AT)
    assert len(warnings(first, "JobNameTaken")) == 1
    assert not warnings(p, "JobNameTaken"), "the warning is said once, not on every pass"

    freed = plan(rollover(p.status), paused_observed(), RESET_AT + dt.timedelta(minutes=5))
    assert {a.name for a in actions(freed, CreateJob)} >= {ARCHIVE_MATH}
    assert cond(freed, ConditionType.STALLED)[0] == "False"


def test_a_create_that_met_a_foreign_job_with_its_name_does_not_count_as_ours() -> None:
    # The pass recorded the archive Jobs as Pending and created them; one create met a Job not ours.
    archiving = plan(rollover(paused_status()), paused_observed(), RESET_AT).status
    met = Observed(
        paused_observed().targets,
        jobs=(job(Step.ARCHIVE, "twig-science", JobState.RUNNING),),
        foreign_job_names=frozenset({ARCHIVE_MATH}),
    )

    p = plan(rollover(archiving), met, RESET_AT)

    assert cond(p, ConditionType.STALLED) == ("True", "JobNameTaken")
    assert {j.name: j.state for j in p.status.jobs}[ARCHIVE_MATH] is JobState.PENDING, "never counted"
    gone = plan(rollover(p.status), paused_observed(*met.jobs), RESET_AT + dt.timedelta(minutes=5))
    assert [a.name for a in actions(gone, CreateJob)] == [ARCHIVE_MATH]


def test_a_foreign_job_holding_a_reset_name_stalls_before_any_reset_and_keeps_sync_paused() -> None:
    taken = paused_observed(*ARCHIVES_DONE)
    taken = Observed(taken.targets, taken.jobs, foreign_job_names=frozenset({RESET_MATH}))

    p = step_through(rollover(paused_status()), taken, RESET_AT)

    assert p.status.phase is Phase.RESETTING
    assert cond(p, ConditionType.STALLED) == ("True", "JobNameTaken")
    assert not actions(p, CreateJob) and not actions(p, RestoreTarget)


@given(
    st.sets(st.sampled_from([ARCHIVE_MATH, RESET_MATH, job_name(NAME, YEAR, Step.RESET, "twig-science", 0)]))
)
def test_a_step_whose_name_a_foreign_job_holds_never_succeeds_and_the_next_never_starts(
    taken: set[str],
) -> None:
    status = paused_status()
    seen = paused_observed()
    for minutes in range(4):
        # Every Job the operator could create is created and succeeds; the foreign ones stay.
        observed = Observed(seen.targets, seen.jobs, foreign_job_names=frozenset(taken))
        p = plan(rollover(status), observed, RESET_AT + dt.timedelta(minutes=minutes))
        created = actions(p, CreateJob)
        assert not {a.name for a in created} & taken
        status = p.status
        made = tuple(job(a.step, a.product, JobState.SUCCEEDED) for a in created)
        seen = Observed(seen.targets, seen.jobs + made)
    names = {j.name for j in seen.jobs}
    if ARCHIVE_MATH in taken:
        assert not any(j.step is Step.RESET for j in seen.jobs), "no reset after a foreign archive Job"
    if taken:
        assert status.phase is not Phase.COMPLETED
        assert cond(p, ConditionType.STALLED) == ("True", "JobNameTaken")
    else:
        assert names == {j.name for j in ALL_DONE}


def test_an_annotation_naming_us_on_a_target_we_never_paused_is_ignored_and_never_restored() -> None:
    # Owner-suspended, not selected, with a hand-written annotation claiming we paused it from active.
    forged = cronjob("legacy-sync", suspended=True, original=mine(suspend=False), matches=False)
    targets = (cronjob("c"), forged)

    pausing = step_through(rollover(), Observed(targets=targets), PAUSE_AT)
    assert [a.name for a in actions(pausing, PauseTarget)] == ["c"]
    status = plan(rollover(), Observed(targets=targets), PAUSE_AT).status
    assert not [r for r in status.sync_targets if r.name == "legacy-sync" and r.state == "Paused"]
    first = plan(rollover(), Observed(targets=targets), PAUSE_AT)
    assert len(warnings(first, "OriginalStateIgnored")) == 1
    assert not warnings(pausing, "OriginalStateIgnored"), "said once"

    paused = (cronjob("c", suspended=True, original=mine()), forged)
    resuming = step_through(
        rollover(pausing.status), Observed(targets=paused, jobs=ALL_DONE), RESET_AT + dt.timedelta(hours=1)
    )
    assert [a.name for a in actions(resuming, RestoreTarget)] == ["c"]
    deleting = plan(rollover(pausing.status), Observed(targets=paused, deleting=True), PAUSE_AT)
    assert [a.name for a in actions(deleting, RestoreTarget)] == ["c"]


def test_a_selected_target_with_an_annotation_we_did_not_write_is_paused_from_its_real_state() -> None:
    forged = cronjob("c", suspended=True, original=mine(suspend=False))  # suspended by its owner

    p = plan(rollover(), Observed(targets=(forged,)), PAUSE_AT)

    assert actions(p, PauseTarget) == [PauseTarget(SyncTargetKind.CRON_JOB, "c", mine(suspend=True))]
    assert warnings(p, "OriginalStateIgnored")
    assert [(r.name, r.original_suspend, r.state) for r in p.status.sync_targets] == [("c", True, "Paused")]


def test_restore_uses_the_recorded_state_when_the_annotation_was_edited_after_the_pause() -> None:
    recorded = cronjob("c", suspended=True, original=mine(suspend=True))
    edited = cronjob("c", suspended=True, original=mine(suspend=False))

    p = plan(
        rollover(ours(recorded)), Observed(targets=(edited,), jobs=ALL_DONE), RESET_AT + dt.timedelta(hours=1)
    )

    assert actions(p, RestoreTarget) == [RestoreTarget(SyncTargetKind.CRON_JOB, "c", mine(suspend=True))]
    assert warnings(p, "OriginalStateIgnored")


def test_during_the_pause_an_edited_annotation_is_written_back_from_the_record() -> None:
    recorded = ObservedTarget(SyncTargetKind.DEPLOYMENT, "csv", True, replicas=0, original=mine(None, 2))
    edited = ObservedTarget(SyncTargetKind.DEPLOYMENT, "csv", True, replicas=0, original=mine(None, 50))

    p = plan(rollover(ours(recorded)), Observed(targets=(edited,)), PAUSE_AT + dt.timedelta(hours=1))

    assert actions(p, PauseTarget) == [PauseTarget(SyncTargetKind.DEPLOYMENT, "csv", mine(None, 2))]


def test_an_object_recreated_with_the_name_of_one_we_paused_is_not_restored_from_its_annotation() -> None:
    paused = ObservedTarget(SyncTargetKind.CRON_JOB, "c", True, suspended=True, original=mine(), uid="uid-1")
    # Deleted and recreated (suspended, not selected any more) from a copy that kept our annotation.
    recreated = ObservedTarget(
        SyncTargetKind.CRON_JOB, "c", False, suspended=True, original=mine(), uid="uid-2"
    )

    p = plan(
        rollover(ours(paused)),
        Observed(targets=(recreated,), jobs=ALL_DONE),
        RESET_AT + dt.timedelta(hours=1),
    )

    assert not actions(p, RestoreTarget)
    assert warnings(p, "OriginalStateIgnored")
    assert p.status.phase is Phase.COMPLETED


def test_a_pause_whose_patch_a_crash_lost_is_applied_from_the_record_written_before_it() -> None:
    # The operator writes a pause's record to status before the pause PATCH, and died between them.
    target = cronjob("c", suspended=False)
    recorded = ours(cronjob("c", suspended=True, original=mine(suspend=False)))

    p = plan(rollover(recorded), Observed(targets=(target,)), PAUSE_AT + dt.timedelta(seconds=1))

    assert actions(p, PauseTarget) == [PauseTarget(SyncTargetKind.CRON_JOB, "c", mine(suspend=False))]
    assert not warnings(p, "OriginalStateIgnored")


def test_a_paused_target_whose_record_is_missing_stays_paused_never_resumed_from_its_annotation() -> None:
    # Our annotation and a pause, but no record (an operator from before records came first died
    # between the two): the annotation cannot be told from a forged one, so the target stays paused.
    crashed = Observed(targets=(cronjob("c", suspended=True, original=mine(suspend=False)),))

    p = step_through(rollover(), crashed, PAUSE_AT + dt.timedelta(seconds=1))

    assert [(r.name, r.original_suspend) for r in p.status.sync_targets] == [("c", True)]
    resumed = plan(
        rollover(p.status),
        Observed(targets=(cronjob("c", suspended=True, original=mine(suspend=True)),), jobs=ALL_DONE),
        RESET_AT + dt.timedelta(hours=1),
    )
    assert actions(resumed, RestoreTarget) == [
        RestoreTarget(SyncTargetKind.CRON_JOB, "c", mine(suspend=True))
    ]


def _applied(targets: tuple[ObservedTarget, ...], p: Plan) -> tuple[ObservedTarget, ...]:
    """The targets after the plan's PATCHes, as the next pass observes them."""
    out = []
    for t in targets:
        for a in p.actions:
            if isinstance(a, PauseTarget | RepairTarget) and a.name == t.name:
                original = a.original if isinstance(a, PauseTarget) else t.original
                t = replace(t, suspended=True, original=original)
            elif isinstance(a, RestoreTarget) and a.name == t.name:
                t = replace(t, suspended=bool(a.original.suspend), original=None)
        out.append(t)
    return tuple(out)


@given(
    st.booleans(),
    st.booleans(),
    st.one_of(st.none(), st.booleans()),
    st.booleans(),
)
def test_a_cronjob_we_did_not_suspend_is_never_resumed_whatever_its_annotation_says(
    suspended_by_owner: bool, selected: bool, claimed: bool | None, deleted: bool
) -> None:
    """Any hand-written annotation (none, or naming us with any claim) on a selected or unselected
    CronJob, through the pause and the restore (or a deletion): an owner-suspended one stays suspended."""
    original = None if claimed is None else mine(suspend=claimed)
    targets = (cronjob("x", suspended=suspended_by_owner, original=original, matches=selected),)
    status = accepted()
    for now in (PAUSE_AT, PAUSE_AT + dt.timedelta(hours=1)):
        p = plan(rollover(status), Observed(targets=targets), now)
        status, targets = p.status, _applied(targets, p)
    finish = Observed(targets=targets, jobs=ALL_DONE, deleting=deleted)
    for _ in range(2):
        p = plan(rollover(status), finish, RESET_AT + dt.timedelta(hours=1))
        status, targets = p.status, _applied(targets, p)
        finish = Observed(targets=targets, jobs=ALL_DONE, deleting=deleted)
    if suspended_by_owner:
        assert targets[0].suspended
    elif selected:
        assert not targets[0].suspended, "what we paused is resumed"


def test_a_finished_job_deleted_by_its_ttl_keeps_its_recorded_state_and_result() -> None:
    done = job(Step.ARCHIVE, "imagine-math", JobState.SUCCEEDED)
    observed = paused_observed(replace(done, result={"rows": 12}))
    recorded = plan(rollover(paused_status()), observed, RESET_AT).status

    p = plan(rollover(recorded), paused_observed(), RESET_AT + dt.timedelta(days=8))

    record = {j.name: j for j in p.status.jobs}[ARCHIVE_MATH]
    assert (record.state, record.result) == (JobState.SUCCEEDED, {"rows": 12})
    assert ARCHIVE_MATH not in {a.name for a in actions(p, CreateJob)}


def test_a_recorded_job_that_vanished_unfinished_is_created_again_under_its_name() -> None:
    archiving = plan(rollover(paused_status()), paused_observed(), RESET_AT).status

    p = plan(rollover(archiving), paused_observed(), RESET_AT + dt.timedelta(minutes=5))

    assert sorted(a.name for a in actions(p, CreateJob)) == sorted(j.name for j in archiving.jobs)
    assert [j.name for j in p.status.jobs] == [j.name for j in archiving.jobs]
