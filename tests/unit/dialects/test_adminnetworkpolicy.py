"""AdminNetworkPolicy / BaselineAdminNetworkPolicy / ClusterNetworkPolicy parsing
(§2 of the semantics reference; kubernetes-sigs/network-policy-api apis/v1alpha1, v1alpha2)."""

from __future__ import annotations

import textwrap

import pytest

from kubefence.dialects.adminnetworkpolicy import AdminNetworkPolicyDialect
from kubefence.dialects.loader import load_text
from kubefence.ir.model import ADMIN, BASELINE, Action, IPBlockPeer, NodePeer, PodPeer
from kubefence.ir.ports import NamedPort, PortRange, Protocol

ANP = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: a}\nspec:\n"
BANP = (
    "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: %s}\n"
    "spec:\n"
)
CNP = (
    "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: c}\nspec:\n"
)
SUBJECT = "subject: {namespaces: {}}\n"


def parse(head: str, spec: str):
    loaded = load_text(head + textwrap.indent(textwrap.dedent(spec), "  "), "anp.yaml")
    assert not loaded.has_errors, loaded.diagnostics
    return AdminNetworkPolicyDialect().parse(loaded.documents[0])


def errors(head: str, spec: str) -> list[str]:
    return [f"{d.field}: {d.message}" for d in parse(head, spec).diagnostics if d.is_error]


def test_anp_rules_in_order_with_actions() -> None:
    result = parse(
        ANP,
        "priority: 5\n" + SUBJECT + "egress:\n- {action: Allow, to: [{namespaces: {}}]}\n"
        "- {action: Pass, to: [{networks: [10.0.0.0/8]}]}\n- {action: Deny, to: [{nodes: {}}]}\n",
    )
    p = result.policies[0]
    assert p.tier == ADMIN and p.priority == 5
    assert [r.action for r in p.rules] == [Action.ALLOW, Action.PASS, Action.DENY]
    assert [type(r.peers[0]) for r in p.rules] == [PodPeer, IPBlockPeer, NodePeer]


@pytest.mark.parametrize(
    ("port", "expected"),
    [
        pytest.param("{portNumber: {port: 80}}", PortRange(Protocol.TCP, 80, 80), id="default-tcp"),
        pytest.param(
            "{portRange: {protocol: UDP, start: 1, end: 9}}", PortRange(Protocol.UDP, 1, 9), id="range"
        ),
        pytest.param("{portRange: {start: 7, end: 7}}", PortRange(Protocol.TCP, 7, 7), id="range-single"),
        pytest.param("{namedPort: dns}", NamedPort("dns", None), id="named-any-protocol"),
    ],
)
def test_anp_ports(port: str, expected: object) -> None:
    """portNumber/portRange protocol defaults to TCP; namedPort takes the container's protocol."""
    p = parse(
        ANP,
        "priority: 1\n" + SUBJECT + f"ingress: [{{action: Allow, from: [{{namespaces: {{}}}}], "
        f"ports: [{port}]}}]\n",
    ).policies[0]
    assert p.rules[0].ports == (expected,)


def test_banp_is_baseline_singleton() -> None:
    assert (
        parse(BANP % "default", SUBJECT + "ingress: [{action: Deny, from: [{namespaces: {}}]}]")
        .policies[0]
        .tier
        == BASELINE
    )
    assert any("must be named 'default'" in e for e in errors(BANP % "other", SUBJECT))


def test_cnp_protocols_and_tier() -> None:
    p = parse(
        CNP,
        "tier: Baseline\npriority: 3\n" + SUBJECT + "ingress:\n- action: Accept\n  from: [{pods: "
        "{podSelector: {}}}]\n  protocols: [{udp: {destinationPort: {range: {start: 1, end: 5}}}}, "
        "{destinationNamedPort: web}]\n",
    ).policies[0]
    assert p.tier == BASELINE and p.rules[0].action is Action.ALLOW
    assert p.rules[0].ports == (PortRange(Protocol.UDP, 1, 5), NamedPort("web"))


@pytest.mark.parametrize(
    ("head", "spec", "fragment"),
    [
        pytest.param(ANP, SUBJECT, "spec.priority: required", id="priority-required"),
        pytest.param(ANP, "priority: 1001\n" + SUBJECT, "out of range", id="priority-range"),
        pytest.param(ANP, "priority: 1\nsubject: {}\n", "exactly one of namespaces or pods", id="subject"),
        pytest.param(
            ANP,
            "priority: 1\n" + SUBJECT + "ingress: [{action: Allow, from: [{networks: [1.0.0.0/8]}]}]",
            "not a valid ingress peer",
            id="networks-on-ingress",
        ),
        pytest.param(
            ANP,
            "priority: 1\n" + SUBJECT + "egress: [{action: Reject, to: [{namespaces: {}}]}]",
            "unsupported action 'Reject'",
            id="action",
        ),
        pytest.param(
            ANP, "priority: 1\n" + SUBJECT + "egress: [{action: Allow, to: []}]", "at least 1", id="to-empty"
        ),
        pytest.param(
            ANP,
            "priority: 1\n" + SUBJECT + "egress: [{action: Allow, to: [{namespaces: {}}], "
            "ports: [{portRange: {start: 9, end: 1}}]}]",
            "start (9) must be",
            id="range-order",
        ),
        pytest.param(
            ANP,
            "priority: 1\n" + SUBJECT + "egress: [{action: Allow, to: [{namespaces: {}}], "
            "ports: [{portNumber: {port: 1, protocol: ICMP}}]}]",
            "unsupported protocol",
            id="protocol",
        ),
        pytest.param(
            ANP,
            "priority: 1\n" + SUBJECT + "egress: [{action: Allow, to: [{networks: [1.0.0.0/8]}], "
            "ports: [{namedPort: web}]}]",
            "named port",
            id="named-with-networks",
        ),
        pytest.param(
            ANP, "priority: 1\nsubject: {namespaces: {namespaceSelector: {}}}\n", "pre-v0.1.3", id="old-shape"
        ),
        pytest.param(
            BANP % "default",
            SUBJECT + "ingress: [{action: Pass, from: [{namespaces: {}}]}]",
            "unsupported action 'Pass'",
            id="banp-pass",
        ),
        pytest.param(CNP, "priority: 1\n" + SUBJECT, "spec.tier: required", id="cnp-tier"),
        pytest.param(
            CNP,
            "tier: Admin\npriority: 1\n" + SUBJECT + "ingress: [{action: Allow, from: [{namespaces: {}}]}]",
            "unsupported action 'Allow'",
            id="cnp-allow-renamed",
        ),
        pytest.param(
            CNP,
            "tier: Admin\npriority: 1\n" + SUBJECT + "ingress: [{action: Accept, from: "
            "[{namespaces: {}}], protocols: [{tcp: {destinationPort: {range: {start: 5, end: 5}}}}]}]",
            "must be less than",
            id="cnp-range-equal",
        ),
    ],
)
def test_invalid(head: str, spec: str, fragment: str) -> None:
    found = errors(head, spec)
    assert any(fragment in e for e in found), found


def test_cnp_tcp_without_port_warns_and_means_all_tcp() -> None:
    result = parse(
        CNP,
        "tier: Admin\npriority: 1\n" + SUBJECT + "ingress: [{action: Accept, from: "
        "[{namespaces: {}}], protocols: [{tcp: {}}]}]",
    )
    assert result.policies[0].rules[0].ports == (PortRange(Protocol.TCP, 1, 65535),)
    assert any("minProperties" in d.message for d in result.diagnostics)
