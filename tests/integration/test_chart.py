"""The Helm chart: lints, renders, installs on the real control plane, and its ServiceAccount is enough.

helm is built from Go modules and cached with the control plane (tools/build-controlplane.sh). Here
the chart is applied for real (CRDs, policy, RBAC, ConfigMap, ...) on the control plane without a
node, and the operator runs as a local process with *only* the chart's ServiceAccount token and the
chart's rendered configuration, through a whole rollover: quick, and every permission it lacks shows.
The chart's Deployment itself runs on the local node in test_node_rollover.py (image, probes,
security context).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from ruamel.yaml import YAML

import rollover.controller.metrics  # noqa: F401 - registers the operator's metrics
from rollover.api.models import Step
from rollover.config import JobTemplate, load_config
from rollover.devcluster.binaries import ensure_binaries
from rollover.devcluster.controlplane import free_port
from rollover.devcluster.runner import running_operator
from tests.conftest import RunningControlPlane
from tests.integration.kube import CLOCK_RATE, Kube, assert_no_traceback, rollover_doc, wait_for

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "district-rollover"
KUBE_VERSION = "1.33.0"
LABELS = {"district": "springfield"}
ARCHIVE = "rostering.k12.dev/step=archive"
RESET = "rostering.k12.dev/step=reset"
NAMESPACES_MODE = ("--set", "scope.mode=namespaces")
SHARDS = (
    "--set",
    "shards[0].name=a-m,shards[0].namespaces[0]=district-[a-m]*",
    "--set",
    "shards[1].name=rest,shards[1].namespaces[0]=!district-[a-m]*",
)
DISTRICTS_ANNOTATION = "rostering.k12.dev/districts"
#: The district every `rollover_doc` rolls over.
DISTRICT = rollover_doc("")["spec"]["districtId"]
# The accelerated clock of tests/integration/kube.py: 10 simulated hours per real second.
DEMO_CLOCK = (
    "--set",
    f"operator.demoClock.start=2027-07-14T00:00:00-05:00,operator.demoClock.rate={CLOCK_RATE}",
)


@pytest.fixture(scope="module")
def helm() -> Path:
    """The cached helm binary (built on first use, like the control plane); never skipped."""
    binary = ensure_binaries() / "helm"
    assert binary.is_file(), f"{binary} is missing: run tools/build-controlplane.sh"
    return binary


def run_helm(helm: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(helm), *args], capture_output=True, text=True, check=False, timeout=60)
    if check:
        assert done.returncode == 0, f"helm {' '.join(args)} failed:\n{done.stderr}"
    return done


def render(helm: Path, release: str, namespace: str, *sets: str) -> list[dict[str, Any]]:
    """`helm template --include-crds` as parsed documents."""
    out = run_helm(
        helm,
        "template",
        release,
        str(CHART),
        "--namespace",
        namespace,
        "--kube-version",
        KUBE_VERSION,
        "--include-crds",
        *sets,
    ).stdout
    return [doc for doc in YAML(typ="safe").load_all(out) if doc]


def only(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]


def the(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = only(docs, kind)
    assert len(found) == 1, f"{len(found)} {kind}s rendered"
    return found[0]


def operator_config(docs: list[dict[str, Any]], path: Path) -> Path:
    """The chart's operator configuration (its ConfigMap), as the pod would see the mounted file."""
    (config,) = [d["data"]["config.yaml"] for d in only(docs, "ConfigMap") if "config.yaml" in d["data"]]
    path.write_text(config)
    return path


# --- render and lint ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        (),
        (*NAMESPACES_MODE, "--set", "scope.namespaces={district-il,district-tx}"),
        (
            "--set",
            "replicaCount=2,metrics.serviceMonitor.enabled=true,grafanaDashboard.enabled=true",
            *SHARDS,
        ),
    ],
    ids=["cluster", "namespaces", "everything-on"],
)
def test_helm_lint_passes(helm: Path, values: tuple[str, ...]) -> None:
    done = run_helm(helm, "lint", "--strict", str(CHART), *values)
    assert "0 chart(s) failed" in done.stdout


