"""Bad input at volume: every malformed DistrictRollover of the corpus is refused at admission or
reported with SpecValid=False, touching nothing, while the operator keeps serving valid ones; and
`rollover lint` reports each of them before it is ever applied.

The corpus is tests/integration/malformed_rollovers.py. Cases the system gets wrong today carry a
`bug` / `lint_bug` reason and are strict xfails: they turn red the day the product is fixed.

For speed the cluster work is done once per module: one namespace of kubectl creates for the
admission cases, one namespace and one operator run for the spec-invalid cases and the valid
rollovers. The tests then check what those runs left behind, one parametrised test per case, so
each case passes, fails or xfails on its own.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from rollover.cli.main import main
from rollover.devcluster.objects import sync_cronjob
from rollover.labels import LABEL_ROLLOVER, ORIGINAL_STATE_ANNOTATION
from tests.conftest import RunningControlPlane
from tests.integration.kube import Kube, condition, operator, rollover_doc, wait_for
from tests.integration.malformed_rollovers import ADMISSION, CLOCK_START, LINT, SPEC_INVALID, Case

pytestmark = pytest.mark.integration

#: Valid rollovers applied next to the invalid ones: the operator must keep serving them.
VALID = ("good-springfield", "good-shelbyville", "good-ogdenville")
TRACEBACK = "Traceback (most recent call last)"
LINT_LINE_MAX = 4096  # a diagnostic is read by people and CI annotations: it names, never dumps
PARALLEL_KUBECTL = 4  # the apiserver is local; kubectl start-up, not the server, is the cost


def params(cases: Iterable[Case], *, lint: bool = False) -> list[Any]:
    """One pytest param per case; a case the system gets wrong today is a strict xfail."""
    out = []
    for case in cases:
        bug = case.lint_bug if lint else case.bug
        marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
        out.append(pytest.param(case, id=case.id, marks=marks))
    return out


def new_namespace(control_plane: RunningControlPlane) -> str:
    name = f"t-bad-{uuid.uuid4().hex[:8]}"
    control_plane.kubectl("create", "namespace", name)
    control_plane.allow_districts(name, rollover_doc(name)["spec"]["districtId"])
    return name


def create(control_plane: RunningControlPlane, document: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """`kubectl create` (not apply: apply would copy a 1 MiB field into its last-applied annotation)."""
    return control_plane.kubectl("create", "-f", "-", check=False, input=json.dumps(document))


def brief(text: str, limit: int = 2000) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


# --- refused at admission ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Admission:
    namespace: str
    results: dict[str, subprocess.CompletedProcess[str]]
    stored: list[str]  # names of DistrictRollovers that exist afterwards


@pytest.fixture(scope="module")
def admission(control_plane: RunningControlPlane) -> Iterator[Admission]:
    """Every admission case created once, in one namespace, a few kubectl processes at a time."""
    namespace = new_namespace(control_plane)
    try:
        with ThreadPoolExecutor(PARALLEL_KUBECTL) as pool:
            outcomes = pool.map(lambda case: create(control_plane, case.document(namespace)), ADMISSION)
            results = {case.id: result for case, result in zip(ADMISSION, outcomes, strict=True)}
        listed = control_plane.kubectl("get", "districtrollovers", "-n", namespace, "-o", "json").stdout
        stored = [item["metadata"]["name"] for item in json.loads(listed)["items"]]
        yield Admission(namespace, results, stored)
    finally:
        control_plane.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_the_base_document_is_valid(control_plane: RunningControlPlane, admission: Admission) -> None:
    """Every case is the valid base with one thing broken: the base itself must be accepted."""
    result = create(control_plane, rollover_doc(admission.namespace, "good-base"))

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("case", params(ADMISSION))
def test_refused_at_admission_naming_the_field(case: Case, admission: Admission) -> None:
    result = admission.results[case.id]

    assert result.returncode != 0, f"{case.description}: accepted by the apiserver: {result.stdout}"
    error = result.stderr
    assert case.field in error, f"the error does not name {case.field}: {brief(error)}"
    assert case.problem in error, f"the error does not say {case.problem!r}: {brief(error)}"


def test_nothing_refused_was_stored(admission: Admission) -> None:
    assert admission.stored == []


# --- accepted, then reported SpecValid=False by the operator --------------------------------------------


@dataclass(frozen=True)
class OperatorRun:
    """What one operator run over every spec-invalid case and the valid rollovers left behind."""

    names: dict[str, str]  # case id -> the rollover's name
    refused: dict[str, str]  # case id -> the apiserver's error, for cases it did not store
    rollovers: dict[str, dict[str, Any]]  # by name
    cronjobs_before: dict[str, dict[str, Any]]  # by name, just before the operator started
    cronjobs_after: dict[str, dict[str, Any]]
    jobs: list[dict[str, Any]]
    events: list[dict[str, Any]]
    log: str


def sync_name(rollover: str) -> str:
    return f"sync-{rollover}"[:52]  # a CronJob name leaves room for the Job suffix


def sync_cronjob_of(namespace: str, rollover: str, labels: dict[str, str]) -> dict[str, Any]:
    # Due once a year (Jan 1 00:00): the CronJob controller never writes its status during the test,
    # so an unchanged resourceVersion means nobody touched it.
    return sync_cronjob(sync_name(rollover), namespace, labels, schedule="0 0 1 1 *")


def _by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["metadata"]["name"]: item for item in items}


@pytest.fixture(scope="module")
def operator_run(
    control_plane: RunningControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorRun]:
    """One namespace: each spec-invalid case with its own roster-sync CronJob that its syncSelector
    selects, plus the VALID rollovers with theirs. One operator run, with the clock accelerated past
    the valid rollovers' pause (Thursday) and reset (Friday)."""
    namespace = new_namespace(control_plane)
    kube = Kube(control_plane, namespace)
    log_path = tmp_path_factory.mktemp("bad-input") / "operator.log"
    try:
        cronjobs = [sync_cronjob_of(namespace, case.name, case.labels) for case in SPEC_INVALID]
        cronjobs += [sync_cronjob_of(namespace, name, {"district": name}) for name in VALID]
        kube.run(
            "create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": cronjobs})
        )
        documents = [case.document(namespace) for case in SPEC_INVALID]
        names = {case.id: d["metadata"]["name"] for case, d in zip(SPEC_INVALID, documents, strict=True)}
        # One district each: rollovers of one district, year and product would be claimed by one only.
        valid_districts = [f"IL-{name.upper()}" for name in VALID]
        control_plane.allow_districts(namespace, *valid_districts)
        documents += [
            rollover_doc(namespace, name, districtId=district)
            for name, district in zip(VALID, valid_districts, strict=True)
        ]
        with ThreadPoolExecutor(PARALLEL_KUBECTL) as pool:
            results = list(pool.map(lambda document: create(control_plane, document), documents))
        refused = {
            case.id: result.stderr
            for case, result in zip(SPEC_INVALID, results[: len(SPEC_INVALID)], strict=True)
            if result.returncode != 0
        }
        for name, result in zip(VALID, results[len(SPEC_INVALID) :], strict=True):
            assert result.returncode == 0, f"valid rollover {name} refused: {result.stderr}"
        before = _by_name(kube.items("cronjobs"))
        stored = {item["metadata"]["name"] for item in kube.items("districtrollovers")}

        def settled() -> bool:
            rollovers = _by_name(kube.items("districtrollovers"))
            reported = all(
                condition(rollovers[case_name], "SpecValid") for case_name in stored if case_name not in VALID
            )
            served = all(rollovers[name].get("status", {}).get("phase") == "Archiving" for name in VALID)
            return reported and served

        with operator(control_plane, namespace, log_path, clock_start=CLOCK_START):
            wait_for(settled, timeout=60, what="valid rollovers Archiving, every other one reported")
            rollovers = _by_name(kube.items("districtrollovers"))
            after = _by_name(kube.items("cronjobs"))
            jobs = kube.items("jobs")
            events = kube.items("events")
        yield OperatorRun(
            names, refused, rollovers, before, after, jobs, events, log_path.read_text(errors="replace")
        )
    finally:
        control_plane.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


