"""The archive's manifest.json: what was archived, from which snapshot, and how to prove the files.

Layout: ARCHIVE_URI/<district>/<school-year>/<product>/ holds one gzip CSV per table, the Student
Data Export (products that have one) and manifest.json, written last. A table's `digest` is the
SHA-256 of its CSV before compression (`zcat FILE | sha256sum`); each file's `sha256` is of the file
as stored. Checking an archive checks both: a file's sha256 only proves the file is the one the
manifest lists, and whoever can rewrite a file can rewrite its sha256 beside it; the digest re-derived
from the file's decompressed content proves the file holds the rows the manifest describes, which the
reset in turn compares with the rows it is about to delete.

An encrypted archive (`encryption` set: age, to the recipients whose fingerprints it lists) stores
each file as `<name>.age`; its `sha256` is of the ciphertext. Without the private key the content
digest cannot be re-derived, so checking such an archive proves the files are the ones written (age
authenticates every chunk: altered ciphertext also fails to decrypt), and the reset's comparison of the
database with each table's `digest` proves the rows; restore, which has the key, checks both.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import BinaryIO, Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from rollover.jobs.config import ArchiveKey
from rollover.jobs.destination import MANIFEST, Destination
from rollover.jobs.errors import StepFailed
from rollover.jobs.filesink import DEFLATE, GZIP_WBITS

FORMAT: Literal["rollover-archive/1"] = "rollover-archive/1"
READ_CHUNK = 1 << 20


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class ArchivedFile(_Model):
    name: str
    size: int
    sha256: str


class ArchivedTable(_Model):
    table: str
    kind: str
    file: str
    rows: int
    digest: str
    deleted_by_reset: bool


class Encryption(_Model):
    format: Literal["age"] = "age"
    recipients: tuple[str, ...]  # fingerprints (rollover.jobs.encryption.fingerprint), not the keys


class StudentDataExport(_Model):
    file: str
    rows: int


class Manifest(_Model):
    format: Literal["rollover-archive/1"] = FORMAT
    district_id: str
    school_year: str
    product: str
    reset_date: dt.date
    schema_version: int
    snapshot_time: dt.datetime
    created_at: dt.datetime
    created_by: str
    tables: tuple[ArchivedTable, ...]
    student_data_export: StudentDataExport | None
    files: tuple[ArchivedFile, ...]
    encryption: Encryption | None = None

    def digest(self) -> str:
        """One digest for the whole archive: over every table's name, row count and digest."""
        lines = "".join(
            f"{t.table} {t.rows} {t.digest}\n" for t in sorted(self.tables, key=lambda t: t.table)
        )
        return hashlib.sha256(lines.encode()).hexdigest()

    def to_json(self) -> bytes:
        return json.dumps(self.model_dump(mode="json", by_alias=True), indent=2).encode() + b"\n"


def cycle_dir(district_id: str, school_year: str) -> str:
    """The cycle's directory, relative to ARCHIVE_URI: each product's archive, its superseded copies
    and its staging directories are entries of it."""
    return f"{district_id}/{school_year}"


def archive_dir(target: ArchiveKey) -> str:
    """Where the target's archive lives, relative to ARCHIVE_URI."""
    return f"{cycle_dir(target.district_id, target.school_year)}/{target.product}"


def superseded_prefix(target: ArchiveKey) -> str:
    """How the names of the target's superseded archives begin (then the snapshot time), in its cycle's
    directory."""
    return f"{target.product}.superseded-"


def staging_prefix(target: ArchiveKey) -> str:
    """How the names of the target's staging directories begin (then a run's uuid), in its cycle's
    directory."""
    return f".{target.product}.partial-"


def is_archive_entry(target: ArchiveKey, name: str) -> bool:
    """Whether `name`, an entry of the cycle's directory, belongs to the target's archive: the archive
    itself, a superseded copy, or the staging directory of an interrupted run."""
    return name == target.product or name.startswith((superseded_prefix(target), staging_prefix(target)))


def location(dest: Destination, target: ArchiveKey) -> str:
    """The archive's full URI, for messages and results."""
    return f"{dest.uri.rstrip('/')}/{archive_dir(target)}"


