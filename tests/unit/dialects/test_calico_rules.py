"""Calico rules: actions, protocols, ports, ICMP, HTTP, the remote peer and selector scoping
(§3.5 of the semantics reference; projectcalico/calico api/pkg/apis/projectcalico/v3/policy_common.go,
api/pkg/lib/numorstring/{port,protocol}.go, libcalico-go/lib/validator/v3/validator.go
validateRule/validateEntityRule, libcalico-go/lib/backend/syncersv1/updateprocessors/rules.go
getEndpointSelector)."""

from __future__ import annotations

import ipaddress
import textwrap

import pytest

from kubefence.dialects.base import ParseResult
from kubefence.dialects.calico import CalicoDialect
from kubefence.dialects.loader import load_text
from kubefence.ir.addresses import IPBlock
from kubefence.ir.diagnostics import Diagnostic
from kubefence.ir.expressions import All, And, Compare, Global, Has, InSet, Not, Op
from kubefence.ir.l7 import HTTPMatch, HTTPRule, MatchKind, TextMatch
from kubefence.ir.model import (
    Action,
    AnyPeer,
    CompoundPeer,
    Direction,
    IPBlockPeer,
    LabelView,
    NetworkSetPeer,
    Peer,
    PodPeer,
    PodSelection,
    Rule,
    ServicePeer,
)
from kubefence.ir.ports import NamedPort, PortRange, Protocol

FILE = "rules.yaml"
NP = "NetworkPolicy"
GNP = "GlobalNetworkPolicy"


def parse(rules: str, kind: str = NP) -> ParseResult:
    meta = "{name: p, namespace: x}" if kind == NP else "{name: g}"
    text = f"apiVersion: projectcalico.org/v3\nkind: {kind}\nmetadata: {meta}\nspec:\n"
    text += textwrap.indent(textwrap.dedent(rules), "  ")
    loaded = load_text(text, FILE)
    assert not loaded.has_errors, loaded.diagnostics
    return CalicoDialect().parse(loaded.documents[0])


def rules(text: str, kind: str = NP) -> tuple[Rule, ...]:
    result = parse(text, kind)
    assert not [d for d in result.diagnostics if d.is_error], result.diagnostics
    return tuple(r for p in result.policies for r in p.rules)


def ingress(rule: str, kind: str = NP) -> Rule:
    return rules(f"ingress: [{rule}]\n", kind)[0]


def egress(rule: str, kind: str = NP) -> Rule:
    return rules(f"egress: [{rule}]\n", kind)[0]


def errors(rule: str) -> list[Diagnostic]:
    result = parse(f"ingress: [{rule}]\n")
    found = [d for d in result.diagnostics if d.is_error]
    assert found and not result.policies, result
    return found


def warnings(rule: str) -> list[Diagnostic]:
    result = parse(f"ingress: [{rule}]\n")
    assert not [d for d in result.diagnostics if d.is_error], result.diagnostics
    return list(result.diagnostics)


def pods(expr: object, **where: object) -> PodPeer:
    return PodPeer(PodSelection(expr, view=LabelView.CNI, **where))  # type: ignore[arg-type]


def block(cidr: str) -> IPBlockPeer:
    return IPBlockPeer(IPBlock(ipaddress.ip_network(cidr)))


# -- actions and order -------------------------------------------------------------------------


def test_actions_and_log_rules_keep_indices() -> None:
    """§3.5: Allow/Deny/Pass decide; Log is non-terminal, so it is left out, and every other
    rule keeps its position in the user's list."""
    found = rules(
        "ingress: [{action: Log}, {action: Allow}, {action: Deny}, {action: Log}, {action: Pass}]\n"
        "egress: [{action: Deny}]\n"
    )
    assert [(r.direction, r.index, r.action) for r in found] == [
        (Direction.INGRESS, 1, Action.ALLOW),
        (Direction.INGRESS, 2, Action.DENY),
        (Direction.INGRESS, 4, Action.PASS),
        (Direction.EGRESS, 0, Action.DENY),
    ]
    assert all(r.name is None and r.source.file == FILE for r in found)


def test_rule_source_is_its_line() -> None:
    found = rules("ingress:\n- action: Allow\n- action: Deny\n")
    assert [r.source.line for r in found] == [6, 7]