@pytest.mark.parametrize("case", params(SPEC_INVALID))
def test_reported_spec_invalid_and_nothing_touched(case: Case, operator_run: OperatorRun) -> None:
    assert case.id not in operator_run.refused, f"refused at admission: {operator_run.refused.get(case.id)}"
    rollover_name = operator_run.names[case.id]
    rollover = operator_run.rollovers[rollover_name]

    spec_valid = condition(rollover, "SpecValid")
    assert spec_valid.get("status") == "False", f"{case.description}: SpecValid is {spec_valid}"
    message = spec_valid.get("message", "")
    assert case.field in message, f"SpecValid does not name {case.field}: {message}"
    assert case.problem in message, f"SpecValid does not say {case.problem!r}: {message}"
    assert condition(rollover, "Ready").get("status") == "False"
    assert condition(rollover, "Stalled").get("status") == "True"

    name = sync_name(case.name)
    before, after = operator_run.cronjobs_before[name], operator_run.cronjobs_after[name]
    assert not after["spec"].get("suspend"), f"{name} was suspended"
    assert ORIGINAL_STATE_ANNOTATION not in (after["metadata"].get("annotations") or {})
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"], f"{name} changed"
    assert not rollover.get("status", {}).get("syncTargets")
    assert not [j for j in operator_run.jobs if j["metadata"]["labels"].get(LABEL_ROLLOVER) == rollover_name]


