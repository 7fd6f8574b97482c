"""What the cache shows the planner of one rollover: the targets its selector selects, and those it paused;
the Jobs it controls (by UID), and the names other Jobs hold."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from rollover.api.models import DistrictRolloverStatus, JobState, Step, SyncTarget, SyncTargetKind
from rollover.cluster.jobs import job_manifest
from rollover.config import JobTemplate
from rollover.controller.cache import Cache
from rollover.labels import DISTRICTS_ANNOTATION, ORIGINAL_STATE_ANNOTATION
from rollover.observed import OriginalState
from rollover.planner import CreateJob, EmitEvent, Rollover, job_name, plan
from tests.unit.test_planner import PAUSE_AT, YEAR, accepted, spec

pytestmark = pytest.mark.unit

NAMESPACE = "district-il"
DISTRICTS = [f"district-{i}" for i in range(18)]


def rollover_body(name: str) -> dict[str, Any]:
    selector = {"matchLabels": {"district": name}}
    return {"metadata": {"namespace": NAMESPACE, "name": name}, "spec": spec(syncSelector=selector)}


def cronjob_body(name: str, labels: dict[str, str], paused_by: str | None = None) -> dict[str, Any]:
    annotations = {}
    if paused_by is not None:
        annotations[ORIGINAL_STATE_ANNOTATION] = OriginalState(paused_by, YEAR, suspend=False).to_annotation()
    return {
        "metadata": {"namespace": NAMESPACE, "name": name, "labels": labels, "annotations": annotations},
        "spec": {"suspend": paused_by is not None},
    }


def paused_namespace() -> Cache:
    """Every district's own roster sync, each paused by its own rollover."""
    cache = Cache()
    allowed = {DISTRICTS_ANNOTATION: spec()["districtId"]}
    cache.namespace_changed("ADDED", {"metadata": {"name": NAMESPACE, "annotations": allowed}})
    for name in DISTRICTS:
        cache.put_rollover(rollover_body(name))
        cache.put_target(SyncTargetKind.CRON_JOB, cronjob_body(f"sync-{name}", {"district": name}, name))
    return cache


def test_a_rollover_sees_only_its_own_targets_not_those_others_paused() -> None:
    cache = paused_namespace()

    observed = cache.observe(rollover_body("district-3"))

    assert [(t.name, t.matches_selector) for t in observed.targets] == [("sync-district-3", True)]


def test_a_target_it_paused_stays_in_view_after_its_selector_changed() -> None:
    cache = paused_namespace()
    moved = rollover_body("district-3")
    moved["spec"]["syncSelector"] = {"matchLabels": {"district": "elsewhere"}}

    observed = cache.observe(moved)

    assert [(t.name, t.matches_selector) for t in observed.targets] == [("sync-district-3", False)]


def test_a_target_it_selects_that_another_rollover_paused_is_in_view() -> None:
    cache = paused_namespace()
    cache.put_target(
        SyncTargetKind.CRON_JOB, cronjob_body("shared", {"district": "district-3"}, "district-4")
    )

    observed = cache.observe(rollover_body("district-3"))

    assert [t.name for t in observed.targets] == ["shared", "sync-district-3"]
    assert observed.targets[0].original is not None and observed.targets[0].original.rollover == "district-4"


def paused_by_itself(name: str) -> DistrictRolloverStatus:
    """The status its own pause wrote: the record of pausing its roster sync."""
    record = SyncTarget(kind=SyncTargetKind.CRON_JOB, name=f"sync-{name}", uid="", original_suspend=False)
    return accepted().model_copy(update={"sync_targets": [record]})


def test_rollovers_sharing_a_namespace_post_no_warnings_about_each_other() -> None:
    cache = paused_namespace()

    warnings = [
        action
        for name in DISTRICTS
        for action in plan(
            Rollover(NAMESPACE, name, 1, rollover_body(name)["spec"], paused_by_itself(name)),
            cache.observe(rollover_body(name)),
            PAUSE_AT + dt.timedelta(hours=1),
        ).actions
        if isinstance(action, EmitEvent) and action.type == "Warning"
    ]

    assert warnings == []


ROLLOVER_UID = "uid-springfield"


def our_rollover() -> dict[str, Any]:
    body = rollover_body("springfield")
    body["metadata"]["uid"] = ROLLOVER_UID
    return body


def job_body(
    name: str, *, owner_uid: str | None = ROLLOVER_UID, product: str = "imagine-math", succeeded: bool = True
) -> dict[str, Any]:
    """The operator's archive Job for `product`, named `name`; controlled by the rollover with
    `owner_uid`, or by none."""
    action = CreateJob(name, Step.ARCHIVE, product, 0, YEAR, dt.date(2027, 7, 16))
    body: dict[str, Any] = job_manifest(our_rollover(), action, JobTemplate(), 600).to_dict()
    body["metadata"]["uid"] = f"uid-{name}"
    owners = body["metadata"]["ownerReferences"]
    body["metadata"]["ownerReferences"] = [o | {"uid": owner_uid} for o in owners] if owner_uid else []
    body["status"] = {"conditions": [{"type": "Complete", "status": "True"}] if succeeded else []}
    return body


ARCHIVE_MATH = job_name("springfield", YEAR, Step.ARCHIVE, "imagine-math", 0)


def test_only_a_job_the_rollover_controls_by_uid_is_its_own() -> None:
    cache = Cache()
    cache.put_job(job_body(ARCHIVE_MATH))

    observed = cache.observe(our_rollover())

    assert [(j.name, j.state) for j in observed.jobs] == [(ARCHIVE_MATH, JobState.SUCCEEDED)]
    assert ARCHIVE_MATH not in observed.foreign_job_names
    assert [j.name for j in cache.jobs_needing_results(our_rollover())] == [ARCHIVE_MATH]


@pytest.mark.parametrize("owner_uid", [None, "uid-of-a-deleted-springfield"], ids=["no-owner", "other-uid"])
def test_a_job_with_our_labels_but_not_controlled_by_us_never_counts(owner_uid: str | None) -> None:
    cache = Cache()
    cache.put_job(job_body(ARCHIVE_MATH, owner_uid=owner_uid))

    observed = cache.observe(our_rollover())

    assert observed.jobs == ()
    assert ARCHIVE_MATH in observed.foreign_job_names  # its name is taken: the planner stalls on it
    assert cache.jobs_needing_results(our_rollover()) == []  # its pods are never read


def test_our_job_whose_labels_no_longer_spell_its_name_is_not_counted() -> None:
    # Relabelled to pass a succeeded imagine-math archive off as twig-science's.
    cache = Cache()
    relabelled = job_body(ARCHIVE_MATH)
    relabelled["metadata"]["labels"]["rostering.k12.dev/product"] = "twig-science"
    cache.put_job(relabelled)

    assert cache.observe(our_rollover()).jobs == ()
