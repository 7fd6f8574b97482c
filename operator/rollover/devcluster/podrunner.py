"""Stand-in kubelets, for where a pod cannot really run: each reports a rollover Job pod's exit and
termination message back onto the pod, as a kubelet would.

- `run_forever` (the demo's fallback where the local node cannot run: docs/local-node.md) runs the
  *real* command the operator configured (`rollover-job archive|reset|certify`) as a local process
  with the pod's env: literal values, and `secretKeyRef` values read from the Secret as a kubelet
  would (other `valueFrom` kinds are not resolved, and no volume is mounted: a Job that needs a
  mounted file is configured with the local path instead);
- `PodFinisher` (fault tests, the soak) runs nothing: it reports success, or the failure it is told
  to inject, after a random delay, and keeps going through apiserver restarts (a Job failing at a
  chosen moment, which no kubelet produces on demand).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from lightkube import AsyncClient, Client, KubeConfig, operators
from lightkube.core.client import LabelSelector
from lightkube.core.exceptions import ApiError
from lightkube.resources.core_v1 import Pod, Secret
from lightkube.types import PatchType

from rollover.labels import LABEL_ROLLOVER

log = logging.getLogger(__name__)

TERMINATION_LOG_MAX = 4096  # what Kubernetes keeps of a termination message
ROLLOVER_PODS: LabelSelector = {LABEL_ROLLOVER: operators.exists()}  # the operator's Job pods


def terminated_status(pod: dict[str, Any], exit_code: int, message: str) -> dict[str, Any]:
    """The status a kubelet reports once the pod's container exited with `exit_code`, having written
    `message` to its termination log."""
    container = pod["spec"]["containers"][0]
    terminated = {
        "exitCode": exit_code,
        "reason": "Completed" if exit_code == 0 else "Error",
        "message": message,
    }
    return {
        "phase": "Succeeded" if exit_code == 0 else "Failed",
        "containerStatuses": [
            {
                "name": container["name"],
                "image": container["image"],
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "state": {"terminated": terminated},
            }
        ],
    }


def is_pending(pod: dict[str, Any]) -> bool:
    """Whether no kubelet has reported on the pod yet."""
    return (pod.get("status") or {}).get("phase") in (None, "Pending")


class UnresolvableEnv(Exception):
    """A `secretKeyRef` names a Secret or key that is not there (a kubelet would not start the pod)."""


async def _container_env(client: AsyncClient, pod: dict[str, Any]) -> dict[str, str]:
    """The container's environment: literal values and `secretKeyRef`s, resolved as a kubelet would."""
    env: dict[str, str] = {}
    for var in pod["spec"]["containers"][0].get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
            continue
        ref = (var.get("valueFrom") or {}).get("secretKeyRef")
        if ref is None:
            continue
        try:
            secret = await client.get(Secret, ref["name"], namespace=pod["metadata"]["namespace"])
            env[var["name"]] = base64.b64decode((secret.data or {})[ref["key"]]).decode()
        except (ApiError, KeyError):
            raise UnresolvableEnv(f"{var['name']}: no key {ref['key']!r} in Secret {ref['name']!r}") from None
    return env


def _command(
    pod: dict[str, Any], env: dict[str, str], termination_log: Path
) -> tuple[list[str], dict[str, str]]:
    container = pod["spec"]["containers"][0]
    command = [*container.get("command", []), *container.get("args", [])]
    if command and command[0] in ("rollover-job", "rollover"):
        # Run the console script from this venv, and point the termination log at a local file.
        command[0] = str(Path(sys.executable).parent / command[0])
        command.append(f"--termination-log={termination_log}")
    return command, {**os.environ, **env}


async def run_pod(client: AsyncClient, pod: dict[str, Any]) -> None:
    """Run one pod's command to completion and patch the pod's status with the outcome."""
    meta = pod["metadata"]
    with tempfile.TemporaryDirectory() as tmp:
        termination_log = Path(tmp) / "termination-log"
        try:
            command, env = _command(pod, await _container_env(client, pod), termination_log)
        except UnresolvableEnv as exc:
            code, message = 1, str(exc)
        else:
            log.info("pod runner: %s/%s: %s", meta["namespace"], meta["name"], " ".join(command))
            proc = await asyncio.create_subprocess_exec(*command, env=env, stdin=asyncio.subprocess.DEVNULL)
            code = await proc.wait()
            message = termination_log.read_text()[:TERMINATION_LOG_MAX] if termination_log.exists() else ""
    await client.patch(
        Pod.Status,
        meta["name"],
        {"status": terminated_status(pod, code, message)},
        namespace=meta["namespace"],
        patch_type=PatchType.MERGE,
    )