def test_the_chart_ships_the_repository_crds_and_policy_unchanged(helm: Path) -> None:
    shipped = sorted(p.name for p in (CHART / "crds").iterdir())
    crd_files = sorted(
        p.name for p in (REPO / "crds").glob("*.yaml") if "CustomResourceDefinition" in p.read_text()
    )
    assert shipped == crd_files
    for name in shipped:
        assert (CHART / "crds" / name).read_bytes() == (REPO / "crds" / name).read_bytes(), (
            f"charts/district-rollover/crds/{name} differs from crds/{name}: copy it again"
        )
    docs = render(helm, "r", "ops")
    policies = sorted(set((REPO / "crds").glob("*.yaml")) - {REPO / "crds" / name for name in shipped})
    assert policies, "crds/ holds the policies on DistrictRollovers"
    for path in policies:
        for expected in YAML(typ="safe").load_all(path.read_text()):
            (rendered,) = only(docs, expected["kind"], expected["metadata"]["name"])
            assert rendered["spec"] == expected["spec"], f"the chart's {expected['kind']} differs from {path}"


def test_values_are_validated_by_the_schema(helm: Path) -> None:
    for bad, why in (
        (("--set", "scope.mode=everywhere"), "/scope/mode"),
        (("--set", "scope.namespaces={district-il}"), "/scope/namespaces"),  # a list needs mode=namespaces
        (NAMESPACES_MODE, "/scope/namespaces"),  # ... and that mode needs a list
        (("--set", "jobs.defaultJob.backofLimit=3"), "'backofLimit' not allowed"),
        (("--set", "operator.demoClock.start=tomorrow"), "/operator/demoClock/start"),
    ):
        done = run_helm(helm, "template", "r", str(CHART), "--kube-version", KUBE_VERSION, *bad, check=False)
        assert done.returncode != 0 and why in done.stderr, f"{bad} was accepted: {done.stderr}"


def test_the_schema_knows_every_job_template_field_and_the_config_loads(helm: Path, tmp_path: Path) -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    fields = {f.alias or name for name, f in JobTemplate.model_fields.items()}
    assert set(schema["definitions"]["jobTemplate"]["properties"]) == fields
    docs = render(
        helm,
        "r",
        "ops",
        "--set",
        "jobs.perProduct.twig-science.archive.activeDeadlineSeconds=600",
        "--set",
        "image.tag=1.2.3",
    )
    config = load_config(operator_config(docs, tmp_path / "config.yaml"))
    job = config.template("imagine-math", Step.ARCHIVE)
    assert job.image == "ghcr.io/k12-dev/district-rollover:1.2.3", "the Jobs run the operator's image"
    assert config.template("twig-science", Step.ARCHIVE).active_deadline_seconds == 600
    secrets = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in job.env}
    assert secrets == {"DATABASE_URL": "rollover-roster-store", "ARCHIVE_URI": "rollover-roster-store"}


def test_the_deployment_is_locked_down_and_probed(helm: Path) -> None:
    deployment = the(render(helm, "r", "ops"), "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "healthz"}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert f"--liveness-port={ports['healthz']}" in container["args"]
    assert f"--metrics-port={ports['metrics']}" in container["args"]
    assert container["args"][:2] == ["operator", "--all-namespaces"]
    assert container["resources"]["limits"]["memory"]
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate", "the new pod waits for the lease"
    assert "--leader-elect" in container["args"]
    env = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in container["env"]}
    assert env == {"POD_NAMESPACE": "metadata.namespace", "POD_NAME": "metadata.name"}
    unelected = the(render(helm, "r", "ops", "--set", "leaderElection.enabled=false"), "Deployment")
    assert unelected["spec"]["strategy"]["type"] == "Recreate", "never two unelected operators at once"


