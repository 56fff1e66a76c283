"""Antrea rule parsing: peers, ports, protocols, L7, toServices (§5.2, §5.3 of the semantics
reference; antrea-io/antrea pkg/apis/crd/v1beta1/types.go NetworkPolicyPeer / NetworkPolicyPort,
pkg/controller/networkpolicy/validate.go, docs/antrea-network-policy.md and
docs/antrea-l7-network-policy.md)."""

from __future__ import annotations

import ipaddress
import textwrap

import pytest

from kubefence.dialects.antrea import AntreaDialect
from kubefence.dialects.antrea_peers import fqdn_peers
from kubefence.dialects.antrea_rules import l7_text
from kubefence.dialects.base import ParseResult
from kubefence.dialects.loader import load_text
from kubefence.ir.addresses import IPBlock
from kubefence.ir.l7 import HTTPMatch, HTTPRule, MatchKind, TextMatch
from kubefence.ir.model import (
    AnyPeer,
    FQDNPeer,
    GroupRefPeer,
    IPBlockPeer,
    LabelView,
    NodePeer,
    PodPeer,
    PodSelection,
    RelativeNamespacePeer,
    Rule,
)
from kubefence.ir.ports import NamedPort, PortRange, Protocol
from kubefence.ir.selectors import LabelSelector

ACNP = "apiVersion: crd.antrea.io/v1beta1\nkind: ClusterNetworkPolicy\nmetadata: {name: c}\nspec:\n"
ANNP = "apiVersion: crd.antrea.io/v1beta1\nkind: NetworkPolicy\nmetadata: {name: n, namespace: x}\nspec:\n"
HEAD = "priority: 1\nappliedTo: [{podSelector: {}}]\n"


def parse(head: str, rules: str) -> ParseResult:
    text = head + textwrap.indent(HEAD + textwrap.dedent(rules), "  ")
    loaded = load_text(text, "antrea.yaml")
    assert not loaded.has_errors, loaded.diagnostics
    return AntreaDialect().parse(loaded.documents[0])


def rule(head: str, rules: str) -> Rule:
    result = parse(head, rules)
    assert not [d for d in result.diagnostics if d.is_error], result.diagnostics
    return result.policies[0].rules[0]


def errors(head: str, rules: str) -> list[str]:
    return [f"{d.field}: {d.message}" for d in parse(head, rules).diagnostics if d.is_error]


def not_modelled(head: str, rules: str) -> list[str]:
    return [d.field or "" for d in parse(head, rules).diagnostics if d.code == "not-modelled"]


def sel(**labels: str) -> LabelSelector:
    return LabelSelector.of(labels)


SA = "io.cilium.k8s.policy.serviceaccount"


@pytest.mark.parametrize(
    ("head", "peer", "expected"),
    [
        pytest.param(
            ACNP,
            "{namespaceSelector: {matchLabels: {e: p}}}",
            PodPeer(PodSelection(LabelSelector(), namespace_selector=sel(e="p"))),
            id="namespace-selector-alone",
        ),
        pytest.param(
            ANNP,
            "{podSelector: {matchLabels: {a: b}}, namespaceSelector: {}}",
            PodPeer(PodSelection(sel(a="b"), namespace_selector=LabelSelector())),
            id="annp-pods-in-all-namespaces",
        ),
        pytest.param(
            ACNP,
            "{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}",
            IPBlockPeer(IPBlock(ipaddress.ip_network("10.0.0.0/8"), (ipaddress.ip_network("10.1.0.0/16"),))),
            id="ip-block-except",
        ),
        pytest.param(ACNP, "{group: cg}", GroupRefPeer("ClusterGroup", "cg"), id="acnp-cluster-group"),
        pytest.param(ANNP, "{group: g}", GroupRefPeer("Group", "g", "x"), id="annp-group-in-namespace"),
        pytest.param(
            ACNP,
            "{serviceAccount: {name: sa, namespace: ns}}",
            PodPeer(PodSelection(sel(**{SA: "sa"}), namespace="ns", view=LabelView.CNI)),
            id="service-account",
        ),
        pytest.param(ACNP, "{nodeSelector: {matchLabels: {r: cp}}}", NodePeer(sel(r="cp")), id="nodes"),
        pytest.param(ACNP, "{namespaces: {match: Self}}", RelativeNamespacePeer(LabelSelector()), id="self"),
        pytest.param(
            ACNP,
            "{namespaces: {match: Self}, podSelector: {matchLabels: {app: a}}}",
            RelativeNamespacePeer(sel(app="a")),
            id="self-with-pods",
        ),
        pytest.param(
            ACNP,
            "{namespaces: {sameLabels: [org, region]}}",
            RelativeNamespacePeer(LabelSelector(), ("org", "region")),
            id="same-labels",
        ),
    ],
)
def test_ingress_peers(head: str, peer: str, expected: object) -> None:
    """§5.2 Peer table; docs "Behavior of to and from selectors", "Selecting Pods in the same
    Namespace with Self", "SameLabels", "ServiceAccount based selection", "Node Selector"."""
    assert rule(head, f"ingress: [{{action: Allow, from: [{peer}]}}]").peers == (expected,)


