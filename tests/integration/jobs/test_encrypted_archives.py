"""Encrypted archives, restore, export, certificates and purge: on the real PostgreSQL, against a local
volume (file://) and the real S3 server (SeaweedFS, s3://) alike."""

from __future__ import annotations

import gzip
import json
import stat
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pyrage import x25519

from rollover.cli.main import main as rollover
from rollover.devcluster.keys import new_signing_key
from rollover.devcluster.s3 import S3Endpoint, S3Server
from rollover.jobs.certify import UNRECORDED_VERSION
from rollover.jobs.destination import Destination, open_destination
from rollover.jobs.encryption import fingerprint
from rollover.jobs.version import running_as
from tests.integration.jobs.conftest import DISTRICT, YEAR, Store

pytestmark = pytest.mark.integration

PRODUCT = "imagine-math"


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Endpoint]:
    """One real SeaweedFS for the session (never skipped: if it cannot be built or started, tests error)."""
    with S3Server() as endpoint:
        yield endpoint


@dataclass
class Archive:
    """Where a test's archives go: its ARCHIVE_URI and the environment that reaches it."""

    uri: str
    env: dict[str, str]

    @property
    def dest(self) -> Destination:
        return open_destination(self.uri, self.env)

    def read(self, path: str) -> bytes:
        with self.dest.open_read(path) as fh:
            return fh.read()

    def names(self, product: str = PRODUCT) -> list[str]:
        return self.dest.list(f"{DISTRICT}/{YEAR}/{product}")


@pytest.fixture(params=["file", "s3"])
def archive(request: pytest.FixtureRequest, store: Store) -> Archive:
    if request.param == "file":
        return Archive(store.archive_root.as_uri(), {})
    endpoint: S3Endpoint = request.getfixturevalue("s3")
    return Archive(f"{endpoint.uri}/{uuid.uuid4().hex}", endpoint.env())


@dataclass(frozen=True)
class Keys:
    identity_file: Path
    recipient: str
    other_identity_file: Path
    signing_key: Path
    public_key: Path


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    identity, other = x25519.Identity.generate(), x25519.Identity.generate()
    (tmp_path / "identity.txt").write_text(f"# archive key\n{identity}\n")
    (tmp_path / "other.txt").write_text(f"{other}\n")
    new_signing_key(tmp_path / "signing.pem", tmp_path / "public.pem")
    return Keys(
        tmp_path / "identity.txt",
        str(identity.to_public()),
        tmp_path / "other.txt",
        tmp_path / "signing.pem",
        tmp_path / "public.pem",
    )


def run(store: Store, archive: Archive, step: str, *args: str, product: str = PRODUCT, **env: str) -> Any:
    return store.run(step, product, *args, ARCHIVE_URI=archive.uri, **archive.env, **env)


def rows_of(store: Store, table: str, schema: str | None = None, product: str = PRODUCT) -> list[str]:
    """Every row of the district's product rows in `table` (or its copy in `schema`), as text, sorted."""
    name = table if schema is None else f"{schema}.{table.split('.')[-1]}"
    return [
        r[0]
        for r in store.query(
            f"SELECT t::text FROM {name} t WHERE district_id = %s AND product = %s ORDER BY 1",
            (DISTRICT, product),
        )
    ]


