"""The trust-boundary admission policies on the real apiserver: each attack is refused, each legitimate
write passes.

The DistrictRollover policies come from crds/ (the harness installs every file there). The operator
fence needs the operator's ServiceAccount, so it is rendered from the chart with helm for a release of
this module and applied; the operator is impersonated (`kubectl --as=system:serviceaccount:...`) with
RBAC broader than the chart's, so that every refusal seen here is the fence's and not RBAC's.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lightkube.resources.batch_v1 import Job

from rollover.api.models import Step
from rollover.catalog import load_catalog
from rollover.cluster.jobs import job_manifest, secret_names
from rollover.config import OperatorConfig, load_config
from rollover.planner import CreateJob
from tests.conftest import RunningControlPlane
from tests.integration import test_chart
from tests.integration.kube import rollover_doc
from tests.integration.test_chart import (
    CHART,
    DISTRICT,
    DISTRICTS_ANNOTATION,
    KUBE_VERSION,
    only,
    operator_config,
    render,
    run_helm,
)

pytestmark = pytest.mark.integration
helm = test_chart.helm  # the chart tests' fixture: the cached helm binary

ORIGINAL_STATE_ANNOTATION = "rostering.k12.dev/original-state"
APPROVERS_GROUP = "rostering.k12.dev:exception-approvers"
EXCEPTION = {"approvedBy": "csm:jane.doe", "reason": "the district calendar runs late"}
JOB_IMAGE = "registry.example/rollover-job:2.0"
JOB_ACCOUNT = "rollover-jobs"
SIGNING_KEY_SECRET = "rollover-certificate-key"
STORE_SECRET = "rollover-roster-store"  # the chart's default jobs.rosterStoreSecret
RECIPIENTS = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
#: The job templates of the fenced release: its own image, account and a plain variable; certificates on.
JOB_VALUES = (
    "--set", f"jobs.defaultJob.image={JOB_IMAGE},jobs.defaultJob.serviceAccountName={JOB_ACCOUNT}",
    "--set", f"jobs.defaultJob.env[0].name=ARCHIVE_RECIPIENTS,jobs.defaultJob.env[0].value={RECIPIENTS}",
    "--set", f"operator.certificates.secretName={SIGNING_KEY_SECRET}",
)  # fmt: skip
FENCE = "templates/admission-operator-fence.yaml"
#: How long a new policy may take to reach the apiserver's admission plugin (its informer).
POLICY_SYNC_TIMEOUT_S = 30.0


def until_refused(
    attempt: Callable[[], subprocess.CompletedProcess[str]],
) -> subprocess.CompletedProcess[str]:
    """Repeat a server-side dry run until it is refused (a new policy takes a moment to take effect)."""
    deadline = time.monotonic() + POLICY_SYNC_TIMEOUT_S
    while (result := attempt()).returncode == 0:
        assert time.monotonic() < deadline, f"never refused: {result.stdout}"
        time.sleep(0.5)
    return result


def refused(result: subprocess.CompletedProcess[str], policy: str, message: str) -> None:
    assert result.returncode != 0, result.stdout
    assert f"ValidatingAdmissionPolicy '{policy}'" in result.stderr, result.stderr
    assert message in result.stderr, result.stderr


def passed(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stderr


class Namespaces:
    """Fresh namespaces for one test, each annotated with the districts it may roll over (or not at all)."""

    def __init__(self, control_plane: RunningControlPlane) -> None:
        self.cp = control_plane
        self.made: list[str] = []

    def make(self, districts: str | None = DISTRICT) -> str:
        name = f"t-{uuid.uuid4().hex[:10]}"
        self.cp.kubectl("create", "namespace", name)
        self.made.append(name)
        if districts is not None:
            self.cp.kubectl("annotate", "namespace", name, f"{DISTRICTS_ANNOTATION}={districts}")
        return name


@pytest.fixture
def namespaces(control_plane: RunningControlPlane) -> Iterator[Namespaces]:
    made = Namespaces(control_plane)
    yield made
    for name in made.made:
        control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


def apply(
    control_plane: RunningControlPlane, document: dict[str, Any], *extra: str
) -> subprocess.CompletedProcess[str]:
    return control_plane.kubectl("apply", "-f", "-", *extra, check=False, input=json.dumps(document))


# --- district ownership ---------------------------------------------------------------------------

OWNERSHIP = "districtrollovers.rostering.k12.dev-district-ownership"
NOT_LISTED = (
    f"may not roll over district {DISTRICT}: list it in the namespace annotation {DISTRICTS_ANNOTATION}"
)


@pytest.mark.parametrize("districts", [None, "", "IL-1111111, TX-2222222"], ids=["none", "empty", "others"])
def test_a_namespace_may_not_roll_over_a_district_its_annotation_does_not_list(
    control_plane: RunningControlPlane, namespaces: Namespaces, districts: str | None
) -> None:
    namespace = namespaces.make(districts)

    result = until_refused(lambda: apply(control_plane, rollover_doc(namespace), "--dry-run=server"))

    refused(result, OWNERSHIP, NOT_LISTED)


def test_a_namespace_rolls_over_a_district_its_annotation_lists_whitespace_ignored(
    control_plane: RunningControlPlane, namespaces: Namespaces
) -> None:
    namespace = namespaces.make(f"IL-1111111 ,  {DISTRICT} ")
    unlisted = rollover_doc(namespace, districtId="IL-2222222")
    until_refused(lambda: apply(control_plane, unlisted, "--dry-run=server"))  # the policy is in effect

    passed(apply(control_plane, rollover_doc(namespace)))


def test_a_withdrawn_district_refuses_spec_edits_but_the_rollover_stays_deletable(
    control_plane: RunningControlPlane, namespaces: Namespaces
) -> None:
    namespace = namespaces.make()
    passed(apply(control_plane, rollover_doc(namespace)))
    control_plane.kubectl(
        "annotate", "namespace", namespace, f"{DISTRICTS_ANNOTATION}=IL-1111111", "--overwrite"
    )

    def patch(change: dict[str, Any], *extra: str) -> subprocess.CompletedProcess[str]:
        return control_plane.kubectl(
            "-n", namespace, "patch", "dro", "springfield", "--type=merge", "-p", json.dumps(change), *extra,
            check=False,
        )  # fmt: skip

    edit = {"spec": {"displayName": "Springfield"}}
    refused(until_refused(lambda: patch(edit, "--dry-run=server")), OWNERSHIP, NOT_LISTED)
    # The operator's finalizer and status writes change no spec.
    passed(patch({"metadata": {"finalizers": ["rostering.k12.dev/finalizer"]}}))
    passed(patch({"status": {"phase": "Scheduled"}}, "--subresource=status"))
    passed(patch({"metadata": {"finalizers": None}}))


# --- exceptions -----------------------------------------------------------------------------------

EXCEPTIONS = "districtrollovers.rostering.k12.dev-exception-approvers"
CSM = ("--as=csm-alice",)
APPROVER = ("--as=lead-bob", f"--as-group={APPROVERS_GROUP}")


@pytest.fixture
def editable_namespace(control_plane: RunningControlPlane, namespaces: Namespaces) -> str:
    """A namespace where the CSM and the approver may both edit DistrictRollovers (RBAC)."""
    namespace = namespaces.make()
    control_plane.kubectl(
        "-n", namespace, "create", "role", "edit-rollovers",
        "--verb=get,create,update,patch", "--resource=districtrollovers.rostering.k12.dev",
    )  # fmt: skip
    control_plane.kubectl(
        "-n", namespace, "create", "rolebinding", "edit-rollovers", "--role=edit-rollovers",
        "--user=csm-alice", "--user=lead-bob",
    )  # fmt: skip
    return namespace


def test_an_exception_set_by_someone_not_an_approver_is_refused(
    control_plane: RunningControlPlane, editable_namespace: str
) -> None:
    document = rollover_doc(editable_namespace, exception=EXCEPTION)

    result = until_refused(lambda: apply(control_plane, document, *CSM, "--dry-run=server"))

    refused(result, EXCEPTIONS, "csm-alice may not set or change spec.exception")


def test_an_approver_sets_an_exception_and_anyone_may_edit_around_it_but_not_change_it(
    control_plane: RunningControlPlane, editable_namespace: str
) -> None:
    document = rollover_doc(editable_namespace, exception=EXCEPTION)
    until_refused(lambda: apply(control_plane, document, *CSM, "--dry-run=server"))  # the policy is in effect
    passed(apply(control_plane, document, *APPROVER))

    untouched = rollover_doc(editable_namespace, exception=EXCEPTION, displayName="Springfield")
    passed(apply(control_plane, untouched, *CSM))
    changed = rollover_doc(editable_namespace, exception=EXCEPTION | {"reason": "another reason"})
    refused(apply(control_plane, changed, *CSM), EXCEPTIONS, "csm-alice may not set or change spec.exception")
    passed(apply(control_plane, changed, *APPROVER))


def test_an_exception_added_later_by_someone_not_an_approver_is_refused(
    control_plane: RunningControlPlane, editable_namespace: str
) -> None:
    passed(apply(control_plane, rollover_doc(editable_namespace), *CSM))

    document = rollover_doc(editable_namespace, exception=EXCEPTION)
    result = until_refused(lambda: apply(control_plane, document, *CSM, "--dry-run=server"))

    refused(result, EXCEPTIONS, "csm-alice may not set or change spec.exception")


# --- sync selectors -------------------------------------------------------------------------------

SELECTOR = "districtrollovers.rostering.k12.dev-sync-selector"


@pytest.mark.parametrize(
    "expressions",
    [
        [{"key": "paused", "operator": "DoesNotExist"}],
        [{"key": "tier", "operator": "NotIn", "values": ["web"]}],
        [
            {"key": "paused", "operator": "DoesNotExist"},
            {"key": "tier", "operator": "NotIn", "values": ["web"]},
        ],
    ],
    ids=["does-not-exist", "not-in", "both"],
)
def test_a_selector_matching_by_absence_only_is_refused(
    control_plane: RunningControlPlane, namespaces: Namespaces, expressions: list[dict[str, Any]]
) -> None:
    document = rollover_doc(namespaces.make(), syncSelector={"matchExpressions": expressions})

    result = until_refused(lambda: apply(control_plane, document, "--dry-run=server"))

    refused(result, SELECTOR, "spec.syncSelector must select by presence")


@pytest.mark.parametrize(
    "selector",
    [
        {"matchLabels": {"district": "springfield"}},
        {"matchExpressions": [{"key": "district", "operator": "In", "values": ["springfield"]}]},
        {
            "matchExpressions": [
                {"key": "roster-sync", "operator": "Exists"},
                {"key": "x", "operator": "NotIn", "values": ["y"]},
            ]
        },
    ],
    ids=["match-labels", "in", "exists-and-not-in"],
)
def test_a_selector_matching_by_presence_is_accepted(
    control_plane: RunningControlPlane, namespaces: Namespaces, selector: dict[str, Any]
) -> None:
    namespace = namespaces.make()
    absence = {"matchExpressions": [{"key": "paused", "operator": "DoesNotExist"}]}
    until_refused(
        lambda: apply(control_plane, rollover_doc(namespace, syncSelector=absence), "--dry-run=server")
    )

    passed(apply(control_plane, rollover_doc(namespace, syncSelector=selector)))


# --- legal holds ----------------------------------------------------------------------------------

LEGAL_HOLD = "districtrollovers.rostering.k12.dev-legal-hold"
HOLD = {"by": "counsel:kim", "reason": "litigation hold 2027-114"}
RELEASER = ("--as=lead-bob", "--as-group=rostering.k12.dev:legal-hold-releasers")
NOT_A_RELEASER = "csm-alice may not release or change spec.legalHold: only legal-hold releasers may"


def test_anyone_may_place_a_legal_hold_but_only_a_releaser_may_release_or_change_it(
    control_plane: RunningControlPlane, editable_namespace: str
) -> None:
    held = rollover_doc(editable_namespace, legalHold=HOLD)
    passed(apply(control_plane, rollover_doc(editable_namespace), *CSM))
    passed(apply(control_plane, held, *CSM))
    released = rollover_doc(editable_namespace)
    changed = rollover_doc(editable_namespace, legalHold=HOLD | {"reason": "no longer needed"})

    result = until_refused(lambda: apply(control_plane, released, *CSM, "--dry-run=server"))
    refused(result, LEGAL_HOLD, NOT_A_RELEASER)
    refused(apply(control_plane, changed, *CSM), LEGAL_HOLD, NOT_A_RELEASER)
    passed(apply(control_plane, rollover_doc(editable_namespace, legalHold=HOLD, displayName="S"), *CSM))
    passed(apply(control_plane, released, *RELEASER))


# --- the operator's fence -------------------------------------------------------------------------


@dataclass(frozen=True)
class Fence:
    """The chart's operator fence, applied for a release of this module."""

    policy: dict[str, Any]
    release_namespace: str
    account: str
    config: OperatorConfig  # the operator's configuration rendered with the fence

    @property
    def name(self) -> str:
        return str(self.policy["metadata"]["name"])