def read_manifest_and_sha256(dest: Destination, target: ArchiveKey) -> tuple[Manifest, str] | None:
    """The manifest of the target's complete archive and the SHA-256 of the very bytes it was parsed
    from, None if there is none; StepFailed if it is unreadable or describes another district, year or
    product."""
    path = f"{archive_dir(target)}/{MANIFEST}"
    if not dest.exists(path):
        return None
    with dest.open_read(path) as fh:
        raw = fh.read()
    try:
        manifest = Manifest.model_validate_json(raw)
    except ValidationError as exc:
        raise StepFailed(f"{dest.uri}/{path} is not a valid manifest: {exc.errors()[0]['msg']}") from None
    found = (manifest.district_id, manifest.school_year, manifest.product)
    if found != (target.district_id, target.school_year, target.product):
        raise StepFailed(f"{dest.uri}/{path} describes {'/'.join(found)}, not {archive_dir(target)}")
    return manifest, hashlib.sha256(raw).hexdigest()


def read_manifest(dest: Destination, target: ArchiveKey) -> Manifest | None:
    """The manifest of the target's complete archive, None if there is none; StepFailed if it is
    unreadable or describes another district, year or product."""
    found = read_manifest_and_sha256(dest, target)
    return None if found is None else found[0]


def require_manifest_and_sha256(
    dest: Destination, target: ArchiveKey, consequence: str = ""
) -> tuple[Manifest, str]:
    """As read_manifest_and_sha256, but StepFailed if there is none (then `consequence`)."""
    found = read_manifest_and_sha256(dest, target)
    if found is None:
        raise StepFailed(
            f"no complete archive at {location(dest, target)} (no {MANIFEST})"
            + (f": {consequence}" if consequence else "")
        )
    return found


def require_manifest(dest: Destination, target: ArchiveKey, consequence: str = "") -> Manifest:
    """The manifest of the target's complete archive; StepFailed if there is none (then `consequence`),
    or as read_manifest."""
    return require_manifest_and_sha256(dest, target, consequence)[0]


def check_files(dest: Destination, target: ArchiveKey, manifest: Manifest, consequence: str = "") -> None:
    """Re-read every file of the manifest; StepFailed naming each missing or changed one."""
    problems = _file_problems(dest, archive_dir(target), manifest)
    if problems:
        raise StepFailed(
            f"the archive at {location(dest, target)} does not match its manifest: {'; '.join(problems)}"
            + (f"; {consequence}" if consequence else "")
        )


def _file_problems(dest: Destination, directory: str, manifest: Manifest) -> list[str]:
    # Plain archives re-derive each table's digest; encrypted ones cannot without the key.
    table_digests = {} if manifest.encryption else {t.file: t.digest for t in manifest.tables}
    problems = []
    for entry in manifest.files:
        path = f"{directory}/{entry.name}"
        if not dest.exists(path):
            problems.append(f"{entry.name} is missing")
            continue
        content = _GunzipDigest() if entry.name in table_digests else None
        with dest.open_read(path) as fh:
            reader = HashingReader(fh)
            while chunk := reader.read():
                if content is not None:
                    content.update(chunk)
        if (changed := reader.changed_from(entry)) is not None:
            problems.append(changed)
        elif content is not None and (digest := content.hexdigest()) != table_digests[entry.name]:
            problems.append(
                f"{entry.name} does not hold the archived rows (its CSV's digest {digest[:12]}…, "
                f"manifest {table_digests[entry.name][:12]}…)"
            )
    return problems


class HashingReader:
    """Reads `source` a chunk at a time, hashing and counting what passes through."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self.sha256 = hashlib.sha256()
        self.size = 0

    def read(self) -> bytes:
        data = self._source.read(READ_CHUNK)
        self.sha256.update(data)
        self.size += len(data)
        return data

    def changed_from(self, entry: ArchivedFile) -> str | None:
        """Once read to the end: None if what was read is the file `entry` lists, else how it differs."""
        if (self.size, self.sha256.hexdigest()) == (entry.size, entry.sha256):
            return None
        return (
            f"{entry.name} has changed (sha256 {self.sha256.hexdigest()[:12]}…, "
            f"manifest {entry.sha256[:12]}…)"
        )


class _GunzipDigest:
    """The SHA-256 of a gzip file's decompressed content, fed the file's bytes chunk by chunk."""

    def __init__(self) -> None:
        self._decompressor = DEFLATE.decompressobj(wbits=GZIP_WBITS)
        self._sha256 = hashlib.sha256()
        self._damaged = False

    def update(self, chunk: bytes) -> None:
        if self._damaged:
            return
        try:
            self._sha256.update(self._decompressor.decompress(chunk))
        except DEFLATE.error:
            self._damaged = True

    def hexdigest(self) -> str:
        """The digest; "not gzip" for a damaged, truncated or trailing-data file (matches no manifest)."""
        if self._damaged or not self._decompressor.eof or self._decompressor.unused_data:
            return "not gzip"
        return self._sha256.hexdigest()