async def run_forever(client: AsyncClient, poll_seconds: float = 0.5) -> None:
    """Run every pending rollover Job pod in the cluster, each once."""
    started: set[str] = set()
    tasks: set[asyncio.Task[None]] = set()
    while True:
        async for pod in client.list(Pod, namespace="*", labels=ROLLOVER_PODS):
            body = pod.to_dict()
            uid = body["metadata"]["uid"]
            if uid in started or not is_pending(body):
                continue
            started.add(uid)
            task = asyncio.create_task(run_pod(client, body))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.sleep(poll_seconds)


class PodFinisher:
    """Marks each pending rollover Job pod of `namespaces` Succeeded (or Failed, per `should_fail`)
    after a random delay, in a thread, as a kubelet would report it. Keeps going through apiserver
    restarts."""

    def __init__(
        self,
        kubeconfig: Path,
        namespaces: Iterable[str],
        should_fail: Callable[[dict[str, Any]], bool],
        *,
        rng: random.Random,
        delay: tuple[float, float] = (0.0, 0.6),
        poll: float = 0.25,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.namespaces = sorted(set(namespaces))
        self.should_fail = should_fail
        # Its own stream, seeded from the run's: the thread's timing must not shift the run's plan.
        self.rng = random.Random(rng.random())  # noqa: S311 (a schedule, not cryptography)
        self.delay = delay
        self.poll = poll
        self.succeeded = 0
        self.failed = 0
        # Jobs whose pods it failed: across an apiserver restart the job controller may start a
        # second pod for a backoffLimit-0 Job before it sees the first one's failure.
        self.failed_jobs: set[str] = set()
        self.errors = 0
        self._due: dict[str, float] = {}
        self._done: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pod-finisher", daemon=True)

    def __enter__(self) -> PodFinisher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)

    def _run(self) -> None:
        client: Client | None = None
        while not self._stop.wait(self.poll):
            try:
                if client is None:
                    client = Client(KubeConfig.from_file(self.kubeconfig))
                for ns in self.namespaces:
                    for pod in client.list(Pod, namespace=ns, labels=ROLLOVER_PODS):
                        self._visit(client, dict(pod.to_dict()))
            except Exception:  # the apiserver restarting; try again at the next poll
                self.errors += 1
                client = None

    def _visit(self, client: Client, pod: dict[str, Any]) -> None:
        uid = pod["metadata"]["uid"]
        if uid in self._done or not is_pending(pod):
            return
        due = self._due.setdefault(uid, time.monotonic() + self.rng.uniform(*self.delay))
        if time.monotonic() < due:
            return
        fail = self.should_fail(pod)
        result = {"error": "made to fail on purpose"} if fail else {"rows": 1, "deleted": 1}
        client.patch(
            Pod.Status,
            pod["metadata"]["name"],
            {"status": terminated_status(pod, 1 if fail else 0, json.dumps(result))},
            namespace=pod["metadata"]["namespace"],
            patch_type=PatchType.MERGE,
        )
        self._done.add(uid)
        if fail:
            self.failed += 1
            self.failed_jobs.add(job_of(pod))
        else:
            self.succeeded += 1


def job_of(pod: dict[str, Any]) -> str:
    """`namespace/name` of the Job that owns `pod` ("?" for a pod no Job owns)."""
    owners = [o["name"] for o in pod["metadata"].get("ownerReferences") or [] if o.get("kind") == "Job"]
    return f"{pod['metadata']['namespace']}/{owners[0]}" if owners else "?"


def main() -> None:
    """`python -m rollover.devcluster.podrunner` against $KUBECONFIG."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    client = AsyncClient(KubeConfig.from_env())
    asyncio.run(run_forever(client))


if __name__ == "__main__":
    main()