@pytest.fixture(scope="module")
def fence(
    control_plane: RunningControlPlane, helm: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fence]:
    """The fence rendered by helm (`JOB_VALUES`) and applied, with the operator configuration of the
    same values; the operator's ServiceAccount may write workloads anywhere as far as RBAC is concerned."""
    release = f"f{uuid.uuid4().hex[:8]}"
    release_namespace = f"{release}-ops"
    control_plane.kubectl("create", "namespace", release_namespace)
    docs = render(helm, release, release_namespace, *JOB_VALUES)
    config = load_config(operator_config(docs, tmp_path_factory.mktemp("fence") / "config.yaml"))
    fence_docs = [d for d in docs if d["metadata"]["name"] == f"{release}-district-rollover-operator-fence"]
    passed(
        control_plane.kubectl(
            "apply", "-f", "-", input=json.dumps({"kind": "List", "apiVersion": "v1", "items": fence_docs})
        )
    )
    account = f"system:serviceaccount:{release_namespace}:{release}-district-rollover"
    control_plane.kubectl(
        "create", "clusterrole", release,
        "--verb=get,list,create,update,patch",
        "--resource=cronjobs.batch,jobs.batch,deployments.apps,events,leases.coordination.k8s.io,"
        "districtrollovers.rostering.k12.dev,districtrollovers.rostering.k12.dev/status",
    )  # fmt: skip
    control_plane.kubectl(
        "create", "clusterrolebinding", release, f"--clusterrole={release}", f"--user={account}"
    )
    (policy,) = only(fence_docs, "ValidatingAdmissionPolicy")
    yield Fence(policy, release_namespace, account, config)
    for kind in ("validatingadmissionpolicy", "validatingadmissionpolicybinding"):
        control_plane.kubectl("delete", kind, policy["metadata"]["name"], check=False)
    control_plane.kubectl("delete", "clusterrole,clusterrolebinding", release, check=False)
    control_plane.kubectl("delete", "namespace", release_namespace, "--wait=false", check=False)


