"""Signed certificates: of deletion (after a cycle's resets) and of purge (after its archive is destroyed).

A certificate file is JSON: `{"certificate": BODY, "signature": {...}}`. The signature is Ed25519 over
the canonical JSON of BODY (keys sorted, no whitespace, UTF-8), and the file itself is one fixed
rendering of the whole document (sorted keys, two-space indent, trailing newline). Verification
requires both: the signature over the body, and the file's bytes equal to the rendering of what they
parse to, so that any changed byte fails, not only a changed value. The rendered HTML beside it is for
people to file; the JSON is the evidence.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import json
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

FORMAT = "rollover-certificate/1"
ALGORITHM = "Ed25519"
KEY_FILE_ENV = "CERTIFICATE_KEY_FILE"
DELETION_JSON, DELETION_HTML = "certificate.json", "certificate.html"
PURGE_JSON, PURGE_HTML = "purge-certificate.json", "purge-certificate.html"


class CertificateInvalid(Exception):
    """The file is not a certificate this key signed, byte for byte; the message says what failed."""


class KeyUnusable(Exception):
    """A key file that cannot be read or is not an Ed25519 key in PEM."""


def canonical(value: Any) -> bytes:
    """The bytes that are signed: JSON with sorted keys and no whitespace."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def render(document: dict[str, Any]) -> bytes:
    """The one rendering of a certificate file."""
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False).encode() + b"\n"


def key_fingerprint(key: Ed25519PublicKey) -> str:
    """`sha256:` and 16 hex digits of the SHA-256 of the raw public key."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()[:16]


def sign(body: dict[str, Any], key: Ed25519PrivateKey) -> bytes:
    """The certificate file of `body`, signed with `key`."""
    signature = {
        "algorithm": ALGORITHM,
        "publicKey": key_fingerprint(key.public_key()),
        "value": base64.b64encode(key.sign(canonical(body))).decode(),
    }
    return render({"certificate": body, "signature": signature})


def verify(raw: bytes, key: Ed25519PublicKey) -> dict[str, Any]:
    """The certificate's body if `raw` is a certificate file signed by `key`; CertificateInvalid if not."""
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CertificateInvalid(f"not JSON: {exc}") from None
    if not isinstance(document, dict) or set(document) != {"certificate", "signature"}:
        raise CertificateInvalid("not a certificate: expected exactly the keys certificate and signature")
    body, signature = document["certificate"], document["signature"]
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise CertificateInvalid(f"not a {FORMAT} certificate")
    if not isinstance(signature, dict) or signature.get("algorithm") != ALGORITHM:
        raise CertificateInvalid(f"the signature is not {ALGORITHM}")
    if signature.get("publicKey") != key_fingerprint(key):
        raise CertificateInvalid(
            f"signed by key {signature.get('publicKey')}, not by the given key {key_fingerprint(key)}"
        )
    encoded = str(signature.get("value"))
    try:
        value = base64.b64decode(encoded, validate=True)
        # The padding bits of the last base64 character do not reach the decoded bytes: only the one
        # encoding `sign` writes is accepted, so that no changed byte of the file still verifies.
        if base64.b64encode(value).decode() != encoded:
            raise binascii.Error("not the canonical base64 of the signature")
        key.verify(value, canonical(body))
    except (binascii.Error, InvalidSignature):
        raise CertificateInvalid("the signature does not match the certificate's content") from None
    if raw != render(document):
        raise CertificateInvalid("the file was altered after signing (it is not the signed rendering)")
    return body


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key of a PEM file (PKCS#8, unencrypted, as `openssl genpkey` writes it)."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise KeyUnusable(f"{path}: {exc.strerror}") from None
    except (ValueError, TypeError):
        raise KeyUnusable(f"{path} is not an unencrypted private key in PEM") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyUnusable(f"{path} is not an Ed25519 key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The Ed25519 public key of a PEM file (SubjectPublicKeyInfo, `openssl pkey -pubout`)."""
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError as exc:
        raise KeyUnusable(f"{path}: {exc.strerror}") from None
    except ValueError:
        raise KeyUnusable(f"{path} is not a public key in PEM") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyUnusable(f"{path} is not an Ed25519 key")
    return key


# --- the document people file ----------------------------------------------------------------------

_TITLES = {"deletion": "Certificate of deletion", "purge": "Certificate of archive destruction"}


def render_html(certificate_file: bytes) -> bytes:
    """A self-contained HTML page stating a signed certificate's content, every value escaped."""
    document = json.loads(certificate_file)
    body: dict[str, Any] = document["certificate"]
    e = html.escape
    title = f"{_TITLES.get(str(body.get('kind')), 'Certificate')}: {body['districtId']}, {body['schoolYear']}"
    rows = []
    for archive in body.get("archives", []):
        facts = "".join(
            f"<tr><th>{e(str(k))}</th><td>{e(_text(v))}</td></tr>"
            for k, v in archive.items()
            if k != "tables"
        )
        tables = "".join(
            "<tr>"
            + "".join(f"<td>{e(_text(t[c]))}</td>" for c in ("table", "archived", "deleted", "kept"))
            + "</tr>"
            for t in archive.get("tables", [])
        )
        table_block = (
            "<table><tr><th>table</th><th>rows archived</th><th>rows deleted</th><th>rows kept</th></tr>"
            f"{tables}</table>"
            if tables
            else ""
        )
        rows.append(f"<h2>{e(str(archive.get('product')))}</h2><table>{facts}</table>{table_block}")
    summary = "".join(
        f"<tr><th>{e(k)}</th><td>{e(_text(v))}</td></tr>" for k, v in body.items() if k != "archives"
    )
    signature = document["signature"]
    style = (
        "body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "table{border-collapse:collapse;margin:1em 0}"
        "th,td{border:1px solid #999;padding:.2em .6em;text-align:left}"
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title><style>{style}</style></head>
<body><h1>{e(title)}</h1><table>{summary}</table>{"".join(rows)}
<p>Signed ({e(str(signature["algorithm"]))}) by key {e(str(signature["publicKey"]))}.
This page is a rendering; the evidence is the JSON file beside it:
<code>rollover verify-certificate FILE --public-key KEY.pem</code> checks it offline.</p></body></html>
"""
    return page.encode()


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(map(_text, value))
    return "" if value is None else str(value)
