"""Operator configuration (`rollover operator --config FILE`, the chart's ConfigMap).

Job templates live here and never in a DistrictRollover: whoever writes district YAML must not be
able to choose what runs in the cluster.
"""

from __future__ import annotations

import datetime as dt
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from rollover.api.models import CHANNEL_PATTERN, EMAIL_PATTERN, Step

DEFAULT_IMAGE = os.environ.get("ROLLOVER_IMAGE", "ghcr.io/k12-dev/district-rollover:0.1.0")


class _Config(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class JobTemplate(_Config):
    """What one archive/reset Job runs. Env from the rollover is added by the operator."""

    image: str = DEFAULT_IMAGE
    command: list[str] | None = None  # default: ["rollover-job", <step>]
    args: list[str] = Field(default_factory=list)
    service_account_name: str | None = None
    env: list[dict[str, Any]] = Field(default_factory=list)  # e.g. DATABASE_URL from a Secret
    env_from: list[dict[str, Any]] = Field(default_factory=list)
    resources: dict[str, Any] = Field(default_factory=dict)
    volumes: list[dict[str, Any]] = Field(default_factory=list)
    volume_mounts: list[dict[str, Any]] = Field(default_factory=list)
    backoff_limit: int = Field(default=2, ge=0, le=10)
    active_deadline_seconds: int | None = Field(default=6 * 3600, ge=60)
    pod_labels: dict[str, str] = Field(default_factory=dict)


class SmtpConfig(_Config):
    """The mail relay notices go through. Credentials are read from files (a mounted Secret), never
    written in the configuration itself."""

    host: str
    port: int = Field(default=587, ge=1, le=65535)
    from_: Annotated[str, StringConstraints(pattern=EMAIL_PATTERN)] = Field(alias="from")
    starttls: bool = True
    username_file: Path | None = None
    password_file: Path | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)


class ChannelFormat(StrEnum):
    CLOUDEVENTS = "cloudevents"
    SLACK = "slack"


class ChannelConfig(_Config):
    """One webhook channel a DistrictRollover may name in spec.notify.channels."""

    url: AnyHttpUrl
    format: ChannelFormat = ChannelFormat.CLOUDEVENTS
    #: A file holding one `Header-Name: value` line (e.g. a shared secret), sent with every request.
    secret_header_file: Path | None = None
    timeout_seconds: float = Field(default=10.0, gt=0)
    #: The namespaces whose DistrictRollovers may name this channel; unset: every namespace. A channel
    #: that posts into one district's room lists that district's namespace, so no other district's
    #: YAML can post there.
    namespaces: list[str] | None = None


class NotificationsConfig(_Config):
    """Where notices go: one SMTP relay for district emails, and named webhook channels."""

    smtp: SmtpConfig | None = None
    channels: dict[Annotated[str, StringConstraints(pattern=CHANNEL_PATTERN)], ChannelConfig] = Field(
        default_factory=dict
    )
    #: Failed deliveries are retried after this many seconds of the operator's clock, doubling up to
    #: `retryCapSeconds`; they never hold up the rollover.
    retry_first_seconds: float = Field(default=30.0, gt=0)
    retry_cap_seconds: float = Field(default=1800.0, gt=0)

    def channel_scopes(self) -> dict[str, frozenset[str] | None]:
        """Each channel's name and the namespaces that may name it (None: every namespace)."""
        return {
            name: frozenset(c.namespaces) if c.namespaces is not None else None
            for name, c in self.channels.items()
        }


class PreflightConfig(_Config):
    """The read-only preflight Job per product before the pause (docs/preflight.md)."""

    enabled: bool = True
    #: It first runs at 00:00 of the business day this many business days before the pause (district
    #: time), and after a failure again each business day until the pause.
    business_days_before: int = Field(default=5, ge=1, le=30)


class ReadinessConfig(_Config):
    """What unacknowledged readiness items do."""

    #: True: the archive (and so the reset) waits, Stalled, until every item is acknowledged. The
    #: pause never waits: a late checklist must not leave syncs running into the reset.
    block_archive: bool = False


class CertificatesConfig(_Config):
    """The Ed25519 signing key of certificates of deletion and purge (docs/retention.md). The Secret is
    mounted into the certify and purge Jobs only, never into preflight, archive or reset."""

    secret_name: Annotated[str, StringConstraints(min_length=1, max_length=253)]
    #: The key of the Secret that holds the PEM private key.
    key_file: Annotated[str, StringConstraints(min_length=1, max_length=253)] = "certificate-key.pem"
    #: Where the Jobs find it (read-only; the demo's pod runner, which mounts no volume, points this
    #: at a local directory holding `key.pem`).
    mount_path: Annotated[str, StringConstraints(pattern=r"^/")] = "/var/run/secrets/rollover/certificate-key"