@dataclass(frozen=True)
class District:
    """A district namespace with a roster-sync CronJob `sync`, a CSV-import Deployment `csv-import`
    and a DistrictRollover `springfield`; `kubectl` runs as the operator."""

    cp: RunningControlPlane
    namespace: str
    fence: Fence
    rollover: dict[str, Any]

    def as_operator(
        self, *args: str, namespace: str | None = None, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.cp.kubectl(
            f"--as={self.fence.account}", "-n", namespace or self.namespace, *args, input=input, check=False
        )

    def patch(
        self, kind: str, name: str, change: dict[str, Any], *extra: str
    ) -> subprocess.CompletedProcess[str]:
        return self.as_operator("patch", kind, name, "--type=merge", "-p", json.dumps(change), *extra)

    def create_job(self, namespace: str | None = None, **changes: Any) -> subprocess.CompletedProcess[str]:
        """Create a Job like the operator's (configured image and account, owned by the rollover) with
        `changes` to its pod spec; `owner=None` leaves out the ownerReference."""
        owner = changes.pop("owner", self.owner_reference())
        pod_spec = {
            "restartPolicy": "Never",
            "serviceAccountName": JOB_ACCOUNT,
            "containers": [job_container()],
        } | changes
        job = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": f"job-{uuid.uuid4().hex[:6]}",
                "namespace": namespace or self.namespace,
                "ownerReferences": [owner] if owner else [],
            },
            "spec": {"template": {"spec": pod_spec}},
        }
        return self.as_operator("create", "-f", "-", namespace=namespace, input=json.dumps(job))

    def create(self, job: Job) -> subprocess.CompletedProcess[str]:
        """Create the Job (a server-side dry run) as the operator."""
        return self.as_operator("create", "--dry-run=server", "-f", "-", input=json.dumps(job.to_dict()))

    def owner_reference(self) -> dict[str, Any]:
        meta = self.rollover["metadata"]
        return {
            "apiVersion": "rostering.k12.dev/v1alpha1",
            "kind": "DistrictRollover",
            "name": meta["name"],
            "uid": meta["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }


NOT_A_TEMPLATE_COMMAND = (
    "must run a command of its job templates: rollover-job preflight, rollover-job archive"
)
NOT_A_TEMPLATE_SECRET = f"may use only the Secrets of its job templates: {STORE_SECRET}, {SIGNING_KEY_SECRET}"
NOT_A_TEMPLATE_VOLUME = "may mount only volumes of the kinds its job templates use: emptyDir, secret"
NOT_UNPRIVILEGED = "runs without host namespaces, privilege, privilege escalation or added capabilities"


#: A variable read from the pod's own annotations, which whoever creates the Job writes.
POD_ANNOTATION = {"fieldRef": {"fieldPath": "metadata.annotations['archive']"}}


def plain(name: str, value: str) -> dict[str, str]:
    return {"name": name, "value": value}


def pod_of(**changes: Any) -> dict[str, Any]:
    """The pod spec changes of a Job whose one container is `job_container(**changes)`."""
    return {"containers": [job_container(**changes)]}


def job_container(**changes: Any) -> dict[str, Any]:
    """An archive container as the operator's job template makes it, with `changes`."""
    return {
        "name": "archive",
        "image": JOB_IMAGE,
        "command": ["rollover-job", "archive"],
        "env": [
            plain("DISTRICT_ID", DISTRICT),
            plain("ARCHIVE_RECIPIENTS", RECIPIENTS),
            {
                "name": "DATABASE_URL",
                "valueFrom": {"secretKeyRef": {"name": STORE_SECRET, "key": "DATABASE_URL"}},
            },
        ],
        "securityContext": {"allowPrivilegeEscalation": False},
    } | changes


@pytest.fixture
def district(control_plane: RunningControlPlane, namespaces: Namespaces, fence: Fence) -> District:
    namespace = namespaces.make()
    for create in (
        ("create", "cronjob", "sync", "--image=roster-sync:1", "--schedule=0 3 * * *"),
        ("create", "deployment", "csv-import", "--image=csv-import:1", "--replicas=2"),
    ):
        control_plane.kubectl("-n", namespace, *create)
    passed(apply(control_plane, rollover_doc(namespace)))
    rollover = json.loads(
        control_plane.kubectl("-n", namespace, "get", "dro", "springfield", "-o", "json").stdout
    )
    return District(control_plane, namespace, fence, rollover)


POD_TEMPLATE = {
    "spec": {
        "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "sync", "image": "evil:1"}]}}}}
    }
}


def test_the_operator_may_not_change_a_cronjob_s_pod_template(district: District) -> None:
    result = until_refused(lambda: district.patch("cronjob", "sync", POD_TEMPLATE, "--dry-run=server"))

    refused(
        result,
        district.fence.name,
        "the operator may change only spec.suspend of cronjobs, not spec.jobTemplate",
    )


def test_the_operator_pauses_and_restores_a_cronjob_with_its_annotation(district: District) -> None:
    until_refused(lambda: district.patch("cronjob", "sync", POD_TEMPLATE, "--dry-run=server"))

    pause = {
        "spec": {"suspend": True},
        "metadata": {"annotations": {ORIGINAL_STATE_ANNOTATION: '{"suspend":false}'}},
    }
    passed(district.patch("cronjob", "sync", pause))
    passed(
        district.patch(
            "cronjob",
            "sync",
            {"spec": {"suspend": False}, "metadata": {"annotations": {ORIGINAL_STATE_ANNOTATION: None}}},
        )
    )


@pytest.mark.parametrize(
    ("change", "what"),
    [
        ({"metadata": {"labels": {"district": "other"}}}, "metadata.labels"),
        ({"metadata": {"annotations": {"example.com/owner": "me"}}}, "the annotation example.com/owner"),
        (
            {
                "metadata": {
                    "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "1"}]
                }
            },
            "metadata.ownerReferences",
        ),
        ({"spec": {"schedule": "* * * * *"}}, "spec.schedule"),
    ],
    ids=["labels", "annotation", "owner", "schedule"],
)
def test_the_operator_may_change_nothing_else_of_a_cronjob(
    district: District, change: dict[str, Any], what: str
) -> None:
    result = until_refused(lambda: district.patch("cronjob", "sync", change, "--dry-run=server"))

    refused(result, district.fence.name, what)


def test_the_operator_may_scale_a_deployment_and_change_nothing_else(district: District) -> None:
    result = until_refused(
        lambda: district.patch("deployment", "csv-import", {"spec": {"paused": True}}, "--dry-run=server")
    )
    refused(
        result,
        district.fence.name,
        "the operator may change only spec.replicas of deployments, not spec.paused",
    )

    passed(
        district.patch(
            "deployment",
            "csv-import",
            {
                "spec": {"replicas": 0},
                "metadata": {"annotations": {ORIGINAL_STATE_ANNOTATION: '{"replicas":2}'}},
            },
        )
    )


def test_a_job_of_the_operator_with_the_configured_image_and_its_rollover_as_owner_is_created(
    district: District,
) -> None:
    until_refused(lambda: district.create_job(owner=None))

    passed(district.create_job())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"containers": [{"name": "archive", "image": "evil:1"}]}, f"must run one of the images {JOB_IMAGE}"),
        (
            {"initContainers": [job_container(name="first", image="evil:1")]},
            f"must run one of the images {JOB_IMAGE}",
        ),
        (
            {"serviceAccountName": "default"},
            f"must run as a ServiceAccount of its job templates: {JOB_ACCOUNT}",
        ),
        ({"serviceAccountName": None}, f"must run as a ServiceAccount of its job templates: {JOB_ACCOUNT}"),
        ({"owner": None}, "must have a controller ownerReference to its DistrictRollover"),
        (
            {"owner": {"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "1", "controller": True}},
            "must have a controller ownerReference to its DistrictRollover",
        ),
        # With the configured image, the attacks that remain: another command or the image's own
        # entrypoint (a shell, python), another Secret, a host path, a variable that points the archive
        # elsewhere, privilege.
        (pod_of(command=["python", "-c", "..."]), NOT_A_TEMPLATE_COMMAND),
        (pod_of(command=None), NOT_A_TEMPLATE_COMMAND),
        (pod_of(args=["--archive-uri", "s3://elsewhere/"]), NOT_A_TEMPLATE_COMMAND),
        ({"volumes": [{"name": "key", "secret": {"secretName": "payroll-db"}}]}, NOT_A_TEMPLATE_SECRET),
        (pod_of(envFrom=[{"secretRef": {"name": "payroll-db"}}]), NOT_A_TEMPLATE_SECRET),
        ({"volumes": [{"name": "root", "hostPath": {"path": "/"}}]}, NOT_A_TEMPLATE_VOLUME),
        (pod_of(env=[plain("ARCHIVE_URI", "s3://elsewhere/loot")]), "not ARCHIVE_URI"),
        (
            pod_of(env=[plain("ARCHIVE_RECIPIENTS", "age1attacker")]),
            "not ARCHIVE_RECIPIENTS",
        ),
        (pod_of(env=[plain("DATABASE_URL", "postgresql://x/y")]), "not DATABASE_URL"),
        (pod_of(env=[{"name": "ARCHIVE_URI", "valueFrom": POD_ANNOTATION}]), "not ARCHIVE_URI"),
        # (privileged: true is refused before admission by this apiserver's --allow-privileged=false)
        (pod_of(securityContext={"capabilities": {"add": ["SYS_ADMIN"]}}), NOT_UNPRIVILEGED),
        ({"hostNetwork": True}, NOT_UNPRIVILEGED),
    ],
    ids=[
        "image", "init-container-image", "service-account", "no-service-account", "no-owner", "other-owner",
        "command", "entrypoint", "args", "secret-volume", "secret-env-from", "host-path", "archive-uri",
        "archive-recipients", "database-url", "from-own-annotation", "added-capability", "host-network",
    ],
)  # fmt: skip
def test_a_job_of_the_operator_must_be_one_its_templates_make(
    district: District, changes: dict[str, Any], message: str
) -> None:
    result = until_refused(lambda: district.create_job(**changes))

    refused(result, district.fence.name, message)


