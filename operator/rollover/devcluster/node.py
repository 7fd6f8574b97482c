"""One real node for the local control plane (opt-in): containerd, runc and the CNI bridge from
Debian; kubelet and kube-scheduler built by tools/build-node.sh from the apiserver's release; a
Debian base image (mmdebstrap, pinned suite), a pause image (catatonit) and, from a checkout, the
project's image (its Dockerfile on that base) built here, since no registry can be reached. Pods on
it really run; nothing else in the harness depends on it (docs/local-node.md).

Its files live in `<control plane state>/node`. Every process is recorded like the control
plane's, and `stop()` leaves no container, mount, network interface, cgroup or NAT rule behind.

Pods reach the host at `PodNetwork.host_address`, the bridge's gateway address, which `start()`
creates before any pod runs: servers beside the cluster (the harness PostgreSQL and S3) listen on it.
There is no kube-proxy, so Service IPs route nowhere; the one exception is the `kubernetes` Service,
which a NAT rule on the bridge sends to the loopback apiserver (in-cluster clients such as the
operator's Deployment use it), and whose name the node's cluster DNS (rollover.devcluster.clusterdns)
answers.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rollover.devcluster import cache_root
from rollover.devcluster.binaries import ensure_binaries, ensure_node_binaries, repo_root
from rollover.devcluster.clusterdns import CLUSTER_DOMAIN
from rollover.devcluster.controlplane import (
    SERVICE_CIDR,
    ControlPlane,
    ManagedProcess,
    StateFile,
    free_port,
    log_tail,
    process_alive,
    spawn,
    terminate_process,
)
from rollover.devcluster.pki import issue_client_cert

NODE_NAME = "localhost"
BASE_IMAGE = "localhost/district-rollover/base:bookworm"
PAUSE_IMAGE = "localhost/district-rollover/pause:catatonit"
# The base image's recipe: a pinned Debian suite, the smallest variant, what the Dockerfile's
# python:*-slim base would give (python, venv, CA certificates).
DEBIAN_SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "python-is-python3", "ca-certificates")
PROJECT_IMAGE = "localhost/district-rollover/operator"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CATATONIT = Path("/usr/bin/catatonit")
CNI_BIN_DIR = Path("/usr/lib/cni")
CGROUP_V1 = Path("/sys/fs/cgroup")
# What must be installed (Debian: containerd runc containernetworking-plugins mmdebstrap podman catatonit).
HOST_TOOLS = ("containerd", "ctr", "runc", "mmdebstrap", "podman", "ip", "iptables")
COMPONENTS = ("containerd", "cluster-dns", "kube-controller-manager", "kube-scheduler", "kubelet")
# Controllers a node needs that the control plane leaves out: the not-ready taint comes off a Ready
# node, each namespace gets the CA ConfigMap service-account volumes mount, and orphans are reaped.
NODE_CONTROLLERS = (
    "node-lifecycle-controller",
    "root-ca-certificate-publisher-controller",
    "pod-garbage-collector-controller",
)
READY_TIMEOUT_S = 120.0
# The `kubernetes` Service's ClusterIP: the first of the service range (its address in the apiserver's
# serving certificate too).
KUBERNETES_SERVICE_IP = str(ipaddress.ip_network(SERVICE_CIDR)[1])


class NodeUnavailable(RuntimeError):
    """The node cannot run here (a tool is missing) or did not come up."""


@dataclass(frozen=True)
class PodNetwork:
    """Where pods are and how they reach the host: servers for pods listen on `host_address` and
    admit clients from `subnet`."""

    host_address: str
    subnet: str


def missing_prerequisites() -> list[str]:
    """What the node needs and this machine lacks: host programs, and root (cgroups, mounts and
    network interfaces are the host's)."""
    missing = [] if os.geteuid() == 0 else ["root (uid 0)"]
    missing += [tool for tool in HOST_TOOLS if shutil.which(tool) is None]
    missing += [
        str(p) for p in (CNI_BIN_DIR / "bridge", CNI_BIN_DIR / "host-local", CATATONIT) if not p.exists()
    ]
    return missing


@dataclass(frozen=True)
class NodeLayout:
    """Where the node's files live, and the host-wide names it claims (unique per state directory,
    so two clusters on one machine do not share a bridge, a subnet or a cgroup)."""

    root: Path

    @property
    def _tag(self) -> str:
        return hashlib.sha256(str(self.root).encode()).hexdigest()[:8]

    @property
    def bridge(self) -> str:
        return f"rlv{self._tag}"  # 11 characters: Linux allows 15

    @property
    def subnet(self) -> str:
        return f"10.244.{int(self._tag[:2], 16)}.0/24"

    @property
    def pod_network(self) -> PodNetwork:
        """The subnet, and its first address (host-local's default gateway) as the host's."""
        gateway = ipaddress.ip_network(self.subnet)[1]
        return PodNetwork(host_address=str(gateway), subnet=self.subnet)

    @property
    def nat_comment(self) -> str:
        """Marks this node's NAT rules, so stop() deletes exactly them."""
        return f"district-rollover {self.bridge}"

    @property
    def cgroup_root(self) -> str:
        return f"/district-rollover-{self._tag}"

    @property
    def containerd_socket(self) -> Path:
        return self.root / "containerd.sock"

    @property
    def containerd_root(self) -> Path:
        return self.root / "containerd"  # images and snapshots: kept across starts

    @property
    def runtime_dirs(self) -> tuple[Path, ...]:
        """What only a running node uses: wiped on each start and stop."""
        return (self.run, self.kubelet_dir)

    @property
    def run(self) -> Path:
        return self.root / "run"  # containerd's state, runc's root, CNI config and IP leases

    @property
    def kubelet_dir(self) -> Path:
        return self.root / "kubelet"

    @property
    def logs(self) -> Path:
        return self.root / "logs"


def containerd_config(layout: NodeLayout) -> str:
    """containerd's TOML: private root, state and socket; runc with cgroupfs; CNI from Debian."""
    run = layout.run
    return f"""version = 2
root = "{layout.containerd_root}"
state = "{run / "containerd"}"
[grpc]
  address = "{layout.containerd_socket}"
[plugins."io.containerd.internal.v1.opt"]
  path = "{layout.containerd_root / "opt"}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  # No AppArmor on this kernel; no CAP_SYS_RESOURCE, so containers may not lower their OOM score.
  disable_apparmor = true
  restrict_oom_score_adj = true
  # Network namespaces under our state, not /var/run/netns, so stop() finds every one.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN_DIR}"
    conf_dir = "{run / "cni"}"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "{run / "runc"}"
        SystemdCgroup = false
"""


def cni_config(layout: NodeLayout) -> dict[str, Any]:
    """One bridge with host-local addresses; the host is the gateway, so pods reach its servers."""
    return {
        "cniVersion": "1.0.0",
        "name": "district-rollover",
        "plugins": [
            {
                "type": "bridge",
                "bridge": layout.bridge,
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "dataDir": str(layout.run / "ipam"),
                    "ranges": [[{"subnet": layout.subnet}]],
                    # The Service range via the host (its NAT rule serves the kubernetes Service);
                    # nothing beyond the host is routed.
                    "routes": [{"dst": SERVICE_CIDR}],
                },
            },
            {"type": "loopback"},
        ],
    }


