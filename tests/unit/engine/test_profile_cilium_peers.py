"""The Cilium profile's node peers and ipBlock peers (semantics reference §4.8, §4.10, §6).

Each case asks ``kubefence check --cni ...`` about one flow between a pod and a node address and
checks the verdict and the profile's warning.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from conftest import invoke
from kubefence.engine.profiles import apply_profile, parse_profile
from kubefence.ir.model import ExternalBlockPeer, IPBlockPeer
from kubefence.workspace.load import load_workspace

CLUSTER = """\
apiVersion: v1
kind: Node
metadata:
  name: node-2
  labels: {kubernetes.io/hostname: node-2, role: worker}
status:
  addresses:
  - {type: InternalIP, address: 172.18.0.3}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x, labels: {pod: a}}
spec: {nodeName: node-1}
status: {podIP: 10.9.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: x, labels: {pod: b}}
spec: {nodeName: node-1}
status: {podIP: 10.9.0.2}
---
"""

FROM_NODES = """\
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: fromnodes, namespace: x}
specs:
- endpointSelector: {matchLabels: {pod: b}}
  ingress:
  - fromEndpoints: [{matchLabels: {pod: a}}]
- endpointSelector: {matchLabels: {pod: a}}
  ingress:
  - fromNodes: [{matchLabels: {role: worker}}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: other, namespace: x}
spec:
  endpointSelector: {matchLabels: {pod: a}}
  ingress:
  - fromEndpoints: [{matchLabels: {pod: b}}]
"""

IPBLOCK = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: eg-ipblock, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 0.0.0.0/0}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: in-ipblock, namespace: x}
spec:
  podSelector: {matchLabels: {pod: b}}
  policyTypes: [Ingress]
  ingress:
  - from: [{ipBlock: {cidr: 172.18.0.0/16}}]
"""


def _check(
    runner: CliRunner, tmp_path: Path, policies: str, flow: tuple[str, str], cni: str
) -> dict[str, Any]:
    path = tmp_path / "m.yaml"
    path.write_text(CLUSTER + policies)
    args = ("check", str(path), "--from", flow[0], "--to", flow[1], "--port", "80/TCP", "-o", "json")
    result = invoke(runner, *args, "--cni", cni)
    assert result.exit_code in (0, 1), result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


@pytest.mark.parametrize(
    ("cni", "verdict", "rejected"),
    [
        ("generic", "allow", False),  # Cilium policies are not enforced at all
        ("cilium", "deny", True),  # rejected: only x/other (from x/b) is left for x/a
        ("cilium,enable-node-selector-labels=false", "deny", True),
        ("cilium,enable-node-selector-labels=true", "allow", False),  # fromNodes allows the node
    ],
)
def test_from_nodes_needs_node_selector_labels(
    runner: CliRunner, tmp_path: Path, cni: str, verdict: str, rejected: bool
) -> None:
    """cilium/cilium pkg/policy/api/rule_validation.go ``IngressCommonRule.Validate`` and
    ``EgressCommonRule.Validate`` return ``ErrFromToNodesRequiresNodeSelectorOption`` for
    fromNodes/toNodes unless ``option.Config.EnableNodeSelectorLabels``, whose default is false
    (pkg/defaults/defaults.go ``EnableNodeSelectorLabels = false``): the agent rejects the whole
    policy, every ``specs`` entry included."""
    doc = _check(runner, tmp_path, FROM_NODES, ("172.18.0.3", "x/a"), cni)
    assert doc["verdict"] == verdict
    warnings = [str(w) for w in doc["warnings"]]
    assert any("enable-node-selector-labels=true" in w for w in warnings) is rejected
    # The first part of the rejected object (x/b only from x/a) is gone too: any address reaches x/b.
    outside = _check(runner, tmp_path, FROM_NODES, ("10.99.0.1", "x/b"), cni)
    assert outside["verdict"] == ("allow" if rejected or cni == "generic" else "deny")


def test_rejected_node_policy_leaves_other_objects(tmp_path: Path) -> None:
    """Only the object with fromNodes is rejected (pkg/policy/api rule_validation.go validates
    one policy's rules); another CiliumNetworkPolicy of the namespace stays."""
    path = tmp_path / "m.yaml"
    path.write_text(CLUSTER + FROM_NODES)
    ws = load_workspace([str(path)])
    kept, warnings = apply_profile(parse_profile("cilium"), ws.policies)
    assert [(p.name, p.part) for p in kept] == [("other", 0)]
    assert len([w for w in warnings if "fromNodes" in w.message]) == 1
    on, _ = apply_profile(parse_profile("cilium,enable-node-selector-labels=true"), ws.policies)
    assert sorted((p.name, p.part) for p in on) == [("fromnodes", 1), ("fromnodes", 2), ("other", 0)]
    assert parse_profile("cilium,enable-node-selector-labels=true").spec == (
        "cilium,enable-node-selector-labels=true"
    )


@pytest.mark.parametrize(
    ("flow", "cni", "verdict"),
    [
        (("x/a", "172.18.0.3"), "cilium", "deny"),  # the node is not in the CIDR rule
        (("x/a", "8.8.8.8"), "cilium", "allow"),
        (("x/a", "x/b"), "cilium", "deny"),  # nor is a pod
        (("172.18.0.3", "x/b"), "cilium", "deny"),
        (("203.0.113.9", "x/b"), "cilium", "deny"),  # outside the block
        (("172.18.9.9", "x/b"), "cilium", "allow"),  # outside the cluster, in the block
        (("x/a", "172.18.0.3"), "generic", "allow"),  # upstream: ipBlock matches node IPs
        (("172.18.0.3", "x/b"), "generic", "allow"),
        (("172.18.0.3", "x/b"), "calico", "allow"),
    ],
)
def test_networkpolicy_ipblock_is_a_cidr_rule_under_cilium(
    runner: CliRunner, tmp_path: Path, flow: tuple[str, str], cni: str, verdict: str
) -> None:
    """cilium/cilium pkg/k8s/network_policy.go ``ipBlockToCIDRRule`` turns an ipBlock into a
    ``CIDRRule`` (fromCIDRSet/toCIDRSet); CIDR selectors select neither Cilium endpoints nor
    nodes unless policy-cidr-match-mode includes "nodes" (pkg/ipcache/metadata.go
    ``resolveIdentity``: "It is not allowed for nodes to have CIDR labels, unless
    policy-cidr-match-mode includes nodes"; docs security/policy/language "CIDR based":
    "CIDR rules do not apply to traffic where both sides of the connection are either managed
    by Cilium or use an IP belonging to a node in the cluster")."""
    doc = _check(runner, tmp_path, IPBLOCK, flow, cni)
    assert doc["verdict"] == verdict, doc["reason"]


def test_ipblock_peers_become_external_blocks(tmp_path: Path) -> None:
    """Same source as above: the profile rewrites NetworkPolicy ipBlock peers into the peers
    Cilium's own toCIDRSet gives (dialects/cilium_peers.py), with one warning per rule."""
    path = tmp_path / "m.yaml"
    path.write_text(CLUSTER + IPBLOCK)
    ws = load_workspace([str(path)])
    kept, warnings = apply_profile(parse_profile("cilium"), ws.policies)
    peers = [peer for p in kept for r in p.rules for peer in r.peers]
    assert peers and all(isinstance(p, ExternalBlockPeer) for p in peers)
    assert len([w for w in warnings if "Cilium CIDR rule" in w.message]) == 2
    generic, _ = apply_profile(parse_profile("calico"), ws.policies)
    assert all(isinstance(peer, IPBlockPeer) for p in generic for r in p.rules for peer in r.peers)