def test_every_job_the_operator_makes_passes_the_fence_the_signing_key_only_in_certify_and_purge(
    district: District,
) -> None:
    until_refused(lambda: district.create_job(owner=None))
    config = district.fence.config
    products = tuple(load_catalog().products)

    for step in Step:
        per_product = step not in (Step.CERTIFY, Step.PURGE)
        for product in products if per_product else ("",):
            action = CreateJob(
                name=f"springfield-{step.value}-{product or 'all'}",
                step=step,
                product=product,
                attempt=0,
                school_year="2026-2027",
                reset_date=dt.date(2027, 7, 16),
                products=() if per_product else products,
                retention_until=None if per_product else dt.date(2028, 7, 16),
            )
            template = config.template(product or products[0], step)
            job = job_manifest(district.rollover, action, template, config.job_ttl_seconds_after_finished)
            passed(district.create(job))
            assert (SIGNING_KEY_SECRET in secret_names(template)) is (not per_product), step
            # Every kind of Job, the new ones too: ours by controller UID, deleted after its TTL, and
            # an API token only for a ServiceAccount the template asks for.
            assert job.metadata.ownerReferences[0].uid == district.rollover["metadata"]["uid"]
            assert job.metadata.ownerReferences[0].controller is True
            assert job.spec.ttlSecondsAfterFinished == config.job_ttl_seconds_after_finished
            pod = job.spec.template.spec
            assert pod.serviceAccountName == JOB_ACCOUNT and pod.automountServiceAccountToken is None
            bare = template.model_copy(update={"service_account_name": None})
            unaccounted = job_manifest(district.rollover, action, bare, 60).spec.template.spec
            assert unaccounted.automountServiceAccountToken is False


