"""CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy parsing: subjects, peers, isolation,
parts (§4 and §7.3 of the semantics reference; cilium/cilium pkg/policy/api rule.go,
ingress.go, egress.go, entity.go; Documentation/security/policy)."""

from __future__ import annotations

import textwrap
from ipaddress import ip_network

import pytest

from kubefence.dialects.cilium import CILIUM, CiliumDialect
from kubefence.dialects.loader import load_text
from kubefence.dialects.registry import dialect_for
from kubefence.ir.addresses import IPBlock
from kubefence.ir.diagnostics import Severity
from kubefence.ir.l7 import HTTPMatch, HTTPRule, MatchKind, TextMatch
from kubefence.ir.model import (
    Action,
    AnyPeer,
    Direction,
    Entity,
    EntityPeer,
    ExternalBlockPeer,
    FQDNPeer,
    LabelView,
    NodePeer,
    PodPeer,
    PodSelection,
    Rule,
    ServiceBackendsPeer,
    TierKind,
)
from kubefence.ir.ports import PortRange, Protocol
from kubefence.ir.provenance import Source
from kubefence.ir.selectors import LabelSelector, Operator, Requirement

CNP = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p, namespace: ns}\nspec:\n"
CCNP = "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: c}\nspec:\n"
SEL = "endpointSelector: {matchLabels: {app: a}}\n"
ALL_NS = LabelSelector()


def parse(head: str, spec: str, file: str = "cnp.yaml"):
    loaded = load_text(head + textwrap.indent(textwrap.dedent(spec), "  "), file)
    assert not loaded.has_errors, loaded.diagnostics
    return CiliumDialect().parse(loaded.documents[0])


def policy(spec: str, head: str = CNP):
    result = parse(head, spec)
    assert not [d for d in result.diagnostics if d.is_error], result.diagnostics
    assert len(result.policies) == 1, result.diagnostics
    return result.policies[0]


def warnings(head: str, spec: str) -> list[str]:
    return [
        f"{d.field}: {d.message}" for d in parse(head, spec).diagnostics if d.severity is Severity.WARNING
    ]


def pods(selector: LabelSelector, namespace: str | None = "ns") -> PodPeer:
    if namespace is None:
        return PodPeer(PodSelection(selector, namespace_selector=ALL_NS, view=LabelView.CNI))
    return PodPeer(PodSelection(selector, namespace=namespace, view=LabelView.CNI))


STAR_WARS = """\
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "rule1"
spec:
  description: "L7 policy to restrict access to specific HTTP call"
  endpointSelector:
    matchLabels:
      org: empire
      class: deathstar
  ingress:
  - fromEndpoints:
    - matchLabels:
        org: empire
    toPorts:
    - ports:
      - port: "80"
        protocol: TCP
      rules:
        http:
        - method: "POST"
          path: "/v1/request-landing"
"""


def test_star_wars_demo_policy() -> None:
    """cilium/cilium examples/minikube/sw_l3_l4_l7_policy.yaml (docs.cilium.io gettingstarted/demo):
    empire ships may POST /v1/request-landing to the deathstar on 80/TCP, nothing else."""
    loaded = load_text(STAR_WARS, "sw.yaml")
    result = CiliumDialect().parse(loaded.documents[0])
    assert result.diagnostics == ()
    (p,) = result.policies
    assert (p.kind, p.name, p.namespace, p.part, p.priority) == (
        "CiliumNetworkPolicy",
        "rule1",
        "default",
        0,
        0,
    )
    assert p.tier == CILIUM and p.tier.kind is TierKind.UNION and p.tier.rank == 200.0
    assert p.subject == PodSelection(
        LabelSelector.of({"org": "empire", "class": "deathstar"}), namespace="default", view=LabelView.CNI
    )
    assert p.directions == p.isolates == frozenset({Direction.INGRESS})
    assert p.rules == (
        Rule(
            direction=Direction.INGRESS,
            action=Action.ALLOW,
            peers=(pods(LabelSelector.of({"org": "empire"}), "default"),),
            ports=(PortRange(Protocol.TCP, 80, 80),),
            index=0,
            source=Source("sw.yaml", 12, "cilium", "CiliumNetworkPolicy rule1"),
            l7=HTTPRule(
                (
                    HTTPMatch(
                        method=TextMatch(MatchKind.REGEX, "POST"),
                        path=TextMatch(MatchKind.REGEX, "/v1/request-landing"),
                    ),
                )
            ),
        ),
    )


