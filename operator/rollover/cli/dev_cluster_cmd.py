"""`rollover dev-cluster up|down|status`: the local control plane, by hand.

Contract relied on by the demo, benchmarks and others' scripts: `up` starts it in the background
(state in a reused directory) and prints `export KUBECONFIG=PATH` as its last line; `down` stops
exactly what `up` started; `status` exits 0 when it is up, 1 when not.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rollover.devcluster import default_crd_dir, default_state_dir
from rollover.devcluster.binaries import BinariesUnavailable
from rollover.devcluster.controlplane import COMPONENTS, ControlPlane, ControlPlaneError


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
    print(f"export KUBECONFIG={plane.kubeconfig}")
    return 0


def _down(args: argparse.Namespace) -> int:
    plane = ControlPlane(args.dir)
    plane.stop()
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
        print(f"dev-cluster: up at {plane.server}; export KUBECONFIG={plane.kubeconfig}")
        return 0
    print(f"dev-cluster: down (running: {', '.join(running) or 'nothing'})")
    return 1
