"""`make demo`: the operator against the local control plane with examples/districts, end to end.

A fresh local control plane, PostgreSQL roster store and S3 object store (SeaweedFS) for the archives;
each example district seeded with students and given roster-sync CronJobs; the operator started with
an ACCELERATED DEMO CLOCK (a year's rollovers in under three minutes); `kubectl get districtrollovers -A`
printed at every change. Archives are encrypted to a demo age identity and every cycle ends with a
certificate of deletion signed by a demo Ed25519 key, both generated into the demo's directory.
Every district is sent its notices (spec.notify is added to each example): a local SMTP server and
webhook receiver (rollover.devcluster.receivers) print each one's subject as it arrives.

Where the local node can run (root and the Debian packages scripts/bootstrap.sh installs), the
cluster gets it: the operator is installed by its Helm chart from the image built here, its Jobs run
as pods of that image, and PostgreSQL, S3 and the receivers listen on the node's host address.
Elsewhere the demo says why and runs the operator as a local process and each Job pod's command with
the demo pod runner (rollover.devcluster.podrunner).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pyrage import x25519
from ruamel.yaml import YAML

from rollover.devcluster import default_crd_dir
from rollover.devcluster.binaries import BinariesUnavailable, repo_root
from rollover.devcluster.chart import chart_values, installed_operator
from rollover.devcluster.controlplane import ControlPlane, install_manifests
from rollover.devcluster.keys import new_signing_key, write_private
from rollover.devcluster.node import Node, NodeUnavailable, missing_prerequisites
from rollover.devcluster.objects import district_namespace, sync_cronjob
from rollover.devcluster.postgres import PostgresServer
from rollover.devcluster.receivers import Arrival, Receivers
from rollover.devcluster.runner import running_operator, running_podrunner
from rollover.devcluster.s3 import S3Endpoint, S3Server

SYNC_CRONJOBS = ("clever-sync", "oneroster-csv-import")
#: The demo's webhook channels (operator configuration) and the format of each.
NOTICE_CHANNELS = {"csm-events": "cloudevents", "csm-chat": "slack"}
#: Where in the bucket the demo archives, and the Secret (in each district namespace) with its credentials.
ARCHIVE_PREFIX = "demo"
S3_SECRET = "rollover-archive-s3"  # noqa: S105 - a Secret's name
S3_SECRET_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
#: The Secret (in each district namespace) with the certificate signing key, mounted into certify Jobs.
CERTIFICATE_SECRET = "rollover-certificate-key"  # noqa: S105 - a Secret's name
CERTIFICATE_KEY_FILE = "certificate-key.pem"  # the key in it (the chart's default keyFile)
RELEASE = "district-rollover"


def _examples(directory: Path) -> list[dict[str, Any]]:
    yaml = YAML(typ="safe")
    docs: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.yaml")):
        docs.extend(d for d in yaml.load_all(path.read_text()) if d and d.get("kind") == "DistrictRollover")
    return docs


def selected_labels(selector: dict[str, Any]) -> dict[str, str]:
    """Labels a CronJob needs to be selected by `selector`: its matchLabels, plus the first value
    of each `In` expression and any value for `Exists` (the examples use both forms)."""
    labels = dict(selector.get("matchLabels", {}))
    for expression in selector.get("matchExpressions", []):
        if expression["operator"] == "In":
            labels[expression["key"]] = expression["values"][0]
        elif expression["operator"] == "Exists":
            labels[expression["key"]] = "true"
    return labels


def sync_objects(doc: dict[str, Any], s3: S3Endpoint, signing_key: Path) -> list[dict[str, Any]]:
    """A namespace with the archive store's credentials Secret and the certificate signing key's
    Secret, and the district's roster-sync CronJobs, labelled to match its syncSelector."""
    ns = doc["metadata"]["namespace"]
    labels = selected_labels(doc["spec"]["syncSelector"])
    credentials = {k: v for k, v in s3.env().items() if k in S3_SECRET_KEYS}
    secrets = {S3_SECRET: credentials, CERTIFICATE_SECRET: {CERTIFICATE_KEY_FILE: signing_key.read_text()}}
    objects: list[dict[str, Any]] = [district_namespace(ns, [doc["spec"]["districtId"]])]
    for name, data in secrets.items():
        meta = {"name": name, "namespace": ns}
        objects.append({"apiVersion": "v1", "kind": "Secret", "metadata": meta, "stringData": data})
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