def test_registry_dispatches_both_kinds() -> None:
    assert isinstance(dialect_for("cilium.io/v2", "CiliumNetworkPolicy"), CiliumDialect)
    assert isinstance(dialect_for("cilium.io/v2", "CiliumClusterwideNetworkPolicy"), CiliumDialect)
    assert dialect_for("cilium.io/v1", "CiliumNetworkPolicy") is None


def test_ingress_empty_rule_isolates_and_allows_nothing() -> None:
    """§4.4 / trap 1: ``ingress: [{}]`` is Cilium's default-deny idiom, the opposite of k8s NP."""
    p = policy(SEL + "ingress: [{}]")
    assert p.directions == p.isolates == frozenset({Direction.INGRESS})
    (rule,) = p.rules
    assert rule.peers == () and rule.ports is None and rule.action is Action.ALLOW


@pytest.mark.parametrize(
    "rule",
    [
        pytest.param("{fromEndpoints: []}", id="endpoints"),
        pytest.param("{fromEndpoints: [], toPorts: [{ports: [{port: '80'}]}]}", id="endpoints-with-ports"),
        pytest.param("{fromCIDR: []}", id="cidr"),
        pytest.param("{fromCIDRSet: []}", id="cidrset"),
        pytest.param("{fromEntities: []}", id="entities"),
    ],
)
def test_explicit_empty_peer_list_selects_nothing(rule: str) -> None:
    """§4.4 / trap 22 (cilium/cilium PR #29608): an empty list selects nothing, not everything."""
    p = policy(SEL + f"ingress: [{rule}]")
    assert p.rules[0].peers == () and p.isolates == frozenset({Direction.INGRESS})


def test_ports_without_l3_apply_to_every_peer() -> None:
    """§4.2: a rule with toPorts and no L3 field applies to all peers, world included."""
    rule = policy(SEL + "egress: [{toPorts: [{ports: [{port: '53', protocol: UDP}]}]}]").rules[0]
    assert rule.peers == (AnyPeer(),) and rule.ports == (PortRange(Protocol.UDP, 53, 53),)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        pytest.param("{}", pods(LabelSelector()), id="empty-is-own-namespace"),
        pytest.param("{matchLabels: {'k8s:app': b}}", pods(LabelSelector.of({"app": "b"})), id="k8s-prefix"),
        pytest.param("{matchLabels: {'any:app': b}}", pods(LabelSelector.of({"app": "b"})), id="any-prefix"),
        pytest.param(
            "{matchLabels: {'k8s:io.kubernetes.pod.namespace': other}}",
            pods(LabelSelector.of({"io.kubernetes.pod.namespace": "other"}), None),
            id="names-namespace",
        ),
        pytest.param(
            "{matchLabels: {'io.cilium.k8s.namespace.labels.team': x}}",
            pods(LabelSelector.of({"io.cilium.k8s.namespace.labels.team": "x"}), None),
            id="namespace-labels",
        ),
        pytest.param(
            "{matchExpressions: [{key: io.kubernetes.pod.namespace, operator: Exists}]}",
            pods(LabelSelector((), (Requirement("io.kubernetes.pod.namespace", Operator.EXISTS),)), None),
            id="namespace-expression",
        ),
    ],
)
def test_cnp_peer_namespace_constraint(selector: str, expected: PodPeer) -> None:
    """§4.5: CNP peers get the policy's namespace unless they constrain the namespace themselves."""
    assert policy(SEL + f"ingress: [{{fromEndpoints: [{selector}]}}]").rules[0].peers == (expected,)


def test_ccnp_subject_and_peers_span_all_namespaces() -> None:
    """§4.4/§4.5, trap 6: CCNP selectors are cluster-wide (pods only)."""
    p = policy("endpointSelector: {}\negress: [{toEndpoints: [{}, {matchLabels: {app: db}}]}]", CCNP)
    assert p.namespace is None and p.kind == "CiliumClusterwideNetworkPolicy"
    assert p.subject == PodSelection(LabelSelector(), namespace_selector=ALL_NS, view=LabelView.CNI)
    assert p.rules[0].peers == (pods(LabelSelector(), None), pods(LabelSelector.of({"app": "db"}), None))


