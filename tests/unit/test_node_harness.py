"""The pure parts of the local node (rollover.devcluster.node): its names and its configuration."""

from __future__ import annotations

import ipaddress
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ruamel.yaml import YAML

from rollover.devcluster.chart import ChartError, chart_values
from rollover.devcluster.controlplane import SERVICE_CIDR
from rollover.devcluster.node import (
    PAUSE_IMAGE,
    NodeLayout,
    cni_config,
    containerd_config,
    kubelet_config,
    project_image_inputs,
)

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]

_dirs = st.lists(st.text(alphabet="abcdefghij-_0123456789", min_size=1, max_size=12), min_size=1, max_size=5)


@given(_dirs)
def test_the_host_wide_names_are_valid_and_follow_from_the_directory(parts: list[str]) -> None:
    layout = NodeLayout(Path("/", *parts))
    assert layout == NodeLayout(Path("/", *parts))  # deterministic: stop() finds what start() made
    assert len(layout.bridge) <= 15  # Linux's interface name limit
    assert ipaddress.ip_network(layout.subnet).subnet_of(ipaddress.ip_network("10.244.0.0/16"))
    assert layout.cgroup_root.startswith("/district-rollover-")
    pods = layout.pod_network
    assert pods.subnet == layout.subnet
    assert ipaddress.ip_address(pods.host_address) == ipaddress.ip_network(layout.subnet)[1]  # the gateway


def test_two_directories_claim_different_bridges_and_cgroups() -> None:
    a, b = NodeLayout(Path("/a/node")), NodeLayout(Path("/b/node"))
    assert a.bridge != b.bridge
    assert a.cgroup_root != b.cgroup_root


def test_containerd_keeps_everything_under_the_node_directory() -> None:
    layout = NodeLayout(Path("/state/node"))
    config = tomllib.loads(containerd_config(layout))
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    assert config["grpc"]["address"] == "/state/node/containerd.sock"
    assert config["root"].startswith("/state/node/") and config["state"].startswith("/state/node/")
    assert cri["sandbox_image"] == PAUSE_IMAGE
    assert cri["netns_mounts_under_state_dir"] is True
    runc = cri["containerd"]["runtimes"]["runc"]["options"]
    assert runc["SystemdCgroup"] is False and runc["Root"].startswith("/state/node/")


def test_the_pod_network_is_the_layouts_bridge_and_subnet() -> None:
    layout = NodeLayout(Path("/state/node"))
    bridge = cni_config(layout)["plugins"][0]
    assert bridge["bridge"] == layout.bridge
    assert bridge["ipam"]["ranges"] == [[{"subnet": layout.subnet}]]
    assert bridge["ipam"]["dataDir"].startswith("/state/node/")
    # Pods reach the Service range (the kubernetes Service's NAT rule) through the host, nothing else.
    assert bridge["isGateway"] is True and bridge["ipam"]["routes"] == [{"dst": SERVICE_CIDR}]


def test_the_kubelet_listens_on_loopback_with_cgroupfs_and_swap_allowed() -> None:
    layout = NodeLayout(Path("/state/node"))
    config = kubelet_config(layout, Path("/pki/ca.crt"), 11250, 11248)
    assert (config["address"], config["healthzBindAddress"], config["readOnlyPort"]) == (
        "127.0.0.1",
        "127.0.0.1",
        0,
    )
    assert (config["port"], config["healthzPort"]) == (11250, 11248)
    assert config["cgroupDriver"] == "cgroupfs" and config["cgroupRoot"] == layout.cgroup_root
    assert config["failSwapOn"] is False
    assert config["containerRuntimeEndpoint"] == "unix:///state/node/containerd.sock"
    # Pods resolve the kubernetes Service's name with the node's DNS on the host address.
    assert config["clusterDNS"] == [layout.pod_network.host_address]
    assert config["clusterDomain"] == "cluster.local"


def test_the_project_image_is_keyed_by_what_the_dockerignore_lets_the_build_read() -> None:
    repo = Path(__file__).resolve().parents[2]
    allowed = [
        line[1:].rstrip("/")
        for line in (repo / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    inputs = {p.relative_to(repo).parts[0] for p in project_image_inputs(repo)}
    assert inputs == {*allowed, "Dockerfile"}
    assert not any("__pycache__" in p.parts for p in project_image_inputs(repo))


def test_chart_values_put_each_operator_setting_where_the_charts_values_have_it() -> None:
    chart = REPO / "charts" / "district-rollover"
    chart_defaults = YAML(typ="safe").load((chart / "values.yaml").read_text())
    settings = {
        "defaultJob": {"backoffLimit": 0},
        "certificates": {"secretName": "k"},
        "archives": {"retentionDays": 30},
        "preflight": {"enabled": False},
        "notifications": {"channels": {}},
    }
    clock = ("2027-01-01", 2.0)
    values = chart_values("localhost/x/operator:abc123", settings, namespaces=["a"], clock=clock)
    assert values["image"] == {"repository": "localhost/x/operator", "tag": "abc123", "pullPolicy": "Never"}
    assert values["jobs"]["defaultJob"] == {"backoffLimit": 0} and values["jobs"]["rosterStoreSecret"] == ""
    assert values["operator"]["certificates"] == {"secretName": "k"}
    assert values["operator"]["demoClock"] == {"start": "2027-01-01", "rate": 2.0}
    assert values["scope"] == {"mode": "namespaces", "namespaces": ["a"]}

    def paths(tree: dict[str, Any], prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
        """Every key path down to the settings' level (the chart's own maps below are free-form)."""
        found = set()
        for key, value in tree.items():
            found.add((*prefix, key))
            if isinstance(value, dict) and key not in ("defaultJob", "certificates", "archives", "preflight"):
                found |= paths(value, (*prefix, key))
        return found

    assert paths(values) - {("notifications", "channels")} <= paths(chart_defaults)
    with pytest.raises(ChartError, match="no chart value"):
        chart_values("i:t", {"workers": 3})
