"""Operator configurations and Secrets for integration tests whose Jobs run as pods of the project's
image on the session's node, against a roster store and the S3 server on the node's host address."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rollover.devcluster.keys import new_signing_key
from rollover.devcluster.node import Node
from rollover.devcluster.postgres import PostgresServer
from rollover.devcluster.s3 import S3Endpoint
from tests.integration.kube import Kube

ROSTER_SECRET = "rollover-roster-store"
CERTIFICATE_SECRET = "rollover-certificate-key"
#: The variables of the Jobs' environment that come from ROSTER_SECRET.
SECRET_ENV = ("DATABASE_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def create_secret(kube: Kube, name: str, data: dict[str, str]) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data}
    assert kube.apply(secret).returncode == 0


def create_roster_secret(kube: Kube, store: PostgresServer, s3: S3Endpoint, **override: str) -> None:
    """ROSTER_SECRET in the namespace (made or replaced): the store's URL as pods reach it, the
    archive's credentials, and any keys of `override` instead (a wrong one, say)."""
    credentials = {k: v for k, v in s3.env().items() if k in SECRET_ENV}
    create_secret(kube, ROSTER_SECRET, {"DATABASE_URL": store.pod_url("roster"), **credentials, **override})


def create_certificate_secret(kube: Kube, keys: Path) -> Path:
    """CERTIFICATE_SECRET in the namespace, a fresh signing key made in the directory `keys`; returns
    the key's public half."""
    keys.mkdir()
    public = keys / "public.pem"
    new_signing_key(keys / "key.pem", public)
    create_secret(kube, CERTIFICATE_SECRET, {"certificate-key.pem": (keys / "key.pem").read_text()})
    return public


@dataclass(frozen=True)
class JobsOnNode:
    """A namespace whose Jobs run on the session's node, ROSTER_SECRET made there."""

    node: Node
    s3: S3Endpoint
    namespace: str

    @property
    def archive(self) -> str:
        """Where its Jobs archive: the namespace's own prefix of the bucket."""
        return f"{self.s3.uri}/{self.namespace}"

    def default_job(self) -> dict[str, Any]:
        """The configuration's `defaultJob`: the project's image, failing on its first error,
        archiving to `archive`, the store's URL and the archive's credentials from ROSTER_SECRET (as
        jobs.rosterStoreSecret documents)."""
        endpoint = self.s3.env()
        from_secret = (
            {"name": k, "valueFrom": {"secretKeyRef": {"name": ROSTER_SECRET, "key": k}}} for k in SECRET_ENV
        )
        return {
            "image": self.node.project_image,
            "backoffLimit": 0,
            "activeDeadlineSeconds": 600,
            "env": [
                {"name": "ARCHIVE_URI", "value": self.archive},
                {"name": "AWS_ENDPOINT_URL", "value": endpoint["AWS_ENDPOINT_URL"]},
                {"name": "AWS_DEFAULT_REGION", "value": endpoint["AWS_DEFAULT_REGION"]},
                *from_secret,
            ],
        }