def test_rule_without_criteria_matches_everything() -> None:
    """§3.8: rule {action: Allow} allows everything; `source: {}` is no restriction."""
    rule = ingress("{action: Allow, source: {}, destination: {}}")
    assert rule.peers == (AnyPeer(),) and rule.ports is None and rule.except_ports == () and rule.l7 is None


# -- protocols and ports -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("protocol", "expected"),
    [
        ("TCP", Protocol.TCP),
        ("tcp", Protocol.TCP),
        ("UDP", Protocol.UDP),
        ("sctp", Protocol.SCTP),
        ("ICMP", Protocol.ICMP),
        ("ICMPv6", Protocol.ICMPV6),
        ("6", Protocol.TCP),
        ("17", Protocol.UDP),
        ("132", Protocol.SCTP),
        ("1", Protocol.ICMP),
        ("58", Protocol.ICMPV6),
    ],
)
def test_protocol_without_ports_is_the_whole_protocol(protocol: str, expected: Protocol) -> None:
    """numorstring.Protocol: names or numbers 1-255; protocol alone = all its ports."""
    assert ingress(f"{{action: Allow, protocol: {protocol}}}").ports == (PortRange(expected),)


@pytest.mark.parametrize("protocol", ["UDPLite", "47", "'255'"])
def test_unmodelled_protocols_are_other_with_warning(protocol: str) -> None:
    result = parse(f"ingress: [{{action: Allow, protocol: {protocol}}}]\n")
    assert result.policies[0].rules[0].ports == (PortRange(Protocol.OTHER),)
    assert [(d.code, d.field) for d in result.diagnostics] == [("not-modelled", "spec.ingress[0].protocol")]


@pytest.mark.parametrize(
    ("ports", "expected"),
    [
        pytest.param("[80]", (PortRange(Protocol.TCP, 80, 80),), id="number"),
        pytest.param("['443']", (PortRange(Protocol.TCP, 443, 443),), id="quoted-number"),
        pytest.param("['8000:8080']", (PortRange(Protocol.TCP, 8000, 8080),), id="range"),
        pytest.param("[http]", (NamedPort("http", Protocol.TCP),), id="named"),
        pytest.param(
            "[0, '1:1']", (PortRange(Protocol.TCP, 0, 0), PortRange(Protocol.TCP, 1, 1)), id="edges"
        ),
    ],
)
def test_destination_ports_with_protocol(ports: str, expected: tuple[object, ...]) -> None:
    """numorstring.PortFromString: number, "min:max" or name; the rule's protocol qualifies them."""
    assert ingress(f"{{action: Allow, protocol: TCP, destination: {{ports: {ports}}}}}").ports == expected


def test_named_ports_without_protocol_match_any_protocol() -> None:
    """§3.5: named-only lists are valid without protocol (felix rule_scanner ProtocolAny)."""
    rule = egress("{action: Allow, destination: {ports: [dns, metrics]}}")
    assert rule.ports == (NamedPort("dns", None), NamedPort("metrics", None))


def test_not_ports_and_not_protocol_are_exceptions() -> None:
    """§3.5: notPorts/notProtocol hold when the packet matches none of them."""
    rule = ingress("{action: Deny, protocol: UDP, destination: {ports: ['1:1000'], notPorts: [53]}}")
    assert rule.ports == (PortRange(Protocol.UDP, 1, 1000),)
    assert rule.except_ports == (PortRange(Protocol.UDP, 53, 53),)
    rule = ingress("{action: Deny, notProtocol: TCP}")
    assert rule.ports is None and rule.except_ports == (PortRange(Protocol.TCP),)


def test_source_ports_are_not_modelled() -> None:
    result = parse("egress: [{action: Allow, protocol: TCP, source: {ports: [1000], notPorts: [5]}}]\n")
    assert result.policies[0].rules[0].ports == (PortRange(Protocol.TCP),)
    assert [(d.code, d.field) for d in result.diagnostics] == [
        ("not-modelled", "spec.egress[0].source.ports")
    ]