def kubelet_config(layout: NodeLayout, ca_cert: Path, port: int, healthz_port: int) -> dict[str, Any]:
    """The KubeletConfiguration: loopback only, cgroupfs under our own root, swap allowed."""
    socket = f"unix://{layout.containerd_socket}"
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": "127.0.0.1",
        "port": port,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": healthz_port,
        # The apiserver calls the kubelet (logs, exec) without a client certificate; only loopback
        # can reach it.
        "authentication": {
            "anonymous": {"enabled": True},
            "webhook": {"enabled": False},
            "x509": {"clientCAFile": str(ca_cert)},
        },
        "authorization": {"mode": "AlwaysAllow"},
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": layout.cgroup_root,
        "failSwapOn": False,
        "containerRuntimeEndpoint": socket,
        "imageServiceEndpoint": socket,
        # A developer's disk is often fuller than a node's defaults allow; evict only when nearly full.
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
        # Images are built here and cannot be pulled again: never collect them.
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "resolvConf": "/etc/resolv.conf",
        # rollover.devcluster.clusterdns on the host address: the apiserver's Service name only.
        "clusterDNS": [layout.pod_network.host_address],
        "clusterDomain": CLUSTER_DOMAIN,
    }


def image_recipe() -> str:
    """What the cached images are made of: a change makes a new cache entry."""
    catatonit = hashlib.sha256(CATATONIT.read_bytes()).hexdigest() if CATATONIT.exists() else "absent"
    return json.dumps(
        {
            "suite": DEBIAN_SUITE,
            "packages": BASE_PACKAGES,
            "base": BASE_IMAGE,
            "pause": PAUSE_IMAGE,
            "catatonit": catatonit,
        },
        sort_keys=True,
    )


