"""`make demo`: the operator against the local control plane with examples/districts, end to end.

A fresh local control plane and PostgreSQL roster store; each example district seeded with students
and given roster-sync CronJobs; the operator started with an ACCELERATED DEMO CLOCK (a year's
rollovers in about two minutes); `kubectl get districtrollovers -A` printed at every change.
Every district is sent its notices (spec.notify is added to each example): a local SMTP server and
webhook receiver (rollover.devcluster.receivers) print each one's subject as it arrives.
Job pods are run by the demo pod runner (rollover.devcluster.podrunner), since there is no kubelet.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from rollover.devcluster import default_crd_dir
from rollover.devcluster.binaries import repo_root
from rollover.devcluster.controlplane import ControlPlane, install_manifests
from rollover.devcluster.objects import district_namespace, sync_cronjob
from rollover.devcluster.postgres import PostgresServer
from rollover.devcluster.receivers import Arrival, Receivers
from rollover.devcluster.runner import running_operator

SYNC_CRONJOBS = ("clever-sync", "oneroster-csv-import")
#: The demo's webhook channels (operator configuration) and the format of each.
NOTICE_CHANNELS = {"csm-events": "cloudevents", "csm-chat": "slack"}


def _examples(directory: Path) -> list[dict[str, Any]]:
    yaml = YAML(typ="safe")
    docs: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.yaml")):
        docs.extend(d for d in yaml.load_all(path.read_text()) if d and d.get("kind") == "DistrictRollover")
    return docs


def _sync_objects(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """A namespace and the district's roster-sync CronJobs, labelled to match its syncSelector."""
    ns = doc["metadata"]["namespace"]
    labels = dict(doc["spec"]["syncSelector"].get("matchLabels", {}))
    objects: list[dict[str, Any]] = [district_namespace(ns, [doc["spec"]["districtId"]])]
    for name in SYNC_CRONJOBS:
        objects.append(sync_cronjob(f"{doc['metadata']['name']}-{name}"[:52], ns, labels))
    return objects


def _with_notify(doc: dict[str, Any]) -> dict[str, Any]:
    """The example with district contacts and the demo's CloudEvents channel to notify."""
    contact = f"it@{doc['spec']['districtId'].lower()}.k12.example.org"
    return doc | {"spec": doc["spec"] | {"notify": {"emails": [contact], "channels": ["csm-events"]}}}


def _print_arrival(arrival: Arrival) -> None:
    print(f"  notice -> {arrival.channel:<18} {arrival.subject}", flush=True)


def _write_yaml_stream(path: Path, docs: list[dict[str, Any]]) -> None:
    path.write_text("\n---\n".join(json.dumps(d, default=str) for d in docs))  # YAML dates as text


def _rollover_job(log: Path, *args: str) -> None:
    """Run a `rollover-job` tool, its progress going to `log`."""
    with log.open("ab") as out:
        subprocess.run(
            [str(Path(sys.executable).parent / "rollover-job"), *args], stdout=out, stderr=out, check=True
        )


def main(argv: list[str] | None = None) -> int:
    """Run the demo; returns 0 when every example district completed its rollover."""
    parser = argparse.ArgumentParser(prog="rollover-demo", description=__doc__)
    parser.add_argument("--clock-start", default="2027-01-20T00:00:00+00:00")
    parser.add_argument("--clock-rate", type=float, default=172800, help="demo seconds per real second")
    parser.add_argument("--students", type=int, default=300, help="students seeded per district")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args(argv)

    root = repo_root()
    assert root is not None, "run the demo from a source checkout"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "district-rollover"
    state = cache / "demo-cluster"
    plane = ControlPlane(state, default_crd_dir())
    plane.stop()
    shutil.rmtree(state, ignore_errors=True)  # a fresh cluster each run: the demo starts from nothing
    print("== starting the local control plane (etcd, kube-apiserver, kube-controller-manager)", flush=True)
    plane.start()
    env = {**os.environ, "KUBECONFIG": str(plane.kubeconfig)}
    examples = _examples(root / "examples" / "districts")

    with PostgresServer() as pg, Receivers(on_arrival=_print_arrival) as receivers:
        db = pg.url
        print(f"== PostgreSQL roster store up; seeding {len(examples)} districts", flush=True)
        _rollover_job(plane.log_dir / "seed.log", "migrate", f"--database-url={db}")
        for doc in examples:
            _rollover_job(
                plane.log_dir / "seed.log",
                "seed",
                f"--database-url={db}",
                f"--district={doc['spec']['districtId']}",
                f"--school-year={doc['spec']['schoolYear']}",
                f"--students={args.students}",
                "--seed=7",
            )
        archive = state / "archive"
        archive.mkdir(parents=True, exist_ok=True)  # in a cluster: the Job's mounted volume
        config = state / "operator-config.yaml"
        config.write_text(
            json.dumps(
                {
                    "defaultJob": {
                        "backoffLimit": 0,
                        "env": [
                            {"name": "DATABASE_URL", "value": db},
                            {"name": "ARCHIVE_URI", "value": f"file://{archive}"},
                        ],
                    },
                    "notifications": receivers.config(NOTICE_CHANNELS),
                }
            )
        )

        objects = state / "sync-objects.yaml"
        _write_yaml_stream(objects, [o for d in examples for o in _sync_objects(d)])
        install_manifests(plane.kubeconfig, [objects])
        districts = state / "districts.yaml"
        _write_yaml_stream(districts, [_with_notify(d) for d in examples])
        subprocess.run(["kubectl", "apply", "-f", str(districts)], env=env, check=True)
        print(
            f"== mail (SMTP :{receivers.smtp_port}) and webhook (:{receivers.http_port}) receivers up; "
            "each notice's subject is printed as it arrives",
            flush=True,
        )
        print(
            "== applied examples/districts (with spec.notify); starting the operator with an "
            f"ACCELERATED DEMO CLOCK ({args.clock_start}, x{args.clock_rate:g})",
            flush=True,
        )
        logs = state / "logs"
        operator_args = [
            "--config",
            str(config),
            "--clock-start",
            args.clock_start,
            "--clock-rate",
            str(args.clock_rate),
        ]
        with (
            running_operator(plane.kubeconfig, logs / "operator.log", *operator_args),
            (logs / "podrunner.log").open("wb") as pr_log,
        ):
            runner = subprocess.Popen(
                [sys.executable, "-m", "rollover.devcluster.podrunner"],
                env=env,
                stdout=pr_log,
                stderr=subprocess.STDOUT,
            )
            try:
                ok = _watch(env, len(examples), args.timeout)
                _await_completed_notices(receivers, len(examples))
            finally:
                runner.terminate()
                runner.wait(timeout=20)
        showcase = max(examples, key=lambda d: len(d["spec"]["products"]))
        _show_archive(env, showcase, archive)
    print(
        f"\nOperator log: {logs / 'operator.log'}\nThe cluster is still up for you to explore:\n"
        f"  export KUBECONFIG={plane.kubeconfig}\n  kubectl get dro -A; kubectl describe dro -n "
        f"{showcase['metadata']['namespace']}\n  rollover dev-cluster down --dir {state}"
    )
    return 0 if ok else 1


