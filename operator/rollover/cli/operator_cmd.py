"""`rollover operator`: run the controller (kopf) against the current kubeconfig or in-cluster."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import socket
import sys
import uuid
from pathlib import Path

from rollover import logs
from rollover.config import ConfigError, load_config
from rollover.controller.clock import AcceleratedClock, SystemClock
from rollover.controller.leader import Election, Timing

log = logging.getLogger("rollover.operator")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `operator`."""
    parser = subparsers.add_parser(
        "operator",
        help="run the operator",
        description="Watch DistrictRollovers and drive each through its rollover.",
    )
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--all-namespaces", "-A", action="store_true", help="watch every namespace (default)")
    scope.add_argument(
        "--namespace",
        "-n",
        action="append",
        metavar="NS",
        help="watch NS (repeatable); a glob with exclusions shards an installation, e.g. "
        "'district-[a-m]*' or '*,!district-[a-m]*' (kopf's namespace patterns)",
    )
    parser.add_argument("--config", type=Path, help="operator configuration YAML (job templates, timeouts)")
    parser.add_argument(
        "--clock-start",
        type=dt.datetime.fromisoformat,
        metavar="ISO8601",
        help="DEMO/TEST ONLY: start the operator's clock at this instant",
    )
    parser.add_argument(
        "--clock-rate",
        type=float,
        default=1.0,
        metavar="N",
        help="DEMO/TEST ONLY: run the clock N times faster than real time",
    )
    parser.add_argument(
        "--metrics-port", type=int, metavar="P", help="serve Prometheus metrics on :P/metrics"
    )
    parser.add_argument(
        "--liveness-port", type=int, metavar="P", help="serve kopf's liveness probe on :P/healthz"
    )
    election = parser.add_argument_group("high availability (leader election with a Lease)")
    election.add_argument(
        "--leader-elect",
        action="store_true",
        help="act only while holding the Lease; other replicas stand by with warm caches",
    )
    election.add_argument(
        "--leader-election-namespace",
        default=os.environ.get("POD_NAMESPACE", "default"),
        metavar="NS",
        help="namespace of the Lease (default: $POD_NAMESPACE, else default)",
    )
    election.add_argument(
        "--leader-election-id",
        default="district-rollover",
        metavar="NAME",
        help="name of the Lease: replicas of one operator (or one shard) share it",
    )
    election.add_argument(
        "--lease-seconds",
        type=float,
        default=Timing.lease_s,
        metavar="S",
        help="how long a silent leader keeps the Lease: the failover time after a crash (default 15)",
    )
    parser.add_argument(
        "--claims-namespace",
        metavar="NS",
        help="where district claims live: the operator's own namespace, shared by every shard "
        "(default: claimsNamespace from --config, else $POD_NAMESPACE, else default)",
    )
    parser.add_argument("--verbose", "-v", action="store_true")
    parser.add_argument(
        "--log-format",
        choices=logs.FORMATS,
        default=None,
        help="json: one object per line with rollover/district/step fields; text: for people "
        "(default: text on a terminal, json otherwise)",
    )
    parser.set_defaults(func=run)


def _clock(args: argparse.Namespace) -> SystemClock:
    if args.clock_start is None and args.clock_rate == 1.0:
        return SystemClock()
    start = args.clock_start or dt.datetime.now(dt.UTC)
    if start.tzinfo is None:
        start = start.replace(tzinfo=dt.UTC)
    log.warning(
        "ACCELERATED CLOCK: time starts at %s and runs %sx real time. For demos and tests only; "
        "never run a production operator like this.",
        start.isoformat(),
        args.clock_rate,
    )
    return AcceleratedClock(start=start, rate=args.clock_rate)


def run(args: argparse.Namespace) -> int:
    """Run until interrupted."""
    import kopf

    import rollover.controller.handlers  # noqa: F401 - registers the handlers

    logs.setup(args.log_format or logs.default_format(), verbose=args.verbose)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"rollover operator: error: {exc}", file=sys.stderr)
        return 2
    if args.claims_namespace:
        config = config.model_copy(update={"claims_namespace": args.claims_namespace})
    if args.metrics_port:
        from rollover.controller.metrics import serve

        serve(args.metrics_port)
    memo = kopf.Memo(
        config=config,
        clock=_clock(args),
        namespaces=args.namespace or [],
        election=_election(args),
        lost_leadership=False,
    )
    kopf.run(
        clusterwide=not args.namespace,
        namespaces=args.namespace or [],
        memo=memo,
        standalone=True,  # replicas coordinate with a Lease (controller/leader.py), not kopf peering
        liveness_endpoint=f"http://0.0.0.0:{args.liveness_port}/healthz" if args.liveness_port else None,
    )
    # Leadership lost: exit non-zero so the Deployment restarts this replica as a standby.
    return 1 if memo.lost_leadership else 0


def _election(args: argparse.Namespace) -> Election | None:
    if not args.leader_elect:
        return None
    # The pod name tells people which replica leads; the suffix keeps a restarted pod distinct.
    identity = f"{os.environ.get('POD_NAME') or socket.gethostname()}_{uuid.uuid4().hex[:8]}"
    return Election(
        args.leader_election_namespace, args.leader_election_id, identity, Timing(args.lease_seconds)
    )