@pytest.mark.parametrize(
    "create",
    [
        ("cronjob", "other-sync", "--image=roster-sync:1", "--schedule=0 3 * * *"),
        ("deployment", "other-import", "--image=csv-import:1"),
    ],
    ids=["cronjob", "deployment"],
)
def test_the_operator_may_not_create_cronjobs_or_deployments(
    district: District, create: tuple[str, ...]
) -> None:
    result = until_refused(lambda: district.as_operator("create", *create, "--dry-run=server"))

    refused(result, district.fence.name, f"it may not CREATE {create[0]}s")


@pytest.mark.parametrize("where", ["kube-system", "release"])
def test_the_operator_writes_nothing_in_kube_system_or_its_own_namespace(
    district: District, where: str
) -> None:
    namespace = "kube-system" if where == "kube-system" else district.fence.release_namespace

    result = until_refused(lambda: district.create_job(namespace))

    refused(result, district.fence.name, f"the operator may not write workloads in namespace {namespace}")


def test_the_operator_s_other_writes_pass_the_fence(district: District) -> None:
    until_refused(lambda: district.create_job(owner=None))

    passed(district.patch("dro", "springfield", {"status": {"phase": "Scheduled"}}, "--subresource=status"))
    finalizer = [{"op": "add", "path": "/metadata/finalizers", "value": ["rostering.k12.dev/finalizer"]}]
    passed(district.as_operator("patch", "dro", "springfield", "--type=json", "-p", json.dumps(finalizer)))
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"springfield.{uuid.uuid4().hex[:8]}"},
        "involvedObject": {
            "apiVersion": "rostering.k12.dev/v1alpha1",
            "kind": "DistrictRollover",
            "name": "springfield",
            "namespace": district.namespace,
            "uid": district.rollover["metadata"]["uid"],
        },
        "reason": "SyncPaused",
        "message": "paused",
        "type": "Normal",
    }
    passed(district.as_operator("create", "-f", "-", input=json.dumps(event)))
    # Leader election, in the release namespace where no workload may be written.
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "operator"}}
    passed(
        district.as_operator(
            "create", "-f", "-", namespace=district.fence.release_namespace, input=json.dumps(lease)
        )
    )


