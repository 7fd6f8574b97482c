"""A real local Kubernetes control plane on loopback: etcd, kube-apiserver (RBAC on) and
kube-controller-manager (Job, CronJob, garbage-collector and friends). No kubelet: pods stay
Pending and tests finish them by patching pod status.

Used by the pytest fixtures, `rollover dev-cluster`, the demo and the benchmarks. Every process it
starts is recorded (pid and start time) in `state.json` in the state directory, so `stop()` — even
from another process — kills exactly what `start()` started and nothing else.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from rollover.devcluster.binaries import ensure_binaries
from rollover.devcluster.pki import PkiPaths, ensure_pki

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

READY_TIMEOUT_S = 120.0
SERVICE_CIDR = "10.0.0.0/24"
# The controllers that make Jobs, CronJobs, Deployments and ownerReferences behave as in a cluster.
CONTROLLERS = (
    "job-controller",
    "cronjob-controller",
    "garbage-collector-controller",
    "namespace-controller",
    "serviceaccount-controller",
    "deployment-controller",
    "replicaset-controller",
    "ttl-after-finished-controller",
)
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager")


class ControlPlaneError(RuntimeError):
    """The control plane failed to start or to answer."""


@dataclass
class ManagedProcess:
    """A harness process as recorded in a state file (by the control plane and the node)."""

    pid: int
    start_ticks: int  # /proc/<pid>/stat start time: tells our process from a recycled pid


@dataclass
class _State:
    etcd_port: int
    etcd_peer_port: int
    apiserver_port: int
    controller_manager_port: int
    processes: dict[str, ManagedProcess] = field(default_factory=dict)


S = TypeVar("S", bound="DataclassInstance")


class StateFile(Generic[S]):
    """A harness's state (ports, and the processes it started) in a JSON file, so that another
    process can find and stop them: written atomically; None when absent or unreadable."""

    def __init__(self, path: Path, kind: Callable[..., S]) -> None:
        self.path = path
        self.kind = kind

    def load(self) -> S | None:
        try:
            raw: dict[str, Any] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        procs = {k: ManagedProcess(**v) for k, v in raw.pop("processes", {}).items()}
        return self.kind(**raw, processes=procs)

    def save(self, state: S) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(state), indent=2))
        tmp.replace(self.path)


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_ticks(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22 (starttime); split after the ')' that ends the command name, which may hold spaces.
    return int(stat.rsplit(")", 1)[1].split()[19])


def process_alive(proc: ManagedProcess) -> bool:
    return _start_ticks(proc.pid) == proc.start_ticks


class ControlPlane:
    """One local control plane whose files live in `state_dir` (reusable across starts)."""

    def __init__(self, state_dir: Path, crd_dir: Path | None = None) -> None:
        self.state_dir = state_dir.resolve()
        self.crd_dir = crd_dir
        self.pki = PkiPaths(self.state_dir / "pki")
        self.kubeconfig = self.state_dir / "kubeconfig"
        self.log_dir = self.state_dir / "logs"
        self._state = StateFile(self.state_dir / "state.json", _State)

    @property
    def server(self) -> str:
        """The apiserver URL (valid while running)."""
        state = self._state.load()
        if state is None:
            raise ControlPlaneError(f"no control plane state in {self.state_dir}")
        return f"https://127.0.0.1:{state.apiserver_port}"

    def running_components(self) -> list[str]:
        """Which of our processes are alive."""
        state = self._state.load()
        if state is None:
            return []
        return [name for name, proc in state.processes.items() if process_alive(proc)]

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self, *, timeout: float = READY_TIMEOUT_S) -> None:
        """Start etcd, kube-apiserver and kube-controller-manager; wait for /readyz; install CRDs."""
        if self.running_components():
            raise ControlPlaneError(f"already running from {self.state_dir}; stop it first")
        binaries = ensure_binaries()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(exist_ok=True)
        ensure_pki(self.pki.root)
        state = _State(free_port(), free_port(), free_port(), free_port())
        self._write_kubeconfig(state.apiserver_port)
        self._state.save(state)
        try:
            self._spawn(state, "etcd", binaries)
            self._spawn(state, "kube-apiserver", binaries)
            self._wait_ready(state, timeout)
            self._spawn(state, "kube-controller-manager", binaries)
            if self.crd_dir is not None:
                install_manifests(self.kubeconfig, sorted(self.crd_dir.glob("*.yaml")))
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop exactly the processes `start` recorded, newest first."""
        state = self._state.load()
        if state is None:
            return
        for name in reversed(COMPONENTS):
            proc = state.processes.get(name)
            if proc is not None:
                terminate_process(proc)
        state.processes.clear()
        self._state.save(state)

    def restart_apiserver(self, *, down_for: float = 0.0, timeout: float = READY_TIMEOUT_S) -> None:
        """Kill and restart kube-apiserver on the same port (for fault tests)."""
        state = self._require_state()
        terminate_process(state.processes.pop("kube-apiserver"))
        time.sleep(down_for)
        self._spawn(state, "kube-apiserver", ensure_binaries())
        self._wait_ready(state, timeout)

    def _require_state(self) -> _State:
        state = self._state.load()
        if state is None:
            raise ControlPlaneError(f"no control plane state in {self.state_dir}")
        return state

    # --- processes ------------------------------------------------------------------------------

    def _command(self, name: str, state: _State, binaries: Path) -> list[str]:
        p = self.pki
        if name == "etcd":
            client = f"http://127.0.0.1:{state.etcd_port}"
            peer = f"http://127.0.0.1:{state.etcd_peer_port}"
            return [
                str(binaries / "etcd"),
                "--name=dev",
                f"--data-dir={self.state_dir / 'etcd'}",
                f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=dev={peer}",
                "--listen-metrics-urls=",
                # A throwaway dev store: fsync buys nothing here and costs seconds per test.
                "--unsafe-no-fsync=true",
                "--quota-backend-bytes=8589934592",
                "--log-level=warn",
            ]
        if name == "kube-apiserver":
            return [
                str(binaries / "kube-apiserver"),
                f"--etcd-servers=http://127.0.0.1:{state.etcd_port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={state.apiserver_port}",
                f"--tls-cert-file={p.serving_cert}",
                f"--tls-private-key-file={p.serving_key}",
                f"--client-ca-file={p.ca_cert}",
                f"--service-account-key-file={p.sa_pub}",
                f"--service-account-signing-key-file={p.sa_key}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--authorization-mode=RBAC",
                "--enable-admission-plugins=NamespaceLifecycle,ServiceAccount,ValidatingAdmissionPolicy",
                # Benchmarks push thousands of writes a second from one client; the dev plane
                # should measure the operator, not API priority-and-fairness queueing.
                "--max-requests-inflight=1200",
                "--max-mutating-requests-inflight=600",
                "--profiling=false",
                "--v=0",
            ]
        if name == "kube-controller-manager":
            return [
                str(binaries / "kube-controller-manager"),
                f"--kubeconfig={self.kubeconfig}",
                f"--controllers={','.join(CONTROLLERS)}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={state.controller_manager_port}",
                f"--cert-dir={self.state_dir / 'kcm-certs'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--concurrent-job-syncs=20",
                "--concurrent-cron-job-syncs=20",
                "--kube-api-qps=400",
                "--kube-api-burst=800",
                "--v=0",
            ]
        raise ValueError(name)

    def _spawn(self, state: _State, name: str, binaries: Path) -> None:
        command = self._command(name, state, binaries)
        state.processes[name] = spawn(command, self.log_dir / f"{name}.log", self.state_dir)
        self._state.save(state)

    def _write_kubeconfig(self, port: int) -> None:
        p = self.pki
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "dev",
            "clusters": [
                {
                    "name": "dev",
                    "cluster": {
                        "server": f"https://127.0.0.1:{port}",
                        "certificate-authority": str(p.ca_cert),
                    },
                }
            ],
            "users": [
                {
                    "name": "dev-admin",
                    "user": {"client-certificate": str(p.admin_cert), "client-key": str(p.admin_key)},
                }
            ],
            "contexts": [{"name": "dev", "context": {"cluster": "dev", "user": "dev-admin"}}],
        }
        # JSON is YAML: every kubeconfig reader accepts it.
        self.kubeconfig.write_text(json.dumps(config, indent=2))

    def _ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki.ca_cert))
        ctx.load_cert_chain(str(self.pki.admin_cert), str(self.pki.admin_key))
        return ctx

    def get(self, path: str, *, timeout: float = 10.0) -> bytes:
        """GET a raw apiserver path (e.g. /metrics) as the admin."""
        with urllib.request.urlopen(  # noqa: S310 - our own loopback https URL
            f"{self.server}{path}", context=self._ssl_context(), timeout=timeout
        ) as resp:
            return bytes(resp.read())

    def _wait_ready(self, state: _State, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            for name, proc in state.processes.items():
                if not process_alive(proc):
                    raise ControlPlaneError(f"{name} exited during start-up:\n{self._log_tail(name)}")
            try:
                self.get("/readyz", timeout=5)
                return
            except (urllib.error.URLError, OSError) as exc:
                last = str(exc)
            time.sleep(0.25)
        raise ControlPlaneError(
            f"kube-apiserver not ready after {timeout:.0f}s ({last}):\n{self._log_tail('kube-apiserver')}"
        )

    def _log_tail(self, name: str) -> str:
        return log_tail(self.log_dir / f"{name}.log", 30)


def log_tail(log: Path, lines: int) -> str:
    """The last `lines` lines of a component's log, for the error that says why it did not start."""
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def spawn(command: list[str], log_path: Path, cwd: Path) -> ManagedProcess:
    """Start `command` in the background, output appended to `log_path`; its pid and start time."""
    log = log_path.open("ab")
    # A session of its own: Ctrl-C in the caller's terminal must not kill a background cluster.
    popen = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        cwd=cwd,
    )
    log.close()
    ticks = _start_ticks(popen.pid)
    if ticks is None:
        raise ControlPlaneError(f"{Path(command[0]).name} exited at once; see {log_path}")
    return ManagedProcess(popen.pid, ticks)


