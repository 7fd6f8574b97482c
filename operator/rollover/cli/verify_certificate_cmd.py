"""`rollover verify-certificate FILE --public-key PEM`: check a certificate of deletion or purge offline.

Exit 0 when FILE is, byte for byte, a certificate signed by the key; 1 when it is not, or cannot be
read. A district administrator needs only the file and the operator's published public key.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rollover.jobs.certificate import CertificateInvalid, KeyUnusable, load_public_key, verify

EXIT_VALID = 0
EXIT_INVALID = 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `rollover verify-certificate`."""
    parser = subparsers.add_parser(
        "verify-certificate",
        help="verify a signed certificate of deletion or purge",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="certificate.json or purge-certificate.json")
    parser.add_argument(
        "--public-key", type=Path, required=True, metavar="PEM", help="the signer's Ed25519 public key"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Verify; print one line saying what was found; returns the exit status."""
    try:
        key = load_public_key(args.public_key)
        body = verify(args.file.read_bytes(), key)
    except (KeyUnusable, CertificateInvalid) as exc:
        print(f"{args.file}: NOT VALID: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as exc:
        print(f"{args.file}: NOT VALID: cannot read it: {exc.strerror}", file=sys.stderr)
        return EXIT_INVALID
    print(
        f"{args.file}: valid {body.get('kind')} certificate for {body.get('districtId')} "
        f"{body.get('schoolYear')} ({', '.join(map(str, body.get('products', [])))})"
    )
    return EXIT_VALID
