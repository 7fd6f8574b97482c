"""In-memory indexes of the objects the operator watches, and the Observed view built from them.

Fed by the watch handlers; read by the reconciler. Only slim fields are kept (rollovers as
compressed JSON): 15,000 rollovers and their 45,000 CronJobs hold 70 MiB
(`python -m benchmarks.memory_bench`). No I/O here.
"""

from __future__ import annotations

import json
import sys
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, cast

from rollover.api.models import JobState, Step, SyncTargetKind
from rollover.claims import Claim, Holder, claim_name, parse_claim
from rollover.labels import (
    LABEL_ATTEMPT,
    LABEL_PRODUCT,
    LABEL_ROLLOVER,
    LABEL_SCHOOL_YEAR,
    LABEL_STEP,
    ORIGINAL_STATE_ANNOTATION,
    RETRY_ANNOTATION,
    districts_of,
)
from rollover.observed import (
    ClaimView,
    Observed,
    ObservedJob,
    ObservedTarget,
    OriginalState,
    controlling_rollover,
)
from rollover.planner import job_name
from rollover.selectors import matches, required_label

Key = tuple[str, str]  # (namespace, name)
TargetKey = tuple[str, str]  # (kind, name), within a namespace
Label = tuple[str, str]  # (key, value)


@dataclass(frozen=True, slots=True)
class TargetEntry:
    kind: SyncTargetKind
    name: str
    labels: dict[str, str]
    suspended: bool
    replicas: int
    original: OriginalState | None
    uid: str


@dataclass(frozen=True, slots=True)
class JobEntry:
    name: str
    uid: str
    labels: dict[str, str]  # an index only: anyone who can write the Job can write them
    rollover_uid: str | None  # the DistrictRollover controlling it: what makes it ours
    owner_cronjob: str | None
    finished: bool
    failed: bool
    message: str


@dataclass(frozen=True, slots=True)
class RolloverEntry:
    """A cached rollover: what the indexes read, and the whole object as compressed JSON. Kept as
    dicts (even with their strings interned) a rollover with its status was 5.5 KiB, 80 MiB at
    15,000 rollovers; compressed it is under 1 KiB, and it is decoded only when reconciled."""

    district: str
    selector: dict[str, Any] | None
    document: bytes

    def body(self) -> dict[str, Any]:
        """The rollover as cached: a fresh copy on every call."""
        return cast(dict[str, Any], json.loads(zlib.decompress(self.document)))


#: zlib's fastest level: a rollover is compressed at every write, decompressed at every reconcile.
_COMPRESSION_LEVEL = 1
_UNREAD_METADATA = frozenset({"managedFields", "creationTimestamp", "selfLink"})
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