def terminate_process(proc: ManagedProcess, grace: float = 10.0) -> None:
    if not process_alive(proc):
        return
    os.kill(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not process_alive(proc):
            return
        _reap(proc.pid)
        time.sleep(0.05)
    if process_alive(proc):
        os.kill(proc.pid, signal.SIGKILL)
        _reap(proc.pid)


def _reap(pid: int) -> None:
    # A child of this process stays a zombie (and "alive" in /proc) until waited for.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def install_manifests(kubeconfig: Path, files: Iterable[Path], *, timeout: float = 60.0) -> None:
    """Server-side apply every document of `files`, then wait until each CRD is Established."""
    from lightkube import Client, KubeConfig
    from lightkube.codecs import load_all_yaml
    from lightkube.resources.apiextensions_v1 import CustomResourceDefinition

    from rollover import FIELD_MANAGER

    client = Client(KubeConfig.from_file(kubeconfig), field_manager=FIELD_MANAGER)
    crd_names: list[str] = []
    for path in files:
        with path.open() as fh:
            for obj in load_all_yaml(fh):
                client.apply(obj, force=True)
                if obj.kind == "CustomResourceDefinition" and obj.metadata and obj.metadata.name:
                    crd_names.append(obj.metadata.name)
    deadline = time.monotonic() + timeout
    for name in crd_names:
        while True:
            crd = client.get(CustomResourceDefinition, name)
            conditions = (crd.status.conditions if crd.status else None) or []
            if any(c.type == "Established" and c.status == "True" for c in conditions):
                break
            if time.monotonic() > deadline:
                raise ControlPlaneError(f"CRD {name} not Established after {timeout:.0f}s")
            time.sleep(0.1)