@pytest.mark.parametrize(
    ("rule", "field", "fragment"),
    [
        pytest.param(
            "{action: Allow, destination: {ports: [80]}}", "destination.ports", "need protocol", id="no-proto"
        ),
        pytest.param(
            "{action: Allow, destination: {notPorts: [80, http]}}",
            "destination.notPorts",
            "need protocol",
            id="mixed",
        ),
        pytest.param(
            "{action: Allow, protocol: ICMP, destination: {ports: [http]}}",
            "destination.ports",
            "TCP, UDP or SCTP, not ICMP",
            id="icmp-ports",
        ),
        pytest.param(
            "{action: Allow, protocol: UDPLite, destination: {ports: [5]}}",
            "destination.ports",
            "not UDPLite",
            id="udplite-ports",
        ),
        pytest.param(
            "{action: Allow, protocol: TCP, source: {ports: [70000]}}",
            "source.ports[0]",
            "out of range",
            id="range",
        ),
        pytest.param(
            "{action: Allow, protocol: TCP, destination: {ports: ['90:80']}}",
            "destination.ports[0]",
            "minimum above",
            id="reversed",
        ),
        pytest.param(
            "{action: Allow, protocol: TCP, destination: {ports: ['a b']}}",
            "destination.ports[0]",
            "invalid port",
            id="bad-name",
        ),
        pytest.param("{action: Allow, protocol: 0}", "protocol", "out of range 1-255", id="proto-zero"),
        pytest.param("{action: Allow, protocol: Tcp}", "protocol", "unsupported protocol", id="proto-case"),
        pytest.param(
            "{action: Allow, notProtocol: true}", "notProtocol", "unsupported protocol", id="proto-bool"
        ),
    ],
)
def test_port_and_protocol_errors(rule: str, field: str, fragment: str) -> None:
    """validator.go validateRule: ports need protocol TCP/UDP/SCTP; numorstring formats."""
    found = errors(rule)
    assert any(d.field == f"spec.ingress[0].{field}" and fragment in d.message for d in found), found


# -- ICMP --------------------------------------------------------------------------------------


def test_icmp_types_are_matched_and_codes_read_as_every_code() -> None:
    """api policy_common.go ICMPFields (``type`` 0-254, ``code`` needs ``type``) and
    ``notICMP``: the rule matches the ICMP message type it names; codes are not modelled (a
    warning: every code of the type). notICMP takes the rule's ICMP protocol, else both."""
    result = parse(
        "ingress: [{action: Allow, protocol: ICMP, icmp: {type: 8, code: 0}, notICMP: {type: 3}}]\n"
    )
    (rule,) = result.policies[0].rules
    assert rule.ports == (PortRange(Protocol.ICMP, 8, 8),)
    assert rule.except_ports == (PortRange(Protocol.ICMP, 3, 3),)
    assert [(d.code, d.field) for d in result.diagnostics] == [("not-modelled", "spec.ingress[0].icmp.code")]
    v6 = ingress("{action: Deny, protocol: ICMPv6, icmp: {type: 128}}")
    assert v6.ports == (PortRange(Protocol.ICMPV6, 128, 128),)
    other = ingress("{action: Allow, notICMP: {type: 0}}")
    assert other.ports is None
    assert other.except_ports == (PortRange(Protocol.ICMP, 0, 0), PortRange(Protocol.ICMPV6, 0, 0))


@pytest.mark.parametrize(
    ("rule", "field", "fragment"),
    [
        pytest.param(
            "{action: Allow, protocol: ICMP, icmp: {code: 1}}", "icmp.code", "without an ICMP type", id="code"
        ),
        pytest.param("{action: Allow, icmp: {type: 8}}", "icmp", "must set protocol", id="no-protocol"),
        pytest.param(
            "{action: Allow, protocol: ICMP, icmp: {type: 255}}", "icmp.type", "out of range", id="type"
        ),
        pytest.param("{action: Allow, protocol: ICMP, ipVersion: 6}", "ipVersion", "must be 4", id="icmp-v6"),
        pytest.param(
            "{action: Allow, notProtocol: ICMPv6, ipVersion: 4}", "ipVersion", "must be 6", id="icmpv6-v4"
        ),
    ],
)
def test_icmp_errors(rule: str, field: str, fragment: str) -> None:
    """validator.go validateICMPFields / validateRule."""
    found = errors(rule)
    assert any(d.field == f"spec.ingress[0].{field}" and fragment in d.message for d in found), found


# -- HTTP --------------------------------------------------------------------------------------