def test_cnp_subject_is_namespace_local_and_default_namespace() -> None:
    """§4.5: the CNP endpointSelector always gets the policy's namespace."""
    assert policy(SEL + "ingress: [{}]").subject == PodSelection(
        LabelSelector.of({"app": "a"}), namespace="ns", view=LabelView.CNI
    )
    head = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p}\nspec:\n"
    assert policy(SEL + "ingress: [{}]", head).namespace == "default"


def test_deny_rules_and_indices() -> None:
    """§4.2/§4.3: *Deny lists deny and turn on default deny too (trap 12); each list is numbered
    from 0 and deny rules are named "deny"."""
    p = policy(
        SEL
        + "ingress: [{fromEntities: [all]}]\ningressDeny: [{fromEntities: [world]}, {fromCIDR: [10.0.0.0/8]}]"
    )
    assert [(r.action, r.index, r.name) for r in p.rules] == [
        (Action.ALLOW, 0, None),
        (Action.DENY, 0, "deny"),
        (Action.DENY, 1, "deny"),
    ]
    assert p.rules[1].peers == (EntityPeer(Entity.WORLD),)
    only_deny = policy(SEL + "egressDeny: [{toEntities: [world]}]")
    assert only_deny.directions == only_deny.isolates == frozenset({Direction.EGRESS})


@pytest.mark.parametrize(
    ("flags", "isolates"),
    [
        pytest.param("{ingress: false}", {Direction.EGRESS}, id="ingress-off"),
        pytest.param("{egress: false, ingress: true}", {Direction.INGRESS}, id="egress-off"),
        pytest.param("{}", {Direction.INGRESS, Direction.EGRESS}, id="absent-is-on"),
    ],
)
def test_enable_default_deny(flags: str, isolates: set[Direction]) -> None:
    """§4.3: enableDefaultDeny.<dir>: false keeps the rules but not the isolation."""
    p = policy(SEL + f"enableDefaultDeny: {flags}\ningress: [{{fromEntities: [world]}}]\negress: [{{}}]")
    assert p.directions == frozenset({Direction.INGRESS, Direction.EGRESS})
    assert p.isolates == frozenset(isolates)


@pytest.mark.parametrize(
    ("entity", "expected", "warned"),
    [
        ("world", Entity.WORLD, False),
        ("cluster", Entity.CLUSTER, False),
        ("all", Entity.ALL, False),
        ("none", Entity.NONE, False),
        ("host", Entity.HOST, False),
        ("remote-node", Entity.REMOTE_NODE, False),
        ("kube-apiserver", Entity.KUBE_APISERVER, False),  # bound to its endpoints later
        ("health", Entity.NONE, True),
        ("ingress", Entity.NONE, True),
    ],
)
def test_entities(entity: str, expected: Entity, warned: bool) -> None:
    """§4.6 entity table; approximations are reported as not-modelled."""
    result = parse(CNP, SEL + f"ingress: [{{fromEntities: [{entity}]}}]")
    assert result.policies[0].rules[0].peers == (EntityPeer(expected),)
    assert any(d.code == "not-modelled" for d in result.diagnostics) is warned


def test_reserved_labels_in_peer_selectors_are_entities() -> None:
    """§4.5: ``reserved:`` keys select Cilium's reserved identities, not pods."""
    p = policy(SEL + "ingress: [{fromEndpoints: [{matchLabels: {'reserved:world': ''}}]}]")
    assert p.rules[0].peers == (EntityPeer(Entity.WORLD),)


def test_l3_fields_one_per_rule() -> None:
    """§4.2/§4.8/§4.9: each L3 field's entries are alternatives; one field per rule."""
    p = policy(
        SEL + "egress:\n- toCIDR: [192.0.2.0/24]\n- toCIDRSet: [{cidr: 10.0.0.0/8, except: [10.1.0.0/16]}]\n"
        "- toNodes: [{matchLabels: {'node:role': edge}}]\n- toEntities: [world]\n"
        "- toFQDNs: [{matchName: API.Example.com}, {matchPattern: '*.example.org'}]\n"
    )
    assert [r.peers for r in p.rules] == [
        (ExternalBlockPeer(IPBlock(ip_network("192.0.2.0/24"))),),
        (ExternalBlockPeer(IPBlock(ip_network("10.0.0.0/8"), (ip_network("10.1.0.0/16"),))),),
        (NodePeer(LabelSelector.of({"role": "edge"})),),
        (EntityPeer(Entity.WORLD),),
        (FQDNPeer("api.example.com"), FQDNPeer("*.example.org")),
    ]


