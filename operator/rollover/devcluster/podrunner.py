"""A stand-in kubelet for the local demo: runs the container command of each pending rollover Job pod
as a local process and reports its exit and termination message back onto the pod.

The local control plane has no kubelet (no container runtime here), so without this the archive and
reset Jobs would stay Pending forever. It runs the *real* command the operator configured
(`rollover-job archive|reset`) with the pod's literal env; `valueFrom` env is not resolved.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from lightkube import AsyncClient, operators
from lightkube.resources.core_v1 import Pod
from lightkube.types import PatchType

from rollover.labels import LABEL_ROLLOVER

log = logging.getLogger(__name__)

TERMINATION_LOG_MAX = 4096  # what Kubernetes keeps of a termination message


def _command(pod: dict[str, Any], termination_log: Path) -> tuple[list[str], dict[str, str]]:
    container = pod["spec"]["containers"][0]
    command = [*container.get("command", []), *container.get("args", [])]
    env = {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
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
        command, env = _command(pod, termination_log)
        log.info("pod runner: %s/%s: %s", meta["namespace"], meta["name"], " ".join(command))
        proc = await asyncio.create_subprocess_exec(*command, env=env, stdin=asyncio.subprocess.DEVNULL)
        code = await proc.wait()
        message = termination_log.read_text()[:TERMINATION_LOG_MAX] if termination_log.exists() else ""
    terminated = {"exitCode": code, "reason": "Completed" if code == 0 else "Error", "message": message}
    status = {
        "phase": "Succeeded" if code == 0 else "Failed",
        "containerStatuses": [
            {
                "name": pod["spec"]["containers"][0]["name"],
                "image": pod["spec"]["containers"][0]["image"],
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "state": {"terminated": terminated},
            }
        ],
    }
    await client.patch(
        Pod.Status,
        meta["name"],
        {"status": status},
        namespace=meta["namespace"],
        patch_type=PatchType.MERGE,
    )


async def run_forever(client: AsyncClient, poll_seconds: float = 0.5) -> None:
    """Run every pending rollover Job pod in the cluster, each once."""
    started: set[str] = set()
    tasks: set[asyncio.Task[None]] = set()
    while True:
        async for pod in client.list(Pod, namespace="*", labels={LABEL_ROLLOVER: operators.exists()}):
            body = pod.to_dict()
            uid = body["metadata"]["uid"]
            if uid in started or body.get("status", {}).get("phase") not in (None, "Pending"):
                continue
            started.add(uid)
            task = asyncio.create_task(run_pod(client, body))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.sleep(poll_seconds)


def main() -> None:
    """`python -m rollover.devcluster.podrunner` against $KUBECONFIG."""
    from lightkube import KubeConfig

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    client = AsyncClient(KubeConfig.from_env())
    asyncio.run(run_forever(client))


if __name__ == "__main__":
    main()