def test_http_methods_times_paths() -> None:
    """§3.5: methods OR-ed, paths OR-ed (exact or prefix), methods ∧ paths."""
    rule = ingress("{action: Allow, http: {methods: [GET, PUT], paths: [{exact: /a}, {prefix: /b/}]}}")
    get, put = TextMatch(MatchKind.EXACT, "GET"), TextMatch(MatchKind.EXACT, "PUT")
    exact, prefix = TextMatch(MatchKind.EXACT, "/a"), TextMatch(MatchKind.PREFIX, "/b/")
    assert rule.l7 == HTTPRule(
        (
            HTTPMatch(method=get, path=exact),
            HTTPMatch(method=get, path=prefix),
            HTTPMatch(method=put, path=exact),
            HTTPMatch(method=put, path=prefix),
        )
    )
    assert ingress("{action: Allow, http: {paths: [{exact: /x}]}}").l7 == HTTPRule(
        (HTTPMatch(path=TextMatch(MatchKind.EXACT, "/x")),)
    )


@pytest.mark.parametrize(
    ("rule", "field", "fragment"),
    [
        pytest.param("{action: Deny, http: {methods: [GET]}}", "http", "only valid for Allow", id="deny"),
        pytest.param("{action: Log, http: {methods: [GET]}}", "http", "only valid for Allow", id="log"),
        pytest.param(
            "{action: Allow, protocol: UDP, http: {}}", "protocol", "TCP or leave it empty", id="udp"
        ),
        pytest.param(
            "{action: Allow, http: {paths: [{exact: /a, prefix: /b}]}}",
            "http.paths[0]",
            "exactly one",
            id="both",
        ),
        pytest.param(
            "{action: Allow, http: {methods: [1]}}", "http.methods[0]", "expected a string", id="method"
        ),
        pytest.param("{action: {}, http: {methods: [GET]}}", "action", "expected a string", id="action-map"),
    ],
)
def test_http_errors(rule: str, field: str, fragment: str) -> None:
    """validator.go validateRule: application-layer fields only on Allow rules, TCP only."""
    found = errors(rule)
    assert any(d.field == f"spec.ingress[0].{field}" and fragment in d.message for d in found), found


# -- the remote peer and selector scoping ------------------------------------------------------

SEL = Compare("app", Op.EQ, "web")
NS = Has("team")


@pytest.mark.parametrize(
    ("kind", "source", "expected"),
    [
        pytest.param(
            NP,
            "{selector: app == 'web'}",
            CompoundPeer(any_of=(pods(SEL, namespace="x"), NetworkSetPeer(SEL, namespace="x"))),
            id="np-selector-own-namespace",
        ),
        pytest.param(
            NP,
            "{selector: app == 'web', namespaceSelector: has(team)}",
            CompoundPeer(
                any_of=(pods(SEL, namespace_selector=NS), NetworkSetPeer(SEL, namespace_selector=NS))
            ),
            id="np-selector-in-namespaces",
        ),
        pytest.param(
            NP,
            "{namespaceSelector: has(team)}",
            CompoundPeer(
                any_of=(pods(All(), namespace_selector=NS), NetworkSetPeer(All(), namespace_selector=NS))
            ),
            id="namespace-selector-alone",
        ),
        pytest.param(
            NP,
            "{selector: app == 'web', namespaceSelector: global()}",
            NetworkSetPeer(SEL, namespace_selector=Global(), global_sets=True),
            id="global-namespace-selector",
        ),
        pytest.param(
            GNP,
            "{selector: app == 'web'}",
            CompoundPeer(any_of=(pods(SEL, namespace_selector=All()), NetworkSetPeer(SEL, global_sets=True))),
            id="gnp-selector-everywhere",
        ),
        pytest.param(
            GNP,
            "{namespaceSelector: all()}",
            CompoundPeer(
                any_of=(
                    pods(All(), namespace_selector=All()),
                    NetworkSetPeer(All(), namespace_selector=All()),
                )
            ),
            id="gnp-namespace-selector-all",
        ),
    ],
)
def test_selector_scoping(kind: str, source: str, expected: Peer) -> None:
    """§3.5 entity scoping: NP selectors stay in the namespace, namespaceSelector widens,
    global() keeps only non-namespaced entities, GNP selectors see every namespace."""
    assert ingress(f"{{action: Allow, source: {source}}}", kind).peers == (expected,)


def test_not_selector_in_a_namespaced_policy_only_matches_that_namespace() -> None:
    """getEndpointSelector: in a namespaced policy a notSelector alone still limits the rule to
    endpoints of the policy's namespace (so outside addresses never match), and Felix then
    folds the notSelector into that selector as a label match (felix/calc/rule_scanner.go
    combineMatchesIfPossible: "(sel) && (!(notSel))")."""
    rule = ingress("{action: Allow, source: {notSelector: app == 'web'}}")
    not_web = Not(SEL)
    assert rule.peers == (
        CompoundPeer(any_of=(pods(not_web, namespace="x"), NetworkSetPeer(not_web, namespace="x"))),
    )