def rules_of(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [rule for d in docs if d["kind"] in ("Role", "ClusterRole") for rule in d["rules"]]


@pytest.mark.parametrize(
    "values", [(), ("--set", "leaderElection.enabled=false"), SHARDS], ids=["default", "unelected", "shards"]
)
def test_rbac_has_no_secrets_no_deletes_and_no_wildcards(helm: Path, values: tuple[str, ...]) -> None:
    scopes = [()] if values == SHARDS else [(), (*NAMESPACES_MODE, "--set", "scope.namespaces={a,b}")]
    for scope in scopes:
        for rule in rules_of(render(helm, "r", "ops", *values, *scope)):
            assert "secrets" not in rule["resources"]
            assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"]
            assert not {"delete", "deletecollection", "escalate", "bind", "impersonate"} & set(rule["verbs"])
            if "pods" in rule["resources"]:
                assert "create" not in rule["verbs"]


def test_each_deployment_has_its_own_lease_and_may_update_only_that(helm: Path) -> None:
    single = render(helm, "r", "ops")
    assert [
        a
        for a in the(single, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
        if a.startswith("--leader-election-id")
    ] == ["--leader-election-id=r-district-rollover"]
    (lease_role,) = only(single, "Role", "r-district-rollover-leader-election")
    lease_rules = lease_role["rules"]
    assert lease_rules == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": ["r-district-rollover"],
            "verbs": ["get", "update"],
        },
    ]
    unelected = render(helm, "r", "ops", "--set", "leaderElection.enabled=false")
    assert [r["metadata"]["name"] for r in only(unelected, "Role")] == ["r-district-rollover-claims"]


def test_claims_are_read_and_written_only_in_the_release_namespace(helm: Path) -> None:
    (claims,) = only(render(helm, "r", "ops"), "Role", "r-district-rollover-claims")
    assert claims["metadata"]["namespace"] == "ops"
    assert claims["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "verbs": ["get", "list", "watch", "create", "update"],
        }
    ]


def test_shards_render_a_deployment_lease_and_selector_each(helm: Path) -> None:
    docs = render(helm, "r", "ops", *SHARDS)
    deployments = {d["metadata"]["name"]: d for d in only(docs, "Deployment")}
    assert set(deployments) == {"r-district-rollover-a-m", "r-district-rollover-rest"}
    args = {n: d["spec"]["template"]["spec"]["containers"][0]["args"] for n, d in deployments.items()}
    assert "--namespace=district-[a-m]*" in args["r-district-rollover-a-m"]
    assert "--namespace=!district-[a-m]*" in args["r-district-rollover-rest"]
    for name, deployment in deployments.items():
        assert f"--leader-election-id={name}" in args[name]
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector["app.kubernetes.io/shard"] == name.removeprefix("r-district-rollover-")
        assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    (lease_role,) = only(docs, "Role", "r-district-rollover-leader-election")
    (names,) = [r["resourceNames"] for r in lease_role["rules"] if "resourceNames" in r]
    assert sorted(names) == sorted(deployments)
    # Patterns need kopf to list namespaces; the schema and the template refuse what cannot work.
    assert any("namespaces" in r["resources"] for r in rules_of(docs))
    done = run_helm(
        helm, "template", "r", str(CHART), "--kube-version=1.33.0", *SHARDS, *NAMESPACES_MODE,
        "--set", "scope.namespaces={a}", check=False,
    )  # fmt: skip
    assert done.returncode != 0 and "shards select namespaces by pattern" in done.stderr


def test_the_dashboard_queries_only_metrics_the_operator_exports() -> None:
    # A labelled metric has no samples before its first use: its name is what a query uses.
    exported = {m.name + ("_total" if m.type == "counter" else "") for m in REGISTRY.collect()}
    dashboard = json.loads((CHART / "dashboards" / "district-rollover.json").read_text())
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\b(rollover_[a-z_]+)", target["expr"])
    }
    assert queried and queried <= exported, queried - exported


