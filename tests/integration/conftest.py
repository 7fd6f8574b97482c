"""Fixtures of the integration tests that run rollover Jobs for real: one local node for the session
(docs/local-node.md), the S3 store and seeded roster stores its pods reach, and namespaces whose pods
it runs (the control plane itself comes from tests/conftest.py).

**The node fence.** Many tests on the session's control plane complete Job pods by hand-writing
their statuses (a fault a kubelet cannot produce on demand, docs/local-node.md); once the node
exists, its scheduler would bind those pods and its kubelet run them. A ValidatingAdmissionPolicy,
created before the node starts, refuses every binding of a pod whose namespace lacks the
`RUNS_ON_NODE` label, and only `node_namespace` sets it. A pod reaches a kubelet only through that
binding (no test sets `spec.nodeName`), so this holds whatever the order of the tests, whatever
pods earlier tests left pending and whatever Job controllers recreate: a refused pod stays Pending
(the scheduler retries it with backoff), exactly as it would without a node. Cordoning the node
between node tests would not: pods left pending by earlier tests, or recreated by their Jobs, get
bound whenever it is uncordoned.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg
import pytest

from rollover.devcluster.node import Node, missing_prerequisites
from rollover.devcluster.postgres import PostgresServer
from rollover.devcluster.s3 import S3Endpoint, S3Server
from rollover.jobs.main import main as rollover_job
from tests.conftest import RunningControlPlane
from tests.integration.configs import JobsOnNode, create_roster_secret
from tests.integration.kube import Kube

#: The district the store is seeded with (the one tests/integration/kube.rollover_doc declares).
DISTRICT, YEAR = "IL-0631950", "2026-2027"
#: The label of a namespace whose pods the session's node may run (see the node fence above).
RUNS_ON_NODE = "tests.rostering.k12.dev/runs-on-node"
NODE_FENCE = "tests.rostering.k12.dev-node-fence"


def seed_roster(server: PostgresServer, year: str = YEAR) -> None:
    """Create the `roster` database on `server`, migrated, with the district seeded for `year`."""
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute("CREATE DATABASE roster")
    url = server.database_url("roster")
    assert rollover_job(["migrate", "--database-url", url], env={}) == 0
    seed = ["seed", "--district", DISTRICT, "--school-year", year, "--students", "25", "--database-url", url]
    assert rollover_job(seed, env={}) == 0


def node_fence() -> list[dict[str, object]]:
    """The policy (and its binding) refusing to bind pods of namespaces without RUNS_ON_NODE."""
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": NODE_FENCE},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["pods/binding"],
                    }
                ],
                "namespaceSelector": {
                    "matchExpressions": [{"key": RUNS_ON_NODE, "operator": "DoesNotExist"}]
                },
            },
            "validations": [
                {
                    "expression": "false",
                    "message": f"this test's pods are completed by hand: no {RUNS_ON_NODE} label",
                }
            ],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": NODE_FENCE},
        "spec": {"policyName": NODE_FENCE, "validationActions": ["Deny"]},
    }
    return [policy, binding]


@pytest.fixture(scope="session")
def node(control_plane: RunningControlPlane) -> Iterator[Node]:
    """The session's one node, fenced before it starts: it runs only `node_namespace`s' pods."""
    if missing := missing_prerequisites():
        pytest.fail(
            f"the local node cannot start here: missing {', '.join(missing)} (run scripts/bootstrap.sh)"
        )
    for doc in node_fence():
        control_plane.kubectl("apply", "-f", "-", input=json.dumps(doc))
    started = Node(control_plane.plane)
    started.start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="session")
def s3(node: Node) -> Iterator[S3Endpoint]:
    """The archive store, on the host address the node's pods reach (and the host too)."""
    with S3Server(address=node.pod_network.host_address) as endpoint:
        yield endpoint


def let_pods_run_on_node(control_plane: RunningControlPlane, namespace: str) -> None:
    """Let the session's node run the pods of `namespace` (the node fence above)."""
    control_plane.kubectl("label", "namespace", namespace, f"{RUNS_ON_NODE}=true")


@pytest.fixture
def node_namespace(control_plane: RunningControlPlane, namespace: str, node: Node) -> str:
    """The test's namespace, its pods run by the session's node."""
    let_pods_run_on_node(control_plane, namespace)
    return namespace


@pytest.fixture
def pod_store(node: Node, request: pytest.FixtureRequest) -> Iterator[PostgresServer]:
    """A migrated roster store the node's pods reach (`pod_url("roster")`; the host uses
    `database_url`), the district seeded for the school year (YEAR, or the test's `school_year`
    marker)."""
    marker = request.node.get_closest_marker("school_year")
    with PostgresServer(pods=node.pod_network) as server:
        seed_roster(server, marker.args[0] if marker else YEAR)
        yield server


@pytest.fixture
def jobs_on_node(
    control_plane: RunningControlPlane,
    node_namespace: str,
    node: Node,
    s3: S3Endpoint,
    pod_store: PostgresServer,
) -> JobsOnNode:
    """The test's namespace ready for Jobs on the node: `pod_store`'s URL and the S3 credentials in
    its ROSTER_SECRET."""
    create_roster_secret(Kube(control_plane, node_namespace), pod_store, s3)
    return JobsOnNode(node, s3, node_namespace)
