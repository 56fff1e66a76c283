"""What Calico's conversion of the upstream admin policies enforces (semantics reference §3.7,
§6), and Calico's rejection of a catch-all ``notNets``.

The flows are asked through ``kubefence check --cni ...``; cases name the Calico version.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from conftest import invoke

CLUSTER = """\
apiVersion: v1
kind: Node
metadata:
  name: node-2
  labels: {kubernetes.io/os: linux}
status:
  addresses:
  - {type: InternalIP, address: 172.18.0.3}
---
apiVersion: v1
kind: Namespace
metadata: {name: x, labels: {ns: x}}
---
apiVersion: v1
kind: Namespace
metadata: {name: y, labels: {ns: y}}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x, labels: {pod: a}}
spec:
  nodeName: node-1
  containers:
  - name: c
    ports: [{name: http, containerPort: 80}]
status: {podIP: 10.9.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: y, labels: {pod: a}}
spec: {nodeName: node-1}
status: {podIP: 10.9.1.1}
---
"""

ANP_NAMED = """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: deny-http-from-y}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress:
  - name: deny-http
    action: Deny
    from: [{namespaces: {matchLabels: {ns: y}}}]
    ports: [{namedPort: http}]
"""

CNP_NAMED = """\
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: deny-http-from-y}
spec:
  tier: Admin
  priority: 10
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress:
  - name: deny-http
    action: Deny
    from: [{namespaces: {matchLabels: {ns: y}}}]
    protocols: [{destinationNamedPort: http}]
"""


def _anp_nodes(action: str) -> str:
    return f"""\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {{name: to-nodes}}
spec:
  priority: 10
  subject: {{namespaces: {{matchLabels: {{ns: x}}}}}}
  egress:
  - name: to-nodes
    action: {action}
    to: [{{nodes: {{matchLabels: {{kubernetes.io/os: linux}}}}}}]
    ports: [{{portNumber: {{port: 6443, protocol: TCP}}}}]
"""


CNP_NODES = """\
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: to-nodes}
spec:
  tier: Admin
  priority: 10
  subject: {namespaces: {matchLabels: {ns: x}}}
  egress:
  - name: to-nodes
    action: Deny
    to: [{nodes: {matchLabels: {kubernetes.io/os: linux}}}]
"""

BANP_NODES = """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {matchLabels: {ns: x}}}
  egress:
  - name: to-nodes
    action: Deny
    to: [{nodes: {matchLabels: {kubernetes.io/os: linux}}}]
