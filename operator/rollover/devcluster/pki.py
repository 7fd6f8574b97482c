"""Certificates and keys for the local control plane: a CA, the apiserver's serving cert,
the service-account signing key and an admin client certificate (group system:masters)."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = dt.timedelta(days=3650)


@dataclass(frozen=True)
class PkiPaths:
    """Where each PEM file lives in the state directory."""

    root: Path

    @property
    def ca_cert(self) -> Path:
        return self.root / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.root / "ca.key"

    @property
    def serving_cert(self) -> Path:
        return self.root / "apiserver.crt"

    @property
    def serving_key(self) -> Path:
        return self.root / "apiserver.key"

    @property
    def sa_key(self) -> Path:
        return self.root / "sa.key"

    @property
    def sa_pub(self) -> Path:
        return self.root / "sa.pub"

    @property
    def admin_cert(self) -> Path:
        return self.root / "admin.crt"

    @property
    def admin_key(self) -> Path:
        return self.root / "admin.key"

    def complete(self) -> bool:
        """True when every file exists (so a reused state directory keeps its identity)."""
        return all(
            p.exists()
            for p in (
                self.ca_cert,
                self.ca_key,
                self.serving_cert,
                self.serving_key,
                self.sa_key,
                self.sa_pub,
                self.admin_cert,
                self.admin_key,
            )
        )


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)


def _issue(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    is_ca: bool = False,
    usage: x509.ObjectIdentifier | None = None,
    sans: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
    )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attrs)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def ensure_pki(root: Path) -> PkiPaths:
    """Create the PKI under `root` unless a complete one is already there."""
    paths = PkiPaths(root)
    if paths.complete():
        return paths
    root.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("district-rollover-dev-ca")
    _write_key(paths.ca_key, ca_key)
    _write_cert(paths.ca_cert, _issue(ca_name, ca_key, ca_name, ca_key, is_ca=True))

    serving_key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.DNSName("kubernetes.default.svc"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("10.0.0.1")),  # the kubernetes Service IP
    ]
    _write_key(paths.serving_key, serving_key)
    _write_cert(
        paths.serving_cert,
        _issue(
            _name("kube-apiserver"),
            serving_key,
            ca_name,
            ca_key,
            usage=ExtendedKeyUsageOID.SERVER_AUTH,
            sans=sans,
        ),
    )

    admin_key = ec.generate_private_key(ec.SECP256R1())
    _write_key(paths.admin_key, admin_key)
    _write_cert(
        paths.admin_cert,
        _issue(
            _name("dev-admin", "system:masters"),
            admin_key,
            ca_name,
            ca_key,
            usage=ExtendedKeyUsageOID.CLIENT_AUTH,
        ),
    )

    sa_key = ec.generate_private_key(ec.SECP256R1())
    _write_key(paths.sa_key, sa_key)
    paths.sa_pub.write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return paths


def issue_client_cert(
    paths: PkiPaths, common_name: str, organization: str, cert_path: Path, key_path: Path
) -> None:
    """Sign a client certificate for `common_name` in group `organization` with the CA of `paths`."""
    ca_key = serialization.load_pem_private_key(paths.ca_key.read_bytes(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise TypeError(f"{paths.ca_key} is not an EC key")
    ca_name = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes()).subject
    key = ec.generate_private_key(ec.SECP256R1())
    _write_key(key_path, key)
    _write_cert(
        cert_path,
        _issue(_name(common_name, organization), key, ca_name, ca_key, usage=ExtendedKeyUsageOID.CLIENT_AUTH),
    )