def job_env(db: str, s3: S3Endpoint, recipient: str) -> list[dict[str, Any]]:
    """Every Job's environment: the store, the encrypted s3:// archive, its credentials from the Secret."""
    endpoint = {k: v for k, v in s3.env().items() if k not in S3_SECRET_KEYS}
    return [
        {"name": "DATABASE_URL", "value": db},
        {"name": "ARCHIVE_URI", "value": f"{s3.uri}/{ARCHIVE_PREFIX}"},
        {"name": "ARCHIVE_RECIPIENTS", "value": recipient},
        *({"name": k, "value": v} for k, v in endpoint.items()),
        *({"name": k, "valueFrom": {"secretKeyRef": {"name": S3_SECRET, "key": k}}} for k in S3_SECRET_KEYS),
    ]


def demo_keys(keys: Path) -> tuple[str, Path, Path]:
    """A fresh age identity (the CSM's archive key) and Ed25519 certificate signing key in `keys`
    (0700): the age recipient, the identity file, and the signing key's public half."""
    keys.mkdir(mode=0o700, parents=True)
    identity = x25519.Identity.generate()
    recipient = str(identity.to_public())
    identity_file = keys / "archive-identity.txt"
    write_private(identity_file, f"# public key: {recipient}\n{identity}\n".encode())
    (keys / "certificate-key").mkdir(mode=0o700)
    public = keys / "certificate-public.pem"
    new_signing_key(keys / "certificate-key" / "key.pem", public)
    return recipient, identity_file, public


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
    Node(plane).stop()  # before the control plane: the node's pods are deleted through it
    plane.stop()
    leftover_s3 = S3Server.running_in(state / "s3")
    if leftover_s3 is not None:
        leftover_s3.stop()
    shutil.rmtree(state, ignore_errors=True)  # a fresh cluster each run: the demo starts from nothing
    print("== starting the local control plane (etcd, kube-apiserver, kube-controller-manager)", flush=True)
    plane.start()
    node = _start_node(plane)
    host = node.pod_network.host_address if node else "127.0.0.1"
    # Left running with the cluster (`rollover dev-cluster down --dir` stops it): the archives stay readable.
    s3 = S3Server(state / "s3", address=host).start()
    print(
        f"== S3 object store (SeaweedFS) up at {s3.endpoint}; archives go to {s3.uri}/{ARCHIVE_PREFIX}",
        flush=True,
    )
    recipient, identity_file, public_key = demo_keys(state / "keys")
    print(
        f"== archives encrypted to the demo age recipient {recipient}\n"
        f"   its identity (the private key a CSM keeps; 0600): {identity_file}\n"
        f"   certificates signed by a demo Ed25519 key; its public half: {public_key}",
        flush=True,
    )
    env = {**os.environ, "KUBECONFIG": str(plane.kubeconfig)}
    examples = _examples(root / "examples" / "districts")

    with (
        PostgresServer(pods=node.pod_network if node else None) as pg,
        Receivers(on_arrival=_print_arrival, host=host) as receivers,
    ):
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
        settings: dict[str, Any] = {
            "defaultJob": {
                # The chart's default backoffLimit (2): on the node a dozen Job pods share two cores
                # with PostgreSQL, and a pod's connection once timed out; the Job controller retries
                # that pod, as it would in a user's cluster (every step is safe to repeat).
                "env": job_env(pg.pod_url("postgres") if node else db, s3, recipient),
                # The demo's Jobs are small: requests that let a 2-core node run a dozen at once
                # (the chart's default asks half a core for each).
                "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
            },
            "notifications": receivers.config(NOTICE_CHANNELS),
            "certificates": {"secretName": CERTIFICATE_SECRET, "keyFile": CERTIFICATE_KEY_FILE},
        }
        if node is None:  # the pod runner mounts no volume: mountPath is the local directory holding key.pem
            settings["certificates"]["mountPath"] = str(state / "keys" / "certificate-key")

        objects = state / "sync-objects.yaml"
        signing_key = state / "keys" / "certificate-key" / "key.pem"
        _write_yaml_stream(objects, [o for d in examples for o in sync_objects(d, s3, signing_key)])
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
        clock = (args.clock_start, args.clock_rate)
        with _running_operator(plane, node, settings, clock, logs) as operator_log:
            ok = _watch(env, len(examples), args.timeout)
            _await_completed_notices(receivers, len(examples))
            if node is not None:
                print(f"\n$ kubectl get pods -A -o wide\n{_kubectl(env, 'get', 'pods', '-A', '-o', 'wide')}")
        showcase = max(examples, key=lambda d: len(d["spec"]["products"]))
        _show_archive(env, showcase, s3)
    archive_env = state / "archive.env"
    write_private(
        archive_env,
        "".join(
            f"{k}={v}\n" for k, v in {**s3.env(), "ARCHIVE_URI": f"{s3.uri}/{ARCHIVE_PREFIX}"}.items()
        ).encode(),
    )
    ok = _show_certificates(env, examples, s3, state / "certificates", public_key) and ok
    spec = showcase["spec"]
    print(
        f"\n== what a CSM would run to read {spec['districtId']}'s archive back (the identity decrypts it;"
        f" {archive_env} (0600) holds the store's address and credentials)\n"
        f"  set -a; . {archive_env}; set +a\n"
        f"  DISTRICT_ID={spec['districtId']} SCHOOL_YEAR={spec['schoolYear']} "
        f"PRODUCT={spec['products'][0]} \\\n"
        f"    rollover-job export --identity-file {identity_file} --out {state / 'export'}\n"
        f"  # into a schema of a running roster store, with DATABASE_URL set too:\n"
        f"  #   rollover-job restore --identity-file {identity_file} --into-schema restored_2026_2027"
    )
    print(
        f"\nOperator log: {operator_log}\n"
        "The cluster and the S3 store are still up for you to explore:\n"
        f"  export KUBECONFIG={plane.kubeconfig}\n  kubectl get dro -A; kubectl describe dro -n "
        f"{showcase['metadata']['namespace']}\n  rollover dev-cluster down --dir {state}"
    )
    return 0 if ok else 1


