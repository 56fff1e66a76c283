"""NetworkPolicy parsing: defaulting, empty vs missing, validation (§1 of the semantics
reference, kubernetes/kubernetes pkg/apis/networking/validation and v1/defaults.go)."""

from __future__ import annotations

import textwrap

import pytest

from kubefence.dialects.fields import valid_port_name
from kubefence.dialects.loader import load_text
from kubefence.dialects.networkpolicy import NetworkPolicyDialect
from kubefence.ir.model import AnyPeer, Direction, IPBlockPeer, PodPeer
from kubefence.ir.ports import NamedPort, PortRange, Protocol


def parse(spec: str):
    text = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: x}\nspec:\n"
    text += textwrap.indent(textwrap.dedent(spec), "  ")
    loaded = load_text(text, "np.yaml")
    assert not loaded.has_errors, loaded.diagnostics
    return NetworkPolicyDialect().parse(loaded.documents[0])


def policy(spec: str):
    result = parse(spec)
    assert not [d for d in result.diagnostics if d.is_error], result.diagnostics
    return result.policies[0]


def errors(spec: str) -> list[str]:
    return [f"{d.field}: {d.message}" for d in parse(spec).diagnostics if d.is_error]


@pytest.mark.parametrize(
    ("spec", "directions"),
    [
        pytest.param("podSelector: {}", {Direction.INGRESS}, id="empty-spec-ingress-only"),
        pytest.param("egress: [{}]", {Direction.INGRESS, Direction.EGRESS}, id="egress-rules-add-egress"),
        pytest.param("egress: []", {Direction.INGRESS}, id="empty-egress-list-not-egress"),
        pytest.param("policyTypes: [Egress]", {Direction.EGRESS}, id="explicit-kept"),
    ],
)
def test_policy_types_defaulting(spec: str, directions: set[Direction]) -> None:
    """kubernetes/kubernetes pkg/apis/networking/v1/defaults.go SetDefaults_NetworkPolicy."""
    assert policy(spec).directions == frozenset(directions)


def test_missing_from_and_ports_match_everything() -> None:
    rule = policy("ingress: [{}]").rules[0]
    assert rule.peers == (AnyPeer(),) and rule.ports is None


def test_empty_from_list_is_any_peer() -> None:
    assert policy("ingress: [{from: []}]").rules[0].peers == (AnyPeer(),)


def test_port_without_number_is_all_ports_of_tcp() -> None:
    """§1.6: ``ports: [{}]`` is all TCP ports, not all traffic."""
    assert policy("ingress: [{ports: [{}]}]").rules[0].ports == (PortRange(Protocol.TCP, 0, 65535),)


@pytest.mark.parametrize(
    ("port", "expected"),
    [
        pytest.param("{port: 80}", PortRange(Protocol.TCP, 80, 80), id="default-tcp"),
        pytest.param("{port: 53, protocol: UDP}", PortRange(Protocol.UDP, 53, 53), id="udp"),
        pytest.param("{port: 80, endPort: 90, protocol: SCTP}", PortRange(Protocol.SCTP, 80, 90), id="range"),
        pytest.param("{port: 80, endPort: 80}", PortRange(Protocol.TCP, 80, 80), id="endport-equal"),
        pytest.param("{port: dns, protocol: UDP}", NamedPort("dns", Protocol.UDP), id="named"),
    ],
)
def test_ports(port: str, expected: object) -> None:
    assert policy(f"ingress: [{{ports: [{port}]}}]").rules[0].ports == (expected,)


def test_peer_with_both_selectors_is_one_and_peer() -> None:
    peer = (
        policy("ingress: [{from: [{podSelector: {}, namespaceSelector: {matchLabels: {a: b}}}]}]")
        .rules[0]
        .peers
    )
    assert len(peer) == 1 and isinstance(peer[0], PodPeer)
    assert peer[0].selection.namespace is None and peer[0].selection.namespace_selector is not None


def test_pod_selector_alone_is_own_namespace() -> None:
    peer = policy("ingress: [{from: [{podSelector: {}}]}]").rules[0].peers[0]
    assert isinstance(peer, PodPeer) and peer.selection.namespace == "x"


