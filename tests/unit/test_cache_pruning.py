"""The cache keeps nothing longer than the object it describes: a long-running operator's memory
follows what exists, not everything that ever did."""

from __future__ import annotations

from typing import Any

import pytest

from rollover.api.models import SyncTargetKind
from rollover.claims import Holder, claim_data, claim_name
from rollover.controller.cache import Cache

pytestmark = pytest.mark.unit

NS = "district-il"
YEAR = "2026-2027"
RIVAL = Holder("district-in", "gary", "uid-gary")


def job(name: str, rv: str = "1") -> dict[str, Any]:
    return {"metadata": {"namespace": NS, "name": name, "resourceVersion": rv}, "status": {}}


def cronjob(name: str) -> dict[str, Any]:
    return {"metadata": {"namespace": NS, "name": name, "resourceVersion": "1"}, "spec": {}}


def rollover(name: str) -> dict[str, Any]:
    return {
        "metadata": {"namespace": NS, "name": name, "resourceVersion": "1"},
        "spec": {"districtId": "IL-1"},
    }


def namespace(annotation: str | None) -> dict[str, Any]:
    annotations = {"rostering.k12.dev/districts": annotation} if annotation is not None else {}
    return {"metadata": {"name": NS, "annotations": annotations}}


def claim(holders: dict[str, Holder], rv: str) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "rollover-system", "name": claim_name("IL-1", YEAR), "resourceVersion": rv},
        "data": claim_data("IL-1", YEAR, holders),
    }


def test_a_deleted_job_takes_its_termination_message_and_version_with_it() -> None:
    cache = Cache()
    cache.job_changed("ADDED", job("archive-1"))
    cache.results[(NS, "archive-1")] = {"rows": 10}
    cache.job_changed("DELETED", job("archive-1"))
    assert cache.results == {}
    assert cache.versions == {}
    assert cache.jobs == {}  # nor an empty entry for its namespace


def test_deleted_targets_and_rollovers_leave_no_empty_namespaces_or_versions() -> None:
    cache = Cache()
    cache.target_changed(SyncTargetKind.CRON_JOB, "ADDED", cronjob("sync"))
    cache.changed("DistrictRollover", rollover("springfield"))
    cache.put_rollover(rollover("springfield"))
    cache.observe(rollover("springfield"))  # reading a namespace must not add it either
    cache.rollovers_in("elsewhere")
    cache.target_changed(SyncTargetKind.CRON_JOB, "DELETED", cronjob("sync"))
    cache.drop_rollover(NS, "springfield")
    assert (cache.targets, cache.rollovers, cache.jobs, cache.versions) == ({}, {}, {}, {})
    assert cache._by_district == {}


def test_a_deleted_namespace_is_forgotten_and_wakes_its_rollovers_if_it_allowed_any() -> None:
    cache = Cache()
    cache.put_rollover(rollover("springfield"))
    assert cache.namespace_changed("ADDED", namespace("IL-1")) == [(NS, "springfield")]
    assert cache.namespace_changed("DELETED", namespace("IL-1")) == [(NS, "springfield")]
    assert cache.namespace_districts == {}
    # One that allowed nothing changes nothing for its rollovers when it goes.
    cache.namespace_changed("ADDED", namespace(None))
    assert cache.namespace_changed("DELETED", namespace(None)) == []
    assert cache.namespace_districts == {}


def test_a_gone_holder_is_forgotten_once_its_claim_no_longer_lists_it() -> None:
    cache = Cache()
    me = Holder(NS, "springfield", "uid-springfield")
    cache.claim_changed("ADDED", claim({"imagine-math": RIVAL, "twig-science": me}, "1"))
    cache.gone_holders.add(RIVAL)
    cache.claim_changed("MODIFIED", claim({"imagine-math": RIVAL, "twig-science": me}, "2"))
    assert cache.gone_holders == {RIVAL}  # still listed: still worth remembering
    cache.claim_changed("MODIFIED", claim({"imagine-math": me, "twig-science": me}, "3"))
    assert cache.gone_holders == set()


def test_a_deleted_claim_forgets_its_gone_holders() -> None:
    cache = Cache()
    cache.claim_changed("ADDED", claim({"imagine-math": RIVAL}, "1"))
    cache.gone_holders.add(RIVAL)
    cache.claim_changed("DELETED", claim({"imagine-math": RIVAL}, "1"))
    assert (cache.gone_holders, cache.claims, cache.versions) == (set(), {}, {})