# --- the chart's values -----------------------------------------------------------------------------


def variables_of(policy: dict[str, Any]) -> dict[str, Any]:
    """The policy's list-valued variables (rendered with toJson, so JSON is their CEL literal)."""
    return {
        v["name"]: json.loads(v["expression"])
        for v in policy["spec"]["variables"]
        if v["expression"][0] == "["
    }


@pytest.mark.parametrize(
    ("template", "value", "users", "groups"),
    [
        ("admission-exception-approvers", "exceptionApprovers", "approverUsers", "approverGroups"),
        ("admission-legal-hold", "legalHoldReleasers", "releaserUsers", "releaserGroups"),
    ],
)
def test_exception_approvers_and_legal_hold_releasers_come_from_the_values(
    helm: Path, template: str, value: str, users: str, groups: str
) -> None:
    argocd = "system:serviceaccount:argocd:argocd-application-controller"
    docs = render(
        helm, "r", "ops", "--show-only", f"templates/{template}.yaml",
        "--set", f"admissionPolicy.{value}.users={{{argocd}}}",
        "--set", f"admissionPolicy.{value}.groups={{counsel}}",
    )  # fmt: skip

    (policy,) = only(docs, "ValidatingAdmissionPolicy")
    assert variables_of(policy) == {users: [argocd], groups: ["counsel"]}


