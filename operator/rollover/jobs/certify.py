"""`rollover-job certify` and `rollover-job purge`: the signed proofs of a cycle's disposal.

A cycle is one district's school year, over the products it rolled over. certify runs after every
reset of the cycle succeeded: from each product's manifest (rows archived, which tables the reset
deletes, the version that archived) and its row in rollover.resets (rows deleted, IDs retired, when, the
version that reset; the archive digest it proved) it writes `<district>/<school-year>/certificate.json`
(signed) and `certificate.html`, next to the products' archive directories. It refuses while any
product lacks its archive or its completed reset, or when they disagree. Re-running it signs the same
facts again, and refuses to replace a certificate that promises a later retention date (a shorter
promise would let a purge come early).

purge runs when the archive's retention has expired, by its own clock against the retention date the
signed deletion certificate states (`calendar.purge_not_before`): it refuses earlier, whoever created
the Job. A cycle with no deletion certificate (its reset skipped for a legal hold) has no signed date
to check: the operator's plan alone times that purge. Once due, it deletes every object of the
cycle's archives (the archive, superseded copies, leftovers of interrupted runs), lists again to prove
nothing is left, and writes `purge-certificate.json` and `.html` beside the deletion certificate,
which it keeps (it holds counts, no student data). A purge interrupted after deleting re-runs to the
same certificate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from rollover.calendar import purge_not_before
from rollover.jobs import certificate
from rollover.jobs.config import ArchiveKey, Database
from rollover.jobs.destination import Destination
from rollover.jobs.errors import StepFailed
from rollover.jobs.manifest import (
    Manifest,
    cycle_dir,
    is_archive_entry,
    location,
    read_manifest,
    require_manifest_and_sha256,
)
from rollover.jobs.migrate import require_current
from rollover.jobs.store import connect, require_district
from rollover.jobs.version import running_as

log = logging.getLogger(__name__)
APPLICATION = "rollover-job certify"
#: resetBy of a reset recorded before rollover.resets kept the version (migration 0006).
UNRECORDED_VERSION = "not recorded (reset before rollover-job recorded its version)"


@dataclass(frozen=True)
class Cycle:
    """One district's school year, and the products whose archives and resets it covers."""

    district_id: str
    school_year: str
    products: tuple[str, ...]

    @property
    def directory(self) -> str:
        return cycle_dir(self.district_id, self.school_year)

    def archives(self) -> tuple[ArchiveKey, ...]:
        return tuple(ArchiveKey(self.district_id, self.school_year, p) for p in self.products)


def certify(
    cycle: Cycle,
    db: Database,
    dest: Destination,
    key: Ed25519PrivateKey,
    retention_until: dt.date,
    now: dt.datetime,
) -> dict[str, Any]:
    """Write the cycle's signed certificate of deletion; the step's result."""
    dest.check()
    _refuse_a_shorter_promise(dest, cycle, key, retention_until)
    manifests = {k.product: require_manifest_and_sha256(dest, k) for k in cycle.archives()}
    with connect(db, APPLICATION) as conn:
        require_current(conn)
        require_district(conn, cycle.district_id)
        rows = conn.execute(
            "SELECT product, archive_digest, deleted, retired_ids, completed_at, reset_by"
            " FROM rollover.resets WHERE district_id = %s AND school_year = %s AND product = ANY(%s)",
            (cycle.district_id, cycle.school_year, list(cycle.products)),
        ).fetchall()
    resets: dict[str, tuple[Any, ...]] = {str(row[0]): tuple(row[1:]) for row in rows}
    archives = []
    for k in cycle.archives():
        manifest, manifest_sha256 = manifests[k.product]
        if k.product not in resets:
            raise StepFailed(f"{k.product} has not been reset for {cycle.district_id} {cycle.school_year}")
        digest, deleted, retired, completed_at, reset_by = resets[k.product]
        if digest != manifest.digest():
            raise StepFailed(
                f"{k.product}: the reset proved archive {digest[:12]}…, the archive at "
                f"{location(dest, k)} is {manifest.digest()[:12]}… (superseded after the reset?)"
            )
        archives.append(
            _archive_facts(dest, k, manifest, manifest_sha256, deleted, retired, completed_at, reset_by)
        )
    body = {
        "format": certificate.FORMAT,
        "kind": "deletion",
        "districtId": cycle.district_id,
        "schoolYear": cycle.school_year,
        "products": list(cycle.products),
        "archives": archives,
        "totals": {
            measure: sum(t[measure] for a in archives for t in a["tables"])
            for measure in ("archived", "deleted", "kept")
        }
        | {"retiredIds": sum(a["retiredIds"] for a in archives)},
        "retentionUntil": retention_until.isoformat(),
        "issuedAt": _timestamp(now),
        "issuedBy": running_as(),
    }
    path, sha256 = _write(dest, cycle, body, key, certificate.DELETION_JSON, certificate.DELETION_HTML)
    log.info("certificate of deletion written to %s", path)
    return {
        "status": "certified",
        "certificate": path,
        "sha256": sha256,
        "retentionUntil": retention_until.isoformat(),
    }


def _archive_facts(
    dest: Destination,
    key: ArchiveKey,
    manifest: Manifest,
    manifest_sha256: str,
    deleted: dict[str, int],
    retired: int,
    completed_at: dt.datetime,
    reset_by: str | None,
) -> dict[str, Any]:
    return {
        "product": key.product,
        "location": location(dest, key),
        "manifestDigest": manifest.digest(),
        "manifestSha256": manifest_sha256,
        "encryptedTo": list(manifest.encryption.recipients) if manifest.encryption else [],
        "snapshotTime": _timestamp(manifest.snapshot_time),
        "archivedAt": _timestamp(manifest.created_at),
        "archivedBy": manifest.created_by,
        "resetDate": manifest.reset_date.isoformat(),
        "resetAt": _timestamp(completed_at),
        "resetBy": reset_by or UNRECORDED_VERSION,
        "retiredIds": retired,
        "tables": [
            {
                "table": t.table,
                "archived": t.rows,
                "deleted": deleted.get(t.table, 0),
                "kept": t.rows - deleted.get(t.table, 0),
            }
            for t in manifest.tables
        ],
    }