"""

# Isolates x/a's egress; with ANP Allow it only matters where the ANP rule is gone.
EGRESS_DENY = """\
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-egress, namespace: x}
spec: {podSelector: {}, policyTypes: [Egress]}
"""


def _check(
    runner: CliRunner, tmp_path: Path, policies: str, flow: tuple[str, str, str], cni: str
) -> dict[str, Any]:
    path = tmp_path / "m.yaml"
    path.write_text(CLUSTER + policies)
    source, dest, port = flow
    args = ("check", str(path), "--from", source, "--to", dest, "--port", port, "-o", "json")
    result = invoke(runner, *args, "--cni", cni)
    assert result.exit_code in (0, 1), result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


@pytest.mark.parametrize(
    ("policies", "cni", "port", "verdict"),
    [
        (ANP_NAMED, "generic", "80/TCP", "deny"),
        (ANP_NAMED, "generic", "81/TCP", "allow"),
        (ANP_NAMED, "calico@3.29", "81/TCP", "deny"),
        (ANP_NAMED, "calico@3.31", "81/TCP", "deny"),
        (ANP_NAMED, "calico@3.31", "81/UDP", "deny"),
        (ANP_NAMED, "calico@3.31", "80/TCP", "deny"),
        (CNP_NAMED, "calico@3.32", "80/TCP", "deny"),
        (CNP_NAMED, "calico@3.32", "81/TCP", "allow"),
    ],
)
def test_named_port_up_to_3_31_means_every_port(
    runner: CliRunner, tmp_path: Path, policies: str, cni: str, port: str, verdict: str
) -> None:
    """projectcalico/calico v3.29.0–v3.31.x libcalico-go/lib/backend/k8s/conversion/conversion.go
    ``k8sAdminPolicyPortToCalicoFields`` returns no protocol and no port for a namedPort
    ("TODO: Add support for NamedPorts"), and ``unpackANPPorts`` reads that as "allow all" for the
    whole port list; v3.32.0 conversion/clusternetworkpolicy.go ``k8sCNPPortToCalicoFields``
    converts ``destinationNamedPort`` with ``numorstring.NamedPort``."""
    doc = _check(runner, tmp_path, policies, ("y/a", "x/a", port), cni)
    assert doc["verdict"] == verdict, doc["reason"]
    warned = any("matches every port and protocol" in w for w in doc["warnings"])
    assert warned is (cni in ("calico@3.29", "calico@3.31"))


@pytest.mark.parametrize(
    ("policies", "cni", "flow", "verdict"),
    [
        (_anp_nodes("Deny"), "generic", ("x/a", "172.18.0.3", "6443/TCP"), "deny"),
        (_anp_nodes("Deny"), "generic", ("x/a", "y/a", "80/TCP"), "allow"),
        # The failed Deny rule becomes "deny everything": every peer, port and protocol.
        (_anp_nodes("Deny"), "calico@3.31", ("x/a", "y/a", "80/TCP"), "deny"),
        (_anp_nodes("Deny"), "calico@3.31", ("x/a", "8.8.8.8", "53/UDP"), "deny"),
        (_anp_nodes("Pass"), "generic", ("x/a", "y/a", "80/TCP"), "allow"),
        (_anp_nodes("Pass"), "calico@3.29", ("x/a", "y/a", "80/TCP"), "deny"),
        # The failed Allow rule is dropped: the NetworkPolicy's default deny decides.
        (_anp_nodes("Allow") + EGRESS_DENY, "generic", ("x/a", "172.18.0.3", "6443/TCP"), "allow"),
        (_anp_nodes("Allow") + EGRESS_DENY, "calico@3.31", ("x/a", "172.18.0.3", "6443/TCP"), "deny"),
        (CNP_NODES, "generic", ("x/a", "y/a", "80/TCP"), "allow"),
        (CNP_NODES, "calico@3.32", ("x/a", "y/a", "80/TCP"), "deny"),
        (BANP_NODES, "calico@3.30", ("x/a", "y/a", "80/TCP"), "deny"),
    ],
)
def test_egress_nodes_peer_fails_the_rule(
    runner: CliRunner,
    tmp_path: Path,
    policies: str,
    cni: str,
    flow: tuple[str, str, str],
    verdict: str,
) -> None:
    """projectcalico/calico v3.31.0 libcalico-go/lib/backend/k8s/conversion/conversion.go
    ``combinePortsWithANPEgressPeers`` fails a rule with a peer other than namespaces, pods or
    networks ("none of supported fields in 'To' is set."); ``K8sAdminNetworkPolicyToCalico``
    then appends ``k8sANPHandleFailedRules(action)``: ``{Action: Deny}`` for Deny and Pass,
    nothing for Allow (``k8sBANPHandleFailedRules``: Deny only). v3.32.0
    conversion/clusternetworkpolicy.go ``combinePortsWithCNPEgressPeers`` and
    ``k8sClusterNetPolHandleFailedRules`` do the same for ClusterNetworkPolicy."""
    doc = _check(runner, tmp_path, policies, flow, cni)
    assert doc["verdict"] == verdict, doc["reason"]
    warned = any("Calico cannot convert the peer nodes" in w for w in doc["warnings"])
    assert warned is (cni.startswith("calico"))


@pytest.mark.parametrize(
    ("not_nets", "error"),
    [
        ("[0.0.0.0/0]", True),
        ("[10.0.0.0/8, '::/0']", True),
        ("['::0/0']", True),
        ("[10.0.0.0/8]", False),
        ("[0.0.0.0/1, 128.0.0.0/1]", False),
    ],
)
def test_catch_all_not_nets_is_rejected(
    runner: CliRunner, tmp_path: Path, not_nets: str, error: bool
) -> None:
    """projectcalico/calico v3.31.0 libcalico-go/lib/validator/v3/validator.go ``validateRule``
    (``scanNets``): ``0.0.0.0/0`` or an IPv6 ``/0`` in ``Source.NotNets``/``Destination.NotNets``
    is reported as "catch-all CIDR in negation creates logical contradiction (matches no
    traffic)" (absent in v3.30.0)."""
    policy = f"""\
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {{name: catch-all-neg, namespace: x}}
spec:
  selector: pod == 'a'
  ingress:
  - action: Allow
    source: {{notNets: {not_nets}}}
"""
    path = tmp_path / "m.yaml"
    path.write_text(CLUSTER + policy)
    args = ("check", str(path), "--from", "y/a", "--to", "x/a", "--port", "80/TCP", "--cni", "calico")
    result = invoke(runner, *args)
    assert (result.exit_code == 2) is error, result.output
    if error:
        assert "spec.ingress[0].source.notNets[" in result.output
        assert "catch-all CIDR in negation" in result.output