def test_ip_block_masks_host_bits_with_warning() -> None:
    result = parse("egress: [{to: [{ipBlock: {cidr: 10.0.0.1/8}}]}]")
    peer = result.policies[0].rules[0].peers[0]
    assert isinstance(peer, IPBlockPeer) and str(peer.block.cidr) == "10.0.0.0/8"
    assert any(d.code == "cidr-host-bits" for d in result.diagnostics)


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        pytest.param(
            "ingress: [{ports: [{port: 80, protocol: tcp}]}]", "unsupported protocol 'tcp'", id="proto-case"
        ),
        pytest.param("ingress: [{ports: [{port: 70000}]}]", "out of range", id="port-range"),
        pytest.param(
            "ingress: [{ports: [{port: 90, endPort: 80}]}]", "endPort 80 must be greater", id="endport"
        ),
        pytest.param("ingress: [{ports: [{port: http, endPort: 80}]}]", "non-numeric", id="endport-named"),
        pytest.param("ingress: [{ports: [{port: '80'}]}]", "quoted number", id="quoted-number"),
        pytest.param("ingress: [{from: [{}]}]", "must specify a peer", id="empty-peer"),
        pytest.param(
            "ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]}]",
            "may not be combined",
            id="ipblock-and-selector",
        ),
        pytest.param("ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/33}}]}]", "invalid CIDR", id="bad-cidr"),
        pytest.param(
            "ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/16]}}]}]",
            "not a strict subset",
            id="except-outside",
        ),
        pytest.param(
            "ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/8]}}]}]",
            "not a strict subset",
            id="except-equal",
        ),
        pytest.param(
            "podSelector: {matchExpressions: [{key: a, operator: Gt, values: ['1']}]}",
            "unknown operator",
            id="operator",
        ),
        pytest.param(
            "podSelector: {matchExpressions: [{key: a, operator: In}]}", "must be non-empty", id="in-empty"
        ),
        pytest.param(
            "podSelector: {matchExpressions: [{key: a, operator: Exists, values: [b]}]}",
            "must be empty",
            id="exists-values",
        ),
        pytest.param("ingress: {from: []}", "expected a list", id="mapping-for-list"),
        pytest.param("policyTypes: [Ingress, Sideways]", "unsupported value 'Sideways'", id="policy-type"),
        pytest.param("policyTypes: [{}]", "unsupported value", id="policy-type-mapping"),
        pytest.param("podSelector: {matchLabels: {app: 1}}", "quote it", id="int-label-value"),
        pytest.param(
            "ingress: [{ports: [{port: 80, protocol: {}}]}]", "unsupported protocol", id="proto-mapping"
        ),
    ],
)
def test_invalid(spec: str, fragment: str) -> None:
    found = errors(spec)
    assert any(fragment in e for e in found), found


def test_errors_name_the_field_and_line() -> None:
    result = parse("ingress:\n- ports:\n  - port: 80\n    protocol: ICMP\n")
    [d] = [d for d in result.diagnostics if d.is_error]
    assert d.field == "spec.ingress[0].ports[0].protocol" and d.line == 8 and d.file == "np.yaml"
    assert d.object == "NetworkPolicy x/p"


def test_unknown_field_warns() -> None:
    result = parse("podSelector: {}\nsomething: 1\n")
    assert any(d.code == "unknown-field" and d.field == "spec.something" for d in result.diagnostics)


@pytest.mark.parametrize(
    ("name", "ok"),
    [("http", True), ("dns-tcp", True), ("80", False), ("a--b", False), ("-ab", False), ("x" * 16, False)],
)
def test_port_names(name: str, ok: bool) -> None:
    """IsValidPortName (k8s.io/apimachinery/pkg/util/validation)."""
    assert valid_port_name(name) is ok


@pytest.mark.parametrize("name", ["V_bad", "Upper", "-lead", "trail.", "a" * 254])
def test_name_must_be_a_dns_subdomain(name: str) -> None:
    """``ValidateNetworkPolicyName`` is ``NameIsDNSSubdomain`` (kubernetes/kubernetes
    pkg/apis/networking/validation/validation.go, ``ValidateNetworkPolicy``)."""
    head = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
    text = head + f"metadata: {{name: {name!r}}}\nspec: {{}}\n"
    result = NetworkPolicyDialect().parse(load_text(text, "np.yaml").documents[0])
    assert result.policies == ()
    assert [d.field for d in result.diagnostics if d.is_error] == ["metadata.name"]
    ok = text.replace(repr(name), "'allow.web-80'")
    assert NetworkPolicyDialect().parse(load_text(ok, "np.yaml").documents[0]).policies


def test_ipv4_mapped_cidr_is_read_as_the_ipv4_block() -> None:
    """§0.3: Go's net package reads ``::ffff:10.0.0.0/104`` as 10.0.0.0/8 (``IPNet.Contains``
    takes ``To4()`` of the address and the last 32 bits of the mask: go/src/net/ip.go
    ``networkNumberAndMask``), and the API server accepts it while StrictIPCIDRValidation is
    off; kube-network-policies matches with ``IPNet.Contains``."""
    result = parse("ingress: [{from: [{ipBlock: {cidr: '::ffff:10.0.0.0/104'}}]}]")
    (peer,) = result.policies[0].rules[0].peers
    assert isinstance(peer, IPBlockPeer) and str(peer.block.cidr) == "10.0.0.0/8"
    assert any(d.code == "cidr-mapped" and "10.0.0.0/8" in d.message for d in result.diagnostics)
