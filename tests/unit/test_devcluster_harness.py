"""The pure parts of the harness the demo, tests and benchmarks share (rollover.devcluster)."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pyrage
import pytest
from pyrage import x25519
from ruamel.yaml import YAML

from rollover.api.models import DistrictRolloverSpec
from rollover.devcluster.chaos import seeded
from rollover.devcluster.demo import (
    ARCHIVE_PREFIX,
    CERTIFICATE_KEY_FILE,
    CERTIFICATE_SECRET,
    S3_SECRET,
    S3_SECRET_KEYS,
    demo_keys,
    job_env,
    selected_labels,
    sync_objects,
)
from rollover.devcluster.districts import District, fails, plan_districts
from rollover.devcluster.objects import district_rollover
from rollover.devcluster.podrunner import is_pending, terminated_status
from rollover.devcluster.s3 import S3Endpoint
from rollover.jobs.certificate import load_public_key
from rollover.jobs.encryption import read_identities
from rollover.labels import LABEL_PRODUCT, LABEL_ROLLOVER, LABEL_STEP
from rollover.selectors import matches

pytestmark = pytest.mark.unit


def _pod(phase: str | None = None, **labels: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "ns", "labels": labels},
        "spec": {"containers": [{"name": "job", "image": "example.invalid/job"}]},
        "status": {"phase": phase} if phase else {},
    }


def test_the_district_rollover_builder_makes_a_valid_spec() -> None:
    doc = district_rollover(
        "d1",
        "ns",
        district_id="IL-0000001",
        reset_date="2027-07-16",
        products=("imagine-math",),
        sync_labels={"district": "d1"},
    )
    spec = DistrictRolloverSpec.model_validate(doc["spec"])
    assert doc["kind"] == "DistrictRollover"
    assert spec.products == ["imagine-math"]


@pytest.mark.parametrize(
    ("exit_code", "phase", "reason"), [(0, "Succeeded", "Completed"), (1, "Failed", "Error")]
)
def test_a_terminated_pod_succeeded_only_with_exit_code_zero(exit_code: int, phase: str, reason: str) -> None:
    status = terminated_status(_pod(), exit_code, '{"rows": 1}')
    (container,) = status["containerStatuses"]
    assert status["phase"] == phase
    assert container["name"] == "job"
    assert container["state"]["terminated"] == {
        "exitCode": exit_code,
        "reason": reason,
        "message": '{"rows": 1}',
    }


def test_only_pods_no_kubelet_reported_on_are_pending() -> None:
    assert is_pending(_pod()) and is_pending(_pod("Pending"))
    assert not is_pending(_pod("Succeeded")) and not is_pending(_pod("Failed"))


def test_only_the_archive_pod_of_the_chosen_product_is_failed() -> None:
    district = District(
        "ns", "d1", "IL-1", "2027-07-16", ("imagine-math", "twig-science"), (), None, "twig-science"
    )
    should_fail = fails([district])

    def pod(step: str, product: str) -> dict[str, Any]:
        return _pod(**{LABEL_STEP: step, LABEL_ROLLOVER: "d1", LABEL_PRODUCT: product})

    assert should_fail(pod("archive", "twig-science"))
    assert not should_fail(pod("archive", "imagine-math"))
    assert not should_fail(pod("reset", "twig-science"))


def test_planned_districts_are_reproducible_from_the_seed_and_fail_as_many_as_asked() -> None:
    first = plan_districts(seeded(7), 20, ["a", "b"], failing=3)
    again = plan_districts(seeded(7), 20, ["a", "b"], failing=3)
    assert first == again
    assert sum(d.fail_archive is not None for d in first) == 3
    assert first[0].cronjobs[0][1], "the very first CronJob is always suspended by its owner"


def test_the_demo_keys_are_private_and_the_identity_reads_what_its_recipient_wrote(tmp_path: Path) -> None:
    recipient, identity_file, public_key = demo_keys(tmp_path / "keys")
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    for private in (identity_file, tmp_path / "keys" / "certificate-key" / "key.pem"):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
    (identity,) = read_identities(identity_file)
    ciphertext = pyrage.encrypt(b"roster", [x25519.Recipient.from_str(recipient)])
    assert pyrage.decrypt(ciphertext, [identity]) == b"roster"
    assert load_public_key(public_key) is not None


def test_the_demo_jobs_read_the_s3_credentials_from_the_secret_never_from_a_literal_value() -> None:
    s3 = S3Endpoint(endpoint="http://127.0.0.1:1", access_key="ak", secret_key="sk-secret", bucket="b", pid=1)
    env = {e["name"]: e for e in job_env("postgresql://db", s3, "age1demo")}
    assert env["ARCHIVE_URI"]["value"] == f"s3://b/{ARCHIVE_PREFIX}"
    assert env["ARCHIVE_RECIPIENTS"]["value"] == "age1demo"
    for name in S3_SECRET_KEYS:
        assert env[name]["valueFrom"] == {"secretKeyRef": {"name": S3_SECRET, "key": name}}
    assert "sk-secret" not in json.dumps(list(env.values()))


def test_each_district_namespace_gets_the_archive_credentials_and_the_certificate_key(tmp_path: Path) -> None:
    demo_keys(tmp_path / "keys")
    key = tmp_path / "keys" / "certificate-key" / "key.pem"
    s3 = S3Endpoint(endpoint="http://127.0.0.1:1", access_key="ak", secret_key="sk", bucket="b", pid=1)
    doc = district_rollover(
        "r", "district-x", district_id="X-1", reset_date="2027-07-16", products=["p"], sync_labels={"d": "x"}
    )
    secrets = {o["metadata"]["name"]: o for o in sync_objects(doc, s3, key) if o["kind"] == "Secret"}
    assert secrets[S3_SECRET]["stringData"] == {"AWS_ACCESS_KEY_ID": "ak", "AWS_SECRET_ACCESS_KEY": "sk"}
    # The key the certify Job mounts (certificates.keyFile), as the chart's default names it.
    assert secrets[CERTIFICATE_SECRET]["stringData"] == {CERTIFICATE_KEY_FILE: key.read_text()}
    assert {s["metadata"]["namespace"] for s in secrets.values()} == {"district-x"}


def test_the_demo_labels_its_cronjobs_to_match_every_example_selector() -> None:
    for path in sorted((Path(__file__).parents[2] / "examples" / "districts").glob("*.yaml")):
        selector = YAML(typ="safe").load(path.read_text())["spec"]["syncSelector"]
        assert matches(selector, selected_labels(selector)), path.name