def test_the_fence_allows_exactly_the_operator_s_account_and_what_its_job_templates_make(
    helm: Path,
    tmp_path: Path,
) -> None:
    docs = render(
        helm, "r", "ops",
        "--set", "serviceAccount.name=rollover-operator",
        "--set", "jobs.perProduct.twig-science.archive.image=registry.example/twig-archive:3",
        "--set", "jobs.perProduct.twig-science.reset.serviceAccountName=twig-reset",
        "--set", "admissionPolicy.operatorFence.protectedNamespaces={argocd}",
        "--set", "jobs.perProduct.twig-science.reset.command={rollover-job,reset,--verbose}",
        "--set", f"operator.certificates.secretName={SIGNING_KEY_SECRET}",
    )  # fmt: skip

    (policy,) = only(docs, "ValidatingAdmissionPolicy", "r-district-rollover-operator-fence")
    (condition,) = policy["spec"]["matchConditions"]
    assert (
        condition["expression"]
        == "request.userInfo.username == 'system:serviceaccount:ops:rollover-operator'"
    )
    config = load_config(operator_config(docs, tmp_path / "config.yaml"))
    templates = [config.template(product, step) for product in load_catalog().products for step in Step]
    variables = variables_of(policy)
    assert variables["protectedNamespaces"] == ["kube-system", "ops", "argocd"]
    images = {"ghcr.io/k12-dev/district-rollover:0.1.0", "registry.example/twig-archive:3"}
    assert sorted(variables["jobImages"]) == sorted({t.image for t in templates}) == sorted(images)
    accounts = {"", "twig-reset"}
    assert sorted(variables["jobServiceAccounts"]) == sorted(
        {t.service_account_name or "" for t in templates}
    )
    assert set(variables["jobServiceAccounts"]) == accounts
    commands = [
        config.template(product, step).command or ["rollover-job", step.value]
        for product in load_catalog().products
        for step in Step
    ]
    assert sorted(variables["jobCommands"]) == sorted(map(list, {tuple(c) for c in commands}))
    assert sorted(variables["jobSecrets"]) == sorted({name for t in templates for name in secret_names(t)})
    assert sorted(variables["jobSecrets"]) == sorted([STORE_SECRET, SIGNING_KEY_SECRET])


