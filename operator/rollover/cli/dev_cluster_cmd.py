"""`rollover dev-cluster up|down|status`: the local control plane, by hand.

Contract relied on by the demo, benchmarks and others' scripts: `up` starts it in the background
(state in a reused directory) and prints `export KUBECONFIG=PATH` as its last line; `down` stops
exactly what `up` started; `status` exits 0 when it is up, 1 when not.

Beside it, `up` starts the S3 object store archives go to (SeaweedFS on loopback, `<dir>/s3`) and
prints, before the KUBECONFIG line, the `export` of ARCHIVE_URI and the AWS_* variables a Job needs
to reach it (local, random credentials). `--no-s3` leaves it out.

`up --node` also starts one real node (containerd + kubelet, `<dir>/node`, docs/local-node.md) so
pods really run; `down` stops it too and leaves no container, mount, interface or cgroup behind.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rollover.devcluster import default_crd_dir, default_state_dir
from rollover.devcluster.binaries import BinariesUnavailable
from rollover.devcluster.controlplane import COMPONENTS, ControlPlane, ControlPlaneError
from rollover.devcluster.node import COMPONENTS as NODE_COMPONENTS
from rollover.devcluster.node import NODE_NAME, Node, NodeUnavailable
from rollover.devcluster.s3 import S3Endpoint, S3Server, S3Unavailable


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `dev-cluster` and its verbs."""
    parser = subparsers.add_parser(
        "dev-cluster",
        help="start/stop a local kube-apiserver + etcd + controller-manager",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verb, func, help_ in (
        ("up", _up, "start in the background (idempotent)"),
        ("down", _down, "stop what `up` started"),
        ("status", _status, "say whether it is up"),
    ):
        sub = verbs.add_parser(verb, help=help_)
        sub.add_argument(
            "--dir", type=Path, default=default_state_dir(), help="state directory (default: %(default)s)"
        )
        if verb == "up":
            sub.add_argument("--no-s3", action="store_true", help="do not start the S3 object store")
            sub.add_argument(
                "--node", action="store_true", help="also start one real node (containerd + kubelet)"
            )
        sub.set_defaults(func=func)


def _up(args: argparse.Namespace) -> int:
    plane = ControlPlane(args.dir, default_crd_dir())
    running = plane.running_components()
    if set(running) == set(COMPONENTS):
        print(f"dev-cluster: already up at {plane.server}", file=sys.stderr)
    else:
        if running:  # a half-dead cluster from a crash: clear it before starting afresh
            plane.stop()
        try:
            plane.start()
        except (ControlPlaneError, BinariesUnavailable) as exc:
            print(f"dev-cluster: error: {exc}", file=sys.stderr)
            return 1
        print(f"dev-cluster: up at {plane.server} (logs in {plane.log_dir})", file=sys.stderr)
    if args.node and not _node_up(plane):
        return 1
    if not args.no_s3:
        try:
            endpoint = s3_up(args.dir / "s3")
        except S3Unavailable as exc:
            print(f"dev-cluster: error: S3: {exc}", file=sys.stderr)
            return 1
        print(f"export ARCHIVE_URI={endpoint.uri}")
        for name, value in endpoint.env().items():
            print(f"export {name}={value}")
    print(f"export KUBECONFIG={plane.kubeconfig}")
    return 0


def s3_up(directory: Path) -> S3Endpoint:
    """The S3 store running in `directory`, started (and left running) if it is not."""
    running = S3Server.running_in(directory)
    if running is not None and running.endpoint is not None:
        print(f"dev-cluster: S3 already up at {running.endpoint.endpoint}", file=sys.stderr)
        return running.endpoint
    directory.mkdir(parents=True, exist_ok=True)
    endpoint = S3Server(directory).start()
    print(f"dev-cluster: S3 up at {endpoint.endpoint} (log in {directory / 'server.log'})", file=sys.stderr)
    return endpoint


def _node_up(plane: ControlPlane) -> bool:
    node = Node(plane)
    if set(node.running_components()) == set(NODE_COMPONENTS):
        print(f"dev-cluster: node {NODE_NAME} already up", file=sys.stderr)
        return True
    node.stop()  # a half-dead node from a crash: clear it before starting afresh
    try:
        node.start()
    except (NodeUnavailable, ControlPlaneError, BinariesUnavailable) as exc:
        print(f"dev-cluster: error: node: {exc}", file=sys.stderr)
        return False
    print(f"dev-cluster: node {NODE_NAME} Ready (logs in {node.layout.logs})", file=sys.stderr)
    if node.project_image is not None:
        print(f"dev-cluster: the project's image on the node: {node.project_image}", file=sys.stderr)
    return True


def _down(args: argparse.Namespace) -> int:
    plane = ControlPlane(args.dir)
    # The node first: its pods are deleted through the apiserver, so their sandboxes come down cleanly.
    Node(plane).stop()
    plane.stop()
    s3 = S3Server.running_in(args.dir / "s3")
    if s3 is not None:
        s3.stop()
    print(f"dev-cluster: down ({args.dir})", file=sys.stderr)
    return 0


def _status(args: argparse.Namespace) -> int:
    plane = ControlPlane(args.dir)
    running = plane.running_components()
    if set(running) == set(COMPONENTS):
        try:
            plane.get("/readyz")
        except OSError as exc:
            print(f"dev-cluster: processes up but apiserver not ready: {exc}")
            return 1
        s3 = S3Server.running_in(args.dir / "s3")
        if s3 is not None and s3.endpoint is not None:
            print(f"dev-cluster: S3 up at {s3.endpoint.endpoint} ({s3.endpoint.uri})")
        node = Node(plane).running_components()
        if node:
            print(f"dev-cluster: node {NODE_NAME}: {', '.join(node)} running")
        print(f"dev-cluster: up at {plane.server}; export KUBECONFIG={plane.kubeconfig}")
        return 0
    print(f"dev-cluster: down (running: {', '.join(running) or 'nothing'})")
    return 1