def _start_node(plane: ControlPlane) -> Node | None:
    """The local node, or None (saying why) where it cannot run."""
    missing = missing_prerequisites()
    if missing:
        print(
            f"== no local node here (missing: {', '.join(missing)}; scripts/bootstrap.sh installs the "
            "packages): the operator runs as a local process and the demo pod runner runs each Job's command",
            flush=True,
        )
        return None
    print("== starting the local node (containerd, kubelet; images built on first use)", flush=True)
    node = Node(plane)
    try:
        node.start()
    except (NodeUnavailable, BinariesUnavailable) as exc:
        print(f"== the local node did not start ({exc}); using the demo pod runner instead", flush=True)
        return None
    print(f"== node Ready; the project's image {node.project_image}; host address for pods: "
          f"{node.pod_network.host_address}", flush=True)  # fmt: skip
    return node


@contextmanager
def _running_operator(
    plane: ControlPlane, node: Node | None, settings: dict[str, Any], clock: tuple[str, float], logs: Path
) -> Iterator[Path]:
    """The operator with `settings` and the demo clock until the block ends: installed by its chart
    on the node (its log saved when it is uninstalled), or else a local process beside the pod
    runner. Yields where its log is."""
    log = logs / "operator.log"
    kubeconfig = plane.kubeconfig
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    if node is None:
        config = plane.state_dir / "operator-config.yaml"
        config.write_text(json.dumps(settings))
        flags = ["--config", str(config), "--clock-start", clock[0], "--clock-rate", str(clock[1])]
        with (
            running_operator(kubeconfig, log, *flags),
            running_podrunner(env, logs / "podrunner.log", stop_timeout=20),
        ):
            yield log
        return
    assert node.project_image is not None  # built from this checkout
    values = chart_values(node.project_image, settings, clock=clock)
    print(f"== helm install {RELEASE} charts/district-rollover (image {node.project_image})", flush=True)
    with installed_operator(plane, RELEASE, values, plane.state_dir) as namespace:
        pods = _kubectl(env, "-n", namespace, "get", "pods")
        print(f"$ kubectl -n {namespace} get pods\n{pods}", flush=True)
        try:
            yield log
        finally:
            selector = f"app.kubernetes.io/instance={RELEASE}"
            log.write_text(_kubectl(env, "-n", namespace, "logs", "-l", selector, "--tail=-1"))


