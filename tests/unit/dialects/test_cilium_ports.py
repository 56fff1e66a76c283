"""Cilium toPorts / icmps / L7 rules and validation errors (§4.7 and §4.9 of the semantics
reference; cilium/cilium pkg/policy/api l4.go, l7.go, http.go, rule_validation.go)."""

from __future__ import annotations

import textwrap
from ipaddress import ip_address

import pytest

from kubefence.dialects.base import ParseResult
from kubefence.dialects.cilium import CiliumDialect
from kubefence.dialects.loader import load_text
from kubefence.ir.diagnostics import Severity
from kubefence.ir.l7 import HTTPMatch, HTTPRule, MatchKind, TextMatch
from kubefence.ir.model import AnyPeer, ExternalBlockPeer, Rule
from kubefence.ir.ports import MAX_PORT, NamedPort, PortRange, Protocol

CNP = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p, namespace: ns}\nspec:\n"
SEL = "endpointSelector: {}\n"


def parse(spec: str, head: str = CNP) -> ParseResult:
    loaded = load_text(head + textwrap.indent(textwrap.dedent(spec), "  "), "cnp.yaml")
    assert not loaded.has_errors, loaded.diagnostics
    return CiliumDialect().parse(loaded.documents[0])


def rules(spec: str) -> tuple[Rule, ...]:
    result = parse(SEL + spec)
    assert not [d for d in result.diagnostics if d.is_error], result.diagnostics
    return result.policies[0].rules


def ports_of(port: str) -> tuple[object, ...] | None:
    return rules(f"ingress: [{{toPorts: [{{ports: [{port}]}}]}}]")[0].ports


def tcp_udp_sctp(start: int, end: int) -> tuple[PortRange, ...]:
    return tuple(PortRange(p, start, end) for p in (Protocol.TCP, Protocol.UDP, Protocol.SCTP))


@pytest.mark.parametrize(
    ("port", "expected"),
    [
        pytest.param("{port: '80'}", tcp_udp_sctp(80, 80), id="no-protocol-is-any"),
        pytest.param("{port: '80', protocol: ANY}", tcp_udp_sctp(80, 80), id="any"),
        pytest.param(
            "{port: '0', protocol: UDP}", (PortRange(Protocol.UDP, 0, MAX_PORT),), id="zero-all-ports"
        ),
        pytest.param(
            "{port: '8000', endPort: 8080, protocol: TCP}", (PortRange(Protocol.TCP, 8000, 8080),), id="range"
        ),
        pytest.param(
            "{port: HTTP, protocol: TCP}", (NamedPort("http", Protocol.TCP),), id="named-lowercased"
        ),
        pytest.param("{port: dns}", (NamedPort("dns", None),), id="named-any-protocol"),
        pytest.param(
            "{port: web, endPort: 90, protocol: TCP}", (NamedPort("web", Protocol.TCP),), id="named-endport"
        ),
        pytest.param("{protocol: VRRP}", (PortRange(Protocol.OTHER),), id="vrrp"),
    ],
)
def test_port_forms(port: str, expected: tuple[object, ...]) -> None:
    """§4.4/§4.7: protocol absent = ANY = TCP+UDP+SCTP (trap 3); port "0" = all ports;
    names are resolved per pod with the rule's protocol (any protocol for ANY)."""
    assert ports_of(port) == expected


def test_several_entries_and_icmps_are_unioned() -> None:
    """§4.7: toPorts entries are alternatives; icmps add the ICMP types they name, by number or
    by name (cilium/cilium pkg/policy/api/icmp.go ICMPField: ``family`` IPv4 by default,
    ``type`` 0-255; CamelCase names map to the IANA type numbers, EchoRequest is 128 in IPv6)."""
    result = parse(
        SEL + "egress: [{toPorts: [{ports: [{port: '53', protocol: UDP}]}, {ports: [{port: '53', "
        "protocol: UDP}, {port: '443', protocol: TCP}]}]}, {icmps: [{fields: [{type: 8}, "
        "{family: IPv6, type: EchoRequest}, {type: NoSuchName}]}]}]"
    )
    ports, icmps = result.policies[0].rules
    assert ports.peers == icmps.peers == (AnyPeer(),)
    assert ports.ports == (PortRange(Protocol.UDP, 53, 53), PortRange(Protocol.TCP, 443, 443))
    assert icmps.ports == (
        PortRange(Protocol.ICMP, 8, 8),
        PortRange(Protocol.ICMPV6, 128, 128),
        PortRange(Protocol.ICMP),
    )
    assert [d.code for d in result.diagnostics] == ["not-modelled"]  # the unknown name only