def purge(cycle: Cycle, dest: Destination, key: Ed25519PrivateKey, now: dt.datetime) -> dict[str, Any]:
    """Delete the cycle's archives, prove them gone, write the signed purge certificate; the result."""
    dest.check()
    deletion = _deletion_certificate(dest, cycle, key)
    if deletion is not None and now < (due := purge_not_before(deletion.retention_until)):
        raise StepFailed(
            f"the certificate of deletion keeps the archive until {deletion.retention_until}: "
            f"no purge before {_timestamp(due)}"
        )
    deletion_sha256 = deletion.sha256 if deletion is not None else None
    certified_digests = deletion.digests if deletion is not None else {}
    archives, deleted = [], {}
    for k in cycle.archives():
        manifest = read_manifest(dest, k)
        digest = manifest.digest() if manifest is not None else certified_digests.get(k.product)
        files = _files_of(dest, k)
        for name in _entries_of(dest, k):
            dest.remove_tree(f"{cycle.directory}/{name}")
        left = _files_of(dest, k)
        if left:
            raise StepFailed(f"{k.product}: still present after deleting: {', '.join(left[:10])}")
        log.info("%s: deleted %d files", k.product, len(files))
        deleted[k.product] = len(files)
        archives.append(
            {
                "product": k.product,
                "location": location(dest, k),
                "manifestDigest": digest,
                "filesDeleted": files,
                "verifiedAbsent": True,
            }
        )
    body = {
        "format": certificate.FORMAT,
        "kind": "purge",
        "districtId": cycle.district_id,
        "schoolYear": cycle.school_year,
        "products": list(cycle.products),
        "archives": archives,
        "deletionCertificateSha256": deletion_sha256,
        "purgedAt": _timestamp(now),
        "issuedBy": running_as(),
    }
    path, sha256 = _write(dest, cycle, body, key, certificate.PURGE_JSON, certificate.PURGE_HTML)
    log.info("purge certificate written to %s", path)
    return {
        "status": "purged",
        "certificate": path,
        "sha256": sha256,
        "deleted": deleted,
    }


def _entries_of(dest: Destination, key: ArchiveKey) -> list[str]:
    """The entries of the cycle's directory that belong to `key`'s archive: the archive itself, its
    superseded copies, and staging directories of interrupted runs."""
    return [
        name for name in dest.list(cycle_dir(key.district_id, key.school_year)) if is_archive_entry(key, name)
    ]


def _files_of(dest: Destination, key: ArchiveKey) -> list[str]:
    """Every file of `key`'s archive entries, relative to the cycle's directory."""
    directory = cycle_dir(key.district_id, key.school_year)
    return [f"{name}/{path}" for name in _entries_of(dest, key) for path in dest.files(f"{directory}/{name}")]


@dataclass(frozen=True)
class _DeletionCertificate:
    """What purge and a re-run of certify take from a cycle's signed certificate of deletion."""

    sha256: str
    digests: dict[str, str]  # product -> manifest digest (what a purge re-run after the manifests certifies)
    retention_until: dt.date


def _deletion_certificate(
    dest: Destination, cycle: Cycle, key: Ed25519PrivateKey
) -> _DeletionCertificate | None:
    """The cycle's certificate of deletion, if there is one; StepFailed if it does not verify."""
    path = f"{cycle.directory}/{certificate.DELETION_JSON}"
    if not dest.exists(path):
        return None
    with dest.open_read(path) as fh:
        raw = fh.read()
    try:
        body = certificate.verify(raw, key.public_key())
    except certificate.CertificateInvalid as exc:
        raise StepFailed(f"{dest.uri}/{path} does not verify with the certificate key: {exc}") from None
    return _DeletionCertificate(
        sha256=hashlib.sha256(raw).hexdigest(),
        digests={str(a["product"]): str(a["manifestDigest"]) for a in body.get("archives", [])},
        retention_until=dt.date.fromisoformat(str(body["retentionUntil"])),
    )


def _refuse_a_shorter_promise(
    dest: Destination, cycle: Cycle, key: Ed25519PrivateKey, retention_until: dt.date
) -> None:
    """StepFailed if the cycle is already certified with a later retention date (a longer one is kept)."""
    existing = _deletion_certificate(dest, cycle, key)
    if existing is not None and retention_until < existing.retention_until:
        raise StepFailed(
            f"the certificate of deletion already keeps the archive until {existing.retention_until}; "
            f"refusing to shorten it to {retention_until}"
        )


def _write(
    dest: Destination,
    cycle: Cycle,
    body: dict[str, Any],
    key: Ed25519PrivateKey,
    json_name: str,
    html_name: str,
) -> tuple[str, str]:
    """Write the signed certificate and its rendering; its location and SHA-256 (status links both)."""
    signed = certificate.sign(body, key)
    dest.put(f"{cycle.directory}/{html_name}", certificate.render_html(signed))
    dest.put(f"{cycle.directory}/{json_name}", signed)  # last: its presence means both are written
    return f"{dest.uri.rstrip('/')}/{cycle.directory}/{json_name}", hashlib.sha256(signed).hexdigest()


def _timestamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