def test_an_encrypted_archive_is_unreadable_without_the_key_and_restores_row_for_row_with_it(
    store: Store, archive: Archive, keys: Keys, tmp_path: Path
) -> None:
    code, result = run(store, archive, "archive", ARCHIVE_RECIPIENTS=keys.recipient)
    assert code == 0, result
    manifest = json.loads(archive.read(f"{DISTRICT}/{YEAR}/{PRODUCT}/manifest.json"))
    assert manifest["encryption"] == {
        "format": "age",
        "recipients": [fingerprint(x25519.Recipient.from_str(keys.recipient))],
    }
    assert result["encryptedTo"] == manifest["encryption"]["recipients"]
    stored = [f["name"] for f in manifest["files"]]
    assert stored and all(name.endswith(".age") for name in stored)
    assert sorted(archive.names()) == sorted([*stored, "manifest.json"])
    given_name = store.query(
        "SELECT given_name FROM roster.users WHERE district_id = %s LIMIT 1", (DISTRICT,)
    )[0][0]
    for name in stored:  # ciphertext: neither gzip nor CSV nor a student's name
        data = archive.read(f"{DISTRICT}/{YEAR}/{PRODUCT}/{name}")
        assert data.startswith(b"age-encryption.org/v1\n")
        assert given_name.encode() not in data
        with pytest.raises(gzip.BadGzipFile):
            gzip.decompress(data)
    if archive.uri.startswith("file:"):  # private on a volume: 0600 files in 0700 directories
        for path in [store.archive_root / DISTRICT, *(store.archive_root / DISTRICT).rglob("*")]:
            assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path
    tables = [t["table"] for t in manifest["tables"]]
    before = {t: rows_of(store, t) for t in tables}

    code, result = run(store, archive, "reset")  # proves the archive without any private key
    assert code == 0, result
    assert all(store.count(t, PRODUCT) == 0 for t in tables)

    code, result = run(store, archive, "restore", "--into-schema", "restored")
    assert code == 2
    assert "encrypted" in result["error"]
    assert "--identity-file" in result["error"]
    code, result = run(
        store,
        archive,
        "restore",
        "--identity-file",
        str(keys.other_identity_file),
        "--into-schema",
        "restored",
    )
    assert code == 1
    assert "cannot be decrypted with the given identity" in result["error"]
    assert not store.query("SELECT 1 FROM pg_namespace WHERE nspname = 'restored'")

    code, result = run(
        store, archive, "restore", "--identity-file", str(keys.identity_file), "--into-schema", "restored"
    )
    assert code == 0, result
    assert result["rows"] == {t["table"]: t["rows"] for t in manifest["tables"]}
    for table in tables:
        assert rows_of(store, table, "restored") == before[table], table

    out = tmp_path / "handover"
    code, result = run(
        store, archive, "export", "--identity-file", str(keys.identity_file), "--out", str(out)
    )
    assert code == 0, result
    exported = Path(result["file"])
    assert exported.parent == out
    assert stat.S_IMODE(exported.stat().st_mode) == 0o600
    lines = exported.read_text().splitlines()
    assert len(lines) == manifest["studentDataExport"]["rows"] + 1
    assert "givenName" in lines[0]