def ensure_images(cache_root: Path) -> Path:
    """A directory with base.tar and pause.tar (docker archives), built on first use (~1 min)."""
    key = hashlib.sha256(image_recipe().encode()).hexdigest()[:12]
    out = cache_root / "node-images" / f"{DEBIAN_SUITE}-{key}"
    if (out / "base.tar").exists() and (out / "pause.tar").exists():
        return out
    with _podman() as (podman, work):
        rootfs = work / "rootfs.tar"
        packages = ",".join(BASE_PACKAGES)
        _run(
            ["mmdebstrap", "--quiet", "--variant=minbase", f"--include={packages}", DEBIAN_SUITE, str(rootfs)]
        )
        _run([*podman, "import", "--change", 'CMD ["/bin/sh"]', str(rootfs), BASE_IMAGE])
        pause = work / "pause"
        pause.mkdir()
        shutil.copy2(CATATONIT, pause / "catatonit")
        # catatonit -P only waits: the sandbox's process holds the pod's namespaces, as a pause image does.
        (pause / "Containerfile").write_text(
            'FROM scratch\nCOPY catatonit /catatonit\nUSER 65535:65535\nENTRYPOINT ["/catatonit", "-P"]\n'
        )
        _run([*podman, "build", "--runtime", "runc", "--quiet", "-t", PAUSE_IMAGE, str(pause)])
        staged = work / "out"
        staged.mkdir()
        for name, image in (("base", BASE_IMAGE), ("pause", PAUSE_IMAGE)):
            _run(
                [
                    *podman,
                    "save",
                    "--quiet",
                    "--format",
                    "docker-archive",
                    "-o",
                    str(staged / f"{name}.tar"),
                    image,
                ]
            )
        _publish(staged, out)
    return out


def project_image_inputs(repo: Path) -> list[Path]:
    """What the Dockerfile's build reads (its .dockerignore allows exactly these), sorted."""
    files = [repo / name for name in ("Dockerfile", "pyproject.toml", "requirements.lock", "README.md")]
    files += [p for p in (repo / "operator").rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return sorted(files)


def ensure_project_image(cache_root: Path, repo: Path, images: Path) -> tuple[Path, str]:
    """The project's image built from its Dockerfile on the local base: (docker archive, tag).

    Cached by a hash of the build's inputs and of the base; the tag carries the hash, so a pod
    that names it runs exactly this build.
    """
    digest = hashlib.sha256(str(images).encode())
    for path in project_image_inputs(repo):
        digest.update(str(path.relative_to(repo)).encode() + b"\0" + path.read_bytes())
    key = digest.hexdigest()[:12]
    tag = f"{PROJECT_IMAGE}:{key}"
    out = cache_root / "node-images" / f"project-{key}"
    if (out / "project.tar").exists():
        return out / "project.tar", tag
    with _podman() as (podman, work):
        _run([*podman, "load", "--quiet", "--input", str(images / "base.tar")])
        _run(
            [
                *podman, "build", "--runtime", "runc", "--quiet",
                # podman's defaults ask for more than the hard limits, and CAP_SYS_RESOURCE is absent.
                "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096",
                # pip in a RUN step trusts what the host trusts (a proxy's CA, say); not kept in the image.
                "--volume", f"{HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro",
                "--build-arg", f"PYTHON_IMAGE={BASE_IMAGE}", "-t", tag, str(repo),
            ]
        )  # fmt: skip
        staged = work / "out"
        staged.mkdir()
        _run(
            [*podman, "save", "--quiet", "--format", "docker-archive", "-o", str(staged / "project.tar"), tag]
        )
        _publish(staged, out)
    # One build per source edit, ~430 MB each: keep only the newest.
    for stale in out.parent.glob("project-*"):
        if stale != out:
            shutil.rmtree(stale, ignore_errors=True)
    return out / "project.tar", tag


@contextlib.contextmanager
def _podman() -> Iterator[tuple[list[str], Path]]:
    """A podman command line with throwaway storage, and a work directory, both removed after."""
    # In /tmp: podman refuses a run root path longer than 50 characters.
    with tempfile.TemporaryDirectory(prefix="rollover-images-") as tmp:
        work = Path(tmp)
        podman = ["podman", "--root", str(work / "storage"), "--runroot", str(work / "run")]
        try:
            yield podman, work
        finally:
            # The storage holds root-owned read-only files and mounts: podman removes its own.
            subprocess.run([*podman, "system", "reset", "--force"], capture_output=True, check=False)


def _publish(staged: Path, out: Path) -> None:
    # Whole or not at all: a half-written archive is never mistaken for a cache hit.
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out, ignore_errors=True)
    shutil.move(staged, out)