@pytest.mark.parametrize(
    ("head", "peer", "fragment"),
    [
        pytest.param(
            ACNP, "{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}", "ipBlock cannot be set with", id="ip+pod"
        ),
        pytest.param(ACNP, "{group: g, namespaceSelector: {}}", "group cannot be set with", id="group+ns"),
        pytest.param(
            ACNP,
            "{namespaces: {match: Self}, namespaceSelector: {}}",
            "cannot be set together",
            id="ns+nssel",
        ),
        pytest.param(
            ANNP, "{namespaces: {match: Self}}", "not supported in an Antrea NetworkPolicy", id="annp-ns"
        ),
        pytest.param(ACNP, "{namespaces: {match: Other}}", "expected Self", id="match-value"),
        pytest.param(
            ACNP,
            "{namespaces: {match: Self, sameLabels: [a]}}",
            "exactly one of match and sameLabels",
            id="both",
        ),
        pytest.param(ACNP, "{namespaces: {sameLabels: ['-bad']}}", "invalid label key", id="same-labels-key"),
        pytest.param(ACNP, "{fqdn: example.com}", "only allowed in egress", id="fqdn-ingress"),
        pytest.param(ACNP, "{}", "a peer must set one of", id="empty"),
        pytest.param(ACNP, "{scope: Galaxy, podSelector: {}}", "expected Cluster or ClusterSet", id="scope"),
        pytest.param(ACNP, "{serviceAccount: {name: sa}}", "namespace: required", id="sa-namespace"),
    ],
)
def test_invalid_ingress_peers(head: str, peer: str, fragment: str) -> None:
    """validate.go validatePeers and the NetworkPolicyPeer field comments ("Cannot be set with
    any other selector")."""
    found = errors(head, f"ingress: [{{action: Allow, from: [{peer}]}}]")
    assert any(fragment in e for e in found), found


def test_unmodelled_peers_match_nothing_with_warnings() -> None:
    """External entities and ClusterSet scope are not modelled (brief: warning, no peer)."""
    spec = (
        "ingress: [{action: Drop, from: [{externalEntitySelector: {}}, "
        "{podSelector: {}, scope: ClusterSet}]}]"
    )
    assert rule(ANNP, spec).peers == (PodPeer(PodSelection(LabelSelector(), namespace="x")),)
    assert not_modelled(ANNP, spec) == [
        "spec.ingress[0].from[0].externalEntitySelector",
        "spec.ingress[0].from[1].scope",
    ]


@pytest.mark.parametrize(
    ("pattern", "expected", "exact"),
    [
        pytest.param("WWW.Example.com", ("www.example.com",), True, id="exact-lower-cased"),
        pytest.param("*foobar.com", ("*foobar.com", "**.*foobar.com"), True, id="leading-star"),
        pytest.param("*.foobar.com", ("*.foobar.com", "**.*.foobar.com"), True, id="leading-star-dot"),
        pytest.param("*", ("*",), True, id="everything"),
        pytest.param("www.*.com", ("www.*.com",), False, id="inner-star"),
    ],
)
def test_fqdn_patterns(pattern: str, expected: tuple[str, ...], exact: bool) -> None:
    """docs "FQDN based filtering": ``*foobar.com`` matches foobar.com, www.foobar.com and
    test.uswest.foobar.com; fqdn.go lower-cases and turns every ``*`` into ``.*``."""
    peers, is_exact = fqdn_peers(pattern)
    assert peers == tuple(FQDNPeer(p) for p in expected) and is_exact is exact


