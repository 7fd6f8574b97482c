"""age encryption of archive files (X25519 recipients, via pyrage): public keys write, private keys read.

The archive and reset Jobs get only recipients (`age1…`, public keys) in ARCHIVE_RECIPIENTS, so they
can write an archive but never read one back; restore and export take an identity file (the private
key, `AGE-SECRET-KEY-1…`) that only the people handing data back to a district hold. Both directions
stream: pyrage pulls plaintext from a reader and pushes ciphertext to a writer 64 KiB at a time, so
memory stays flat whatever the file's size.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pyrage
from pyrage import x25519

from rollover.jobs.errors import StepFailed, UsageError

RECIPIENTS_ENV = "ARCHIVE_RECIPIENTS"
SUFFIX = ".age"


def fingerprint(recipient: x25519.Recipient) -> str:
    """A short, stable name of a public key for manifests and certificates: `sha256:` and 16 hex digits
    of the SHA-256 of its `age1…` form (age itself defines no fingerprint)."""
    return "sha256:" + hashlib.sha256(str(recipient).encode()).hexdigest()[:16]


def parse_recipients(raw: str) -> tuple[x25519.Recipient, ...]:
    """Comma-separated `age1…` recipients; UsageError naming the malformed entry by position."""
    entries = [entry.strip() for entry in raw.split(",") if entry.strip()]
    if not entries:
        raise UsageError(f"{RECIPIENTS_ENV} is set but names no recipient (comma-separated age1… keys)")
    recipients = []
    for position, entry in enumerate(entries, start=1):
        if entry.upper().startswith("AGE-SECRET-KEY-"):  # never echo it: it is the private key
            raise UsageError(
                f"{RECIPIENTS_ENV} entry {position} is a private key (AGE-SECRET-KEY-…): a Job that writes "
                "archives gets public keys (age1…) only"
            )
        try:
            recipients.append(x25519.Recipient.from_str(entry))
        except pyrage.RecipientError:
            raise UsageError(
                f"{RECIPIENTS_ENV} entry {position} is not an age X25519 recipient (age1…)"
            ) from None
    return tuple(recipients)


def recipients_from(env: Mapping[str, str]) -> tuple[x25519.Recipient, ...]:
    """The recipients of ARCHIVE_RECIPIENTS; empty when it is unset (the archive is not encrypted)."""
    raw = env.get(RECIPIENTS_ENV, "")
    return parse_recipients(raw) if raw.strip() else ()


def read_identities(path: Path) -> list[x25519.Identity]:
    """The X25519 identities of an age identity file (as `age-keygen` writes it: comments and keys)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--identity-file {path}: {exc.strerror}") from None
    identities = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            identities.append(x25519.Identity.from_str(line))
        except pyrage.IdentityError:
            raise UsageError(f"--identity-file {path}: a line is not an age X25519 identity") from None
    if not identities:
        raise UsageError(f"--identity-file {path} holds no age identity (AGE-SECRET-KEY-1…)")
    return identities


class PullReader(io.RawIOBase):
    """A readable stream over `fill`, a callable returning the next bytes (b"" at the end); remembers
    the first error `fill` raised, which pyrage would report only as an I/O error of its own."""

    def __init__(self, fill: Callable[[], bytes]) -> None:
        self._fill = fill
        self._pending = memoryview(b"")
        self.error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            try:
                data = self._fill()
            except BaseException as exc:
                self.error = exc
                raise
            if not data:
                return 0
            self._pending = memoryview(data)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


class PushWriter(io.RawIOBase):
    """A writable stream handing every write to `emit`; remembers the first error `emit` raised, since
    pyrage reports a failed write only as "failed to write whole buffer"."""

    def __init__(self, emit: Callable[[bytes], None]) -> None:
        self._emit = emit
        self.error: BaseException | None = None

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        try:
            self._emit(bytes(data))
        except BaseException as exc:
            self.error = exc
            raise
        return len(data)


def encrypt_stream(
    fill: Callable[[], bytes], emit: Callable[[bytes], None], recipients: Sequence[x25519.Recipient]
) -> None:
    """Encrypt what `fill` yields to `recipients`, handing the ciphertext to `emit` as it is produced."""
    reader, writer = PullReader(fill), PushWriter(emit)
    try:
        pyrage.encrypt_io(reader, writer, list(recipients))
    except (pyrage.EncryptError, OSError):
        _raise_callback_error(reader, writer)
        raise


def decrypt_stream(
    fill: Callable[[], bytes],
    emit: Callable[[bytes], None],
    identities: Sequence[x25519.Identity],
    name: str,
) -> None:
    """Decrypt what `fill` yields with `identities`, handing the plaintext to `emit`; StepFailed (naming
    `name`) when no identity opens it or the ciphertext was altered (age authenticates every 64 KiB
    chunk, so an altered file fails part-way: `emit` must not publish what it got until this returns)."""
    reader, writer = PullReader(fill), PushWriter(emit)
    try:
        pyrage.decrypt_io(reader, writer, list(identities))
    except (pyrage.DecryptError, OSError) as exc:
        _raise_callback_error(reader, writer)
        raise StepFailed(
            f"{name} cannot be decrypted with the given identity (wrong key, or the file was altered): {exc}"
        ) from None


def _raise_callback_error(reader: PullReader, writer: PushWriter) -> None:
    """Re-raise what our own reader or writer raised inside pyrage, if that is why it failed."""
    for error in (reader.error, writer.error):
        if error is not None:
            raise error from None