def _watch(env: dict[str, str], count: int, timeout: float) -> bool:
    """Print `kubectl get dro -A` whenever a phase changes, until all complete."""
    deadline, last = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        phases = subprocess.run(
            ["kubectl", "get", "dro", "-A", "-o", "jsonpath={range .items[*]}{.status.phase} {end}"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        if phases != last:
            last = phases
            table = subprocess.run(
                ["kubectl", "get", "dro", "-A"], env=env, capture_output=True, text=True, check=False
            ).stdout
            print(f"\n$ kubectl get districtrollovers -A\n{table}", flush=True)
        finished = phases.split()
        if len(finished) == count and all(p in ("Completed", "Failed") for p in finished):
            return finished.count("Completed") == count
        time.sleep(0.5)
    print(f"demo: not every district completed within {timeout:.0f}s", file=sys.stderr)
    return False


def _await_completed_notices(receivers: Receivers, count: int, timeout: float = 15.0) -> None:
    """Give the last Completed notices a moment: they are delivered after the phase is written."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        emails = [a for a in receivers.received() if a.channel == "email"]
        if sum(a.id.startswith("completed.") for a in emails) >= count:
            break
        time.sleep(0.2)
    arrived = receivers.received()
    print(
        f"\n== {len(arrived)} notices arrived: {sum(a.channel == 'email' for a in arrived)} emails, "
        f"{sum(a.channel != 'email' for a in arrived)} CloudEvents",
        flush=True,
    )


def _summary(result: dict[str, Any]) -> str:
    """One line from a Job's termination message: what it archived or deleted."""
    if "deleted" in result:
        return (
            f"deleted {sum(result['deleted'].values())} rows, {result.get('retiredIds', 0)} user IDs retired,"
            f" archive re-verified first (digest {str(result.get('digest', ''))[:12]}…)"
        )
    if "rows" in result:
        return f"archived {sum(result['rows'].values())} rows to {result.get('manifest', '?')}"
    if "tables" in result:  # the preflight's preview
        archive, delete = (sum(t[k] for t in result["tables"]) for k in ("archive", "delete"))
        return f"checks passed; preview: {archive} rows to archive, {delete} of them to delete"
    return json.dumps(result)[:200]


def _show_archive(env: dict[str, str], doc: dict[str, Any], archive: Path) -> None:
    ns, name = doc["metadata"]["namespace"], doc["metadata"]["name"]
    raw = subprocess.run(
        ["kubectl", "-n", ns, "get", "dro", name, "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    status = json.loads(raw).get("status", {}) if raw else {}
    print(f"\n== {ns}/{name}: what each Job reported (status.jobs[].result)")
    for job in status.get("jobs", []):
        print(
            f"  {job['step']:<8} {job['product']:<20} {job['state']:<10} {_summary(job.get('result') or {})}"
        )
    for path in sorted((archive / doc["spec"]["districtId"]).rglob("manifest.json")):
        manifest = json.loads(path.read_text())
        print(f"\n== {path}  (snapshot {manifest.get('snapshotTime')})")
        for table in manifest.get("tables", []):
            action = "archived, then deleted" if table.get("deletedByReset") else "archived, kept"
            print(f"  {table['table']:<34} {table['rows']:>7} rows  {action}")


if __name__ == "__main__":
    sys.exit(main())