def test_the_kind_e2e_run_matches_the_chart(helm: Path) -> None:
    e2e = REPO / "tests" / "e2e"
    values = YAML(typ="safe").load((e2e / "values.yaml").read_text())
    docs = render(helm, "district-rollover", "district-rollover", "--values", str(e2e / "values.yaml"))
    deployment = the(docs, "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "district-rollover:e2e"
    assert deployment["metadata"]["name"] == "district-rollover", "run.sh reads deploy/district-rollover"
    assert "--clock-rate=3600" in container["args"]
    script = (e2e / "run.sh").read_text()
    assert f"image={values['image']['repository']}:{values['image']['tag']}" in script
    assert f"district_ns={values['scope']['namespaces'][0]}" in script
    assert subprocess.run(["bash", "-n", str(e2e / "run.sh")], check=False).returncode == 0
    lint = subprocess.run(
        [
            sys.executable,
            "-m",
            "rollover.cli.main",
            "lint",
            "--now",
            "2027-07-14",
            str(e2e / "district.yaml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


# --- on the control plane -------------------------------------------------------------------------


@pytest.fixture
def new_namespace(control_plane: RunningControlPlane) -> Iterator[Callable[[], str]]:
    """Makes fresh district namespaces, each allowed to roll over `rollover_doc`'s district (the
    district-ownership policy); deletes them (without waiting) afterwards."""
    made: list[str] = []

    def make() -> str:
        made.append(f"t-{uuid.uuid4().hex[:10]}")
        control_plane.kubectl("create", "namespace", made[-1])
        control_plane.kubectl("annotate", "namespace", made[-1], f"{DISTRICTS_ANNOTATION}={DISTRICT}")
        return made[-1]

    yield make
    for name in made:
        control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def release(control_plane: RunningControlPlane) -> Iterator[str]:
    """A release name; its cluster-scoped objects are removed afterwards, except the DistrictRollover
    CRD and the policies on DistrictRollovers: the harness installed the same ones from crds/ and
    other tests use them."""
    name = f"r{uuid.uuid4().hex[:8]}"
    yield name
    labelled = f"app.kubernetes.io/instance={name}"
    # Only kopf's peering CRD carries the release's labels (the chart's crds/ are not templated).
    control_plane.kubectl(
        "delete", "clusterrole,clusterrolebinding,crd", "-l", labelled, "--wait=false", check=False
    )
    # The operator fence is the release's own (by name: the shared policies carry its labels too).
    fence = f"{name}-district-rollover-operator-fence"
    for kind in ("validatingadmissionpolicy", "validatingadmissionpolicybinding"):
        control_plane.kubectl("delete", kind, fence, "--wait=false", check=False)


def install(control_plane: RunningControlPlane, docs: list[dict[str, Any]]) -> None:
    """Apply like helm does (CRDs first, then the rest), each server-side dry-run first, then for real.

    --force-conflicts: the harness installed the CRD and the policies from crds/ with another field
    manager; the chart's copies are identical (see the test above).
    """
    crds = [d for d in docs if d["kind"] == "CustomResourceDefinition"]
    rest = [d for d in docs if d["kind"] != "CustomResourceDefinition"]
    for group in (crds, rest):
        manifest = json.dumps({"apiVersion": "v1", "kind": "List", "items": group})
        for dry_run in ("--dry-run=server", "--dry-run=none"):
            done = control_plane.kubectl(
                "apply",
                "--server-side",
                "--force-conflicts",
                "--field-manager=helm",
                dry_run,
                "-f",
                "-",
                input=manifest,
                check=False,
            )
            assert done.returncode == 0, f"kubectl apply {dry_run} failed:\n{done.stderr}"
        for crd in group if group is crds else ():
            control_plane.kubectl("wait", "--for=condition=Established", f"crd/{crd['metadata']['name']}")


def token_kubeconfig(control_plane: RunningControlPlane, namespace: str, account: str, path: Path) -> Path:
    """A kubeconfig with only the server, its CA and the ServiceAccount's token: nothing of the admin."""
    token = control_plane.kubectl("-n", namespace, "create", "token", account).stdout.strip()
    plane = control_plane.plane
    for args in (
        ("set-cluster", "c", f"--server={plane.server}", f"--certificate-authority={plane.pki.ca_cert}"),
        ("set-credentials", "sa", f"--token={token}"),
        ("set-context", "c", "--cluster=c", "--user=sa"),
        ("use-context", "c"),
    ):
        subprocess.run(["kubectl", "config", f"--kubeconfig={path}", *args], check=True, capture_output=True)
    return path


@dataclass(frozen=True)
class Installed:
    """A release applied to the control plane, and a kubeconfig holding only its ServiceAccount's token."""

    docs: list[dict[str, Any]]
    kubeconfig: Path

    @property
    def container(self) -> dict[str, Any]:
        """The operator container of the (only) Deployment."""
        (container,) = self.containers.values()
        return container

    @property
    def containers(self) -> dict[str, dict[str, Any]]:
        """The operator container of each Deployment (one per shard), by Deployment name."""
        return {
            d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]
            for d in only(self.docs, "Deployment")
        }


def install_release(
    control_plane: RunningControlPlane, helm: Path, release: str, namespace: str, tmp_path: Path, *sets: str
) -> Installed:
    """Render (demo clock, free ports), apply, and log in as the chart's ServiceAccount."""
    ports = f"operator.metricsPort={free_port()},operator.livenessPort={free_port()}"
    docs = render(helm, release, namespace, *DEMO_CLOCK, "--set", ports, *sets)
    install(control_plane, docs)
    account = the(docs, "ServiceAccount")["metadata"]["name"]
    return Installed(docs, token_kubeconfig(control_plane, namespace, account, tmp_path / "sa.kubeconfig"))


@pytest.fixture
def install_chart(
    control_plane: RunningControlPlane, helm: Path, namespace: str, release: str, tmp_path: Path
) -> Callable[..., Installed]:
    """Installs the chart as `release` in `namespace`, with more `helm template` arguments."""
    return lambda *sets: install_release(control_plane, helm, release, namespace, tmp_path, *sets)


@contextmanager
def as_deployed(
    installed: Installed, tmp_path: Path, deployment: str | None = None, *overrides: str
) -> Iterator[Path]:
    """The operator run with exactly the Deployment's arguments (then `overrides`, which win) and only
    the ServiceAccount's token (the mounted config file is the rendered ConfigMap's copy; the Lease
    namespace is what the downward API gives the pod). Yields its log."""
    config = operator_config(installed.docs, tmp_path / "config.yaml")
    container = installed.containers[deployment] if deployment else installed.container
    command, *args = [f"--config={config}" if a.startswith("--config=") else a for a in container["args"]]
    assert command == "operator"
    release_namespace = only(installed.docs, "Deployment")[0]["metadata"]["namespace"]
    log = tmp_path / f"{deployment or 'operator'}.log"
    with running_operator(
        installed.kubeconfig,
        log,
        *args,
        f"--leader-election-namespace={release_namespace}",
        f"--claims-namespace={release_namespace}",
        *overrides,
    ):
        yield log
    assert_no_traceback(log)
    text = log.read_text()
    # RBAC refusals name the user; kopf logs its refused requests as errors.
    assert "system:serviceaccount:" not in text, f"the operator was refused something:\n{text[-3000:]}"
    assert all(json.loads(line)["level"] != "ERROR" for line in text.splitlines()), text[-3000:]


def can_i(kubeconfig: Path, *args: str) -> bool:
    done = subprocess.run(
        ["kubectl", f"--kubeconfig={kubeconfig}", "auth", "can-i", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.stdout.strip() in ("yes", "no"), done.stderr
    return done.stdout.strip() == "yes"


#: (allowed?, verb, resource, ...) as the operator in a namespace it serves.
PERMISSIONS = (
    (True, "patch", "cronjobs"),
    (True, "patch", "deployments"),
    (True, "create", "jobs"),
    (True, "list", "pods"),
    (True, "patch", "districtrollovers"),
    (True, "patch", "districtrollovers", "--subresource=status"),
    (True, "update", "districtrollovers", "--subresource=finalizers"),
    (True, "create", "events"),
    (False, "get", "secrets"),
    (False, "list", "secrets"),
    (False, "delete", "cronjobs"),
    (False, "create", "cronjobs"),
    (False, "update", "cronjobs"),
    (False, "delete", "deployments"),
    (False, "create", "pods"),
    (False, "create", "pods", "--subresource=exec"),
    (False, "delete", "jobs"),
    (False, "create", "districtrollovers"),
    (False, "delete", "districtrollovers"),
    (False, "update", "districtrollovers", "--subresource=status"),
    (False, "create", "roles"),
)


def assert_least_privilege(kubeconfig: Path, namespace: str) -> None:
    """What the operator can do in a namespace it serves, and what it cannot."""
    for allowed, *permission in PERMISSIONS:
        assert can_i(kubeconfig, *permission, "-n", namespace) is allowed, f"{permission}: expected {allowed}"


def http_get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return str(response.read().decode())


def run_a_full_rollover(installed: Installed, kube: Kube, tmp_path: Path) -> None:
    """Scheduled to Completed, the operator deployed as the chart says; its probes and metrics answer."""
    kube.cronjob("clever-sync", LABELS)
    assert kube.apply(rollover_doc(kube.ns, products=["imagine-math"])).returncode == 0
    ports = {p["name"]: p["containerPort"] for p in installed.container["ports"]}
    with as_deployed(installed, tmp_path) as log:
        kube.wait_phase("springfield", "Archiving")
        wait_for(lambda: kube.items("pods", "-l", ARCHIVE), what="archive pod")
        kube.finish_pods(ARCHIVE)
        wait_for(lambda: kube.items("pods", "-l", RESET), what="reset pod")
        kube.finish_pods(RESET)
        kube.wait_phase("springfield", "Completed")
        http_get(ports["healthz"], "/healthz")
        metrics = http_get(ports["metrics"], "/metrics")
        assert f'rollover_phase{{name="springfield",namespace="{kube.ns}",phase="Completed"}} 1.0' in metrics
    assert not kube.get("cronjob", "clever-sync")["spec"]["suspend"]
    reasons = {
        e["reason"] for e in kube.items("events", "--field-selector", "involvedObject.name=springfield")
    }
    assert {"SyncPaused", "ArchiveStarted", "RolloverCompleted"} <= reasons, "events are posted"
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(
        line.get("step") == "archive" and line.get("product") == "imagine-math" and line.get("district")
        for line in lines
    ), "JSON log lines carry rollover, district, step and product"


def test_cluster_scope_installs_and_its_service_account_runs_a_rollover(
    control_plane: RunningControlPlane,
    install_chart: Callable[..., Installed],
    new_namespace: Callable[[], str],
    tmp_path: Path,
) -> None:
    installed = install_chart()
    assert "--all-namespaces" in installed.container["args"]
    district = new_namespace()
    assert_least_privilege(installed.kubeconfig, district)
    assert can_i(installed.kubeconfig, "watch", "districtrollovers", "--all-namespaces")
    assert not can_i(installed.kubeconfig, "list", "secrets", "--all-namespaces")
    # Namespaces are read for their rostering.k12.dev/districts annotation, never written.
    assert can_i(installed.kubeconfig, "watch", "namespaces")
    assert not can_i(installed.kubeconfig, "patch", "namespaces")
    kube = Kube(control_plane, district)
    run_a_full_rollover(installed, kube, tmp_path)
    # The Jobs read the roster store's Secret themselves; the operator only named it.
    (job,) = kube.items("jobs", "-l", ARCHIVE)
    env = job["spec"]["template"]["spec"]["containers"][0]["env"]
    secret = {"secretKeyRef": {"name": "rollover-roster-store", "key": "DATABASE_URL"}}
    assert {"name": "DATABASE_URL", "valueFrom": secret} in env


def test_namespace_scope_grants_roles_only_where_listed_and_runs_there(
    control_plane: RunningControlPlane,
    install_chart: Callable[..., Installed],
    new_namespace: Callable[[], str],
    release: str,
    tmp_path: Path,
) -> None:
    served, also_served, other = new_namespace(), new_namespace(), new_namespace()
    listed = f"scope.namespaces={{{served},{also_served}}}"
    installed = install_chart(*NAMESPACES_MODE, "--set", listed)
    district_roles = [
        r
        for r in only(installed.docs, "Role")
        if not r["metadata"]["name"].endswith(("-election", "-claims"))
    ]
    assert {r["metadata"]["namespace"] for r in district_roles} == {served, also_served}
    for ns in (served, also_served):
        control_plane.kubectl("-n", ns, "get", "role,rolebinding", f"{release}-district-rollover")
    assert_least_privilege(installed.kubeconfig, served)
    for elsewhere in (("-n", other), ("--all-namespaces",)):
        assert not can_i(installed.kubeconfig, "list", "districtrollovers", *elsewhere)
        assert not can_i(installed.kubeconfig, "patch", "cronjobs", *elsewhere)
    run_a_full_rollover(installed, Kube(control_plane, served), tmp_path)


def test_two_shards_side_by_side_each_serve_only_their_namespaces(
    control_plane: RunningControlPlane,
    install_chart: Callable[..., Installed],
    new_namespace: Callable[[], str],
    namespace: str,
    tmp_path: Path,
) -> None:
    first, second = new_namespace(), new_namespace()
    installed = install_chart(
        "--set", f"shards[0].name=one,shards[0].namespaces[0]={first}",
        "--set", f"shards[1].name=two,shards[1].namespaces[0]=!{first}",
    )  # fmt: skip
    kubes = [Kube(control_plane, ns) for ns in (first, second)]
    for i, kube in enumerate(kubes):
        kube.cronjob("clever-sync", LABELS)
        # One district each: the same district in both would be claimed by one shard only.
        kube.apply(rollover_doc(kube.ns, products=["imagine-math"], districtId=f"IL-SHARD-{i}"))
    shard_one, shard_two = sorted(installed.containers)
    # Two pods would each have their own ports; two local processes need distinct ones.
    ports = [f"--{kind}-port={free_port()}" for kind in ("metrics", "liveness") for _ in range(2)]
    with (
        as_deployed(installed, tmp_path, shard_one, *ports[0::2]) as log_one,
        as_deployed(installed, tmp_path, shard_two, *ports[1::2]) as log_two,
    ):
        for kube in kubes:
            kube.wait_phase("springfield", "Archiving")
        leases = {
            name: control_plane.kubectl("-n", namespace, "get", "lease", name, "-o", "json").stdout
            for name in (shard_one, shard_two)
        }
    holders = {n: json.loads(lease)["spec"]["holderIdentity"] for n, lease in leases.items()}
    assert all(holders.values()) and len(set(holders.values())) == 2, holders
    # Each shard reconciled its own namespace's rollover and never the other's.
    one, two = log_one.read_text(), log_two.read_text()
    assert f'"{first}/springfield"' in one and f'"{second}/springfield"' not in one
    assert f'"{second}/springfield"' in two and f'"{first}/springfield"' not in two


def test_notifications_reach_the_config_and_their_secret_is_mounted(helm: Path, tmp_path: Path) -> None:
    docs = render(
        helm,
        "r",
        "ops",
        "--set",
        "notifications.secret=rollover-notifications",
        "--set",
        "notifications.smtp.host=smtp.example.org",
        "--set",
        "notifications.smtp.from=rollover@example.org",
        "--set",
        "notifications.smtp.passwordFile=/etc/district-rollover/notifications/smtp-password",
        "--set",
        "notifications.channels.ops.url=https://hooks.example.org/rollover",
        "--set",
        "notifications.channels.ops.format=slack",
    )
    config = load_config(operator_config(docs, tmp_path / "config.yaml")).notifications
    assert config.smtp is not None and config.smtp.host == "smtp.example.org"
    assert str(config.channels["ops"].url) == "https://hooks.example.org/rollover"
    pod = the(docs, "Deployment")["spec"]["template"]["spec"]
    assert {"name": "notifications", "secret": {"secretName": "rollover-notifications"}} in pod["volumes"]
    bare = load_config(operator_config(render(helm, "r", "ops"), tmp_path / "bare.yaml")).notifications
    assert bare.smtp is None and bare.channels == {}
    bad = ("--set", "notifications.channels.Bad_Name.url=https://x.example.org")
    done = run_helm(helm, "template", "r", str(CHART), "--kube-version", KUBE_VERSION, *bad, check=False)
    assert done.returncode != 0 and "Bad_Name" in done.stderr, done.stderr


def test_certificates_and_retention_reach_the_config_and_the_key_only_the_certify_and_purge_jobs(
    helm: Path, tmp_path: Path
) -> None:
    default = load_config(operator_config(render(helm, "r", "ops"), tmp_path / "default.yaml"))
    assert default.certificates is None and default.archives.retention_days == 365
    docs = render(
        helm,
        "r",
        "ops",
        "--set",
        "operator.certificates.secretName=rollover-certificate-key",
        "--set",
        "operator.archives.retentionDays=400",
    )
    config = load_config(operator_config(docs, tmp_path / "config.yaml"))
    assert config.archives.retention_days == 400
    for step in (Step.CERTIFY, Step.PURGE):
        secrets = {v["secret"]["secretName"] for v in config.template("", step).volumes if "secret" in v}
        assert secrets == {"rollover-certificate-key"}
    for step in (Step.PREFLIGHT, Step.ARCHIVE, Step.RESET):
        assert not [v for v in config.template("imagine-math", step).volumes if "secret" in v]
