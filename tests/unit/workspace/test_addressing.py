"""Addresses kubefence makes up for pods that have none (workloads' representative pods, pods
without ``status.podIP``): from their node's pod CIDR, else from a private pool."""

from __future__ import annotations

import ipaddress
import json
import textwrap
from pathlib import Path

from typer.testing import CliRunner

from conftest import invoke
from kubefence.cluster.addressing import SYNTHETIC_POOL
from kubefence.workspace.load import load_workspace

CLUSTER = textwrap.dedent("""\
    apiVersion: v1
    kind: Node
    metadata: {name: n1}
    spec: {podCIDR: 10.42.1.0/24, podCIDRs: [10.42.1.0/24, "fd00:42:1::/64"]}
    status: {addresses: [{type: InternalIP, address: 192.168.1.5}]}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: a, namespace: shop, labels: {app: a}}
    spec: {nodeName: n1}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: b, namespace: shop, labels: {app: b}}
    spec: {nodeName: n1}
    status: {podIP: 10.42.1.2}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: c, namespace: shop, labels: {app: c}}
    spec: {nodeName: elsewhere}
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web, namespace: shop}
    spec:
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec: {containers: [{name: c}]}
    """)


def _ips(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "cluster.yaml"
    path.write_text(text)
    workspace = load_workspace([str(path)])
    assert not workspace.errors, workspace.errors
    return {p.key: str(p.ip) for p in workspace.snapshot.pods}


def test_pods_get_addresses_from_their_node_else_a_private_pool(tmp_path: Path) -> None:
    ips = _ips(tmp_path, CLUSTER)
    assert ips["shop/b"] == "10.42.1.2"
    assert ipaddress.ip_address(ips["shop/a"]) in ipaddress.ip_network("10.42.1.0/24")
    assert ips["shop/a"] != ips["shop/b"]  # a given address is never handed out again
    for key in ("shop/c", "shop/web"):  # no node, or a node without a pod CIDR
        assert ipaddress.ip_address(ips[key]) in SYNTHETIC_POOL
    assert SYNTHETIC_POOL.is_private


def test_internet_egress_does_not_reach_pods_without_addresses(runner: CliRunner, tmp_path: Path) -> None:
    """The usual "egress to the internet" rule, ``0.0.0.0/0`` except the RFC 1918 ranges, does
    not let a pod reach another pod of the cluster, whose address is private in practice (pod
    networks are): nor when kubefence made the address up (a Deployment has none)."""
    internet = textwrap.dedent("""\
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: internet-only, namespace: shop}
        spec:
          podSelector: {matchLabels: {app: c}}
          policyTypes: [Egress]
          egress:
          - to:
            - ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16]}
        """)
    path = tmp_path / "cluster.yaml"
    path.write_text(CLUSTER + internet)
    to_web = invoke(
        runner, "check", str(path), "--from", "shop/c", "--to", "shop/web", "--port", "80", "-o", "json"
    )
    assert json.loads(to_web.stdout)["verdict"] == "deny"
    out = invoke(
        runner, "check", str(path), "--from", "shop/c", "--to", "203.0.113.9", "--port", "80", "-o", "json"
    )
    assert json.loads(out.stdout)["verdict"] == "allow"


def test_bad_pod_cidr_is_an_error_with_its_field(tmp_path: Path) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(
        "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nspec: {podCIDRs: [10.1.0.0/16, nope]}\n"
    )
    workspace = load_workspace([str(path)])
    (error,) = workspace.errors
    assert error.field == "spec.podCIDRs[1]" and error.line == 4 and "nope" in error.message
