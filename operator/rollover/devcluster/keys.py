"""Key files for the demo and the tests: private ones created 0600, never briefly wider."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def new_signing_key(private_pem: Path, public_pem: Path) -> None:
    """A fresh Ed25519 certificate signing key: the private half as PKCS#8 PEM (what
    CERTIFICATE_KEY_FILE reads), the public half as the PEM `rollover verify-certificate` takes."""
    signing = Ed25519PrivateKey.generate()
    write_private(
        private_pem,
        signing.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )
    public_pem.write_bytes(
        signing.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
