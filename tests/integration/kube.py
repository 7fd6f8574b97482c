"""Helpers for integration tests: run the operator as users do, read objects, finish Job pods."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from rollover.devcluster.objects import csv_import_deployment, district_rollover, sync_cronjob
from rollover.devcluster.podrunner import is_pending, terminated_status
from rollover.devcluster.runner import running_operator
from tests.conftest import RunningControlPlane

T = TypeVar("T")

# 10 simulated hours per real second: a one-business-day pause takes 2.4 s.
CLOCK_RATE = 36000


def wait_for(probe: Callable[[], T], *, timeout: float = 60.0, what: str = "condition") -> T:
    """Poll `probe` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)


class Kube:
    """kubectl against one namespace of the test control plane, returning parsed JSON."""

    def __init__(self, control_plane: RunningControlPlane, namespace: str) -> None:
        self.cp = control_plane
        self.ns = namespace

    def run(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return self.cp.kubectl("-n", self.ns, *args, input=input, check=check)

    def get(self, kind: str, name: str, *flags: str) -> dict[str, Any]:
        return dict(json.loads(self.run("get", kind, name, "-o", "json", *flags).stdout))

    def items(self, kind: str, *selector: str) -> list[dict[str, Any]]:
        return list(json.loads(self.run("get", kind, *selector, "-o", "json").stdout)["items"])

    def apply(self, doc: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        """Apply a document; a DistrictRollover's district is first allowed in the namespace, as
        the platform team would do (tests of the refusal build their namespaces themselves)."""
        district = (
            (doc.get("spec") or {}).get("districtId") if doc.get("kind") == "DistrictRollover" else None
        )
        if isinstance(district, str) and district:
            self.cp.allow_districts(self.ns, district)
        return self.run("apply", "-f", "-", input=json.dumps(doc), check=False)

    def rollover(self, name: str) -> dict[str, Any]:
        return self.get("districtrollover", name)

    def phase(self, name: str) -> str:
        return str(self.rollover(name).get("status", {}).get("phase", ""))

    def wait_phase(self, name: str, phase: str, timeout: float = 60.0) -> dict[str, Any]:
        wait_for(lambda: self.phase(name) == phase, timeout=timeout, what=f"{name} to reach {phase}")
        return self.rollover(name)

    def cronjob(
        self, name: str, labels: dict[str, str], *, suspend: bool = False, schedule: str = "0 3 * * *"
    ) -> None:
        self.run(
            "apply",
            "-f",
            "-",
            input=json.dumps(sync_cronjob(name, self.ns, labels, schedule=schedule, suspend=suspend)),
        )

    def deployment(self, name: str, labels: dict[str, str], replicas: int) -> None:
        self.run(
            "apply",
            "-f",
            "-",
            input=json.dumps(csv_import_deployment(name, self.ns, labels, replicas)),
        )

    def pods_run(self, selector: str, count: int, *, timeout: float = 120.0) -> list[dict[str, Any]]:
        """The pods matching `selector` once `count` of them have run to their end on the node (the
        kubelet reported Succeeded or Failed)."""

        def finished() -> list[dict[str, Any]] | None:
            pods = self.items("pods", "-l", selector)
            ended = [p for p in pods if (p.get("status") or {}).get("phase") in ("Succeeded", "Failed")]
            return ended if len(ended) >= count else None

        return wait_for(finished, timeout=timeout, what=f"{count} pod(s) {selector} run by the kubelet")

    def finish_pods(
        self, selector: str, *, succeed: bool = True, message: dict[str, Any] | None = None
    ) -> int:
        """Mark every pending pod matching `selector` Succeeded/Failed, as a kubelet would report it
        (for tests whose namespace the session's node does not serve)."""
        done = 0
        for pod in self.items("pods", "-l", selector):
            if not is_pending(pod):
                continue
            status = terminated_status(pod, 0 if succeed else 1, json.dumps(message or {}))
            patch = json.dumps({"status": status})
            self.run(
                "patch", "pod", pod["metadata"]["name"], "--subresource=status", "--type=merge", "-p", patch
            )
            done += 1
        return done


def rollover_doc(namespace: str, name: str = "springfield", **spec: Any) -> dict[str, Any]:
    """A valid DistrictRollover (reset Friday 2027-07-16, pause Thursday) with overrides."""
    doc = district_rollover(
        name,
        namespace,
        district_id="IL-0631950",
        reset_date="2027-07-16",
        products=["imagine-math", "twig-science"],
        sync_labels={"district": name},
    )
    doc["spec"] |= spec
    return doc


@contextmanager
def operator(
    control_plane: RunningControlPlane,
    namespace: str,
    log_path: Path,
    *,
    clock_start: str = "2027-07-14T00:00:00-05:00",
    rate: float = CLOCK_RATE,
    config: Path | None = None,
    extra: list[str] | None = None,
    kubeconfig: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """`rollover operator` on one namespace with an accelerated clock; its log must hold no traceback.
    District claims live in the test's namespace, so tests sharing the control plane (and district
    IDs) stay apart as separate clusters would. It runs as the harness's admin unless `kubeconfig`
    names another identity."""
    args = ["--namespace", namespace, "--clock-start", clock_start, "--clock-rate", str(rate)]
    args += ["--claims-namespace", namespace]
    if config is not None:
        args += ["--config", str(config)]
    with running_operator(
        kubeconfig or Path(control_plane.kubeconfig), log_path, *args, *(extra or [])
    ) as proc:
        yield proc
    assert_no_traceback(log_path)


def assert_no_traceback(log_path: Path) -> None:
    text = log_path.read_text(errors="replace")
    assert "Traceback" not in text, f"unhandled error in the operator log {log_path}:\n{text[-4000:]}"


def condition(rollover: dict[str, Any], type_: str) -> dict[str, Any]:
    """The condition of that type, or {} while the operator has not written it yet."""
    conditions = rollover.get("status", {}).get("conditions", [])
    return next((c for c in conditions if c["type"] == type_), {})