def test_valid_rollovers_are_served_alongside(operator_run: OperatorRun) -> None:
    for name in VALID:
        rollover = operator_run.rollovers[name]
        assert rollover["status"]["phase"] == "Archiving"
        assert condition(rollover, "SpecValid")["status"] == "True"
        cronjob = operator_run.cronjobs_after[sync_name(name)]
        assert cronjob["spec"]["suspend"] is True, f"{name}'s roster sync was not paused"
        assert ORIGINAL_STATE_ANNOTATION in cronjob["metadata"]["annotations"]
        products = sorted(
            j["metadata"]["labels"]["rostering.k12.dev/product"]
            for j in operator_run.jobs
            if j["metadata"]["labels"].get(LABEL_ROLLOVER) == name
            and j["metadata"]["labels"].get("rostering.k12.dev/step") == "archive"
        )
        assert products == ["imagine-math", "twig-science"], f"{name}: archive Jobs {products}"


def test_no_rollover_warns_about_a_target_it_does_not_select(operator_run: OperatorRun) -> None:
    # Every CronJob here is selected by exactly one rollover: no target is owned elsewhere.
    spurious = [
        f"{e['involvedObject']['name']}: {e['message']}"
        for e in operator_run.events
        if e.get("reason") == "TargetOwnedElsewhere"
    ]
    assert spurious == [], f"{len(spurious)} spurious events, e.g. {spurious[:3]}"


def test_the_operator_log_has_no_traceback(operator_run: OperatorRun) -> None:
    assert TRACEBACK not in operator_run.log, operator_run.log[-4000:]


# --- rollover lint, offline -------------------------------------------------------------------------------


def write_yaml(path: Path, document: dict[str, Any]) -> None:
    with path.open("w", encoding="utf-8") as stream:
        YAML(typ="safe").dump(document, stream)


def lint(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, list[str]]:
    status = main(["lint", "--now", CLOCK_START, str(path)])
    return status, capsys.readouterr().out.splitlines()


def test_lint_accepts_the_base_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "good.yaml"
    write_yaml(path, rollover_doc("district-il", "good"))

    status, lines = lint(capsys, path)

    # The day before the pause, only the district's unacknowledged readiness checklist is worth a word.
    assert (status, len(lines)) == (0, 1)
    assert "readiness item(s) not acknowledged" in lines[0]


@pytest.mark.parametrize("case", params(LINT, lint=True))
def test_lint_reports_the_case_with_file_and_line(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / f"{case.id}.yaml"
    write_yaml(path, case.document("district-il"))

    status, lines = lint(capsys, path)

    errors = [line for line in lines if re.match(rf"{re.escape(str(path))}:\d+:\d+: error: ", line)]
    assert status == 1, lines
    assert any(case.field in line for line in errors), f"no file:line error naming {case.field}: {lines}"
    assert max(map(len, lines)) <= LINT_LINE_MAX, f"a {max(map(len, lines))}-character diagnostic line"
