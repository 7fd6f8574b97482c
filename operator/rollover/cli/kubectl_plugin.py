"""`kubectl rollover`: answers for CSMs from the cluster, without reading the operator's logs.

    kubectl rollover status [NAME | -A]           phase, next step and when (district time), what blocks
    kubectl rollover calendar --month 2026-07     how many districts pause and reset each day
    kubectl rollover retry NAME                   retry the failed step (sets rostering.k12.dev/retry)
    kubectl rollover explain NAME                 conditions and recent events in plain language

Installed as the `kubectl-rollover` console script, so kubectl finds it on PATH. It reads and writes
through `kubectl` itself (honouring --kubeconfig, --context and -n), so it authenticates exactly as
kubectl does (`kubectl.Kubectl`). What it says is worked out by the pure `status_text`; this module
parses the arguments and fetches what that needs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable, Sequence

from rollover import GROUP, KIND, PLURAL
from rollover.cli.kubectl import Kubectl, PluginError, scope
from rollover.cli.status_text import (
    View,
    calendar_rows,
    calendar_table,
    explain,
    retry_refusal,
    status_detail,
    status_table,
)
from rollover.labels import RETRY_ANNOTATION

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
RESOURCE = f"{PLURAL}.{GROUP}"


def build_parser() -> argparse.ArgumentParser:
    """The `kubectl rollover` argument parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-n", "--namespace", help="the namespace (default: the context's)")
    common.add_argument("--context", help="the kubeconfig context to use")
    common.add_argument("--kubeconfig", help="the kubeconfig file to use")
    parser = argparse.ArgumentParser(
        prog="kubectl rollover", description="DistrictRollover answers for CSMs."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = commands.add_parser("status", parents=[common], help="phase, next step and when, what is blocking")
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    p.set_defaults(func=_status)
    p = commands.add_parser(
        "calendar",
        parents=[common],
        help="how many districts pause and reset each day (every namespace unless -n)",
    )
    p.add_argument("--month", type=_month, required=True, help="YYYY-MM")
    p.set_defaults(func=_calendar)
    p = commands.add_parser("retry", parents=[common], help="retry the failed step of a Failed rollover")
    p.add_argument("name", metavar="NAME")
    p.set_defaults(func=_retry)
    p = commands.add_parser(
        "explain", parents=[common], help="conditions and recent events in plain language"
    )
    p.add_argument("name", metavar="NAME")
    p.set_defaults(func=_explain)
    return parser


def _month(text: str) -> str:
    try:
        dt.date.fromisoformat(text + "-01")
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a month; expected YYYY-MM, e.g. 2026-07") from None
    return text


def _status(kubectl: Kubectl, args: argparse.Namespace) -> str:
    now = dt.datetime.now(dt.UTC)
    if args.name:
        if args.all_namespaces:
            raise PluginError("NAME and -A exclude each other")
        return status_detail(
            View.of(kubectl.json("get", RESOURCE, args.name, *scope(args.namespace, False))), now
        )
    items = kubectl.json("get", RESOURCE, *scope(args.namespace, args.all_namespaces))["items"]
    if not items:
        return "no DistrictRollovers found"
    return status_table([View.of(o) for o in items], namespaces=args.all_namespaces, now=now)


def _calendar(kubectl: Kubectl, args: argparse.Namespace) -> str:
    items = kubectl.json("get", RESOURCE, *scope(args.namespace, not args.namespace))["items"]
    rows, unplanned = calendar_rows(items)
    for line in unplanned:
        print(f"kubectl rollover: warning: not counted: {line}", file=sys.stderr)
    return calendar_table(rows, args.month)


def _retry(kubectl: Kubectl, args: argparse.Namespace) -> str:
    namespace_flags = scope(args.namespace, False)
    view = View.of(kubectl.json("get", RESOURCE, args.name, *namespace_flags))
    refusal = retry_refusal(view)
    if refusal:
        raise PluginError(refusal)
    token = str(int(time.time()))
    kubectl.run(
        "annotate", RESOURCE, args.name, *namespace_flags, f"{RETRY_ANNOTATION}={token}", "--overwrite"
    )
    return (
        f"{view.namespace}/{view.name}: retry requested ({RETRY_ANNOTATION}={token}); the operator creates "
        f"new Jobs for the failed step. Follow it with `kubectl rollover status {view.name}`."
    )


def _explain(kubectl: Kubectl, args: argparse.Namespace) -> str:
    namespace_flags = scope(args.namespace, False)
    view = View.of(kubectl.json("get", RESOURCE, args.name, *namespace_flags))
    selector = f"involvedObject.kind={KIND},involvedObject.name={view.name}"
    events = kubectl.json("get", "events", "--namespace", view.namespace, "--field-selector", selector)[
        "items"
    ]
    return explain(view, events)


def main(argv: Sequence[str] | None = None) -> int:
    """Run `kubectl rollover`; the process exit code."""
    args = build_parser().parse_args(argv)
    handler: Callable[[Kubectl, argparse.Namespace], str] = args.func
    try:
        print(handler(Kubectl(args.kubeconfig, args.context), args))
    except PluginError as exc:
        print(f"kubectl rollover: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
