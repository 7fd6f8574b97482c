"""`rollover operator` as a subprocess, the way users run it: for the demo, tests and benchmarks."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rollover.controller.clock import AcceleratedClock

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


@contextmanager
def running_podrunner(env: dict[str, str], log: Path, *, stop_timeout: float = 30.0) -> Iterator[None]:
    """Run the demo's stand-in kubelet (rollover.devcluster.podrunner) with `env` (its KUBECONFIG),
    its output in `log`: each rollover Job pod's real command runs as a local process."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rollover.devcluster.podrunner"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=stop_timeout)


def clock_args(clock: AcceleratedClock) -> list[str]:
    """The operator flags that carry on `clock` from now. An operator started with them (a new
    generation after a kill, a second operator) lags `clock` by its own start-up time, but never goes
    back behind what an earlier one saw."""
    return ["--clock-start", clock.now().isoformat(), "--clock-rate", f"{clock.rate:g}"]


def operator_clock_origin(log: Path) -> float:
    """Wall time (epoch seconds) at which the operator's accelerated clock started, from its log."""
    for line in log.read_text().splitlines():
        if "ACCELERATED CLOCK" in line:
            return dt.datetime.fromisoformat(json.loads(line)["time"]).timestamp()
    raise RuntimeError(f"no ACCELERATED CLOCK line in the operator log {log}")


def operator_wall_time(log: Path, clock_start: dt.datetime, rate: float, moment: dt.datetime) -> float:
    """Wall time (epoch seconds) at which the operator logging to `log`, whose accelerated clock
    started at `clock_start` running `rate` times faster, reaches `moment`."""
    return operator_clock_origin(log) + (moment - clock_start).total_seconds() / rate