def test_not_selector_in_a_global_policy_also_matches_outside_addresses() -> None:
    """§3.5: `notSelector: has(x)` also matches traffic from non-Calico sources."""
    rule = ingress("{action: Allow, source: {notSelector: has(x)}}", GNP)
    web = CompoundPeer(
        any_of=(pods(Has("x"), namespace_selector=All()), NetworkSetPeer(Has("x"), global_sets=True))
    )
    assert rule.peers == (CompoundPeer(none_of=(web,)),)


def test_nets_and_selector_must_both_hold() -> None:
    """§3.5: every criterion must hold; list items are OR-ed; notNets exclude."""
    rule = egress(
        "{action: Allow, destination: "
        "{selector: app == 'web', nets: [10.0.0.0/8, 1.2.3.4], notNets: [10.1.0.0/16]}}"
    )
    (peer,) = rule.peers
    assert isinstance(peer, CompoundPeer) and peer.any_of == ()
    assert peer.all_of[1] == CompoundPeer(any_of=(block("10.0.0.0/8"), block("1.2.3.4/32")))
    assert peer.none_of == (block("10.1.0.0/16"),)


def test_single_net() -> None:
    assert egress("{action: Allow, destination: {nets: [10.0.0.0/8]}}").peers == (block("10.0.0.0/8"),)


@pytest.mark.parametrize(
    ("rule", "family"),
    [
        pytest.param("{action: Deny, source: {notNets: [10.0.0.0/8]}}", "0.0.0.0/0", id="v4-not-nets"),
        pytest.param("{action: Deny, ipVersion: 6}", "::/0", id="ip-version-6"),
        pytest.param("{action: Deny, ipVersion: 4, source: {notNets: [10.0.0.0/8]}}", "0.0.0.0/0", id="both"),
    ],
)
def test_ip_family_limits_the_rule(rule: str, family: str) -> None:
    """§3.5 IP family: a rule whose CIDRs are IPv4 only is not rendered for IPv6; ipVersion likewise."""
    (peer,) = ingress(rule).peers
    assert peer == block(family) or (isinstance(peer, CompoundPeer) and peer.all_of == (block(family),))


def test_service_accounts_on_the_remote_side() -> None:
    """parseServiceAccounts: names → projectcalico.org/serviceaccount in {…}, selector → pcsa.*,
    both AND-ed, scoped like selector."""
    rule = ingress("{action: Allow, source: {serviceAccounts: {names: [a, b], selector: role == 'x'}}}")
    expr = And(
        (Compare("pcsa.role", Op.EQ, "x"), InSet("projectcalico.org/serviceaccount", frozenset({"a", "b"})))
    )
    assert rule.peers == (
        CompoundPeer(any_of=(pods(expr, namespace="x"), NetworkSetPeer(expr, namespace="x"))),
    )


def test_services_name_the_endpoints_of_a_service() -> None:
    """api policy_common.go ServiceMatch: "If left empty, the rule will match within this
    policy's namespace"; felix/calc/rule_scanner.go: a destination Service's IP set includes
    the endpoints' ports (``ServiceIncludePorts: true``), a source Service's does not."""
    out = egress("{action: Allow, destination: {services: {name: api}}}")
    assert out.peers == (ServicePeer("x", "api", ports=True),) and out.ports is None
    out = egress("{action: Deny, protocol: TCP, destination: {services: {name: api, namespace: y}}}")
    assert out.peers == (ServicePeer("y", "api", ports=True),)
    assert out.ports == (PortRange(Protocol.TCP),)
    inbound = ingress(
        "{action: Allow, protocol: TCP, source: {services: {name: c}}, destination: {ports: [80]}}"
    )
    assert inbound.peers == (ServicePeer("x", "c"),) and inbound.ports == (PortRange(Protocol.TCP, 80, 80),)
    assert egress("{action: Allow, destination: {services: {name: a, namespace: y}}}", GNP).peers == (
        ServicePeer("y", "a", ports=True),
    )


