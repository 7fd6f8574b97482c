"""`rollover operator` as a subprocess, the way users run it: for the demo, tests and benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STOP_GRACE_S = 15.0


@contextmanager
def running_operator(kubeconfig: Path, log: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """Run `rollover operator ARGS` against `kubeconfig`, appending its output to `log`.

    On exit it is stopped with SIGINT (as Ctrl-C would), then killed if it lingers; a process the
    caller already killed (crash tests) is left as it is.
    """
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rollover.cli.main", "operator", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