def test_fqdn_peer_in_egress_and_invalid_characters() -> None:
    """validate.go validateFQDNSelectors: only [-0-9a-zA-Z.*]."""
    assert rule(ACNP, "egress: [{action: Allow, to: [{fqdn: svc.local}]}]").peers == (FQDNPeer("svc.local"),)
    assert any(
        "invalid characters" in e for e in errors(ACNP, "egress: [{action: Allow, to: [{fqdn: 'a_b.com'}]}]")
    )


def test_empty_peer_list_matches_everything_but_unmodelled_peers_match_nothing() -> None:
    """types.go Rule.From: "If this field is empty, this rule matches all sources"."""
    assert rule(ACNP, "ingress: [{action: Drop, from: []}]").peers == (AnyPeer(),)
    assert rule(ACNP, "egress: [{action: Drop, to: [{externalEntitySelector: {}}]}]").peers == ()


def test_to_services_matches_nothing_with_warning() -> None:
    """§0.1: toServices matches pre-DNAT ClusterIP traffic, which kubefence does not evaluate."""
    spec = "egress: [{action: Drop, toServices: [{name: s, namespace: n}]}]"
    assert rule(ACNP, spec).peers == ()
    assert not_modelled(ACNP, spec) == ["spec.egress[0].toServices"]
    bad = "egress: [{action: Drop, toServices: [{name: s, namespace: n}], ports: [{port: 80}]}]"
    assert any("cannot be used with to, ports or protocols" in e for e in errors(ACNP, bad))


@pytest.mark.parametrize(
    ("rules", "ports"),
    [
        pytest.param("ports: [{port: 80}]", (PortRange(Protocol.TCP, 80, 80),), id="default-tcp"),
        pytest.param(
            "ports: [{protocol: UDP, port: 53, endPort: 60}]", (PortRange(Protocol.UDP, 53, 60),), id="range"
        ),
        pytest.param("ports: [{protocol: SCTP}]", (PortRange(Protocol.SCTP, 0, 65535),), id="all-sctp"),
        pytest.param("ports: [{port: http}]", (NamedPort("http", Protocol.TCP),), id="named"),
        pytest.param(
            "protocols: [{icmp: {}}]",
            (PortRange(Protocol.ICMP), PortRange(Protocol.ICMPV6)),
            id="icmp-both-families",
        ),
        pytest.param(
            "protocols: [{icmp: {icmpType: 8, icmpCode: 0}}]",
            (PortRange(Protocol.ICMP, 8, 8), PortRange(Protocol.ICMPV6, 8, 8)),
            id="icmp-type",
        ),
        pytest.param(
            "ports: [{port: 80}]\n  protocols: [{icmp: {}}]",
            (PortRange(Protocol.TCP, 80, 80), PortRange(Protocol.ICMP), PortRange(Protocol.ICMPV6)),
            id="ports-and-protocols",
        ),
        pytest.param("protocols: [{igmp: {igmpType: 0x11}}]", (), id="igmp-only-matches-nothing"),
        pytest.param("ports: []", None, id="empty-is-all"),
    ],
)
def test_ports_and_protocols(rules: str, ports: object) -> None:
    """types.go NetworkPolicyPort (protocol defaults to TCP) and Rule.Protocols ("If this field
    and Ports are unset or empty, this rule matches all protocols")."""
    assert rule(ACNP, f"egress:\n- action: Drop\n  {rules}\n").ports == ports


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        pytest.param(
            "ports: [{port: 80, sourcePort: 1000}]", "spec.egress[0].ports[0].sourcePort", id="source-port"
        ),
        pytest.param(
            "protocols: [{icmp: {icmpType: 8, icmpCode: 0}}]",
            "spec.egress[0].protocols[0].icmp.icmpCode",
            id="icmp-code",
        ),
        pytest.param("protocols: [{igmp: {}}]", "spec.egress[0].protocols[0].igmp", id="igmp"),
    ],
)
def test_unmodelled_port_fields_warn(rules: str, field: str) -> None:
    assert not_modelled(ACNP, f"egress:\n- action: Drop\n  {rules}\n") == [field]


