"""A real S3-compatible object store for tests, the dev cluster and benchmarks: SeaweedFS on loopback.

`weed server` (master, volume server, filer and S3 gateway in one process) is built from its Go module
by tools/build-seaweedfs.sh and cached. Every port is chosen free on 127.0.0.1 (or, for the local
node's pods, on its host address: `S3Server(address=node.pod_network.host_address)`) and bound there only,
the anonymous telemetry SeaweedFS sends by default is off, and S3 takes one identity with random
credentials, so `env()` carries credentials just as a Job's Secret would. One bucket is created.

The server runs in a session of its own and writes `server.json` (pid, ports, credentials) in its
directory, so `rollover dev-cluster up` can leave it running and `down` can stop exactly it.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from rollover.devcluster.binaries import BinariesUnavailable, ensure_seaweedfs_binary
from rollover.devcluster.controlplane import free_port

BUCKET = "rollover-archive"
STATE = "server.json"
START_TIMEOUT_S = 90
STOP_TIMEOUT_S = 20
#: `weed server`'s components and their HTTP and gRPC port flags (gRPC defaults to HTTP + 10000,
#: which need not be free, so both are chosen).
PORT_FLAGS = ("master.port", "volume.port", "filer.port", "s3.port")


class S3Unavailable(RuntimeError):
    """SeaweedFS can be neither found nor built, or the server did not come up."""


@dataclass(frozen=True)
class S3Endpoint:
    """How to reach a running server: what a Job's environment gets."""

    endpoint: str
    access_key: str
    secret_key: str
    bucket: str
    pid: int

    @property
    def uri(self) -> str:
        """The ARCHIVE_URI of the bucket's root."""
        return f"s3://{self.bucket}"

    def filesystem(self) -> Any:
        """The server as an fsspec file system, as the Jobs reach it (the `s3` extra, imported here
        so the rest of the harness does not need it)."""
        s3fs: Any = importlib.import_module("s3fs")
        return s3fs.S3FileSystem(
            key=self.access_key, secret=self.secret_key, endpoint_url=self.endpoint, skip_instance_cache=True
        )

    def env(self) -> dict[str, str]:
        """AWS_* variables as an archive Job's Secret and ConfigMap would set them."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": "us-east-1",
        }


def ensure_weed() -> Path:
    """The `weed` binary, building it on first use (binaries.ensure_seaweedfs_binary)."""
    try:
        return ensure_seaweedfs_binary() / "weed"
    except BinariesUnavailable as exc:
        raise S3Unavailable(str(exc)) from exc


class S3Server:
    """One private SeaweedFS in `root` (a fresh temp dir if none is given; removed by `stop`)."""

    def __init__(self, root: Path | None = None, *, address: str = "127.0.0.1") -> None:
        self._given_root = root
        self.address = address
        self.root: Path | None = root
        self.endpoint: S3Endpoint | None = None
        self._proc: subprocess.Popen[bytes] | None = None  # when this process started it

    @classmethod
    def running_in(cls, root: Path) -> S3Server | None:
        """The server a previous process left running in `root`, if it still runs."""
        try:
            endpoint = S3Endpoint(**json.loads((root / STATE).read_text()))
        except (OSError, ValueError, TypeError):
            return None
        if not _alive(endpoint.pid):
            return None
        server = cls(root)
        server.endpoint = endpoint
        return server

    def start(self) -> S3Endpoint:
        """Start the server and create the bucket; S3Unavailable with the log's tail if it fails."""
        weed = ensure_weed()
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="rollover-s3-"))
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        access_key, secret_key = "rollover-" + secrets.token_hex(6), secrets.token_urlsafe(24)
        config = self.root / "s3.json"
        identity = {
            "name": "rollover",
            "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        config.write_text(json.dumps({"identities": [identity]}))
        config.chmod(0o600)
        ports = {flag: (free_port(), free_port()) for flag in PORT_FLAGS}
        command = [
            str(weed), "server", f"-ip={self.address}", f"-ip.bind={self.address}",
            f"-dir={self.root / 'data'}",
            "-filer", "-s3", f"-s3.config={config}", "-master.telemetry=false",
            "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.volumeSizeLimitMB=256", "-volume.max=0",
            f"-filer.localSocket={self.root / 'filer.sock'}", f"-s3.localSocket={self.root / 's3.sock'}",
            *(f"-{flag}={http}" for flag, (http, _) in ports.items()),
            *(f"-{flag}.grpc={grpc}" for flag, (_, grpc) in ports.items()),
        ]  # fmt: skip
        with (self.root / "server.log").open("ab") as log:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=self.root,
                start_new_session=True,
            )
        self._proc = proc
        endpoint = S3Endpoint(
            endpoint=f"http://{self.address}:{ports['s3.port'][0]}",
            access_key=access_key,
            secret_key=secret_key,
            bucket=BUCKET,
            pid=proc.pid,
        )
        self.endpoint = endpoint
        try:
            self._create_bucket(proc)
        except BaseException:
            self.stop()
            raise
        (self.root / STATE).write_text(json.dumps(asdict(endpoint)))
        (self.root / STATE).chmod(0o600)
        return endpoint

    def stop(self) -> None:
        """Stop the server (its whole process group) and, for a temp dir, delete its data."""
        if self.endpoint is not None and _alive(self.endpoint.pid):
            _signal_group(self.endpoint.pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT_S
            while _alive(self.endpoint.pid) and time.monotonic() < deadline:
                if self._proc is not None and self._proc.poll() is not None:
                    break
                time.sleep(0.1)
            if _alive(self.endpoint.pid):
                _signal_group(self.endpoint.pid, signal.SIGKILL)
        if self._proc is not None:
            self._proc.wait()
            self._proc = None
        self.endpoint = None
        if self.root is not None:
            if self._given_root is None:
                shutil.rmtree(self.root, ignore_errors=True)
                self.root = None
            else:
                (self.root / STATE).unlink(missing_ok=True)

    def __enter__(self) -> S3Endpoint:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _create_bucket(self, proc: subprocess.Popen[bytes]) -> None:
        """Wait for the S3 gateway (and the volume server behind it), then create the bucket."""
        assert self.endpoint is not None
        fs = self.endpoint.filesystem()
        deadline = time.monotonic() + START_TIMEOUT_S
        problem = "not started"
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise S3Unavailable(f"weed server exited with {proc.returncode}:\n{self._log_tail()}")
            try:
                urllib.request.urlopen(self.endpoint.endpoint, timeout=2).close()  # noqa: S310 - loopback
            except urllib.error.HTTPError:
                pass  # any HTTP answer (403 for an anonymous request) means the gateway is up
            except OSError as exc:
                problem = str(exc)
                time.sleep(0.3)
                continue
            try:  # writes need a volume server registered with the master: probe with one
                if not fs.exists(self.endpoint.bucket):
                    fs.mkdir(self.endpoint.bucket)
                fs.pipe_file(f"{self.endpoint.bucket}/.probe", b"ok")
                fs.rm_file(f"{self.endpoint.bucket}/.probe")
                return
            except Exception as exc:  # any S3 error while the cluster settles: try again
                problem = str(exc)
                time.sleep(0.5)
        raise S3Unavailable(f"S3 gateway not ready in {START_TIMEOUT_S}s ({problem}):\n{self._log_tail()}")

    def _log_tail(self, lines: int = 20) -> str:
        try:
            assert self.root is not None
            text = (self.root / "server.log").read_text(errors="replace")
        except (OSError, AssertionError):
            return ""
        return "server log:\n" + "\n".join(text.splitlines()[-lines:])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (our own child, not yet reaped) is gone for our purposes.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)  # the server runs in its own session: its group id is its pid