@pytest.mark.parametrize(
    "rule",
    [
        "{fromEndpoints: [{}], fromEntities: [world]}",
        "{fromCIDR: [10.0.0.0/8], fromCIDRSet: [{cidr: 10.0.0.0/8}]}",
        "{fromEntities: [world], fromNodes: [{}]}",
    ],
)
def test_two_l3_fields_in_one_rule_are_rejected(rule: str) -> None:
    """Cilium's agent rejects a rule with entries in two L3 fields ("combining FromEndpoints and
    FromEntities is not supported yet": cilium/cilium pkg/policy/api/rule_validation.go,
    ``IngressCommonRule.Validate``); the policy enforces nothing, so this is an input error."""
    result = parse(CNP, SEL + f"ingress: [{rule}]")
    assert result.policies == ()
    assert [d.code for d in result.diagnostics if d.is_error] == ["l3-combined"]


def test_an_empty_l3_list_makes_the_rule_select_nothing() -> None:
    """An explicit empty fromEndpoints/fromEntities/fromCIDR/fromCIDRSet/fromNodes list makes the
    whole rule select no peer, even beside another field's entries (cilium/cilium
    pkg/k8s/apis/cilium.io/utils/utils.go ``mergeEndpointSelectors``: "Explicitly check for empty
    non-nil slices, it should not result in any identity being selected")."""
    p = policy(SEL + "ingress: [{fromEndpoints: [], fromEntities: [world]}]")
    assert p.rules[0].peers == ()
    assert Direction.INGRESS in p.isolates
    kept = policy(SEL + "egress: [{toFQDNs: [], toEntities: [world]}]")  # not in that check
    assert kept.rules[0].peers == (EntityPeer(Entity.WORLD),)


def test_a_rule_without_sections_is_rejected() -> None:
    """ "rule must have at least one of Ingress, IngressDeny, Egress, EgressDeny"
    (cilium/cilium pkg/policy/api/rule_validation.go ``Rule.Validate``): the policy is
    Valid=False and enforces nothing; ``ingress: []`` does not count."""
    for spec in (SEL, SEL + "ingress: []", SEL + "enableDefaultDeny: {ingress: true}"):
        result = parse(CNP, spec)
        assert result.policies == () and any(d.code == "missing-field" for d in result.diagnostics)


def test_cnp_subject_namespace_is_replaced_by_the_policys() -> None:
    """Cilium sets ``k8s:io.kubernetes.pod.namespace`` of a CNP's endpointSelector to the policy's
    namespace, replacing the user's value ("removing illegal namespace match":
    cilium/cilium pkg/k8s/apis/cilium.io/utils/utils.go ``ParseToCiliumRule``)."""
    spec = "endpointSelector: {matchLabels: {'k8s:io.kubernetes.pod.namespace': y, app: a}}\ningress: [{}]"
    result = parse(CNP, spec)
    assert result.policies[0].subject == PodSelection(
        LabelSelector.of({"app": "a"}), namespace="ns", view=LabelView.CNI
    )
    assert any(d.code == "namespace-replaced" for d in result.diagnostics)
    bare = "endpointSelector: {matchLabels: {io.kubernetes.pod.namespace: y}}\ningress: [{}]"
    assert parse(CNP, bare).policies[0].subject.pod_selector == LabelSelector.of(
        {"io.kubernetes.pod.namespace": "y"}
    )


@pytest.mark.parametrize(
    ("rule", "fragment"),
    [
        pytest.param("{toCIDRSet: [{cidrGroupRef: g}]}", "cidrGroupRef", id="cidr-group"),
        pytest.param("{toGroups: [{aws: {}}]}", "toGroups", id="groups"),
    ],
)
def test_unmodelled_peers_match_nothing_and_warn(rule: str, fragment: str) -> None:
    """Unmodelled L3 fields count as L3 (no any-peer fallback) and say what is ignored."""
    result = parse(CNP, SEL + f"egress: [{rule}]")
    assert result.policies[0].rules[0].peers == ()
    assert any(d.code == "not-modelled" and fragment in str(d.field) for d in result.diagnostics)