@pytest.mark.parametrize(
    ("spec", "kind", "field", "fragment"),
    [
        pytest.param(
            "egress: [{action: Allow, source: {services: {name: a}}}]",
            NP,
            "spec.egress[0].source.services",
            "not allowed in egress rule source",
            id="egress-source",
        ),
        pytest.param(
            "ingress: [{action: Allow, destination: {services: {name: a}}}]",
            NP,
            "spec.ingress[0].destination.services",
            "not allowed in ingress rule destination",
            id="ingress-destination",
        ),
        pytest.param(
            "egress: [{action: Allow, protocol: TCP, destination: {services: {name: a}, ports: [80]}}]",
            NP,
            "spec.egress[0].destination.ports",
            "cannot be specified with services",
            id="destination-ports",
        ),
        pytest.param(
            "egress: [{action: Allow, destination: {services: {name: a}}}]",
            GNP,
            "spec.egress[0].destination.services.namespace",
            "must specify a namespace",
            id="global-namespace",
        ),
    ],
)
def test_services_refused_where_the_api_server_refuses_them(
    spec: str, kind: str, field: str, fragment: str
) -> None:
    """libcalico-go validator.go validateNetworkPolicySpec / validateGlobalNetworkPolicySpec
    (Services only in an egress rule's destination or an ingress rule's source; a global policy
    names the namespace) and api policy_common.go ("ports and notPorts cannot be specified with
    services")."""
    result = parse(spec, kind)
    found = [d for d in result.diagnostics if d.is_error]
    assert any(d.field == field and fragment in d.message for d in found), found
    assert not result.policies


def test_local_nets_are_not_modelled() -> None:
    found = warnings("{action: Allow, destination: {nets: [10.0.0.0/8]}}")
    assert [(d.code, d.field) for d in found] == [("not-modelled", "spec.ingress[0].destination.nets")]


@pytest.mark.parametrize(
    ("rule", "field", "fragment"),
    [
        pytest.param(
            "{action: Allow, source: {selector: global()}}", "source.selector", "global()", id="global-sel"
        ),
        pytest.param(
            "{action: Allow, source: {notSelector: '!global()'}}",
            "source.notSelector",
            "global()",
            id="global-not",
        ),
        pytest.param(
            "{action: Allow, source: {namespaceSelector: global() || has(a)}}",
            "source.namespaceSelector",
            "whole namespaceSelector",
            id="global-combined",
        ),
        pytest.param(
            "{action: Allow, source: {selector: 'a == \"x\"  &&'}}",
            "source.selector",
            "column 13",
            id="syntax",
        ),
        pytest.param(
            "{action: Allow, source: {services: {name: s}, selector: has(a)}}",
            "source.selector",
            "cannot be combined with services",
            id="services-exclusive",
        ),
        pytest.param(
            "{action: Allow, source: {services: {namespace: y}}}",
            "source.services.name",
            "required",
            id="svc",
        ),
        pytest.param(
            "{action: Allow, source: {nets: [10.0.0.0/33]}}", "source.nets[0]", "invalid CIDR", id="cidr"
        ),
        pytest.param(
            "{action: Allow, source: {nets: [10.0.0.0/8]}, destination: {nets: ['::/0']}}",
            "",
            "both IPv4 and IPv6",
            id="mixed-families",
        ),
        pytest.param(
            "{action: Allow, ipVersion: 6, source: {nets: [10.0.0.0/8]}}",
            "ipVersion",
            "doesn't match",
            id="v",
        ),
        pytest.param("{action: Allow, ipVersion: 5}", "ipVersion", "must be 4 or 6", id="ip-version"),
        pytest.param(
            "{action: Allow, source: {serviceAccounts: {names: [1]}}}",
            "source.serviceAccounts.names[0]",
            "string",
            id="sa",
        ),
        pytest.param(
            "{action: Allow, source: {bogus: 1}, destination: []}",
            "destination",
            "expected a mapping",
            id="shape",
        ),
    ],
)
def test_entity_errors(rule: str, field: str, fragment: str) -> None:
    """validator.go validateEntityRule / validateRule; selector syntax §3.4."""
    found = errors(rule)
    want = f"spec.ingress[0].{field}" if field else "spec.ingress[0]"
    assert any(d.field == want and fragment in d.message for d in found), found


def test_unknown_rule_fields_warn_and_metadata_is_silent() -> None:
    found = warnings("{action: Allow, metadata: {annotations: {a: b}}, bogus: 1, source: {nope: 2}}")
    assert [(d.code, d.field) for d in found] == [
        ("unknown-field", "spec.ingress[0].bogus"),
        ("unknown-field", "spec.ingress[0].source.nope"),
    ]