def test_tampered_ciphertext_is_refused_at_reset_and_at_restore(
    store: Store, archive: Archive, keys: Keys
) -> None:
    assert run(store, archive, "archive", ARCHIVE_RECIPIENTS=keys.recipient)[0] == 0
    name = "imagine_math.usage_records.csv.gz.age"
    path = f"{DISTRICT}/{YEAR}/{PRODUCT}/{name}"
    data = bytearray(archive.read(path))
    data[len(data) // 2] ^= 0x01
    archive.dest.remove_tree(path)
    archive.dest.put(path, bytes(data))
    rows_before = store.count("imagine_math.usage_records", PRODUCT)

    code, result = run(store, archive, "reset")

    assert code == 1
    assert f"{name} has changed" in result["error"]
    assert "nothing was deleted" in result["error"]
    assert store.count("imagine_math.usage_records", PRODUCT) == rows_before
    code, result = run(
        store, archive, "restore", "--identity-file", str(keys.identity_file), "--into-schema", "restored"
    )
    assert code == 1
    assert name in result["error"]
    assert not store.query("SELECT 1 FROM pg_namespace WHERE nspname = 'restored'")


#: A retention that has already ended by the wall clock (the Jobs run on it): the purge may run now.
KEPT_UNTIL = "2026-07-19"


def test_the_certificate_of_deletion_verifies_any_edit_breaks_it_and_purge_leaves_nothing_but_proof(
    store: Store, archive: Archive, keys: Keys, tmp_path: Path
) -> None:
    products = ("imagine-math", "twig-science")
    signing = {"CERTIFICATE_KEY_FILE": str(keys.signing_key)}
    for product in products:
        assert run(store, archive, "archive", product=product, ARCHIVE_RECIPIENTS=keys.recipient)[0] == 0
    stored = {p: archive.dest.files(f"{DISTRICT}/{YEAR}/{p}") for p in products}
    assert all("manifest.json" in files for files in stored.values())
    code, result = run(
        store, archive, "certify", product=",".join(products), RETENTION_UNTIL=KEPT_UNTIL, **signing
    )
    assert code == 1  # no reset yet
    assert "has not been reset" in result["error"]
    for product in products:
        assert run(store, archive, "reset", product=product)[0] == 0

    code, result = run(
        store, archive, "certify", product=",".join(products), RETENTION_UNTIL=KEPT_UNTIL, **signing
    )

    assert code == 0, result
    raw = archive.read(f"{DISTRICT}/{YEAR}/certificate.json")
    body = json.loads(raw)["certificate"]
    assert (body["kind"], body["districtId"], body["schoolYear"]) == ("deletion", DISTRICT, YEAR)
    assert body["products"] == list(products)
    assert body["retentionUntil"] == KEPT_UNTIL
    twig = next(a for a in body["archives"] if a["product"] == "twig-science")
    kept = {t["table"]: t["kept"] for t in twig["tables"]}
    assert kept["twig.student_answers"] > 0 and kept["twig.classes"] == 0
    assert body["totals"]["deleted"] == sum(t["deleted"] for a in body["archives"] for t in a["tables"]) > 0
    # The versions that ran: each product's archive and reset, and the certify step.
    assert [(a["archivedBy"], a["resetBy"]) for a in body["archives"]] == [(running_as(), running_as())] * 2
    assert body["issuedBy"] == running_as()
    rendered = archive.read(f"{DISTRICT}/{YEAR}/certificate.html")
    assert b"Certificate of deletion" in rendered and b"<th>resetBy</th>" in rendered
    local = tmp_path / "certificate.json"
    local.write_bytes(raw)
    assert rollover(["verify-certificate", str(local), "--public-key", str(keys.public_key)]) == 0
    for position in (0, len(raw) // 3, len(raw) // 2, len(raw) - 2):
        edited = bytearray(raw)
        edited[position] ^= 0x01
        local.write_bytes(bytes(edited))
        assert rollover(["verify-certificate", str(local), "--public-key", str(keys.public_key)]) == 1

    code, result = run(
        store, archive, "certify", product=",".join(products), RETENTION_UNTIL="2026-07-01", **signing
    )
    assert code == 1 and "refusing to shorten it to 2026-07-01" in result["error"]
    assert archive.read(f"{DISTRICT}/{YEAR}/certificate.json") == raw

    code, result = run(store, archive, "purge", product=",".join(products), **signing)

    assert code == 0, result
    assert archive.dest.files(DISTRICT) == [
        f"{YEAR}/{name}"
        for name in (
            "certificate.html",
            "certificate.json",
            "purge-certificate.html",
            "purge-certificate.json",
        )
    ]
    assert result["deleted"] == {product: len(files) for product, files in stored.items()}
    for product in products:
        assert not archive.dest.exists(f"{DISTRICT}/{YEAR}/{product}/manifest.json")
    purge_raw = archive.read(f"{DISTRICT}/{YEAR}/purge-certificate.json")
    local.write_bytes(purge_raw)
    assert rollover(["verify-certificate", str(local), "--public-key", str(keys.public_key)]) == 0
    purge = json.loads(purge_raw)["certificate"]
    assert purge["kind"] == "purge"
    assert {a["product"]: a["manifestDigest"] for a in purge["archives"]} == {
        a["product"]: a["manifestDigest"] for a in body["archives"]
    }
    assert all(a["verifiedAbsent"] for a in purge["archives"])

    code, again = run(store, archive, "purge", product=",".join(products), **signing)  # after a crash
    assert code == 0, again
    assert (
        json.loads(archive.read(f"{DISTRICT}/{YEAR}/purge-certificate.json"))["certificate"]["archives"][0][
            "manifestDigest"
        ]
        == purge["archives"][0]["manifestDigest"]
    )


def test_a_reset_recorded_before_versions_were_kept_is_certified_as_not_recorded(
    store: Store, keys: Keys
) -> None:
    archive = Archive(store.archive_root.as_uri(), {})
    assert run(store, archive, "archive")[0] == 0
    assert run(store, archive, "reset")[0] == 0
    store.query("UPDATE rollover.resets SET reset_by = NULL")  # as migration 0006 leaves earlier resets

    code, result = run(
        store, archive, "certify", RETENTION_UNTIL="2027-07-19", CERTIFICATE_KEY_FILE=str(keys.signing_key)
    )

    assert code == 0, result
    (facts,) = json.loads(archive.read(f"{DISTRICT}/{YEAR}/certificate.json"))["certificate"]["archives"]
    assert facts["resetBy"] == UNRECORDED_VERSION

    # Kept until 2027-07-19: a purge before that day ended everywhere is refused, whoever made the Job.
    before = archive.dest.files(DISTRICT)
    code, result = run(store, archive, "purge", CERTIFICATE_KEY_FILE=str(keys.signing_key))
    assert code == 1
    assert "until 2027-07-19: no purge before 2027-07-20T12:00:00Z" in result["error"]
    assert archive.dest.files(DISTRICT) == before
