"""The preflight in the planner: when its Jobs run, how a failure is run again each business day, what
PreflightPassed and status.preview say, and that it never holds up the pause. Plus its Job manifest
and template, and what `kubectl rollover` shows of the preview."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollover.api.models import ConditionType, DistrictRolloverStatus, JobState, Phase, Step, dump
from rollover.calendar import preflight_window
from rollover.cli.status_text import View, explain, status_detail
from rollover.cluster.jobs import job_manifest, secret_names
from rollover.config import JobTemplate, OperatorConfig
from rollover.labels import JOB_SECRETS_ENV
from rollover.observed import Observed, ObservedJob, ObservedTarget
from rollover.planner import CreateJob, EmitEvent, PauseTarget, Plan, Rollover, Settings, job_name, plan
from tests.unit.test_planner import (
    CHICAGO,
    CREATED,
    NAME,
    PAUSE_AT,
    PREFLIGHT_AT,
    RESET_AT,
    YEAR,
    accepted,
    cond,
    cronjob,
    mine,
    spec,
)

pytestmark = pytest.mark.unit

PRODUCTS = ("imagine-math", "twig-science")
TARGETS = (cronjob("clever-sync"),)
TABLES = [{"table": "twig.classes", "archive": 17, "delete": 17, "keep": 0}]
FRIDAY = dt.datetime(2027, 7, 9, tzinfo=CHICAGO)  # the business day after PREFLIGHT_AT (Thursday)
MONDAY = dt.datetime(2027, 7, 12, tzinfo=CHICAGO)


def preflight(
    product: str, state: JobState, attempt: int = 0, result: dict[str, Any] | None = None
) -> ObservedJob:
    name = job_name(NAME, YEAR, Step.PREFLIGHT, product, attempt)
    return ObservedJob(name, Step.PREFLIGHT, product, YEAR, attempt, state, result=result)


def passed(product: str, attempt: int = 0) -> ObservedJob:
    return preflight(product, JobState.SUCCEEDED, attempt, {"status": "passed", "tables": TABLES})


def failed(product: str, attempt: int = 0) -> ObservedJob:
    error = "archive destination /archive does not exist (is the volume mounted?)"
    return preflight(product, JobState.FAILED, attempt, {"status": "failed", "error": error})


def run(
    status: DistrictRolloverStatus,
    now: dt.datetime,
    *jobs: ObservedJob,
    targets: tuple[ObservedTarget, ...] = TARGETS,
) -> Plan:
    return plan(Rollover("district-il", NAME, 1, spec(), status), Observed(targets=targets, jobs=jobs), now)


def created(p: Plan) -> list[CreateJob]:
    return [a for a in p.actions if isinstance(a, CreateJob)]


def events(p: Plan, reason: str) -> list[EmitEvent]:
    return [a for a in p.actions if isinstance(a, EmitEvent) and a.reason == reason]


def test_the_window_opens_n_business_days_before_the_pause() -> None:
    p = run(accepted(), CREATED)

    assert p.wake_at == PREFLIGHT_AT
    assert cond(p, ConditionType.PREFLIGHT_PASSED) == ("Unknown", "PreflightScheduled")
    assert not created(p)


def test_on_its_day_one_read_only_job_per_product_is_created_and_recorded() -> None:
    p = run(accepted(), PREFLIGHT_AT)

    assert [(a.step, a.product, a.attempt) for a in created(p)] == [(Step.PREFLIGHT, x, 0) for x in PRODUCTS]
    assert {j.name for j in p.status.jobs} == {a.name for a in created(p)}
    assert len(events(p, "PreflightStarted")) == 1
    assert cond(p, ConditionType.PREFLIGHT_PASSED) == ("Unknown", "PreflightRunning")
    assert cond(p, ConditionType.READY)[0] == "True", "a preflight never makes a rollover unready"
    assert p.wake_at == PAUSE_AT
    again = run(
        p.status, PREFLIGHT_AT + dt.timedelta(minutes=1), *(preflight(x, JobState.RUNNING) for x in PRODUCTS)
    )
    assert not created(again), "idempotent"


def test_success_fills_the_preview_and_says_so_once() -> None:
    started = run(accepted(), PREFLIGHT_AT).status

    p = run(started, PREFLIGHT_AT + dt.timedelta(minutes=2), *(passed(x) for x in PRODUCTS))

    assert cond(p, ConditionType.PREFLIGHT_PASSED) == ("True", "PreflightSucceeded")
    assert [(x.product, [t.table for t in x.tables]) for x in p.status.preview] == [
        (x, ["twig.classes"]) for x in PRODUCTS
    ]
    assert all(x.checked_at == PREFLIGHT_AT + dt.timedelta(minutes=2) for x in p.status.preview)
    assert "34 rows to archive, 34 to delete" in p.status.condition(ConditionType.PREFLIGHT_PASSED).message  # type: ignore[union-attr]
    assert len(events(p, "PreflightPassed")) == 1
    later = run(p.status, FRIDAY, *(passed(x) for x in PRODUCTS))
    assert not later.actions and dump(later.status) == dump(p.status), "passed: nothing runs again"


def test_a_failure_is_run_again_on_the_next_business_day_and_turns_green_when_fixed() -> None:
    started = run(accepted(), PREFLIGHT_AT).status
    first = (failed("imagine-math"), passed("twig-science"))

    p = run(started, PREFLIGHT_AT + dt.timedelta(minutes=2), *first)

    condition = p.status.condition(ConditionType.PREFLIGHT_PASSED)
    assert condition is not None and (condition.status, condition.reason) == ("False", "PreflightFailed")
    assert "imagine-math: Job" in condition.message and "is the volume mounted?" in condition.message
    assert len(events(p, "PreflightFailed")) == 1
    assert p.wake_at == FRIDAY
    assert [x.product for x in p.status.preview] == ["twig-science"]
    same_day = run(p.status, PREFLIGHT_AT + dt.timedelta(hours=20), *first)
    assert not created(same_day) and not events(same_day, "PreflightFailed"), "once a day, said once"

    friday = run(same_day.status, FRIDAY, *first)
    assert [(a.product, a.attempt) for a in created(friday)] == [("imagine-math", 1)]
    fixed = run(friday.status, FRIDAY + dt.timedelta(minutes=2), *first, passed("imagine-math", 1))
    assert cond(fixed, ConditionType.PREFLIGHT_PASSED) == ("True", "PreflightSucceeded")
    assert [x.product for x in fixed.status.preview] == list(PRODUCTS)


def test_a_failure_whose_start_was_never_recorded_runs_again_once() -> None:
    # A crash between creating the Jobs and writing status: the Jobs are known only from the cluster.
    p = run(accepted(), FRIDAY, *(failed(x) for x in PRODUCTS))

    assert [(a.product, a.attempt) for a in created(p)] == [(x, 1) for x in PRODUCTS]
    again = run(p.status, FRIDAY + dt.timedelta(hours=1), *(failed(x) for x in PRODUCTS),
                *(failed(x, 1) for x in PRODUCTS))  # fmt: skip
    assert not created(again), "the re-run's start is recorded: the next one is Monday's"


def test_no_run_on_a_weekend_the_next_is_on_monday() -> None:
    friday = run(accepted(), FRIDAY).status
    p = run(friday, FRIDAY + dt.timedelta(minutes=2), *(failed(x) for x in PRODUCTS))
    assert p.wake_at == MONDAY

    saturday = run(p.status, FRIDAY + dt.timedelta(days=1), *(failed(x) for x in PRODUCTS))
    assert not created(saturday)
    monday = run(saturday.status, MONDAY, *(failed(x) for x in PRODUCTS))
    assert {a.attempt for a in created(monday)} == {1}


def test_a_selector_that_matches_nothing_fails_the_preflight_from_the_operator_side() -> None:
    started = run(accepted(), PREFLIGHT_AT, targets=()).status

    p = run(started, PREFLIGHT_AT + dt.timedelta(minutes=2), *(passed(x) for x in PRODUCTS), targets=())

    condition = p.status.condition(ConditionType.PREFLIGHT_PASSED)
    assert condition is not None and condition.status == "False"
    assert condition.message.startswith("spec.syncSelector matches no CronJob or Deployment")
    assert (
        run(p.status, PREFLIGHT_AT + dt.timedelta(minutes=3), *(passed(x) for x in PRODUCTS))
        .status.condition(ConditionType.PREFLIGHT_PASSED)
        .status
        == "True"
    )  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "result",
    [
        None,
        {"x": 1},
        {"tables": "many"},
        {"tables": [{"table": "t", "archive": -1, "delete": 0, "keep": 0}]},
        {"tables": [{"table": "t", "archive": 1, "delete": 1, "keep": 0}] * 65},
    ],
)
def test_a_result_that_is_not_counts_is_left_out_of_the_preview(result: dict[str, Any] | None) -> None:
    started = run(accepted(), PREFLIGHT_AT).status
    jobs = (preflight("imagine-math", JobState.SUCCEEDED, result=result), passed("twig-science"))

    p = run(started, PREFLIGHT_AT + dt.timedelta(minutes=2), *jobs)

    assert [x.product for x in p.status.preview] == ["twig-science"]


def test_a_preflight_that_finishes_after_the_pause_is_heard_out_and_none_starts() -> None:
    started = run(accepted(), PAUSE_AT - dt.timedelta(minutes=5)).status
    paused = cronjob("clever-sync", suspended=True, original=mine())

    late = run(started, PAUSE_AT + dt.timedelta(hours=1), passed("imagine-math"), failed("twig-science"),
               targets=(paused,))  # fmt: skip

    assert not [a for a in created(late) if a.step is Step.PREFLIGHT]
    assert late.status.phase is Phase.PAUSED
    assert cond(late, ConditionType.PREFLIGHT_PASSED) == ("False", "PreflightFailed")
    assert [x.product for x in late.status.preview] == ["imagine-math"]
    assert late.wake_at == RESET_AT, "no daily re-run once paused"
    assert {j.name: j.state for j in late.status.jobs}[passed("imagine-math").name] is JobState.SUCCEEDED


def test_a_rollover_first_seen_after_its_window_has_no_preflight() -> None:
    fresh = Rollover("district-il", NAME, 1, spec(), DistrictRolloverStatus())
    first = plan(fresh, Observed(targets=TARGETS), PAUSE_AT + dt.timedelta(hours=1))

    assert first.status.condition(ConditionType.PREFLIGHT_PASSED) is None
    assert not [a for a in created(first) if a.step is Step.PREFLIGHT]


def test_disabled_there_is_no_preflight() -> None:
    rollover = Rollover("district-il", NAME, 1, spec(), DistrictRolloverStatus())
    p = plan(rollover, Observed(targets=TARGETS), PREFLIGHT_AT, Settings(preflight_business_days=None))

    assert not created(p) and p.status.condition(ConditionType.PREFLIGHT_PASSED) is None


#: What a preflight Job running at one step has done by the next: passed, failed, or still running.
OUTCOMES = st.sampled_from([passed, failed, None])


@given(st.lists(st.tuples(st.integers(0, 8 * 24), OUTCOMES, OUTCOMES), min_size=1, max_size=12))
def test_whatever_the_preflight_does_the_pause_comes_on_time_and_no_preflight_starts_after_it(
    steps: list[tuple[int, Any, Any]],
) -> None:
    status, jobs = accepted(), dict[str, ObservedJob]()
    for hours, *outcomes in [*sorted(steps, key=lambda step: step[0]), (8 * 24, None, None)]:
        now = PREFLIGHT_AT - dt.timedelta(days=1) + dt.timedelta(hours=hours)
        p = run(status, now, *jobs.values())
        new = created(p)
        if now >= PAUSE_AT:
            assert not [a for a in new if a.step is Step.PREFLIGHT], "no preflight once paused"
            assert [a.name for a in p.actions if isinstance(a, PauseTarget)] == ["clever-sync"]
            return
        assert all(a.step is Step.PREFLIGHT and a.name not in jobs for a in new)
        status = p.status
        jobs |= {a.name: preflight(a.product, JobState.RUNNING, a.attempt) for a in new}
        for product, outcome in zip(PRODUCTS, outcomes, strict=True):
            running = [j for j in jobs.values() if j.product == product and j.state is JobState.RUNNING]
            for job in running if outcome is not None else []:
                jobs[job.name] = outcome(product, job.attempt)
    raise AssertionError("the last step is past the pause")


# --- the Job, its template, the plugin ----------------------------------------------------------------


ROSTER_STORE = {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "roster-store", "key": "url"}}}
TEMPLATE = JobTemplate(
    env=[ROSTER_STORE],
    env_from=[{"secretRef": {"name": "s3-keys"}}],
    volumes=[{"name": "pw", "secret": {"secretName": "db-password"}}],
)


def manifest(step: Step) -> dict[str, Any]:
    rollover = {"metadata": {"name": NAME, "namespace": "district-il", "uid": "u-1"}, "spec": spec()}
    action = CreateJob(
        job_name(NAME, YEAR, step, "twig-science", 0), step, "twig-science", 0, YEAR, dt.date(2027, 7, 16)
    )
    return job_manifest(rollover, action, TEMPLATE, 600).to_dict()


def test_the_preflight_job_tolerates_a_missing_secret_and_is_told_which_ones_it_reads() -> None:
    pod = manifest(Step.PREFLIGHT)["spec"]["template"]["spec"]
    container = pod["containers"][0]

    assert container["command"] == ["rollover-job", "preflight"]
    assert container["env"][-2]["valueFrom"]["secretKeyRef"]["optional"] is True
    assert container["envFrom"][0]["secretRef"]["optional"] is True
    assert pod["volumes"][0]["secret"]["optional"] is True
    assert container["env"][-1] == {"name": JOB_SECRETS_ENV, "value": "db-password,roster-store,s3-keys"}
    assert secret_names(TEMPLATE) == ["db-password", "roster-store", "s3-keys"]
    assert "optional" not in TEMPLATE.env[0]["valueFrom"]["secretKeyRef"], "the template is not changed"


def test_archive_and_reset_jobs_still_require_their_secrets() -> None:
    container = manifest(Step.ARCHIVE)["spec"]["template"]["spec"]["containers"][0]

    assert "optional" not in container["env"][-1]["valueFrom"]["secretKeyRef"]
    assert JOB_SECRETS_ENV not in {e["name"] for e in container["env"]}


def test_the_preflight_inherits_the_archives_credentials_but_not_what_it_runs() -> None:
    config = OperatorConfig.model_validate(
        {
            "jobs": {
                "twig-science": {
                    "archive": {
                        "command": ["archive-it"],
                        "serviceAccountName": "archiver",
                        "env": [ROSTER_STORE],
                    },
                    "preflight": {"resources": {"limits": {"memory": "128Mi"}}},
                }
            }
        }
    )

    template = config.template("twig-science", Step.PREFLIGHT)

    assert template.command is None and template.service_account_name == "archiver"
    assert template.env == [ROSTER_STORE] and template.resources == {"limits": {"memory": "128Mi"}}
    assert config.template("imagine-math", Step.PREFLIGHT) == config.default_job
    assert config.preflight.business_days_before == 5 and not config.readiness.block_archive


def test_the_window_is_computed_in_the_district_calendar() -> None:
    from rollover.api.models import parse_spec
    from rollover.calendar import compute_schedule

    parsed = parse_spec(spec())
    window = preflight_window(parsed, compute_schedule(parsed), 5)

    assert (window.date, window.starts_at) == (dt.date(2027, 7, 8), PREFLIGHT_AT)


def test_kubectl_rollover_status_shows_the_preview() -> None:
    p = run(
        run(accepted(), PREFLIGHT_AT).status,
        PREFLIGHT_AT + dt.timedelta(minutes=2),
        *(passed(x) for x in PRODUCTS),
    )
    obj = {"metadata": {"namespace": "district-il", "name": NAME}, "spec": spec(), "status": dump(p.status)}

    text = status_detail(View.of(obj))
    explained = explain(View.of(obj), [])

    assert "Preflight: True (PreflightSucceeded)" in text.replace("  ", " ").replace("  ", " ")
    assert "Preview (from the preflight, Thu 2027-07-08 00:02 CDT)" in text
    assert any(
        line.split() == ["imagine-math", "twig.classes", "17", "17", "0"] for line in text.splitlines()
    )
    assert "Preview (from the preflight" in explained
    assert "PreflightPassed=True (PreflightSucceeded)" in explained