def _run(command: list[str], *, timeout: float = 600.0) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise NodeUnavailable(
            f"{Path(command[0]).name} {' '.join(command[1:3])} failed: {done.stderr.strip()[-2000:]}"
        )
    return done.stdout


@dataclass
class _State:
    kubelet_port: int
    healthz_port: int
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    # The tag of the project's image on the node, when built from a checkout.
    project_image: str | None = None


class Node:
    """The node of one control plane (`plane` must be running to start it)."""

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane
        self.layout = NodeLayout(plane.state_dir / "node")
        self._state = StateFile(self.layout.root / "state.json", _State)

    def running_components(self) -> list[str]:
        """Which of the node's processes are alive."""
        state = self._state.load()
        return [] if state is None else [n for n, p in state.processes.items() if process_alive(p)]

    def start(self, *, timeout: float = READY_TIMEOUT_S) -> None:
        """Start containerd, the node's controllers, the scheduler and the kubelet; wait until the
        node is Ready and schedulable."""
        missing = missing_prerequisites()
        if missing:
            raise NodeUnavailable(f"missing: {', '.join(missing)}")
        if self.running_components():
            raise NodeUnavailable(f"already running from {self.layout.root}; stop it first")
        node_bin, plane_bin = ensure_node_binaries(), ensure_binaries()
        images = ensure_images(cache_root())
        archives = {PAUSE_IMAGE: images / "pause.tar", BASE_IMAGE: images / "base.tar"}
        project_image = None
        repo = repo_root()
        if repo is not None and (repo / "Dockerfile").is_file():
            project_archive, project_image = ensure_project_image(cache_root(), repo, images)
            archives[project_image] = project_archive
        self._clear_leftovers()
        layout = self.layout
        for d in (layout.root, layout.logs, layout.run / "cni", layout.kubelet_dir):
            d.mkdir(parents=True, exist_ok=True)
        state = _State(free_port(), free_port(), project_image=project_image)
        self._state.save(state)
        try:
            self._make_bridge()
            self._route_kubernetes_service()
            self._write_configs(state)
            self._spawn(state, "containerd", ["containerd", "--config", str(layout.root / "containerd.toml")])
            self._wait_for(lambda: self._ctr("version") is not None, timeout, "containerd answers")
            self._import_images(archives)
            self._spawn(
                state,
                "cluster-dns",
                [sys.executable, "-m", "rollover.devcluster.clusterdns", layout.pod_network.host_address,
                 KUBERNETES_SERVICE_IP],
            )  # fmt: skip
            self._allow_node_user()
            self._make_cgroup_root()
            kubeconfig = str(self.plane.kubeconfig)
            self._spawn(
                state,
                "kube-controller-manager",
                [
                    str(plane_bin / "kube-controller-manager"),
                    f"--kubeconfig={kubeconfig}",
                    f"--controllers={','.join(NODE_CONTROLLERS)}",
                    # What the kube-root-ca.crt ConfigMaps publish (pods' ca.crt): without it, the
                    # kubeconfig's inline CA data, which ours does not have (it names a file): an empty
                    # ca.crt, and in-cluster clients failed with NO_CERTIFICATE_OR_CRL_FOUND.
                    f"--root-ca-file={self.plane.pki.ca_cert}",
                    "--leader-elect=false",
                    "--bind-address=127.0.0.1",
                    "--secure-port=0",
                ],
            )
            self._spawn(
                state,
                "kube-scheduler",
                [
                    str(node_bin / "kube-scheduler"),
                    f"--kubeconfig={kubeconfig}",
                    f"--authentication-kubeconfig={kubeconfig}",
                    f"--authorization-kubeconfig={kubeconfig}",
                    "--leader-elect=false",
                    "--bind-address=127.0.0.1",
                    "--secure-port=0",
                ],
            )
            self._spawn(
                state,
                "kubelet",
                [
                    str(node_bin / "kubelet"),
                    f"--config={layout.root / 'kubelet.json'}",
                    f"--kubeconfig={layout.root / 'kubelet.kubeconfig'}",
                    f"--root-dir={layout.kubelet_dir}",
                    f"--cert-dir={layout.root / 'kubelet-pki'}",
                    f"--hostname-override={NODE_NAME}",
                ],
            )
            self._wait_for(self._schedulable, timeout, f"node {NODE_NAME} Ready and untainted")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop what `start` started, then remove every container, mount, interface and cgroup."""
        state = self._state.load()
        if state is None:
            return
        running = self.running_components()
        if "containerd" in running:
            self._remove_pods(through_kubelet="kubelet" in running)
        for name in reversed(COMPONENTS):
            proc = state.processes.get(name)
            if proc is not None:
                terminate_process(proc)
        state.processes.clear()
        self._state.save(state)
        # After a crash (containerd or the kubelet killed) containers outlive them: kill what is
        # still in the node's cgroups and the shims that served this node's containerd.
        self._kill_orphans()
        self._clear_leftovers()

    # --- start ----------------------------------------------------------------------------------

    def _write_configs(self, state: _State) -> None:
        layout, pki = self.layout, self.plane.pki
        (layout.root / "containerd.toml").write_text(containerd_config(layout))
        (layout.run / "cni" / "10-district-rollover.conflist").write_text(
            json.dumps(cni_config(layout), indent=2)
        )
        config = kubelet_config(layout, pki.ca_cert, state.kubelet_port, state.healthz_port)
        (layout.root / "kubelet.json").write_text(json.dumps(config, indent=2))
        cert, key = layout.root / "node.crt", layout.root / "node.key"
        if not cert.exists() or not key.exists():
            issue_client_cert(pki, f"system:node:{NODE_NAME}", "system:nodes", cert, key)
        kubeconfig = json.loads(self.plane.kubeconfig.read_text())
        kubeconfig["users"] = [
            {"name": "node", "user": {"client-certificate": str(cert), "client-key": str(key)}}
        ]
        kubeconfig["contexts"][0]["context"]["user"] = "node"
        (layout.root / "kubelet.kubeconfig").write_text(json.dumps(kubeconfig, indent=2))

    def _make_bridge(self) -> None:
        # The CNI bridge plugin adopts an existing bridge with its gateway address; made now, servers
        # can listen on the host address before the first pod runs.
        bridge, network = self.layout.bridge, self.layout.pod_network
        prefix = ipaddress.ip_network(network.subnet).prefixlen
        _run(["ip", "link", "add", "name", bridge, "type", "bridge"])
        _run(["ip", "addr", "add", f"{network.host_address}/{prefix}", "dev", bridge])
        _run(["ip", "link", "set", bridge, "up"])

    def _route_kubernetes_service(self) -> None:
        """Send pods' connections to the `kubernetes` Service to the apiserver on loopback (what
        kube-proxy would do for this one Service; the apiserver's certificate names the Service IP)."""
        bridge = self.layout.bridge
        # Without route_localnet the kernel drops a packet from the bridge rewritten to 127.0.0.1.
        Path(f"/proc/sys/net/ipv4/conf/{bridge}/route_localnet").write_text("1")
        apiserver_port = urllib.parse.urlsplit(self.plane.server).port
        _run(
            [
                "iptables", "-t", "nat", "-A", "PREROUTING", "-i", bridge, "-p", "tcp",
                "-d", f"{KUBERNETES_SERVICE_IP}/32", "--dport", "443",
                "-m", "comment", "--comment", self.layout.nat_comment,
                "-j", "DNAT", "--to-destination", f"127.0.0.1:{apiserver_port}",
            ]
        )  # fmt: skip

    @property
    def pod_network(self) -> PodNetwork:
        """How pods reach servers on the host (valid once `start` made the bridge)."""
        return self.layout.pod_network

    @property
    def project_image(self) -> str | None:
        """The project's image (built from the checkout's Dockerfile) as pods name it."""
        state = self._state.load()
        return None if state is None else state.project_image

    def _import_images(self, archives: dict[str, Path]) -> None:
        """Import each image (tag -> archive) unless containerd has that tag from that archive, and
        drop earlier builds of the project's image (containerd collects their layers)."""
        record = self.layout.containerd_root / "imported.json"
        try:
            imported: dict[str, str] = json.loads(record.read_text())
        except (OSError, ValueError):
            imported = {}
        present = set((self._ctr("images", "ls", "-q") or "").split())
        for tag, archive in archives.items():
            if tag not in present or imported.get(tag) != str(archive):
                sock = str(self.layout.containerd_socket)
                _run(["ctr", "-a", sock, "-n", "k8s.io", "images", "import", str(archive)])
                imported[tag] = str(archive)
        for tag in present - set(archives):
            if tag.startswith(f"{PROJECT_IMAGE}:"):
                self._ctr("images", "rm", tag)
                imported.pop(tag, None)
        record.write_text(json.dumps(imported, indent=2))

    def _allow_node_user(self) -> None:
        # RBAC is the control plane's only authorizer: bind the node's user to the system:node role.
        from lightkube import Client, KubeConfig
        from lightkube.models.meta_v1 import ObjectMeta
        from lightkube.models.rbac_v1 import RoleRef, Subject
        from lightkube.resources.rbac_authorization_v1 import ClusterRoleBinding

        from rollover import FIELD_MANAGER

        client = Client(KubeConfig.from_file(self.plane.kubeconfig), field_manager=FIELD_MANAGER)
        binding = ClusterRoleBinding(
            metadata=ObjectMeta(name=f"district-rollover:node:{NODE_NAME}"),
            roleRef=RoleRef(apiGroup="rbac.authorization.k8s.io", kind="ClusterRole", name="system:node"),
            subjects=[
                Subject(kind="User", name=f"system:node:{NODE_NAME}", apiGroup="rbac.authorization.k8s.io")
            ],
        )
        client.apply(binding, force=True)

    def _make_cgroup_root(self) -> None:
        # The kubelet refuses a cgroup root that does not exist in every v1 hierarchy.
        for hierarchy in _cgroup_hierarchies():
            path = hierarchy / self.layout.cgroup_root.lstrip("/")
            path.mkdir(exist_ok=True)
            if hierarchy.name == "cpuset":  # a new cpuset has no CPUs or memory nodes until given some
                for f in ("cpuset.cpus", "cpuset.mems"):
                    (path / f).write_text((hierarchy / f).read_text())

    def _schedulable(self) -> bool:
        found = self._kubectl("get", "node", NODE_NAME, "-o", "json")
        if found is None:
            return False
        node = json.loads(found)
        ready = any(
            c["type"] == "Ready" and c["status"] == "True" for c in node["status"].get("conditions", [])
        )
        return ready and not node["spec"].get("taints")

    def _spawn(self, state: _State, name: str, command: list[str]) -> None:
        state.processes[name] = spawn(command, self.layout.logs / f"{name}.log", self.layout.root)
        self._state.save(state)

    def _wait_for(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        state = self._state.load()
        while time.monotonic() < deadline:
            if check():
                return
            for name, proc in (state.processes if state else {}).items():
                if not process_alive(proc):
                    raise NodeUnavailable(f"{name} exited while waiting for {what}:\n{self._log_tail(name)}")
            time.sleep(0.5)
        raise NodeUnavailable(f"not {what} after {timeout:.0f}s:\n{self._log_tail('kubelet')}")

    def _log_tail(self, name: str) -> str:
        return log_tail(self.layout.logs / f"{name}.log", 20)

    def _kubectl(self, *args: str) -> str | None:
        done = subprocess.run(
            ["kubectl", f"--kubeconfig={self.plane.kubeconfig}", *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return done.stdout if done.returncode == 0 else None

    def _ctr(self, *args: str) -> str | None:
        done = subprocess.run(
            ["ctr", "-a", str(self.layout.containerd_socket), "-n", "k8s.io", *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return done.stdout if done.returncode == 0 else None

    # --- stop -----------------------------------------------------------------------------------

    def _remove_pods(self, *, through_kubelet: bool, timeout: float = 60.0) -> None:
        """Delete the node's pods through the API so the kubelet tears down their sandboxes (network
        included); whatever is left after `timeout` is killed through containerd."""
        if through_kubelet and self.plane.running_components():
            self._kubectl(
                "delete", "pods", "--all-namespaces", f"--field-selector=spec.nodeName={NODE_NAME}",
                "--grace-period=0", "--force", "--wait=false",
            )  # fmt: skip
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and (self._ctr("tasks", "ls", "-q") or "").strip():
                time.sleep(0.5)
        for task in (self._ctr("tasks", "ls", "-q") or "").split():
            self._ctr("tasks", "kill", "--all", "--signal", "SIGKILL", task)
            for _ in range(20):
                if self._ctr("tasks", "delete", task) is not None:
                    break
                time.sleep(0.25)

    def _kill_orphans(self) -> None:
        cgroups = [h / self.layout.cgroup_root.lstrip("/") for h in _cgroup_hierarchies(with_unified=True)]
        pids = {pid for cgroup in cgroups for pid in _pids_in(cgroup)}
        shim_address = f"-address\0{self.layout.containerd_socket}\0"
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                with contextlib.suppress(OSError):
                    if shim_address in (proc / "cmdline").read_text():
                        pids.add(int(proc.name))
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def _clear_leftovers(self) -> None:
        """Unmount what a crashed node left under its directory, drop its bridge and cgroups, and
        wipe the runtime directories."""
        for mount in sorted(_mounts_under(self.layout.root), key=len, reverse=True):
            subprocess.run(["umount", "--lazy", mount], capture_output=True, check=False)
        for rule in _nat_rules_marked(self.layout.nat_comment):
            subprocess.run(["iptables", "-t", "nat", "-D", *rule], capture_output=True, check=False)
        if Path(f"/sys/class/net/{self.layout.bridge}").exists():
            subprocess.run(["ip", "link", "delete", self.layout.bridge], capture_output=True, check=False)
        cgroups = [h / self.layout.cgroup_root.lstrip("/") for h in _cgroup_hierarchies(with_unified=True)]
        # A cgroup whose last process has just exited stays busy for a moment: retry briefly.
        for _ in range(40):
            for cgroup in cgroups:
                _remove_cgroup_tree(cgroup)
            if not any(c.exists() for c in cgroups):
                break
            time.sleep(0.25)
        if _mounts_under(self.layout.root):
            return  # never delete through a mount that would not go: it may be a host directory
        for d in self.layout.runtime_dirs:
            shutil.rmtree(d, ignore_errors=True)


def _cgroup_hierarchies(*, with_unified: bool = False) -> list[Path]:
    """The cgroup v1 hierarchies mounted under /sys/fs/cgroup, and the hybrid cgroup2 mount if asked
    (the kubelet makes its cgroups there too, but only v1 ones must exist beforehand)."""
    fstypes = {"cgroup", "cgroup2"} if with_unified else {"cgroup"}
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _, target, fstype, *_ = line.split()
        if fstype in fstypes and target.startswith(f"{CGROUP_V1}/"):
            found.append(Path(target))
    return found


def _nat_rules_marked(comment: str) -> list[list[str]]:
    """The NAT rules (as `iptables -D` arguments, chain first) carrying `comment`."""
    done = subprocess.run(["iptables", "-t", "nat", "-S"], capture_output=True, text=True, check=False)
    rules = [shlex.split(line) for line in done.stdout.splitlines() if line.startswith("-A ")]
    return [rule[1:] for rule in rules if comment in rule]


def _mounts_under(root: Path) -> list[str]:
    prefix = f"{root.resolve()}/"
    targets = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    return [t for t in targets if t.startswith(prefix)]


def _pids_in(cgroup: Path) -> set[int]:
    """Every process in `cgroup` and below it."""
    if not cgroup.is_dir():
        return set()
    found: set[int] = set()
    for procs in cgroup.rglob("cgroup.procs"):
        with contextlib.suppress(OSError):
            found.update(int(line) for line in procs.read_text().split())
    return found


def _remove_cgroup_tree(path: Path) -> None:
    # rmdir, children first: a cgroup directory holds only kernel files and is removed empty.
    if not path.is_dir():
        return
    for child in [p for p in path.iterdir() if p.is_dir()]:
        _remove_cgroup_tree(child)
    with contextlib.suppress(OSError):
        path.rmdir()