class ArchivesConfig(_Config):
    """How long archives are kept after the reset before the purge Job deletes them."""

    retention_days: int = Field(default=365, ge=1)
    #: A DistrictRollover's spec.retentionDays must lie within these bounds (a finding otherwise).
    min_retention_days: int = Field(default=30, ge=1)
    max_retention_days: int = Field(default=7 * 365, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> ArchivesConfig:
        if not self.min_retention_days <= self.retention_days <= self.max_retention_days:
            raise ValueError("minRetentionDays <= retentionDays <= maxRetentionDays must hold")
        return self


#: Fields of a product's archive override the preflight does not inherit: it runs its own command.
_NOT_INHERITED_BY_PREFLIGHT = frozenset({"command", "args", "activeDeadlineSeconds", "backoffLimit"})


class OperatorConfig(_Config):
    """The whole operator configuration."""

    default_job: JobTemplate = Field(default_factory=JobTemplate)
    #: Overrides per product and step, e.g. {"twig-science": {"archive": {...}}}; merged over defaultJob.
    jobs: dict[str, dict[Step, dict[str, Any]]] = Field(default_factory=dict)
    #: Finished archive/reset Jobs (and their pods) are deleted this long after they finish. Their
    #: results are copied into the rollover's status as soon as they finish.
    job_ttl_seconds_after_finished: int = Field(default=7 * 24 * 3600, ge=0)
    drain_timeout_seconds: int = Field(default=6 * 3600, ge=0)
    drain_poll_seconds: int = Field(default=30, ge=1)
    #: Concurrent reconciles. A transition is a few sequential round trips (finalizer, target
    #: PATCHes, status, events), so the herd of a shared reset date needs many in flight to keep
    #: the apiserver busy; API priority and fairness protects the apiserver, not a low number here.
    workers: int = Field(default=64, ge=1, le=256)
    #: Where district claims live (one ConfigMap per district and school year): the operator's own
    #: namespace, which no district author can write.
    claims_namespace: str = Field(default_factory=lambda: os.environ.get("POD_NAMESPACE", "default"))
    notifications: NotificationsConfig = Field(default_factory=NotificationsConfig)
    preflight: PreflightConfig = Field(default_factory=PreflightConfig)
    readiness: ReadinessConfig = Field(default_factory=ReadinessConfig)
    #: None: no certify step and no purge (archives are kept until removed by hand).
    certificates: CertificatesConfig | None = None
    archives: ArchivesConfig = Field(default_factory=ArchivesConfig)

    def template(self, product: str, step: Step) -> JobTemplate:
        """The Job template for one product and step. The preflight checks what the archive will
        meet, so it inherits the product's archive override (credentials, volumes, account), but
        not what it runs, under its own override."""
        overrides = self.jobs.get(product, {})
        override = overrides.get(step, {})
        if step is Step.PREFLIGHT:
            archive = overrides.get(Step.ARCHIVE, {})
            inherited = {k: v for k, v in archive.items() if to_camel(k) not in _NOT_INHERITED_BY_PREFLIGHT}
            override = inherited | override
        template = (
            JobTemplate.model_validate(self.default_job.model_dump(by_alias=True) | override)
            if override
            else self.default_job
        )
        if step in (Step.CERTIFY, Step.PURGE) and self.certificates is not None:
            return _with_signing_key(template, self.certificates)
        return template

    @property
    def drain_timeout(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.drain_timeout_seconds)

    @property
    def drain_poll(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.drain_poll_seconds)


#: The variable `rollover-job certify|purge` reads the key's path from (a unit test ties the two).
CERTIFICATE_KEY_FILE_ENV = "CERTIFICATE_KEY_FILE"
SIGNING_KEY_VOLUME = "certificate-key"


def _with_signing_key(template: JobTemplate, certificates: CertificatesConfig) -> JobTemplate:
    """The template plus the signing-key Secret, mounted read-only, and CERTIFICATE_KEY_FILE naming it."""
    volume = {
        "name": SIGNING_KEY_VOLUME,
        "secret": {
            "secretName": certificates.secret_name,
            "items": [{"key": certificates.key_file, "path": "key.pem"}],
            # Readable by the Job's user: the files are root's (no fsGroup: the image chooses the
            # user), and only the certify and purge pods mount them.
            "defaultMode": 0o444,
        },
    }
    mount = {"name": SIGNING_KEY_VOLUME, "mountPath": certificates.mount_path, "readOnly": True}
    env = {"name": CERTIFICATE_KEY_FILE_ENV, "value": f"{certificates.mount_path.rstrip('/')}/key.pem"}
    return template.model_copy(
        update={
            "volumes": [*template.volumes, volume],
            "volume_mounts": [*template.volume_mounts, mount],
            "env": [*template.env, env],
        }
    )


class ConfigError(ValueError):
    """The configuration file is missing or invalid (message names the file and field)."""


def load_config(path: Path | None) -> OperatorConfig:
    """Load the configuration; None gives the built-in default."""
    if path is None:
        return OperatorConfig()
    try:
        raw = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
        return OperatorConfig.model_validate(raw)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}") from exc