@pytest.mark.parametrize(
    ("rules", "fragment"),
    [
        pytest.param("ports: [{port: 90, endPort: 80}]", "must be greater than or equal", id="end-below"),
        pytest.param("ports: [{endPort: 80}]", "endPort requires port", id="end-without-port"),
        pytest.param("ports: [{port: web, endPort: 80}]", "port is a name", id="end-with-name"),
        pytest.param("ports: [{protocol: tcp, port: 1}]", "unsupported protocol", id="protocol-case"),
        pytest.param("ports: [{sourceEndPort: 9}]", "sourceEndPort requires sourcePort", id="source-end"),
        pytest.param("protocols: [{icmp: {}, igmp: {}}]", "exactly one of icmp and igmp", id="icmp+igmp"),
    ],
)
def test_invalid_ports(rules: str, fragment: str) -> None:
    """validate.go validatePort; CRD protocol enum TCP/UDP/SCTP; protocols oneOf icmp/igmp."""
    found = errors(ACNP, f"egress:\n- action: Drop\n  {rules}\n")
    assert any(fragment in e for e in found), found


def test_http_rule() -> None:
    """docs "ACNP for HTTP traffic": host, method and path; ``*`` wildcards at either end."""
    r = rule(
        ANNP,
        "ingress:\n- action: Allow\n  l7Protocols:\n"
        "  - {http: {path: /api/v2/*, host: Foo.bar.com, method: GET}}\n  - {http: {}}\n",
    )
    assert r.l7 == HTTPRule(
        (
            HTTPMatch(
                method=TextMatch(MatchKind.EXACT, "GET"),
                path=TextMatch(MatchKind.GLOB, "/api/v2/*"),
                host=TextMatch(MatchKind.EXACT, "foo.bar.com", ignore_case=True),
            ),
            HTTPMatch(),
        )
    )


def test_tls_rule_is_l7_matching_no_http_request() -> None:
    """TLS SNI is not modelled: the rule still hands its traffic to the L7 engine."""
    spec = "egress:\n- action: Allow\n  l7Protocols: [{tls: {sni: '*.foo.com'}}]\n"
    assert rule(ACNP, spec).l7 == HTTPRule(())
    assert not_modelled(ACNP, spec) == ["spec.egress[0].l7Protocols[0].tls"]


@pytest.mark.parametrize(
    ("rules", "fragment"),
    [
        pytest.param("action: Drop\n  l7Protocols: [{http: {}}]", "only allowed in Allow rules", id="drop"),
        pytest.param(
            "action: Allow\n  ports: [{protocol: UDP}]\n  l7Protocols: [{http: {}}]", "TCP or unset", id="udp"
        ),
        pytest.param(
            "action: Allow\n  protocols: [{icmp: {}}]\n  l7Protocols: [{http: {}}]", "ICMP or IGMP", id="icmp"
        ),
    ],
)
def test_invalid_l7(rules: str, fragment: str) -> None:
    """validate.go validateL7Protocols."""
    found = errors(ACNP, f"egress:\n- {rules}\n")
    assert any(fragment in e for e in found), found


@pytest.mark.parametrize(
    ("pattern", "kind", "value", "matches", "misses"),
    [
        pytest.param(
            "/index.html", MatchKind.EXACT, "/index.html", "/index.html", "/index.html2", id="exact"
        ),
        pytest.param("/public/*", MatchKind.GLOB, "/public/*", "/public/a/b", "/private/a", id="prefix"),
        pytest.param("*.foo.com", MatchKind.GLOB, "*.foo.com", "www.foo.com", "foo.com", id="suffix"),
        pytest.param("*/v2/*", MatchKind.GLOB, "*/v2/*", "/api/v2/pods", "/api/v1", id="contains"),
        pytest.param("/a*b", MatchKind.EXACT, "/a*b", "/a*b", "/axb", id="inner-star-literal"),
        pytest.param("*/a*b", MatchKind.REGEX, ".*/a\\*b", "/x/a*b", "/x/axb", id="inner-star-with-wildcard"),
    ],
)
def test_l7_patterns(pattern: str, kind: MatchKind, value: str, matches: str, misses: str) -> None:
    """l7engine/reconciler.go convertContent: leading ``*`` = suffix match, trailing ``*`` =
    prefix match, both = contains, none = exact; other ``*`` are literal content."""
    text = l7_text(pattern)
    assert (text.kind, text.value) == (kind, value)
    assert text.matches(matches) and not text.matches(misses)