def test_l7_entries_split_into_rules_with_one_index() -> None:
    """§4.9: HTTP rules restrict only their own toPorts entry; plain entries stay L4 allows."""
    found = rules(
        "ingress:\n- fromEntities: [cluster]\n  toPorts:\n"
        "  - {ports: [{port: '80', protocol: TCP}], rules: {http: [{method: GET, path: '/a.*'}]}}\n"
        "  - {ports: [{port: '443', protocol: TCP}]}\n"
        "  - {ports: [{port: '8080', protocol: TCP}], rules: {http: [{}]}}\n"
    )
    assert [(r.index, r.ports, r.l7) for r in found] == [
        (0, (PortRange(Protocol.TCP, 443, 443),), None),
        (
            0,
            (PortRange(Protocol.TCP, 80, 80),),
            HTTPRule(
                (
                    HTTPMatch(
                        method=TextMatch(MatchKind.REGEX, "GET"), path=TextMatch(MatchKind.REGEX, "/a.*")
                    ),
                )
            ),
        ),
        (0, (PortRange(Protocol.TCP, 8080, 8080),), HTTPRule((HTTPMatch(),))),
    ]
    assert found[0].peers == found[1].peers == found[2].peers


def test_http_headers() -> None:
    """§4.9: ``headers`` are "Name" or "Name: value" (split at the first space, as Cilium's Envoy
    translation does); headerMatches give name and exact value."""
    (rule,) = rules(
        "ingress: [{toPorts: [{ports: [{port: '80', protocol: TCP}], rules: {http: [{host: 'a\\.com', "
        "headers: ['X-Token', 'X-Mode: on'], headerMatches: [{name: X-Env, value: prod}]}]}}]}]"
    )
    assert rule.l7 == HTTPRule(
        (
            HTTPMatch(
                host=TextMatch(MatchKind.REGEX, r"a\.com"),
                headers=(("X-Token", None), ("X-Mode", "on"), ("X-Env", "prod")),
            ),
        )
    )


@pytest.mark.parametrize(
    ("l7", "severity", "code"),
    [
        pytest.param("{dns: [{matchPattern: '*'}]}", Severity.INFO, "dns-not-modelled", id="dns"),
        pytest.param("{kafka: [{topic: t}]}", Severity.WARNING, "not-modelled", id="kafka"),
    ],
)
def test_unevaluated_l7_is_an_l4_allow(l7: str, severity: Severity, code: str) -> None:
    """§4.9: DNS and Kafka rules are read as L4 allows, with a diagnostic saying so."""
    proto = "UDP" if "dns" in l7 else "TCP"  # Kafka, like HTTP, is TCP only
    result = parse(
        SEL + f"egress: [{{toPorts: [{{ports: [{{port: '53', protocol: {proto}}}], rules: {l7}}}]}}]"
    )
    (rule,) = result.policies[0].rules
    assert rule.l7 is None and rule.ports == (PortRange(Protocol(proto), 53, 53),)
    assert any(d.severity is severity and d.code == code for d in result.diagnostics)


def test_server_names_warn() -> None:
    result = parse(
        SEL + "egress: [{toPorts: [{ports: [{port: '443', protocol: TCP}], serverNames: [a.com]}]}]"
    )
    assert [d.field for d in result.diagnostics if d.code == "not-modelled"] == [
        "spec.egress[0].toPorts[0].serverNames"
    ]


