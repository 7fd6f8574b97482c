"""Signed certificates: any changed byte fails verification; the HTML escapes what it shows."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from rollover.jobs.certificate import FORMAT, CertificateInvalid, render_html, sign, verify

pytestmark = pytest.mark.unit

KEY = Ed25519PrivateKey.generate()
BODY = {
    "format": FORMAT,
    "kind": "deletion",
    "districtId": "d1",
    "schoolYear": "2025-2026",
    "products": ["twig-science"],
    "archives": [
        {
            "product": "twig-science",
            "location": "s3://bucket/d1/2025-2026/twig-science",
            "tables": [{"table": "twig.classes<script>", "archived": 3, "deleted": 3, "kept": 0}],
        }
    ],
    "retentionUntil": "2027-07-19",
}
SIGNED = sign(BODY, KEY)


def test_a_signed_certificate_verifies_with_its_key_only() -> None:
    assert verify(SIGNED, KEY.public_key()) == BODY
    with pytest.raises(CertificateInvalid, match="not by the given key"):
        verify(SIGNED, Ed25519PrivateKey.generate().public_key())


@given(st.integers(min_value=0, max_value=len(SIGNED) - 1), st.integers(min_value=1, max_value=255))
def test_any_changed_byte_fails_verification(position: int, flip: int) -> None:
    edited = bytearray(SIGNED)
    edited[position] ^= flip

    with pytest.raises(CertificateInvalid):
        verify(bytes(edited), KEY.public_key())


def test_a_signature_in_another_base64_spelling_of_the_same_bytes_fails() -> None:
    document = json.loads(SIGNED)
    value = document["signature"]["value"]
    assert value.endswith("==")  # 64 bytes: the last character before the padding carries 4 unused bits
    last = value[-3]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    same_bytes = alphabet[alphabet.index(last) ^ 1]  # a flipped unused bit: decodes to the same signature
    document["signature"]["value"] = value[:-3] + same_bytes + "=="
    edited = json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False).encode() + b"\n"

    with pytest.raises(CertificateInvalid, match="signature does not match"):
        verify(edited, KEY.public_key())


def test_a_reformatted_or_re_signed_by_another_key_certificate_fails() -> None:
    document = json.loads(SIGNED)
    with pytest.raises(CertificateInvalid, match="altered after signing"):
        verify(json.dumps(document).encode(), KEY.public_key())  # same values, other bytes
    document["certificate"]["archives"][0]["tables"][0]["deleted"] = 2
    with pytest.raises(CertificateInvalid, match="does not match"):
        verify(json.dumps(document, sort_keys=True, indent=2).encode() + b"\n", KEY.public_key())


def test_the_rendered_document_escapes_every_value() -> None:
    page = render_html(SIGNED).decode()

    assert "twig.classes&lt;script&gt;" in page and "<script>" not in page
    assert "Certificate of deletion: d1, 2025-2026" in page