@pytest.mark.parametrize(
    ("switch", "left"),
    [
        ("admissionPolicy.enabled=false", {"r-district-rollover-operator-fence"}),
        ("admissionPolicy.operatorFence.enabled=false", {f"districtrollovers.rostering.k12.dev-{p}" for p in (
            "lock-after-archive", "district-ownership", "exception-approvers", "legal-hold", "sync-selector"
        )}),
    ],
    ids=["rollover-policies-off", "fence-off"],
)  # fmt: skip
def test_each_group_of_policies_can_be_switched_off(helm: Path, switch: str, left: set[str]) -> None:
    docs = render(helm, "r", "ops", "--set", switch)

    for kind in ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"):
        assert {d["metadata"]["name"] for d in only(docs, kind)} == left


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("admissionPolicy.operatorFence.protectedNamespaces={Kube_System}", "/admissionPolicy/operatorFence"),
        ("admissionPolicy.exceptionApprovers.admins={alice}", "'admins' not allowed"),
    ],
    ids=["namespace-name", "unknown-key"],
)
def test_policy_values_are_validated_by_the_schema(helm: Path, bad: str, why: str) -> None:
    done = run_helm(
        helm, "template", "r", str(CHART), "--kube-version", KUBE_VERSION, "--set", bad, check=False
    )

    assert done.returncode != 0 and why in done.stderr, done.stderr