@pytest.mark.parametrize(
    ("spec", "field", "fragment"),
    [
        pytest.param("ingress: [{}]", "spec", "exactly one of endpointSelector", id="no-selector"),
        pytest.param(
            SEL + "nodeSelector: {}", "spec", "exactly one of endpointSelector", id="both-selectors"
        ),
        pytest.param("nodeSelector: {}", "spec.nodeSelector", "can only be used in a Cilium", id="cnp-node"),
        pytest.param(
            SEL + "ingress: [{fromCIDR: [10.0.0.300/8]}]",
            "spec.ingress[0].fromCIDR[0]",
            "invalid CIDR",
            id="cidr",
        ),
        pytest.param(
            SEL + "ingress: [{fromCIDRSet: [{cidr: 10.0.0.0/8, except: [11.0.0.0/16]}]}]",
            "spec.ingress[0].fromCIDRSet[0].except[0]",
            "is not inside",
            id="except",
        ),
        pytest.param(
            SEL + "ingress: [{toPorts: [{ports: [{protocol: TCP}]}]}]",
            "spec.ingress[0].toPorts[0].ports[0].port",
            "port must be specified",
            id="port-absent",
        ),
        pytest.param(
            SEL + "ingress: [{toPorts: [{ports: [{port: '80'}]}], icmps: [{fields: [{type: 8}]}]}]",
            "spec.ingress[0].icmps",
            "icmps and toPorts cannot be combined",
            id="icmps-with-toports",
        ),
        pytest.param(
            SEL + "ingress: [{toPorts: [{ports: [{port: '80'}], rules: {http: [{method: GET}]}}]}]",
            "spec.ingress[0].toPorts[0].ports[0].protocol",
            "only apply to TCP (not ANY",
            id="http-on-any",
        ),
        pytest.param(
            SEL + "ingress: [{toPorts: [{ports: [{port: '80', protocol: UDP}], rules: {http: [{}]}}]}]",
            "spec.ingress[0].toPorts[0].ports[0].protocol",
            "only apply to TCP (not UDP",
            id="http-on-udp",
        ),
        pytest.param(
            SEL + "ingress: [{toPorts: [{ports: [{port: '0', protocol: TCP}], rules: {http: [{}]}}]}]",
            "spec.ingress[0].toPorts[0].ports[0].port",
            "port 0",
            id="http-on-port-0",
        ),
        pytest.param(
            SEL + "ingress: [{toPorts: [{ports: [{port: '53', protocol: UDP}], "
            "rules: {dns: [{matchName: a}]}}]}]",
            "spec.ingress[0].toPorts[0].rules.dns",
            "not allowed on ingress",
            id="dns-on-ingress",
        ),
        pytest.param(
            SEL + "egress: [{toPorts: [{ports: [{port: '53', endPort: 60, protocol: UDP}], "
            "rules: {dns: [{matchName: a}]}}]}]",
            "spec.egress[0].toPorts[0].ports[0].endPort",
            "port ranges",
            id="dns-port-range",
        ),
        pytest.param(
            SEL + "ingress: [{toPorts: [{ports: [{port: '70000'}]}]}]",
            "spec.ingress[0].toPorts[0].ports[0].port",
            "out of range",
            id="port-range",
        ),
        pytest.param(
            SEL + "ingress: [{toPorts: [{ports: [{port: '-bad-'}]}]}]",
            "spec.ingress[0].toPorts[0].ports[0].port",
            "invalid port",
            id="port-name",
        ),
        pytest.param(
            SEL + "ingress: [{toPorts: [{ports: [{port: '90', endPort: 80}]}]}]",
            "spec.ingress[0].toPorts[0].ports[0].endPort",
            "greater than or equal",
            id="endport",
        ),
        pytest.param(
            SEL + "ingress: [{toPorts: [{ports: [{port: '1', protocol: ICMP}]}]}]",
            "spec.ingress[0].toPorts[0].ports[0].protocol",
            "ICMP is matched with icmps",
            id="icmp-in-toports",
        ),
        pytest.param(
            SEL + "ingress: [{toPorts: [{ports: [{port: '1', protocol: tcp}]}]}]",
            "spec.ingress[0].toPorts[0].ports[0].protocol",
            "unsupported protocol 'tcp'",
            id="protocol-case",
        ),
        pytest.param(
            SEL + "egress: [{toEntities: [world-ipv4]}]",
            "spec.egress[0].toEntities[0]",
            "not an allowed",
            id="world-ipv4",
        ),
        pytest.param(
            SEL + "egress: [{toEntities: [moon]}]",
            "spec.egress[0].toEntities[0]",
            "unknown entity",
            id="entity",
        ),
        pytest.param(
            SEL + "egress: [{toEndpoints: [{}], toFQDNs: [{matchName: a.com}]}]",
            "spec.egress[0].toFQDNs",
            "cannot be combined",
            id="fqdn-combined",
        ),
        pytest.param(
            SEL + "enableDefaultDeny: {ingress: 'no'}",
            "spec.enableDefaultDeny.ingress",
            "expected a boolean",
            id="default-deny-type",
        ),
        pytest.param(SEL + "ingress: {}", "spec.ingress", "expected a list", id="wrong-type"),
        pytest.param(
            "endpointSelector: {matchExpressions: [{key: app, operator: Gt, values: ['1']}]}",
            "spec.endpointSelector.matchExpressions[0].operator",
            "unknown operator",
            id="selector-operator",
        ),
        pytest.param(
            SEL
            + "egress: [{toPorts: [{ports: [{port: '80'}], rules: {http: [{}], dns: [{matchName: a}]}}]}]",
            "spec.egress[0].toPorts[0].rules",
            "only one L7 rule type",
            id="two-l7-types",
        ),
    ],
)
def test_validation_errors(spec: str, field: str, fragment: str) -> None:
    """Invalid objects give located errors and no policy (cilium rule_validation.go, the CRD)."""
    result = parse(spec)
    errors = [d for d in result.diagnostics if d.is_error]
    assert result.policies == ()
    assert any(d.field == field and fragment in d.message for d in errors), errors
    assert all(d.file == "cnp.yaml" and d.line and d.object == "CiliumNetworkPolicy ns/p" for d in errors)


