"""Invariants of a rollover run, checked against the cluster after fault injection.

Shared by the fault-tolerance tests (tests/integration/test_faults.py) and the soak run
(benchmarks/soak.py). Everything is read back from the apiserver. `check_invariants` returns
human-readable violations (an empty list means every invariant holds):

1. every sync target ends exactly in its original state, recorded by `snapshot_targets` BEFORE the
   run (so "never resume what we did not suspend" is checked: a CronJob its owner had suspended must
   still be suspended), with no original-state annotation left behind. A target of a rollover that
   ended Failed stays paused by design: it must be paused, and its annotation must record exactly
   the original state;
2. each Job exists at most once per (rollover, school year, step, product, attempt): in the cluster
   now and, when a `JobTimeline` watched the run, over the whole run (a Job deleted and created
   again counts twice); every Job owned by a rollover carries those labels; status.jobs names each
   Job once;
3. no reset Job was created before every archive Job of its rollover and school year had
   succeeded, by three independent clocks: the reset Job's creationTimestamp against the archive
   Jobs' completionTime (second resolution); the operator's own status.jobs records (startedAt of
   the reset, completedAt of each archive); and, with a `JobTimeline`, etcd revisions, which order
   every write exactly (the reset Job's creation revision must follow the revision at which each
   product's archive Job became Complete);
4. every rollover ends Completed (with a history entry, and the latest Job of each step and
   product Succeeded), or Failed with a reason (Stalled=True, reason and message) when it is one of
   those expected to fail;
5. no Python traceback (or logged exception) in the operator logs.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from lightkube import ApiError, Client, KubeConfig
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.batch_v1 import CronJob, Job

from rollover import KIND
from rollover.cluster.resources import DistrictRollover
from rollover.labels import (
    LABEL_ATTEMPT,
    LABEL_PRODUCT,
    LABEL_ROLLOVER,
    LABEL_SCHOOL_YEAR,
    LABEL_STEP,
    ORIGINAL_STATE_ANNOTATION,
)
from rollover.observed import OriginalState
from rollover.selectors import matches

RolloverKey = tuple[str, str]  # (namespace, name)
TargetKey = tuple[str, str, str]  # (kind, namespace, name)
JobKey = tuple[str, str, str, str, str, str]  # (namespace, rollover, school year, step, product, attempt)

ARCHIVE, RESET = "archive", "reset"
HTTP_NOT_FOUND, HTTP_GONE = 404, 410


def client_for(kubeconfig: Path) -> Client:
    """A lightkube client for one kubeconfig file (the harness's admin, or another identity)."""
    return Client(KubeConfig.from_file(kubeconfig))


# --- 1. what the sync targets looked like before the run ---------------------------------------


@dataclass(frozen=True)
class TargetState:
    """A roster-sync CronJob or Deployment as its owner left it, before any rollover touched it."""

    kind: str  # "CronJob" | "Deployment"
    namespace: str
    name: str
    labels: tuple[tuple[str, str], ...]
    suspend: bool | None = None  # CronJob spec.suspend
    replicas: int | None = None  # Deployment spec.replicas

    @property
    def key(self) -> TargetKey:
        return (self.kind, self.namespace, self.name)


def _target_state(kind: str, body: dict[str, Any]) -> TargetState:
    meta, spec = body["metadata"], body.get("spec") or {}
    return TargetState(
        kind=kind,
        namespace=meta["namespace"],
        name=meta["name"],
        labels=tuple(sorted((meta.get("labels") or {}).items())),
        suspend=bool(spec.get("suspend", False)) if kind == "CronJob" else None,
        replicas=int(spec.get("replicas", 1)) if kind == "Deployment" else None,
    )


def _bodies(client: Client, resource: Any, namespace: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    for obj in client.list(resource, namespace=namespace, **kwargs):
        yield dict(obj.to_dict())


def snapshot_targets(kubeconfig: Path, namespaces: Iterable[str]) -> dict[TargetKey, TargetState]:
    """Every CronJob and Deployment of `namespaces` as it is now: call it BEFORE the run."""
    client = client_for(kubeconfig)
    found: dict[TargetKey, TargetState] = {}
    for ns in sorted(set(namespaces)):
        for kind, resource in (("CronJob", CronJob), ("Deployment", Deployment)):
            for body in _bodies(client, resource, ns):
                state = _target_state(kind, body)
                found[state.key] = state
    return found


# --- 2/3. every Job the run ever made, ordered by etcd revision --------------------------------


@dataclass
class JobTrace:
    """One Job (one uid) as the watch saw it; revisions are etcd resourceVersions (None: unknown)."""

    uid: str
    namespace: str
    name: str
    labels: dict[str, str]
    created_rv: int | None = None  # only from a real ADDED event of an unbroken watch
    complete_rv: int | None = None  # first revision with condition Complete=True
    failed_rv: int | None = None  # first revision with condition Failed=True
    deleted: bool = False

    @property
    def key(self) -> JobKey | None:
        return _job_key(self.namespace, self.labels)


def _job_key(namespace: str, labels: Mapping[str, str]) -> JobKey | None:
    try:
        return (
            namespace,
            labels[LABEL_ROLLOVER],
            labels[LABEL_SCHOOL_YEAR],
            labels[LABEL_STEP],
            labels[LABEL_PRODUCT],
            labels.get(LABEL_ATTEMPT, "0"),
        )
    except KeyError:
        return None


def _true_conditions(body: Mapping[str, Any]) -> set[str]:
    return {
        str(c.get("type"))
        for c in (body.get("status") or {}).get("conditions") or []
        if c.get("status") == "True"
    }


class JobTimeline:
    """Watches the operator's Jobs for the whole run, across apiserver restarts.

    A watch resumed from its last resourceVersion replays every event it missed, so creation and
    completion revisions stay exact through a restart. Only when etcd has compacted that revision
    (410 Gone) is the list taken afresh; Jobs first seen in such a list get no creation revision and
    `gaps` counts it. The watch is `kubectl get --raw` (a stream that a stop can simply terminate).
    """

    def __init__(self, kubeconfig: Path, namespaces: Iterable[str] | None = None) -> None:
        self.kubeconfig = kubeconfig
        self.namespaces = sorted(set(namespaces)) if namespaces is not None else None
        self.traces: dict[str, JobTrace] = {}
        self.gaps = 0
        self.reconnects = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None
        self._thread = threading.Thread(target=self._run, name="job-timeline", daemon=True)
        self._listed = threading.Event()

    def __enter__(self) -> JobTimeline:
        self._thread.start()
        if not self._listed.wait(60):
            raise RuntimeError("the Job timeline could not list Jobs within 60 s")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
        self._thread.join(timeout=15)

    def snapshot(self) -> list[JobTrace]:
        with self._lock:
            return [JobTrace(**vars(t)) for t in self.traces.values()]

    def _see(self, event: str, body: dict[str, Any], *, from_watch: bool) -> None:
        meta = body.get("metadata") or {}
        namespace = str(meta.get("namespace", ""))
        if self.namespaces is not None and namespace not in self.namespaces:
            return
        uid, rv = str(meta.get("uid", "")), int(meta.get("resourceVersion") or 0)
        with self._lock:
            trace = self.traces.get(uid)
            if trace is None:
                trace = self.traces[uid] = JobTrace(
                    uid=uid,
                    namespace=namespace,
                    name=str(meta.get("name", "")),
                    labels=dict(meta.get("labels") or {}),
                    created_rv=rv if from_watch and event == "ADDED" else None,
                )
            conditions = _true_conditions(body)
            if "Complete" in conditions and trace.complete_rv is None:
                trace.complete_rv = rv
            if "Failed" in conditions and trace.failed_rv is None:
                trace.failed_rv = rv
            if event == "DELETED":
                trace.deleted = True

    def _raw(self, query: str) -> list[str]:
        return [
            "kubectl",
            "--kubeconfig",
            str(self.kubeconfig),
            "get",
            "--raw",
            f"/apis/batch/v1/jobs?{query}",
        ]

    def _list(self) -> str:
        """One LIST of every rollover Job; its resourceVersion."""
        done = subprocess.run(
            self._raw(f"labelSelector={LABEL_ROLLOVER}"),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        listing = json.loads(done.stdout)
        for job in listing.get("items") or []:
            self._see("LISTED", job, from_watch=False)
        return str(listing["metadata"]["resourceVersion"])

    def _watch(self, version: str) -> str:
        """Stream events from `version` until the stream ends; the last resourceVersion seen."""
        query = f"watch=1&allowWatchBookmarks=true&labelSelector={LABEL_ROLLOVER}&resourceVersion={version}"
        self._proc = proc = subprocess.Popen(
            self._raw(f"{query}&timeoutSeconds=60"),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                event = json.loads(line)
                kind, body = str(event.get("type")), event.get("object") or {}
                if kind == "ERROR":
                    if body.get("code") == HTTP_GONE:
                        return ""  # compacted: list again
                    break
                version = str((body.get("metadata") or {}).get("resourceVersion") or version)
                if kind != "BOOKMARK":
                    self._see(kind, body, from_watch=True)
        finally:
            if proc.poll() is None:
                proc.terminate()
            proc.wait()
        return version

    def _run(self) -> None:
        version = ""
        while not self._stop.is_set():
            try:
                if not version:
                    if self._listed.is_set():
                        self.gaps += 1
                    version = self._list()
                    self._listed.set()
                version = self._watch(version)
            except (subprocess.SubprocessError, OSError, ValueError, KeyError):
                pass  # the apiserver restarting: connection refused, a cut stream
            if not self._stop.is_set():
                self.reconnects += 1
                self._stop.wait(0.3)


# --- the checks --------------------------------------------------------------------------------


@dataclass
class _Seen:
    rollovers: dict[RolloverKey, dict[str, Any]] = field(default_factory=dict)
    missing: list[RolloverKey] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    targets: dict[TargetKey, dict[str, Any]] = field(default_factory=dict)


def _gather(client: Client, rollovers: Iterable[RolloverKey], namespaces: Iterable[str]) -> _Seen:
    seen = _Seen()
    for ns, name in rollovers:
        try:
            seen.rollovers[(ns, name)] = dict(
                cast(Any, client.get(DistrictRollover, name, namespace=ns)).to_dict()
            )
        except ApiError as exc:
            if exc.status.code != HTTP_NOT_FOUND:
                raise
            seen.missing.append((ns, name))
    for ns in sorted(set(namespaces)):
        seen.jobs += _bodies(client, Job, ns)
        for kind, resource in (("CronJob", CronJob), ("Deployment", Deployment)):
            for body in _bodies(client, resource, ns):
                seen.targets[(kind, ns, body["metadata"]["name"])] = body
    return seen


def check_invariants(
    kubeconfig: Path,
    rollovers: Iterable[RolloverKey],
    originals: Mapping[TargetKey, TargetState],
    *,
    expect_failed: Iterable[RolloverKey] = (),
    logs: Iterable[Path] = (),
    timeline: JobTimeline | None = None,
) -> list[str]:
    """Every violation of the invariants (module docstring) across `rollovers`; [] when all hold.

    `originals` is `snapshot_targets` taken before the run; `expect_failed` the rollovers whose Job
    the run made fail on purpose; `logs` the operator's log files; `timeline` the run's JobTimeline.
    """
    rollovers = sorted(set(rollovers))
    expect_failed = set(expect_failed)
    namespaces = {ns for ns, _ in rollovers} | {t.namespace for t in originals.values()}
    seen = _gather(client_for(kubeconfig), rollovers, namespaces)
    return [
        *_check_outcomes(seen, expect_failed),
        *_check_targets(seen, originals),
        *_check_jobs_unique(seen, timeline),
        *_check_reset_after_archive(seen, timeline),
        *scan_logs(logs),
    ]


# 4. outcomes


def _condition(body: Mapping[str, Any], type_: str) -> dict[str, Any]:
    for c in (body.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return dict(c)
    return {}


def _check_outcomes(seen: _Seen, expect_failed: set[RolloverKey]) -> Iterator[str]:
    for key in seen.missing:
        yield f"rollover {key[0]}/{key[1]}: gone from the cluster"
    for (ns, name), body in seen.rollovers.items():
        status = body.get("status") or {}
        phase = status.get("phase", "")
        where = f"rollover {ns}/{name}"
        if (ns, name) in expect_failed:
            if phase != "Failed":
                yield f"{where}: expected Failed (one of its Jobs was made to fail), ended {phase or 'unset'}"
                continue
            stalled = _condition(body, "Stalled")
            if stalled.get("status") != "True" or not stalled.get("reason") or not stalled.get("message"):
                yield f"{where}: Failed without a reason (Stalled condition: {stalled or 'missing'})"
            continue
        if phase != "Completed":
            stalled = _condition(body, "Stalled")
            yield f"{where}: ended {phase or 'unset'}, not Completed ({stalled.get('message', '')})".rstrip(
                " ()"
            )
            continue
        year = status.get("schoolYear")
        if not any(
            h.get("schoolYear") == year and h.get("outcome") == "Completed"
            for h in status.get("history") or []
        ):
            yield f"{where}: Completed without a history entry for {year}"
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        for job in status.get("jobs") or []:
            slot = (str(job.get("step")), str(job.get("product")))
            if slot not in latest or int(job.get("attempt", 0)) > int(latest[slot].get("attempt", 0)):
                latest[slot] = job
        for step in (ARCHIVE, RESET):
            for product in _products(body):
                job = latest.get((step, product))
                if job is None or job.get("state") != "Succeeded":
                    recorded = sorted(f"{j.get('name')}={j.get('state')}" for j in status.get("jobs") or [])
                    state = f"{job.get('name')} {job.get('state')}" if job else f"no Job among {recorded}"
                    yield f"{where}: Completed although status.jobs records {step} of {product}: {state}"


# 1. sync targets


def _selecting(seen: _Seen, target: TargetState) -> list[RolloverKey]:
    labels = dict(target.labels)
    return [
        key
        for key, body in seen.rollovers.items()
        if key[0] == target.namespace and matches((body.get("spec") or {}).get("syncSelector"), labels)
    ]


def _check_targets(seen: _Seen, originals: Mapping[TargetKey, TargetState]) -> Iterator[str]:
    for key, original in sorted(originals.items()):
        where = f"{original.kind} {original.namespace}/{original.name}"
        body = seen.targets.get(key)
        if body is None:
            yield f"{where}: deleted during the run"
            continue
        now = _target_state(original.kind, body)
        annotation = ((body["metadata"].get("annotations") or {}).get(ORIGINAL_STATE_ANNOTATION)) or None
        recorded = OriginalState.from_annotation(annotation) if annotation else None
        owners = _selecting(seen, original)
        failed = [k for k in owners if (seen.rollovers[k].get("status") or {}).get("phase") == "Failed"]
        if len(owners) > 1:
            yield f"{where}: selected by {len(owners)} rollovers ({owners}); the run must not do that"
        if failed:
            # Syncs stay paused after a failure, recording exactly what to restore later.
            paused = now.suspend if original.kind == "CronJob" else now.replicas == 0
            if not paused:
                yield f"{where}: its rollover {failed[0][1]} Failed, yet the target is no longer paused"
            want = (original.suspend, original.replicas)
            if recorded is None:
                yield f"{where}: paused by Failed rollover {failed[0][1]} without an original-state record"
            elif (recorded.suspend, recorded.replicas) != want or recorded.rollover != failed[0][1]:
                yield (
                    f"{where}: records original state {annotation}, but before the run it was "
                    f"suspend={original.suspend} replicas={original.replicas}"
                )
            continue
        if (now.suspend, now.replicas) != (original.suspend, original.replicas):
            before = original.suspend if original.kind == "CronJob" else original.replicas
            after = now.suspend if original.kind == "CronJob" else now.replicas
            field_name = "suspend" if original.kind == "CronJob" else "replicas"
            hint = " (resumed what its owner had suspended)" if original.suspend and not now.suspend else ""
            yield f"{where}: {field_name} was {before} before the run, is {after} after it{hint}"
        if annotation is not None:
            yield f"{where}: original-state annotation left behind: {annotation}"


# 2. at most one Job per (rollover, year, step, product, attempt)


def _owned_by_rollover(body: Mapping[str, Any]) -> bool:
    return any(o.get("kind") == KIND for o in (body.get("metadata") or {}).get("ownerReferences") or [])


def _check_jobs_unique(seen: _Seen, timeline: JobTimeline | None) -> Iterator[str]:
    by_key: dict[JobKey, list[str]] = defaultdict(list)
    for body in seen.jobs:
        meta = body["metadata"]
        key = _job_key(meta["namespace"], meta.get("labels") or {})
        if key is None:
            if _owned_by_rollover(body):
                where = f"{meta['namespace']}/{meta['name']}"
                yield f"Job {where}: owned by a rollover but not labelled as its Job"
            continue
        by_key[key].append(meta["name"])
    for key, names in sorted(by_key.items()):
        if len(names) > 1:
            yield f"Jobs {sorted(names)}: {len(names)} Jobs for one {_describe(key)}"
    for (ns, name), body in seen.rollovers.items():
        records = [j.get("name") for j in (body.get("status") or {}).get("jobs") or []]
        doubled = sorted({n for n in records if records.count(n) > 1})
        if doubled:
            yield f"rollover {ns}/{name}: status.jobs lists {doubled} more than once"
    if timeline is None:
        return
    traces = timeline.snapshot()
    watched = {t.uid for t in traces}
    ours = {
        b["metadata"]["uid"]: f"{b['metadata']['namespace']}/{b['metadata']['name']}"
        for b in seen.jobs
        if _job_key(b["metadata"]["namespace"], b["metadata"].get("labels") or {}) is not None
    }
    unseen = sorted(name for uid, name in ours.items() if uid not in watched)
    if unseen:
        yield f"harness: the Job timeline never saw {unseen}; the revision checks are incomplete"
    uids: dict[JobKey, list[JobTrace]] = defaultdict(list)
    for trace in traces:
        if trace.key is not None:
            uids[trace.key].append(trace)
    for key, group in sorted(uids.items()):
        if len(group) > 1:
            lives = ", ".join(f"{t.name} uid {t.uid[:8]}{' (deleted)' if t.deleted else ''}" for t in group)
            yield f"{len(group)} Jobs over the run for one {_describe(key)}: {lives}"


def _describe(key: JobKey) -> str:
    ns, rollover, year, step, product, attempt = key
    return f"(rollover {ns}/{rollover}, {year}, {step}, {product}, attempt {attempt})"


# 3. reset only after every archive Job succeeded


def _products(body: Mapping[str, Any]) -> list[str]:
    return [str(p) for p in (body.get("spec") or {}).get("products") or []]


def _check_reset_after_archive(seen: _Seen, timeline: JobTimeline | None) -> Iterator[str]:
    jobs: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)  # (ns, rollover, year)
    for body in seen.jobs:
        key = _job_key(body["metadata"]["namespace"], body["metadata"].get("labels") or {})
        if key is not None:
            jobs[key[:3]].append(body)
    for (ns, rollover, year), bodies in sorted(jobs.items()):
        rollover_body = seen.rollovers.get((ns, rollover), {})
        products = _products(rollover_body) or sorted(
            {b["metadata"]["labels"][LABEL_PRODUCT] for b in bodies}
        )
        archives = [b for b in bodies if b["metadata"]["labels"][LABEL_STEP] == ARCHIVE]
        for reset in (b for b in bodies if b["metadata"]["labels"][LABEL_STEP] == RESET):
            created = str(reset["metadata"]["creationTimestamp"])
            for product in products:
                done = [
                    a
                    for a in archives
                    if a["metadata"]["labels"][LABEL_PRODUCT] == product
                    and "Complete" in _true_conditions(a)
                    and str((a.get("status") or {}).get("completionTime") or "9999") <= created
                ]
                if not done:
                    yield (
                        f"reset Job {ns}/{reset['metadata']['name']} created {created}, before any "
                        f"archive Job of {product} ({rollover}, {year}) had succeeded"
                    )
    for (ns, name), body in seen.rollovers.items():
        yield from _check_status_records(ns, name, body)
    if timeline is not None:
        yield from _check_revisions(timeline, seen)


def _check_status_records(ns: str, name: str, body: Mapping[str, Any]) -> Iterator[str]:
    """The operator's own records agree: every reset started after each product's archive completed."""
    records = (body.get("status") or {}).get("jobs") or []
    archives = [j for j in records if j.get("step") == ARCHIVE]
    for reset in (j for j in records if j.get("step") == RESET):
        started = reset.get("startedAt")
        for product in _products(body):
            ok = [
                a
                for a in archives
                if a.get("product") == product
                and a.get("state") == "Succeeded"
                and a.get("completedAt")
                and (started is None or _instant(a["completedAt"]) <= _instant(started))
            ]
            if not ok:
                yield (
                    f"rollover {ns}/{name}: status.jobs records reset Job {reset.get('name')} started "
                    f"{started}, without a succeeded archive of {product} completed before it"
                )


def _instant(value: str) -> float:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _check_revisions(timeline: JobTimeline, seen: _Seen) -> Iterator[str]:
    traces = [t for t in timeline.snapshot() if t.key is not None]
    for reset in traces:
        key = reset.key
        assert key is not None
        if key[3] != RESET or reset.created_rv is None:
            continue
        ns, rollover, year = key[:3]
        products = _products(seen.rollovers.get((ns, rollover), {})) or sorted(
            {t.labels[LABEL_PRODUCT] for t in traces if t.key is not None and t.key[:3] == key[:3]}
        )
        for product in products:
            archives = [
                t
                for t in traces
                if t.key is not None and t.key[:3] == key[:3] and t.key[3] == ARCHIVE and t.key[4] == product
            ]
            if any(t.complete_rv is not None and t.complete_rv < reset.created_rv for t in archives):
                continue
            if any(t.created_rv is None for t in archives):
                continue  # a gap in the watch: the timestamp check above still applies
            states = ", ".join(f"{t.name} complete at rv {t.complete_rv}" for t in archives) or "none"
            yield (
                f"reset Job {ns}/{reset.name} created at revision {reset.created_rv}, before an archive "
                f"Job of {product} ({rollover}, {year}) succeeded (archive Jobs: {states})"
            )


# 5. the operator's logs


def scan_logs(paths: Iterable[Path]) -> list[str]:
    """One violation per Python traceback (or logged exception) in the operator's log files."""
    found: list[str] = []
    for path in paths:
        try:
            text = path.read_text(errors="replace")
        except FileNotFoundError:
            continue
        lines = text.splitlines()
        for i, line in enumerate(lines):
            summary = None
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if isinstance(record, dict):
                exception = str(record.get("exception") or "")
                if exception or "Traceback (most recent call last)" in str(record.get("message", "")):
                    last = (exception or str(record.get("message"))).strip().splitlines()[-1]
                    summary = f"{record.get('level')} {record.get('logger')}: {record.get('message')}: {last}"
            elif "Traceback (most recent call last)" in line:
                tail = next(
                    (x for x in lines[i + 1 :] if x and not x.startswith((" ", "Traceback"))), "(truncated)"
                )
                summary = tail
            if summary is not None:
                found.append(f"{path.name}:{i + 1}: traceback in the operator log: {summary[:500]}")
    return found