def test_to_services_name_services_by_name_or_by_their_labels() -> None:
    """cilium/cilium pkg/policy/k8s/service.go: ``processRule`` takes k8sServiceSelector before
    k8sService; ``serviceRefMatches``/``serviceSelectorMatches``: an empty namespace matches
    every namespace; pkg/k8s/apis/cilium.io/utils/utils.go copies toServices unchanged (no
    namespace defaulting, unlike toEndpoints)."""
    spec = SEL + textwrap.dedent("""\
        egress:
        - toServices:
          - k8sService: {serviceName: api}
          - k8sServiceSelector: {selector: {matchLabels: {tier: db}}, namespace: data}
          - k8sService: {serviceName: ignored}
            k8sServiceSelector: {selector: {matchLabels: {a: b}}}
        """)
    result = parse(CNP, spec)
    assert result.policies[0].rules[0].peers == (
        ServiceBackendsPeer(None, name="api"),
        ServiceBackendsPeer("data", selector=LabelSelector.of({"tier": "db"})),
        ServiceBackendsPeer(None, selector=LabelSelector.of({"a": "b"})),
    )
    assert [d.code for d in result.diagnostics] == ["ignored-field"]


@pytest.mark.parametrize(
    ("rule", "field", "fragment"),
    [
        pytest.param(
            "{toServices: [{k8sService: {serviceName: s}}], toPorts: [{ports: [{port: '80'}]}]}",
            "toPorts",
            "Combining ToServices and ToPorts",
            id="with-ports",
        ),
        pytest.param(
            "{toServices: [{k8sServiceSelector: {namespace: x}}]}",
            "toServices[0].k8sServiceSelector.selector",
            "required",
            id="no-selector",
        ),
    ],
)
def test_to_services_refused_as_the_agent_refuses_them(rule: str, field: str, fragment: str) -> None:
    """pkg/policy/api/rule_validation.go ``EgressRule.sanitize`` (``"ToServices": false`` in
    l3DependentL4Support); the CRD requires a k8sServiceSelector's ``selector``."""
    result = parse(CNP, SEL + f"egress: [{rule}]")
    found = [d for d in result.diagnostics if d.is_error]
    assert any(d.field == f"spec.egress[0].{field}" and fragment in d.message for d in found), found


@pytest.mark.parametrize(
    ("head", "spec", "fragment"),
    [
        pytest.param(CCNP, "nodeSelector: {}\ningress: [{}]", "host policies", id="host-policy"),
        pytest.param(
            CNP,
            "endpointSelector: {matchLabels: {'reserved:host': ''}}\ningress: [{}]",
            "non-pod",
            id="reserved-subject",
        ),
    ],
)
def test_unmodelled_subjects_drop_the_part(head: str, spec: str, fragment: str) -> None:
    result = parse(head, spec)
    assert result.policies == () and not any(d.is_error for d in result.diagnostics)
    assert any(fragment in w for w in warnings(head, spec))


def test_spec_and_specs_are_parts() -> None:
    """§4.1: each Rule of spec/specs is independent; part 0 is spec, i+1 is specs[i]."""
    result = parse(CNP, SEL + "ingress: [{}]\n").policies
    assert [p.part for p in result] == [0]
    text = (
        CNP
        + "  "
        + SEL
        + "  egressDeny: [{toEntities: [world]}]\n"
        + "specs:\n- {endpointSelector: {}, egress: [{}]}\n- {nodeSelector: {}, ingress: [{}]}\n"
        + ("- {endpointSelector: {}, ingress: [{}]}\n")
    )
    loaded = load_text(text.replace("CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"), "c.yaml")
    policies = CiliumDialect().parse(loaded.documents[0]).policies
    assert [p.part for p in policies] == [0, 1, 3]
    assert [p.directions for p in policies] == [{Direction.EGRESS}, {Direction.EGRESS}, {Direction.INGRESS}]