def test_error_line_points_at_the_field() -> None:
    result = parse(SEL + "ingress:\n- toPorts:\n  - ports:\n    - port: '99999'\n")
    (error,) = [d for d in result.diagnostics if d.is_error]
    assert error.line == 9


def test_empty_object_is_an_error() -> None:
    """An object without spec and specs is rejected (cilium: "empty policy")."""
    loaded = load_text("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p}\n", "e.yaml")
    result = CiliumDialect().parse(loaded.documents[0])
    assert result.policies == () and any("spec" in d.message for d in result.diagnostics if d.is_error)


def test_unquoted_port_number_warns_but_is_read() -> None:
    """The CRD types ``port`` as a string; an unquoted number is read, with a warning."""
    result = parse(SEL + "ingress: [{toPorts: [{ports: [{port: 80, protocol: TCP}]}]}]")
    assert result.policies[0].rules[0].ports == (PortRange(Protocol.TCP, 80, 80),)
    assert [d.code for d in result.diagnostics] == ["port-not-string"]


def test_deny_rules_have_no_l7() -> None:
    """§4.2: deny rules carry ports only; ``rules`` there is an unknown field."""
    result = parse(
        SEL + "ingressDeny: [{toPorts: [{ports: [{port: '80', protocol: TCP}], rules: {http: [{}]}}]}]"
    )
    (rule,) = result.policies[0].rules
    assert rule.l7 is None and rule.peers == (AnyPeer(),)
    assert [d.code for d in result.diagnostics] == ["unknown-field"]


def test_an_except_equal_to_the_cidr_empties_the_entry() -> None:
    """Cilium only rejects an except with a shorter prefix or outside the cidr
    (cilium/cilium pkg/policy/api/rule_validation.go ``CIDRRule.Validate``: ``prefix.Bits() >
    except.Bits() || !prefix.Contains(...)``); an equal one is valid and matches nothing."""
    result = parse(SEL + "ingress: [{fromCIDRSet: [{cidr: 10.0.0.0/8, except: [10.0.0.0/8]}]}]")
    assert not any(d.is_error for d in result.diagnostics)
    (peer,) = result.policies[0].rules[0].peers
    assert isinstance(peer, ExternalBlockPeer) and not peer.block.contains(ip_address("10.1.2.3"))