def _kubectl(env: dict[str, str], *args: str) -> str:
    return subprocess.run(["kubectl", *args], env=env, capture_output=True, text=True, check=False).stdout


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
    if result.get("status") == "certified":
        return f"signed {result.get('certificate', '?')}"
    if "tables" in result:  # the preflight's preview
        archive, delete = (sum(t[k] for t in result["tables"]) for k in ("archive", "delete"))
        return f"checks passed; preview: {archive} rows to archive, {delete} of them to delete"
    return json.dumps(result)[:200]


def _rollover_status(env: dict[str, str], ns: str, name: str) -> dict[str, Any]:
    raw = subprocess.run(
        ["kubectl", "-n", ns, "get", "dro", name, "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return dict(json.loads(raw).get("status", {})) if raw else {}


def _show_archive(env: dict[str, str], doc: dict[str, Any], s3: S3Endpoint) -> None:
    ns, name = doc["metadata"]["namespace"], doc["metadata"]["name"]
    status = _rollover_status(env, ns, name)
    print(f"\n== {ns}/{name}: what each Job reported (status.jobs[].result)")
    for job in status.get("jobs", []):
        print(
            f"  {job['step']:<8} {job['product'] or '(all)':<20} {job['state']:<10} "
            f"{_summary(job.get('result') or {})}"
        )
    fs = s3.filesystem()
    district = f"{s3.bucket}/{ARCHIVE_PREFIX}/{doc['spec']['districtId']}"
    for path in sorted(p for p in fs.find(district) if p.endswith("/manifest.json")):
        manifest = json.loads(fs.cat_file(path))
        encryption = manifest.get("encryption") or {}
        print(
            f"\n== s3://{path}  (snapshot {manifest.get('snapshotTime')}, "
            f"encrypted: {encryption.get('format', 'no')} to {', '.join(encryption.get('recipients', []))})"
        )
        for table in manifest.get("tables", []):
            action = "archived, then deleted" if table.get("deletedByReset") else "archived, kept"
            print(f"  {table['table']:<34} {table['rows']:>7} rows  {action}")


def _show_certificates(
    env: dict[str, str], examples: list[dict[str, Any]], s3: S3Endpoint, local: Path, public_key: Path
) -> bool:
    """Print each district's certificate of deletion, fetch one and verify it; False if any is missing
    or the one fetched does not verify."""
    print("\n== certificates of deletion (status.certificate.location)")
    locations: dict[str, str] = {}
    for doc in examples:
        certificate = (
            _rollover_status(env, doc["metadata"]["namespace"], doc["metadata"]["name"]).get("certificate")
            or {}
        )
        location = str(certificate.get("location", ""))
        print(f"  {doc['spec']['districtId']:<22} {location or 'NONE'}")
        if location:
            locations[doc["spec"]["districtId"]] = location
    if len(locations) != len(examples):
        print("demo: not every district has a certificate of deletion", file=sys.stderr)
        return False
    district, location = sorted(locations.items())[0]
    copy = local / district / "certificate.json"
    copy.parent.mkdir(parents=True, exist_ok=True)
    s3.filesystem().get_file(location, str(copy))
    command = ["rollover", "verify-certificate", str(copy), "--public-key", str(public_key)]
    print(f"\n$ {' '.join(command)}      # a copy of {location}", flush=True)
    command[0] = str(Path(sys.executable).parent / "rollover")
    return subprocess.run(command, check=False).returncode == 0


if __name__ == "__main__":
    sys.exit(main())
