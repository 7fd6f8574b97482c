"""age encryption of archive files: recipients, the streaming sink, and restore's schema names."""

from __future__ import annotations

import gzip
import io
import os
import stat
from pathlib import Path

import pyrage
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyrage import x25519

from rollover.jobs.destination import LocalDestination
from rollover.jobs.encryption import decrypt_stream, fingerprint, parse_recipients, recipients_from
from rollover.jobs.errors import StepFailed, UsageError
from rollover.jobs.filesink import FileSink
from rollover.jobs.restore import parse_schema

pytestmark = pytest.mark.unit

IDENTITY = x25519.Identity.generate()
RECIPIENT = IDENTITY.to_public()


def test_recipients_are_comma_separated_age_keys_and_unset_means_no_encryption() -> None:
    other = x25519.Identity.generate().to_public()

    found = parse_recipients(f" {RECIPIENT} ,{other},")

    assert [str(r) for r in found] == [str(RECIPIENT), str(other)]
    assert recipients_from({}) == ()
    assert fingerprint(RECIPIENT).startswith("sha256:") and len(fingerprint(RECIPIENT)) == 23
    assert fingerprint(RECIPIENT) != fingerprint(other)


def test_a_private_key_given_as_recipient_is_refused_without_being_echoed() -> None:
    with pytest.raises(UsageError, match="entry 2 is a private key") as raised:
        parse_recipients(f"{RECIPIENT},{IDENTITY}")
    assert str(IDENTITY) not in str(raised.value)
    with pytest.raises(UsageError, match="entry 1 is not an age X25519 recipient"):
        parse_recipients("ssh-ed25519 AAAA")


def _sink_bytes(chunks: list[bytes], *, gzip_: bool) -> tuple[bytes, FileSink]:
    out = io.BytesIO()
    sink = FileSink(out, gzip=gzip_, recipients=(RECIPIENT,))
    for chunk in chunks:
        sink.write(chunk)
    written = sink.close()
    assert written.size == len(out.getvalue())
    return out.getvalue(), sink


@given(st.lists(st.binary(max_size=3000), max_size=20))
def test_the_sink_writes_the_age_encryption_of_the_gzip_stream(chunks: list[bytes]) -> None:
    stored, _ = _sink_bytes(chunks, gzip_=True)

    assert stored.startswith(b"age-encryption.org/v1\n")
    assert gzip.decompress(pyrage.decrypt(stored, [IDENTITY])) == b"".join(chunks)


def test_decryption_streams_and_refuses_a_wrong_key_or_a_changed_byte() -> None:
    plain = os.urandom(300_000)  # several 64 KiB age chunks
    stored, _ = _sink_bytes([plain[i : i + 70_000] for i in range(0, len(plain), 70_000)], gzip_=False)
    received: list[bytes] = []

    decrypt_stream(io.BytesIO(stored).read, received.append, [IDENTITY], "f.age")

    assert b"".join(received) == plain and len(received) > 1
    wrong = [x25519.Identity.generate()]
    with pytest.raises(StepFailed, match=r"f\.age cannot be decrypted"):
        decrypt_stream(io.BytesIO(stored).read, [].append, wrong, "f.age")
    changed = bytearray(stored)
    changed[len(changed) // 2] ^= 1
    with pytest.raises(StepFailed, match="altered"):
        decrypt_stream(io.BytesIO(bytes(changed)).read, [].append, [IDENTITY], "f.age")


def test_files_on_a_volume_are_private_to_the_job(tmp_path: Path) -> None:
    os.umask(0o022)
    dest = LocalDestination(tmp_path.as_uri(), tmp_path)

    with dest.open_write("d/y/.p.partial-1/t.csv.gz.age") as fh:
        fh.write(b"x")
    dest.move_tree("d/y/.p.partial-1", "d/y/p")
    dest.put("d/y/certificate.json", b"{}")

    for path in (tmp_path / "d").rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o700
    assert dest.files("d") == ["y/certificate.json", "y/p/t.csv.gz.age"]


@pytest.mark.parametrize("name", ["roster", "imagine_math", "pg_temp", "Restored", "1x", "a-b", ""])
def test_restore_never_writes_into_the_stores_own_schemas_or_odd_names(name: str) -> None:
    with pytest.raises(UsageError, match="--into-schema"):
        parse_schema(name)
    assert parse_schema("restored_2026") == "restored_2026"