@dataclass
class Cache:
    """Everything the reconciler reads, indexed by namespace."""

    rollovers: dict[str, dict[str, RolloverEntry]] = field(default_factory=lambda: defaultdict(dict))
    targets: dict[str, dict[Key, TargetEntry]] = field(default_factory=lambda: defaultdict(dict))
    jobs: dict[str, dict[str, JobEntry]] = field(default_factory=lambda: defaultdict(dict))
    results: dict[Key, dict[str, Any]] = field(default_factory=dict)  # termination messages by Job
    #: Namespace -> the districts its rostering.k12.dev/districts annotation allows.
    namespace_districts: dict[str, frozenset[str]] = field(default_factory=dict)
    claims: dict[str, tuple[Claim, str]] = field(default_factory=dict)  # claim name -> (claim, version)
    gone_holders: set[Holder] = field(default_factory=set)  # claim holders confirmed deleted
    _by_district: dict[str, set[Key]] = field(default_factory=lambda: defaultdict(set))
    # Namespace -> ... indexes: a rollover's selector is tried on the targets carrying a label it
    # requires (and a target on the rollovers requiring one of its labels), not on every target
    # (rollover) of the namespace: at 15,000 rollovers in 50 namespaces that was 900 selector
    # checks per plan, and 300 per CronJob listed.
    _targets_by_label: dict[str, dict[Label, set[TargetKey]]] = field(default_factory=dict)
    _targets_paused_by: dict[str, dict[str, set[TargetKey]]] = field(default_factory=dict)
    #: Rollovers by the label their selector requires; under None those that require none.
    _rollovers_by_label: dict[str, dict[Label | None, set[str]]] = field(default_factory=dict)
    versions: dict[tuple[str, str, str], str] = field(default_factory=dict)  # kind/ns/name -> rv

    def changed(self, kind: str, body: dict[str, Any]) -> bool:
        """Record the object's resourceVersion, from a watch event or from the response to our own
        write; False if this version or a newer one is already known: a replay, or an event that
        our write overtook, which must not overwrite the cache (nor cost a reconcile).

        resourceVersions are etcd revisions, which only grow. Kubernetes calls them opaque, so a
        version that is not an integer is only compared for equality.
        """
        meta = body.get("metadata", {})
        key = (kind, sys.intern(meta.get("namespace", "")), meta.get("name", ""))
        version = str(meta.get("resourceVersion", ""))
        known = self.versions.get(key)
        if known is not None and not _newer(version, known):
            return False
        self.versions[key] = version
        return True

    def forget(self, kind: str, namespace: str, name: str) -> None:
        self.versions.pop((kind, namespace, name), None)

    # --- updates from watch events ----------------------------------------------------------------

    def put_rollover(self, body: dict[str, Any]) -> None:
        """Cache a rollover without what the operator never reads: managedFields and kubectl's
        last-applied copy of the spec are most of an object's size, times 15,000 rollovers."""
        meta = {k: v for k, v in body["metadata"].items() if k not in _UNREAD_METADATA}
        if annotations := meta.get("annotations"):
            meta["annotations"] = {k: v for k, v in annotations.items() if k != _LAST_APPLIED}
        document = json.dumps({**body, "metadata": meta}, separators=(",", ":")).encode()
        entry = RolloverEntry(
            district=sys.intern(_district_of(body)),
            selector=_compact(_selector_of(body)),
            document=zlib.compress(document, _COMPRESSION_LEVEL),
        )
        key = (sys.intern(meta["namespace"]), meta["name"])
        old = _in(self.rollovers, key[0]).get(key[1])
        if old is not None:
            self._unindex(old, key)
        self.rollovers[key[0]][key[1]] = entry
        self._by_district[entry.district].add(key)
        _add(self._rollovers_by_label, key[0], required_label(entry.selector), key[1])

    def drop_rollover(self, namespace: str, name: str) -> list[Key]:
        """Forget a deleted rollover; the rollovers of its district (one may be waiting for its
        claim)."""
        old = _pop(self.rollovers, namespace, name)
        self.forget("DistrictRollover", namespace, name)
        if old is None:
            return []
        return sorted(self._unindex(old, (namespace, name)))

    def _unindex(self, rollover: RolloverEntry, key: Key) -> set[Key]:
        """Take a rollover out of its indexes; the others left in its district's."""
        _discard(self._rollovers_by_label, key[0], required_label(rollover.selector), key[1])
        same_district = self._by_district.get(rollover.district, set())
        same_district.discard(key)
        if not same_district:
            self._by_district.pop(rollover.district, None)
        return same_district

    def namespace_changed(self, event: str, body: dict[str, Any]) -> list[Key]:
        """Cache a Namespace's districts; the rollovers in it when they changed (one may have
        become allowed, or no longer be)."""
        meta = body["metadata"]
        name = meta["name"]
        if event == "DELETED":
            # Kept no longer than the namespace: a namespace not known allows no district.
            return self.rollovers_in(name) if self.namespace_districts.pop(name, None) else []
        districts = districts_of(meta.get("annotations"))
        if self.namespace_districts.get(name) == districts:
            return []
        self.namespace_districts[name] = districts
        return self.rollovers_in(name)

    def put_claim(self, body: dict[str, Any]) -> Claim | None:
        claim = parse_claim(body)
        if claim is not None:
            meta = body["metadata"]
            self.claims[meta["name"]] = (claim, str(meta.get("resourceVersion", "")))
        return claim

    def claim_changed(self, event: str, body: dict[str, Any]) -> list[Key]:
        """Cache a district claim; the rollovers of that district (one may now be refused, or be free
        to claim)."""
        meta = body["metadata"]
        old = self.claims.get(meta["name"])
        if event == "DELETED":
            entry = self.claims.pop(meta["name"], None)
            self.forget("ConfigMap", meta.get("namespace", ""), meta["name"])
            claim = entry[0] if entry else None
        elif not self.changed("ConfigMap", body):
            return []
        else:
            claim = self.put_claim(body)
        if old is not None:
            # A holder the claim no longer lists needs no remembering that it is gone. (Were it
            # still in another claim, forgetting costs one GET to confirm it again, nothing more.)
            new = self.claims.get(meta["name"])
            kept = set(new[0].holders.values()) if new is not None else set()
            self.gone_holders -= set(old[0].holders.values()) - kept
        return sorted(self._by_district.get(claim.district_id, ())) if claim else []

    def rival_holders(self, rollover: dict[str, Any]) -> set[Holder]:
        """The other holders of the claim on this rollover's district and school year, not yet
        known to be gone."""
        view = self._claim_view(rollover)
        if view.claim is None:
            return set()
        me = _holder_of(rollover)
        return {h for h in view.claim.holders.values() if h != me and h not in self.gone_holders}

    def put_target(self, kind: SyncTargetKind, body: dict[str, Any]) -> TargetEntry:
        meta, spec = body["metadata"], body.get("spec", {})
        namespace, key = sys.intern(meta["namespace"]), (kind.value, meta["name"])
        annotation = (meta.get("annotations") or {}).get(ORIGINAL_STATE_ANNOTATION)
        entry = TargetEntry(
            kind=kind,
            name=meta["name"],
            labels=_compact(meta.get("labels") or {}),
            suspended=bool(spec.get("suspend", False)),
            replicas=int(spec.get("replicas", 1)),
            original=OriginalState.from_annotation(annotation) if annotation else None,
            uid=str(meta.get("uid", "")),
        )
        old = _in(self.targets, namespace).get(key)
        if old is not None:
            self._unindex_target(namespace, key, old)
        self.targets[namespace][key] = entry
        for label in entry.labels.items():
            _add(self._targets_by_label, namespace, label, key)
        if entry.original is not None:
            _add(self._targets_paused_by, namespace, entry.original.rollover, key)
        return entry

    def drop_target(self, kind: SyncTargetKind, namespace: str, name: str) -> None:
        key = (kind.value, name)
        old = _pop(self.targets, namespace, key)
        if old is not None:
            self._unindex_target(namespace, key, old)
        self.forget(kind.value, namespace, name)

    def _unindex_target(self, namespace: str, key: TargetKey, entry: TargetEntry) -> None:
        for label in entry.labels.items():
            _discard(self._targets_by_label, namespace, label, key)
        if entry.original is not None:
            _discard(self._targets_paused_by, namespace, entry.original.rollover, key)

    def put_job(self, body: dict[str, Any]) -> JobEntry:
        meta, status = body["metadata"], body.get("status", {})
        conditions = {c.get("type"): c for c in status.get("conditions") or [] if c.get("status") == "True"}
        failed = conditions.get("Failed")
        owner = next(
            (o["name"] for o in meta.get("ownerReferences") or [] if o.get("kind") == "CronJob"), None
        )
        entry = JobEntry(
            name=meta["name"],
            uid=str(meta.get("uid", "")),
            labels=_compact(meta.get("labels") or {}),
            rollover_uid=controlling_rollover(meta),
            owner_cronjob=owner,
            finished="Complete" in conditions or failed is not None,
            failed=failed is not None,
            message=(failed or {}).get("message", "") or (failed or {}).get("reason", ""),
        )
        self.jobs[sys.intern(meta["namespace"])][meta["name"]] = entry
        return entry

    def drop_job(self, namespace: str, name: str) -> None:
        _pop(self.jobs, namespace, name)
        self.results.pop((namespace, name), None)
        self.forget("Job", namespace, name)

    # --- routing: which rollovers an event wakes ---------------------------------------------------

    def target_changed(self, kind: SyncTargetKind, event: str, body: dict[str, Any]) -> list[Key]:
        """Cache a watch event of a possible sync target; the rollovers it concerns (those selecting
        it and the one that paused it), or none when the event told nothing the planner reads (a
        replay, a CronJob's lastScheduleTime, a Deployment's rollout status)."""
        meta = body["metadata"]
        if event == "DELETED":
            self.drop_target(kind, meta["namespace"], meta["name"])
        elif not self.changed(kind.value, body):
            return []
        else:
            old = _in(self.targets, meta["namespace"]).get((kind.value, meta["name"]))
            if self.put_target(kind, body) == old:
                return []
        annotation = (meta.get("annotations") or {}).get(ORIGINAL_STATE_ANNOTATION, "")
        original = OriginalState.from_annotation(annotation)
        paused_by = original.rollover if original is not None else None
        return self.rollovers_for_target(meta["namespace"], meta.get("labels") or {}, paused_by)

    def job_changed(self, event: str, body: dict[str, Any]) -> list[Key]:
        """Cache a watch event of a Job; the rollovers it concerns: one labelled for a rollover wakes
        that rollover (which decides whether it is really its own), a Job of a CronJob wakes the
        rollovers of its namespace (they may be waiting for sync Jobs to drain), and so does any
        deleted Job (it may have held the name of one of theirs). A change the planner does not read
        wakes nobody: the Job controller updates a Job's status several times before it finishes
        (active, ready, pods counted), and each woke its rollover for a reconcile that decided
        nothing."""
        meta = body["metadata"]
        if event == "DELETED":
            self.drop_job(meta["namespace"], meta["name"])
        elif not self.changed("Job", body):
            return []
        else:
            old = _in(self.jobs, meta["namespace"]).get(meta["name"])
            if self.put_job(body) == old:
                return []
        owner = (meta.get("labels") or {}).get(LABEL_ROLLOVER)
        if owner:
            return [(meta["namespace"], owner)]
        if event == "DELETED" or any(o.get("kind") == "CronJob" for o in meta.get("ownerReferences") or []):
            return self.rollovers_in(meta["namespace"])
        return []

    # --- the planner's view -----------------------------------------------------------------------

    def observe(self, rollover: dict[str, Any]) -> Observed:
        """What the planner sees for one rollover."""
        meta = rollover["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        selector = _selector_of(rollover)
        targets = []
        for entry in self._candidate_targets(namespace, name, selector):
            selected = matches(selector, entry.labels)
            # What it selects, and what it paused (to restore even after a selector edit); not the
            # targets other rollovers paused, which are theirs to handle.
            if selected or (entry.original is not None and entry.original.rollover == name):
                targets.append(
                    ObservedTarget(
                        kind=entry.kind,
                        name=entry.name,
                        matches_selector=selected,
                        suspended=entry.suspended,
                        replicas=entry.replicas,
                        original=entry.original,
                        uid=entry.uid,
                    )
                )
        target_cronjobs = {t.name for t in targets if t.kind is SyncTargetKind.CRON_JOB}
        uid = meta.get("uid")
        ours, foreign, active_sync = [], set(), []
        for job in _in(self.jobs, namespace).values():  # one walk: a namespace may hold many Jobs
            if not _controls(uid, job):
                foreign.add(job.name)
            elif (observed := self._observed_job(namespace, name, job)) is not None:
                ours.append(observed)
            if job.owner_cronjob in target_cronjobs and not job.finished:
                active_sync.append(job.name)
        return Observed(
            targets=tuple(sorted(targets, key=lambda t: (t.kind.value, t.name))),
            jobs=tuple(ours),
            foreign_job_names=frozenset(foreign),
            active_sync_jobs=tuple(sorted(active_sync)),
            retry_token=(meta.get("annotations") or {}).get(RETRY_ANNOTATION),
            deleting=bool(meta.get("deletionTimestamp")),
            namespace_districts=self.namespace_districts.get(namespace, frozenset()),
            claims=self._claim_view(rollover),
        )

    def _candidate_targets(
        self, namespace: str, rollover: str, selector: dict[str, Any] | None
    ) -> list[TargetEntry]:
        """The targets `selector` may select and those `rollover` paused: those carrying the label
        the selector requires, or every target of the namespace when it requires none."""
        targets = _in(self.targets, namespace)
        label = required_label(selector)
        if label is None:
            return list(targets.values())
        keys = _in(self._targets_by_label, namespace).get(label, set())
        keys = keys | _in(self._targets_paused_by, namespace).get(rollover, set())
        return [targets[key] for key in keys]

    def _claim_view(self, rollover: dict[str, Any]) -> ClaimView:
        spec = rollover.get("spec") or {}
        entry = self.claims.get(claim_name(str(spec.get("districtId", "")), str(spec.get("schoolYear", ""))))
        if entry is None:
            return ClaimView()
        claim, version = entry
        gone = frozenset(h for h in claim.holders.values() if h in self.gone_holders)
        return ClaimView(claim, version, gone)

    def _observed_job(self, namespace: str, rollover: str, job: JobEntry) -> ObservedJob | None:
        """A Job the rollover controls, as its labels describe it, if those labels still spell the
        Job's name: the name cannot change, a label can (e.g. to make a succeeded archive Job pass
        for another product's)."""
        labels = job.labels
        try:
            step, attempt = Step(labels[LABEL_STEP]), int(labels.get(LABEL_ATTEMPT, "0"))
            product, school_year = labels[LABEL_PRODUCT], labels[LABEL_SCHOOL_YEAR]
        except (KeyError, ValueError):
            return None  # a damaged label: never act on a guess
        if job.name != job_name(rollover, school_year, step, product, attempt):
            return None
        state = JobState.FAILED if job.failed else JobState.SUCCEEDED if job.finished else JobState.RUNNING
        return ObservedJob(
            name=job.name,
            step=step,
            product=product,
            school_year=school_year,
            attempt=attempt,
            state=state,
            message=job.message,
            result=self.results.get((namespace, job.name)),
        )

    def jobs_needing_results(self, rollover: dict[str, Any]) -> list[JobEntry]:
        """Finished Jobs the rollover controls whose termination message has not been read yet."""
        meta = rollover["metadata"]
        namespace, uid = meta["namespace"], meta.get("uid")
        return [
            j
            for j in _in(self.jobs, namespace).values()
            if _controls(uid, j) and j.finished and (namespace, j.name) not in self.results
        ]

    def rollover(self, key: Key) -> dict[str, Any] | None:
        """The cached rollover (a fresh copy), if any."""
        entry = _in(self.rollovers, key[0]).get(key[1])
        return entry.body() if entry is not None else None

    def rollovers_in(self, namespace: str) -> list[Key]:
        return [(namespace, name) for name in _in(self.rollovers, namespace)]

    def rollovers_for_target(
        self, namespace: str, labels: dict[str, str], paused_by: str | None
    ) -> list[Key]:
        """The rollovers a sync target concerns: those selecting it, and the one that paused it."""
        rollovers, by_label = _in(self.rollovers, namespace), _in(self._rollovers_by_label, namespace)
        names = set(by_label.get(None, ()))
        for label in labels.items():
            names |= by_label.get(label, set())
        if paused_by is not None:
            names.add(paused_by)
        return [
            (namespace, name)
            for name in sorted(names)
            if name in rollovers and (name == paused_by or matches(rollovers[name].selector, labels))
        ]


def _compact(value: Any) -> Any:
    """A copy of a decoded JSON value whose strings are interned: every document decoded brings its
    own copy of each key and repeated value (label keys and values, shared by a rollover's
    CronJobs and its selector); interned, thousands of cached entries share them."""
    if isinstance(value, dict):
        return {sys.intern(k): _compact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_compact(v) for v in value]
    if isinstance(value, str):
        return sys.intern(value)
    return value


def _pop(index: dict[str, dict[Any, Any]], namespace: str, key: Any) -> Any:
    """Remove an object from a per-namespace index, and the namespace once it holds nothing (the
    indexes are defaultdicts: reads must not add namespaces either, see `_in`)."""
    objects = index.get(namespace)
    if objects is None:
        return None
    found = objects.pop(key, None)
    if not objects:
        del index[namespace]
    return found


def _in(index: dict[str, dict[Any, Any]], namespace: str) -> dict[Any, Any]:
    """A namespace's objects in a per-namespace index, without adding the namespace to it."""
    return index.get(namespace) or {}


def _add(index: dict[str, dict[Any, set[Any]]], namespace: str, key: Any, member: Any) -> None:
    """Add `member` under `key` in a per-namespace index of sets."""
    index.setdefault(namespace, {}).setdefault(key, set()).add(member)


def _discard(index: dict[str, dict[Any, set[Any]]], namespace: str, key: Any, member: Any) -> None:
    """Remove `member` from under `key`, and the key and namespace once they hold nothing."""
    keys = index.get(namespace)
    members = keys.get(key) if keys is not None else None
    if keys is None or members is None:
        return
    members.discard(member)
    if not members:
        del keys[key]
        if not keys:
            del index[namespace]


def _selector_of(rollover: dict[str, Any]) -> dict[str, Any] | None:
    selector = (rollover.get("spec") or {}).get("syncSelector")
    return selector if isinstance(selector, dict) else None


def _district_of(rollover: dict[str, Any]) -> str:
    return str((rollover.get("spec") or {}).get("districtId", ""))


def _holder_of(rollover: dict[str, Any]) -> Holder:
    meta = rollover["metadata"]
    return Holder(meta["namespace"], meta["name"], str(meta.get("uid", "")))


def parse_termination_message(message: str | None) -> dict[str, Any]:
    """A Job pod's termination message as JSON; plain text is kept under "message"."""
    if not message:
        return {}
    try:
        value = json.loads(message)
    except ValueError:
        return {"message": message[:1024]}
    return value if isinstance(value, dict) else {"value": value}


def _controls(rollover_uid: str | None, job: JobEntry) -> bool:
    return rollover_uid is not None and job.rollover_uid == rollover_uid


def _newer(version: str, known: str) -> bool:
    try:
        return int(version) > int(known)
    except ValueError:
        return version != known
