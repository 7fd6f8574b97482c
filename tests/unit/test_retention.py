"""Certify, retention, purge and legal hold: the planner's decisions, with no cluster and no clock."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollover.api.models import ConditionType, JobState, Phase, Step, dump, parse_status
from rollover.cli.status_text import View, explain, next_step, status_detail
from rollover.cluster.jobs import job_manifest
from rollover.config import CERTIFICATE_KEY_FILE_ENV, OperatorConfig
from rollover.jobs.certificate import KEY_FILE_ENV
from rollover.notices import NoticeKind
from rollover.observed import Observed, ObservedJob, OriginalState
from rollover.planner import CreateJob, EmitEvent, Plan, RestoreTarget, Settings, job_name, plan
from tests.unit.test_planner import (
    CHICAGO,
    NAME,
    RESET_AT,
    YEAR,
    actions,
    cond,
    cronjob,
    job,
    paused_observed,
    paused_status,
    rollover,
)

pytestmark = pytest.mark.unit

PRODUCTS = ("imagine-math", "twig-science")
CERTIFY = Settings(preflight_business_days=None, certify=True, retention_days=365)
LATER = RESET_AT + dt.timedelta(hours=1)
#: The reset date 2027-07-16 plus 365 days, and its purge once that day has ended everywhere on Earth
#: (midnight at UTC-12: 07:00 in Chicago).
RETENTION_UNTIL = dt.date(2028, 7, 15)
PURGE_AT = dt.datetime(2028, 7, 16, 7, tzinfo=CHICAGO)
CERTIFIED_RESULT = {
    "status": "certified",
    "certificate": "s3://archives/IL-0631950/2026-2027/certificate.json",
    "sha256": "ab" * 32,
}
PURGED_RESULT = {
    "status": "purged",
    "certificate": "s3://archives/IL-0631950/2026-2027/purge-certificate.json",
    "sha256": "cd" * 32,
}


def done_jobs(*, reset: JobState = JobState.SUCCEEDED) -> tuple[ObservedJob, ...]:
    return tuple(job(Step.ARCHIVE, p, JobState.SUCCEEDED) for p in PRODUCTS) + tuple(
        job(Step.RESET, p, reset) for p in PRODUCTS
    )


def cycle_job(
    step: Step, state: JobState, attempt: int = 0, result: dict[str, Any] | None = None
) -> ObservedJob:
    return ObservedJob(job_name(NAME, YEAR, step, "", attempt), step, "", YEAR, attempt, state, "", result)


def restored(*jobs: ObservedJob) -> Observed:
    """Every target back as it was (nothing of ours paused): what follows the reset."""
    return Observed(targets=(cronjob("c"),), jobs=jobs)


def again(p: Plan, observed: Observed, now: dt.datetime, settings: Settings = CERTIFY, **spec: Any) -> Plan:
    return plan(rollover(p.status, **spec), observed, now, settings)


def completed(**spec: Any) -> Plan:
    """A cycle certified and Completed at LATER."""
    start = plan(rollover(**spec), restored(*done_jobs()), LATER, CERTIFY)
    observed = restored(*done_jobs(), cycle_job(Step.CERTIFY, JobState.SUCCEEDED, result=CERTIFIED_RESULT))
    p = again(start, observed, LATER, **spec)
    assert p.status.phase is Phase.COMPLETED
    return p


# --- certify ------------------------------------------------------------------------------------


def test_after_every_reset_and_the_resume_one_certify_job_covers_the_whole_cycle() -> None:
    p = plan(rollover(), restored(*done_jobs()), LATER, CERTIFY)
    (create,) = actions(p, CreateJob)
    assert create == CreateJob(
        f"{NAME}-{YEAR}-certify",
        Step.CERTIFY,
        "",
        0,
        YEAR,
        dt.date(2027, 7, 16),
        PRODUCTS,
        RETENTION_UNTIL,
    )
    assert p.status.phase is Phase.RESUMING
    assert cond(p, ConditionType.RECONCILING) == ("True", "Certifying")
    assert cond(p, ConditionType.SYNC_PAUSED) == ("False", "Resumed"), "roster sync never waits for it"


def test_without_a_signing_key_there_is_no_certify_step_and_no_purge() -> None:
    p = plan(rollover(), restored(*done_jobs()), LATER, Settings(preflight_business_days=None))
    assert p.status.phase is Phase.COMPLETED and not actions(p, CreateJob)
    (entry,) = p.status.history
    assert entry.retention_until is None and entry.purge_at is None
    assert plan(rollover(p.status), restored(), PURGE_AT + dt.timedelta(days=1000)).wake_at is None


@given(st.lists(st.sampled_from(list(JobState)), min_size=2, max_size=2), st.booleans())
def test_no_certify_job_is_ever_planned_unless_every_reset_succeeded(
    states: list[JobState], retry: bool
) -> None:
    jobs = tuple(job(Step.ARCHIVE, p, JobState.SUCCEEDED) for p in PRODUCTS) + tuple(
        job(Step.RESET, p, s) for p, s in zip(PRODUCTS, states, strict=True)
    )
    observed = paused_observed(*jobs)
    first = plan(rollover(paused_status()), observed, RESET_AT, CERTIFY)
    retried = Observed(observed.targets, observed.jobs, retry_token="x" if retry else None)
    for p in (first, again(first, retried, LATER)):
        if any(a.step is Step.CERTIFY for a in actions(p, CreateJob)):
            assert states == [JobState.SUCCEEDED, JobState.SUCCEEDED]


def test_the_certified_cycle_links_its_certificate_in_status_and_history() -> None:
    p = completed()
    assert p.status.certificate is not None
    assert p.status.certificate.location == CERTIFIED_RESULT["certificate"]
    assert p.status.certificate.sha256 == "ab" * 32
    (entry,) = p.status.history
    assert entry.certificate == p.status.certificate
    assert (entry.retention_until, entry.purge_at) == (RETENTION_UNTIL, PURGE_AT)
    assert cond(p, ConditionType.CERTIFIED)[0] == "True"
    assert any(CERTIFIED_RESULT["certificate"] in e.message for e in actions(p, EmitEvent))


def test_an_untrusted_certify_result_links_nothing_it_cannot_vouch_for() -> None:
    start = plan(rollover(), restored(*done_jobs()), LATER, CERTIFY)
    forged = {"certificate": {"not": "a string"}, "sha256": "../../etc"}
    p = again(
        start, restored(*done_jobs(), cycle_job(Step.CERTIFY, JobState.SUCCEEDED, result=forged)), LATER
    )
    assert p.status.phase is Phase.COMPLETED and p.status.certificate is None


def test_a_failed_certify_fails_the_rollover_and_a_retry_runs_it_again() -> None:
    start = plan(rollover(), restored(*done_jobs()), LATER, CERTIFY)
    failed = restored(*done_jobs(), cycle_job(Step.CERTIFY, JobState.FAILED))
    p = again(start, failed, LATER)
    assert p.status.phase is Phase.FAILED
    assert cond(p, ConditionType.STALLED) == ("True", "CertifyFailed")
    assert not actions(again(p, failed, LATER), CreateJob)
    retried = Observed(failed.targets, failed.jobs, retry_token="now")
    assert [(a.step, a.attempt) for a in actions(again(p, retried, LATER), CreateJob)] == [(Step.CERTIFY, 1)]


def test_a_certify_job_that_vanished_unfinished_is_created_again_under_its_name() -> None:
    start = plan(rollover(), restored(*done_jobs()), LATER, CERTIFY)
    p = again(start, restored(*done_jobs()), LATER + dt.timedelta(minutes=5))
    assert [a.name for a in actions(p, CreateJob)] == [f"{NAME}-{YEAR}-certify"]


# --- retention and purge ------------------------------------------------------------------------


def test_a_completed_cycle_waits_for_its_purge_without_changing_its_status() -> None:
    p = completed()
    idle = again(p, restored(*done_jobs()), LATER + dt.timedelta(days=30))
    assert idle.status == p.status, "an idle rollover writes nothing"
    assert idle.wake_at == PURGE_AT, "one timer, until its purge"
    assert not idle.actions


@given(st.integers(min_value=0, max_value=2 * 366 * 24), st.booleans())
def test_a_purge_job_is_planned_only_after_the_retention_and_never_under_a_legal_hold(
    hours: int, held: bool
) -> None:
    p = completed()
    now = LATER + dt.timedelta(hours=hours)
    hold = {"legalHold": {"by": "counsel:kim", "reason": "records request"}} if held else {}
    purges = [
        a for a in actions(again(p, restored(*done_jobs()), now, **hold), CreateJob) if a.step is Step.PURGE
    ]
    if purges:
        assert now >= PURGE_AT and not held


def test_the_purge_runs_once_for_the_cycle_and_links_its_certificate_in_history() -> None:
    p = completed()
    due = again(p, restored(), PURGE_AT)
    (create,) = actions(due, CreateJob)
    assert (create.name, create.step, create.products) == (f"{NAME}-{YEAR}-purge", Step.PURGE, PRODUCTS)
    running = restored(cycle_job(Step.PURGE, JobState.RUNNING))
    assert not actions(again(due, running, PURGE_AT + dt.timedelta(minutes=1)), CreateJob)
    purged = again(due, restored(cycle_job(Step.PURGE, JobState.SUCCEEDED, result=PURGED_RESULT)), PURGE_AT)
    (entry,) = purged.status.history
    assert (
        entry.purge_certificate is not None
        and entry.purge_certificate.location == PURGED_RESULT["certificate"]
    )
    assert [e.reason for e in actions(purged, EmitEvent)] == ["ArchivePurged"]
    assert purged.status.phase is Phase.COMPLETED
    after = again(purged, restored(), PURGE_AT + dt.timedelta(days=1))
    assert after.status == purged.status and after.wake_at is None and not after.actions


def test_a_purge_that_a_crash_lost_is_created_again_under_its_name() -> None:
    due = again(completed(), restored(), PURGE_AT)
    lost = again(due, restored(), PURGE_AT + dt.timedelta(minutes=5))
    assert [a.name for a in actions(lost, CreateJob)] == [f"{NAME}-{YEAR}-purge"]
    assert not actions(lost, EmitEvent), "the same Job, not a new one"


def test_a_failed_purge_says_so_once_and_runs_again_a_day_later() -> None:
    due = again(completed(), restored(), PURGE_AT)
    failed = restored(cycle_job(Step.PURGE, JobState.FAILED, result={"error": "bucket unreachable"}))
    p = again(due, failed, PURGE_AT + dt.timedelta(hours=1))
    assert [e.reason for e in actions(p, EmitEvent)] == ["PurgeFailed"] and not actions(p, CreateJob)
    assert "bucket unreachable" in actions(p, EmitEvent)[0].message
    assert p.wake_at == PURGE_AT + dt.timedelta(hours=1, days=1)
    quiet = again(p, failed, PURGE_AT + dt.timedelta(hours=2))
    assert not quiet.actions and quiet.status == p.status
    rerun = again(p, failed, PURGE_AT + dt.timedelta(days=1, hours=1))
    assert [(a.step, a.attempt) for a in actions(rerun, CreateJob)] == [(Step.PURGE, 1)]


def test_the_purge_of_last_year_runs_while_the_next_cycle_is_scheduled() -> None:
    p = completed()
    nxt = plan(
        rollover(p.status, generation=2, schoolYear="2027-2028", resetDate="2028-08-01"),
        restored(),
        PURGE_AT,
        CERTIFY,
    )
    purges = [a for a in actions(nxt, CreateJob) if a.step is Step.PURGE]
    assert [(a.school_year, a.reset_date) for a in purges] == [(YEAR, dt.date(2027, 7, 16))]


def test_the_retention_override_counts_and_fixes_the_date_when_the_cycle_completes() -> None:
    p = completed(retentionDays=90)
    (entry,) = p.status.history
    assert entry.retention_until == dt.date(2027, 10, 14)
    longer = again(p, restored(), LATER + dt.timedelta(days=100), retentionDays=400)
    assert [a.step for a in actions(longer, CreateJob)] == [Step.PURGE], "a later edit moves nothing"


@pytest.mark.parametrize("days", [1, 29, 2556])
def test_a_retention_override_outside_the_bounds_is_a_finding_on_its_field(days: int) -> None:
    p = plan(rollover(retentionDays=days), Observed(), RESET_AT - dt.timedelta(days=60), CERTIFY)
    status, reason = cond(p, ConditionType.SPEC_VALID)
    assert (status, reason) == ("False", "RetentionOutOfBounds")
    assert "spec.retentionDays" in p.status.condition(ConditionType.SPEC_VALID).message  # type: ignore[union-attr]


# --- legal hold ---------------------------------------------------------------------------------

HOLD = {"legalHold": {"by": "counsel:kim", "reason": "litigation hold 2027-114"}}


def test_a_legal_hold_before_the_reset_skips_it_for_good_and_resumes_sync() -> None:
    archived = paused_observed(*(job(Step.ARCHIVE, p, JobState.SUCCEEDED) for p in PRODUCTS))
    decided = plan(rollover(paused_status(), **HOLD), archived, RESET_AT, CERTIFY)
    assert not actions(decided, CreateJob), "no reset Job, no certify Job"
    assert not actions(decided, RestoreTarget), "the skip is written down before any sync resumes"
    assert decided.status.reset_skipped_by == "counsel:kim (litigation hold 2027-114)"
    assert decided.wake_at == RESET_AT
    assert cond(decided, ConditionType.DATA_RESET) == ("False", "ResetSkippedForLegalHold")
    assert cond(decided, ConditionType.LEGAL_HOLD) == ("True", "LegalHoldSet")
    p = plan(rollover(decided.status, **HOLD), archived, RESET_AT, CERTIFY)
    assert [a.name for a in actions(p, RestoreTarget)] == ["c"] and not actions(p, CreateJob)
    released = Observed(targets=(cronjob("c"),), jobs=archived.jobs)
    done = plan(rollover(p.status, **HOLD), released, RESET_AT, CERTIFY)
    assert done.status.phase is Phase.COMPLETED and done.status.history[-1].outcome == "Held"
    # Released later (or released before the cycle ended): the reset never comes back.
    for status in (decided.status, p.status, done.status):
        for observed in (released, archived):
            late = plan(rollover(status), observed, RESET_AT + dt.timedelta(days=3), CERTIFY)
            assert not [a for a in actions(late, CreateJob) if a.step is Step.RESET]
            assert cond(late, ConditionType.LEGAL_HOLD) == ("False", "LegalHoldReleased")


def test_the_next_school_year_resets_as_usual_after_a_cycle_a_hold_skipped() -> None:
    archived = paused_observed(*(job(Step.ARCHIVE, p, JobState.SUCCEEDED) for p in PRODUCTS))
    status = plan(rollover(paused_status(), **HOLD), archived, RESET_AT, CERTIFY).status
    for _ in range(2):
        status = plan(
            rollover(status, **HOLD), Observed(targets=(cronjob("c"),), jobs=archived.jobs), RESET_AT, CERTIFY
        ).status
    assert status.phase is Phase.COMPLETED
    nxt = {"schoolYear": "2027-2028", "resetDate": "2028-07-14"}
    scheduled = plan(
        rollover(status, generation=2, **nxt), restored(), RESET_AT + dt.timedelta(days=30), CERTIFY
    )
    assert scheduled.status.reset_skipped_by is None
    reset_at = dt.datetime(2028, 7, 14, tzinfo=CHICAGO)
    paused = plan(
        rollover(scheduled.status, generation=2, **nxt), restored(), reset_at - dt.timedelta(hours=2), CERTIFY
    )
    next_jobs = tuple(
        ObservedJob(
            job_name(NAME, "2027-2028", Step.ARCHIVE, p, 0),
            Step.ARCHIVE,
            p,
            "2027-2028",
            0,
            JobState.SUCCEEDED,
        )
        for p in PRODUCTS
    )
    observed = Observed(
        targets=(cronjob("c", suspended=True, original=OriginalState(NAME, "2027-2028", suspend=False)),),
        jobs=next_jobs,
    )
    resets = plan(rollover(paused.status, generation=2, **nxt), observed, reset_at, CERTIFY)
    assert sorted(a.product for a in actions(resets, CreateJob) if a.step is Step.RESET) == list(PRODUCTS)


def test_a_legal_hold_keeps_a_failed_reset_from_being_retried_with_sync_still_paused() -> None:
    failed = paused_observed(*done_jobs(reset=JobState.FAILED))
    p = plan(rollover(paused_status()), failed, RESET_AT, CERTIFY)
    assert p.status.phase is Phase.FAILED
    retried = Observed(failed.targets, failed.jobs, retry_token="now")
    held = plan(rollover(p.status, **HOLD), retried, LATER, CERTIFY)
    assert not actions(held, CreateJob) and not actions(held, RestoreTarget)
    assert held.status.phase is Phase.FAILED


def test_a_legal_hold_blocks_the_purge_until_it_is_released() -> None:
    p = completed()
    held = again(p, restored(), PURGE_AT + dt.timedelta(days=10), **HOLD)
    assert not actions(held, CreateJob)
    assert cond(held, ConditionType.LEGAL_HOLD) == ("True", "LegalHoldSet")
    assert [e.reason for e in actions(held, EmitEvent)] == ["LegalHoldSet"]
    assert held.status.legal_hold_by == "counsel:kim"
    assert not again(held, restored(), PURGE_AT + dt.timedelta(days=11), **HOLD).actions, "said once"
    other = {"legalHold": HOLD["legalHold"] | {"by": "counsel:lee"}}
    moved = again(held, restored(), PURGE_AT + dt.timedelta(days=11), **other)
    assert [e.message for e in actions(moved, EmitEvent)] == [
        "Legal hold held by counsel:lee: litigation hold 2027-114; no reset and no purge runs while "
        "spec.legalHold is set"
    ], "another approver's hold is said again"
    released = again(moved, restored(), PURGE_AT + dt.timedelta(days=12))
    assert [a.step for a in actions(released, CreateJob)] == [Step.PURGE]
    assert actions(released, EmitEvent)[0].message == "Legal hold placed by counsel:lee released"
    assert released.status.legal_hold_by is None


def test_a_held_rollover_writes_nothing_more_when_nothing_happens() -> None:
    before = RESET_AT - dt.timedelta(days=60)
    p = plan(rollover(**HOLD), restored(), before, CERTIFY)
    idle = plan(rollover(p.status, **HOLD), restored(), before + dt.timedelta(days=1), CERTIFY)
    assert idle.status == p.status and not idle.actions


# --- the Job templates --------------------------------------------------------------------------

CONFIG = OperatorConfig.model_validate(
    {
        "certificates": {"secretName": "rollover-certificate-key", "keyFile": "ed25519.pem"},
        "defaultJob": {"env": [{"name": "ARCHIVE_URI", "value": "s3://archives"}]},
    }
)
ROLLOVER = {
    "metadata": {"name": NAME, "namespace": "district-il", "uid": "u-1"},
    "spec": {"districtId": "IL-0631950"},
}


def _pod(step: Step, products: tuple[str, ...] = (), retention: dt.date | None = None) -> dict[str, Any]:
    action = CreateJob(
        "j", step, "" if products else "imagine-math", 0, YEAR, dt.date(2027, 7, 16), products, retention
    )
    template = CONFIG.template(action.product, step)
    manifest = job_manifest(ROLLOVER, action, template, 60).to_dict()
    return dict(manifest["spec"]["template"]["spec"])


def test_the_signing_key_is_mounted_into_certify_and_purge_only() -> None:
    for step in (Step.CERTIFY, Step.PURGE):
        pod = _pod(step, PRODUCTS, RETENTION_UNTIL)
        (volume,) = pod["volumes"]
        assert volume["secret"]["secretName"] == "rollover-certificate-key"
        assert volume["secret"]["items"] == [{"key": "ed25519.pem", "path": "key.pem"}]
        env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
        assert env[KEY_FILE_ENV].startswith(pod["containers"][0]["volumeMounts"][0]["mountPath"])
        assert env["PRODUCT"] == "imagine-math,twig-science"
        assert env["RETENTION_UNTIL"] == "2028-07-15"
    for step in (Step.PREFLIGHT, Step.ARCHIVE, Step.RESET):
        pod = _pod(step)
        assert not pod.get("volumes") and KEY_FILE_ENV not in {e["name"] for e in pod["containers"][0]["env"]}


def test_the_operator_and_the_job_agree_on_the_key_variable() -> None:
    assert CERTIFICATE_KEY_FILE_ENV == KEY_FILE_ENV


def test_retention_bounds_must_hold_the_default() -> None:
    with pytest.raises(ValueError, match="minRetentionDays"):
        OperatorConfig.model_validate({"archives": {"retentionDays": 10, "minRetentionDays": 30}})


def test_the_status_with_certificates_round_trips_through_its_wire_form() -> None:
    purged = again(
        completed(), restored(cycle_job(Step.PURGE, JobState.SUCCEEDED, result=PURGED_RESULT)), PURGE_AT
    )
    assert parse_status(dump(purged.status)) == purged.status


# --- kubectl rollover status / explain ------------------------------------------------------------


def _view(p: Plan, **spec: Any) -> View:
    return View.of(
        {
            "metadata": {"name": NAME, "namespace": "district-il"},
            "spec": rollover(p.status, **spec).spec,
            "status": dump(p.status),
        }
    )


def test_explain_shows_the_legal_hold_the_certificate_and_the_purge_to_come() -> None:
    held = again(completed(), restored(), LATER, **HOLD)
    text = explain(_view(held, **HOLD), [])
    assert "LegalHold=True (LegalHoldSet)" in text and "counsel:kim" in text
    assert "LEGAL HOLD: held by counsel:kim" in text
    assert f"certificate of deletion: {CERTIFIED_RESULT['certificate']} (sha256 abababababab…)" in text
    assert "kept until 2028-07-15, purge due Sun 2028-07-16 07:00 CDT" in text
    purged = again(
        completed(), restored(cycle_job(Step.PURGE, JobState.SUCCEEDED, result=PURGED_RESULT)), PURGE_AT
    )
    assert f"purged: {PURGED_RESULT['certificate']}" in status_detail(_view(purged))
    assert next_step(_view(completed()))[0] == "purge the 2026-2027 archive"
    assert next_step(_view(held, **HOLD))[0] == "next school year", "nothing is purged under a hold"


def test_a_cycle_whose_reset_a_hold_skipped_is_announced_as_held_never_as_archived_and_reset() -> None:
    notify = {"notify": {"emails": ["it@springfield.k12.il.us"]}}
    archived = paused_observed(*(job(Step.ARCHIVE, p, JobState.SUCCEEDED) for p in PRODUCTS))
    p = plan(rollover(paused_status(), **HOLD, **notify), archived, RESET_AT, CERTIFY)
    done = plan(rollover(p.status, **HOLD, **notify), restored(*archived.jobs), RESET_AT, CERTIFY)
    assert done.status.phase is Phase.COMPLETED
    assert [d.notice.kind for d in done.deliveries] == [NoticeKind.HELD]
    (held,) = done.deliveries
    assert held.notice.hold == "counsel:kim (litigation hold 2027-114)"
    assert f"deleted after {RETENTION_UNTIL.isoformat()}" in held.notice.next_step
    released = plan(rollover(done.status, **notify), restored(*archived.jobs), LATER, CERTIFY)
    assert [d.notice.kind for d in released.deliveries] == [NoticeKind.HELD], "still Held once released"
    reset = plan(rollover(**notify), restored(*done_jobs()), LATER, Settings(preflight_business_days=None))
    assert NoticeKind.COMPLETED in {d.notice.kind for d in reset.deliveries}


@given(
    st.sampled_from([JobState.PENDING, JobState.RUNNING, JobState.FAILED, None]),
    st.integers(min_value=0, max_value=3 * 24),
    st.booleans(),
)
def test_a_pass_repeated_after_a_lost_status_write_asks_for_the_same_jobs(
    purge: JobState | None, hours: int, certify_seen: bool
) -> None:
    """A crash between applying a pass and writing its status replays the pass from the older status:
    it may only ask for the same Jobs again (same names: AlreadyExists adopts them), never others."""
    cert = (cycle_job(Step.CERTIFY, JobState.RUNNING),) if certify_seen else ()
    first = plan(rollover(), restored(*done_jobs(), *cert), LATER, CERTIFY)
    replay = plan(rollover(), restored(*done_jobs(), *cert), LATER, CERTIFY)
    assert actions(first, CreateJob) == actions(replay, CreateJob)
    due = again(completed(), restored(), PURGE_AT)
    seen = (cycle_job(Step.PURGE, purge),) if purge is not None else ()
    now = PURGE_AT + dt.timedelta(hours=hours)
    names = {a.name for a in actions(again(due, restored(*seen), now), CreateJob)}
    assert names == {a.name for a in actions(again(due, restored(*seen), now), CreateJob)}
    assert names <= {job_name(NAME, YEAR, Step.PURGE, "", attempt) for attempt in (0, 1)}
