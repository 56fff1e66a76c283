"""Pairs between a node's addresses and the pods of that node, in every matrix output: the
answers a profile changes there (Antrea's own-node ingress, Weave Net's own-node egress) must
be the same in ``check``, ``matrix -o json``, ``-o counts`` and ``-o classes``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from conftest import invoke

if TYPE_CHECKING:
    from pathlib import Path

    from typer.testing import CliRunner

CLUSTER = """\
apiVersion: v1
kind: Node
metadata: {name: n1}
status: {addresses: [{type: InternalIP, address: 172.20.0.1}]}
---
apiVersion: v1
kind: Node
metadata: {name: n2}
status: {addresses: [{type: InternalIP, address: 172.20.0.2}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: app, labels: {app: web}}
spec: {nodeName: n1}
status: {podIP: 10.9.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: web2, namespace: app, labels: {app: web}}
spec: {nodeName: n2}
status: {podIP: 10.9.0.3}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: app, labels: {app: api}}
spec: {nodeName: n2}
status: {podIP: 10.9.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: agent-n1, namespace: kube-system}
spec: {nodeName: n1, hostNetwork: true}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: lock, namespace: app}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
"""
PORTS = ("--port", "80/TCP", "--port", "10250/TCP")


# Cilium entities: web may reach its own node (host), api every other node (remote-node).
CILIUM_ENTITIES = """\
---
apiVersion: v1
kind: Pod
metadata: {name: agent-n2, namespace: kube-system}
spec: {nodeName: n2, hostNetwork: true}
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web-to-host, namespace: app}
spec:
  endpointSelector: {matchLabels: {app: web}}
  egress: [{toEntities: [host], toPorts: [{ports: [{port: "10250", protocol: TCP}]}]}]
  ingress: [{fromEntities: [remote-node]}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api-to-others, namespace: app}
spec:
  endpointSelector: {matchLabels: {app: api}}
  egress: [{toEntities: [remote-node], toPorts: [{ports: [{port: "10250", protocol: TCP}]}]}]
  ingress: [{fromEntities: [host]}]
"""


def _agree(runner: CliRunner, path: Path, cni: str) -> dict[str, Any]:
    """Every output of the matrix gives the same verdicts as ``check``, pair by pair."""
    base = ("matrix", str(path), "--cni", cni, *PORTS)
    doc: dict[str, Any] = json.loads(invoke(runner, *base, "-o", "json").stdout)
    counts = json.loads(invoke(runner, *base, "-o", "counts").stdout)
    assert (counts["allowed"], counts["denied"]) == (len(doc["allowed"]), len(doc["denied"]))
    classes = json.loads(invoke(runner, *base, "-o", "classes").stdout)
    member_class = {m: c["id"] for c in classes["classes"] for m in c["members"]}
    by_pair = {(s, d): k for s, d, k in classes["allowed"]}
    local = {(s, d): k for s, d, k in classes["node_local"]}
    for src, dst, port, proto in doc["allowed"] + doc["denied"]:
        result = invoke(
            runner, "check", str(path), "--from", src, "--to", dst, "--port", f"{port}/{proto}", "--cni", cni
        )
        allowed = [src, dst, port, proto] in doc["allowed"]
        assert result.exit_code == (0 if allowed else 1), (src, dst, port, result.output)
        k = local.get((src, dst), by_pair.get((member_class[src], member_class[dst])))
        in_set = k is not None and any(
            r["protocol"] == proto and any(lo <= port <= hi for lo, hi in r["ports"] or ())
            for r in classes["connection_sets"][k]
        )
        assert in_set == allowed, (src, dst, port)
    return doc


@pytest.mark.parametrize("cni", ["generic", "weave", "antrea", "cilium,allow-localhost=policy"])
def test_outputs_agree_on_own_node_pairs(runner: CliRunner, tmp_path: Path, cni: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(CLUSTER)
    doc = _agree(runner, path, cni)
    if cni == "weave":  # a pod reaches the host-network pod of its own node, not of another
        assert ["app/web", "kube-system/agent-n1", 10250, "TCP"] in doc["allowed"]
        assert ["app/web2", "kube-system/agent-n1", 10250, "TCP"] in doc["denied"]


@pytest.mark.parametrize("cni", ["cilium", "cilium,allow-localhost=policy"])
def test_cilium_host_is_the_own_node_and_remote_node_the_others(
    runner: CliRunner, tmp_path: Path, cni: str
) -> None:
    """docs.cilium.io security/policy/language "Entities Based": ``host`` is "the local host,
    also includes all containers running in host networking mode on the local host",
    ``remote-node`` "any node in any of the connected clusters other than the local host".
    web (on n1) may reach n1 only, api (on n2) every node but n2; with allow-localhost=policy,
    ingress from the own node needs ``host``, from another node ``remote-node``."""
    path = tmp_path / "c.yaml"
    path.write_text(
        CLUSTER.replace("  podSelector: {}\n", "  podSelector: {matchLabels: {app: none}}\n")
        + CILIUM_ENTITIES
    )
    doc = _agree(runner, path, cni)
    allowed, denied = doc["allowed"], doc["denied"]
    assert ["app/web", "kube-system/agent-n1", 10250, "TCP"] in allowed
    assert ["app/web", "kube-system/agent-n2", 10250, "TCP"] in denied
    assert ["app/api", "kube-system/agent-n1", 10250, "TCP"] in allowed
    assert ["app/api", "kube-system/agent-n2", 10250, "TCP"] in denied
    policed = cni.endswith("policy")
    assert (["kube-system/agent-n1", "app/web", 80, "TCP"] in allowed) is not policed  # own node
    assert ["kube-system/agent-n2", "app/web", 80, "TCP"] in allowed  # remote-node
    assert ["kube-system/agent-n2", "app/api", 80, "TCP"] in allowed  # own node: host
    assert ["kube-system/agent-n1", "app/api", 80, "TCP"] in denied  # another node, not host
    for node, code in (("172.20.0.1", 0), ("172.20.0.2", 1)):
        check = ("check", str(path), "--from", "app/web", "--to", node, "--port", "10250", "--cni", cni)
        assert invoke(runner, *check).exit_code == code
