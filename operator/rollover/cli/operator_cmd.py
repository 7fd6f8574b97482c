"""`rollover operator`: run the controller (kopf) against the current kubeconfig or in-cluster."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from pathlib import Path

from rollover import logs
from rollover.controller.clock import AcceleratedClock, SystemClock
from rollover.controller.config import ConfigError, load_config

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
    scope.add_argument("--namespace", "-n", action="append", metavar="NS", help="watch NS (repeatable)")
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
    parser.add_argument("--peering", metavar="NAME", help="kopf peering object for HA (default: standalone)")
    parser.add_argument("--priority", type=int, default=0, help="peering priority (highest acts)")
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
    if args.metrics_port:
        from rollover.controller.metrics import serve

        serve(args.metrics_port)
    memo = kopf.Memo(config=config, clock=_clock(args), namespaces=args.namespace or [])
    kopf.run(
        clusterwide=not args.namespace,
        namespaces=args.namespace or [],
        memo=memo,
        standalone=args.peering is None,
        peering_name=args.peering,
        priority=args.priority,
        liveness_endpoint=f"http://0.0.0.0:{args.liveness_port}/healthz" if args.liveness_port else None,
    )
    return 0
