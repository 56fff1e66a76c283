"""Antrea ClusterNetworkPolicy / NetworkPolicy parsing: scopes, appliedTo parts, actions, tiers,
priorities (§5, §7.4 of the semantics reference; antrea-io/antrea pkg/apis/crd/v1beta1/types.go,
pkg/controller/networkpolicy/validate.go, docs/antrea-network-policy.md)."""

from __future__ import annotations

import ipaddress
import textwrap

import pytest

from kubefence.dialects.antrea import AntreaDialect
from kubefence.dialects.base import ParseResult
from kubefence.dialects.loader import load_text
from kubefence.dialects.registry import dialect_for
from kubefence.ir.addresses import IPBlock
from kubefence.ir.model import (
    Action,
    AnyPeer,
    Direction,
    IPBlockPeer,
    LabelView,
    PodPeer,
    PodSelection,
    Policy,
    Rule,
    Tier,
    TierKind,
)
from kubefence.ir.ports import PortRange, Protocol
from kubefence.ir.provenance import Source
from kubefence.ir.selectors import LabelSelector

ACNP = "apiVersion: crd.antrea.io/v1beta1\nkind: ClusterNetworkPolicy\nmetadata: {name: c}\nspec:\n"
ANNP = "apiVersion: crd.antrea.io/v1beta1\nkind: NetworkPolicy\nmetadata: {name: n, namespace: x}\nspec:\n"
ALL = "appliedTo: [{podSelector: {}}]\n"


def parse(head: str, spec: str, file: str = "antrea.yaml") -> ParseResult:
    loaded = load_text(head + textwrap.indent(textwrap.dedent(spec), "  "), file)
    assert not loaded.has_errors, loaded.diagnostics
    return AntreaDialect().parse(loaded.documents[0])


def policies(head: str, spec: str) -> tuple[Policy, ...]:
    result = parse(head, spec)
    assert not [d for d in result.diagnostics if d.is_error], result.diagnostics
    return result.policies


def errors(head: str, spec: str) -> list[str]:
    return [f"{d.field}: {d.message}" for d in parse(head, spec).diagnostics if d.is_error]


def warnings(head: str, spec: str) -> list[str]:
    return [f"{d.field}: {d.message}" for d in parse(head, spec).diagnostics if not d.is_error]


def sel(**labels: str) -> LabelSelector:
    return LabelSelector.of(labels)


EVERYWHERE = LabelSelector()


@pytest.mark.parametrize(
    "api",
    ["crd.antrea.io/v1beta1", "crd.antrea.io/v1alpha1"],
)
@pytest.mark.parametrize("kind", ["ClusterNetworkPolicy", "NetworkPolicy", "Tier"])
def test_policy_kinds_are_registered_in_every_served_version(api: str, kind: str) -> None:
    """v1alpha1 served ACNP/ANNP/Tier until Antrea v2.0 (antrea-io/antrea #6162)."""
    assert isinstance(dialect_for(api, kind), AntreaDialect)


@pytest.mark.parametrize(
    ("head", "subject", "peer"),
    [
        pytest.param(
            ACNP,
            PodSelection(sel(app="db"), namespace_selector=EVERYWHERE),
            PodSelection(sel(app="web"), namespace_selector=EVERYWHERE),
            id="acnp-all-namespaces",
        ),
        pytest.param(
            ANNP,
            PodSelection(sel(app="db"), namespace="x"),
            PodSelection(sel(app="web"), namespace="x"),
            id="annp-own-namespace",
        ),
    ],
)
def test_bare_pod_selector_scope(head: str, subject: PodSelection, peer: PodSelection) -> None:
    """§5.2 / §8.6: an ACNP podSelector alone selects pods in all namespaces, an ANNP podSelector
    pods of the policy's namespace (docs "Key differences from Antrea ClusterNetworkPolicy")."""
    (p,) = policies(
        head,
        "priority: 1\nappliedTo: [{podSelector: {matchLabels: {app: db}}}]\n"
        "ingress: [{action: Allow, from: [{podSelector: {matchLabels: {app: web}}}]}]\n",
    )
    assert p.subject == subject
    assert p.rules[0].peers == (PodPeer(peer),)


def test_annp_namespace_defaults_to_default() -> None:
    head = "apiVersion: crd.antrea.io/v1beta1\nkind: NetworkPolicy\nmetadata: {name: n}\nspec:\n"
    (p,) = policies(head, "priority: 1\n" + ALL)
    assert p.namespace == "default" and p.subject == PodSelection(EVERYWHERE, namespace="default")


@pytest.mark.parametrize(
    ("target", "subject"),
    [
        pytest.param(
            "{namespaceSelector: {matchLabels: {env: prod}}}",
            PodSelection(EVERYWHERE, namespace_selector=sel(env="prod")),
            id="namespace-selector-alone",
        ),
        pytest.param(
            "{podSelector: {matchLabels: {a: b}}, namespaceSelector: {matchLabels: {env: prod}}}",
            PodSelection(sel(a="b"), namespace_selector=sel(env="prod")),
            id="pods-and-namespaces",
        ),
    ],
)
def test_acnp_applied_to_selectors(target: str, subject: PodSelection) -> None:
    """docs/antrea-network-policy.md, "appliedTo" of the ACNP resource."""
    (p,) = policies(ACNP, f"priority: 1\nappliedTo: [{target}]\n")
    assert p.subject == subject


def test_policy_level_applied_to_gives_one_part_per_entry() -> None:
    """The IR subject is one PodSelection: k appliedTo entries → k parts with the same rules."""
    parts = policies(
        ACNP,
        "priority: 3\nappliedTo: [{podSelector: {matchLabels: {a: '1'}}}, {namespaceSelector: {}}]\n"
        "ingress: [{action: Drop}]\negress: [{action: Allow}]\n",
    )
    assert [p.part for p in parts] == [0, 1]
    assert parts[0].rules == parts[1].rules and len(parts[0].rules) == 2
    assert parts[0].directions == frozenset(Direction)
    assert [p.subject.pod_selector for p in parts] == [sel(a="1"), EVERYWHERE]


def test_rule_level_applied_to_parts_follow_rule_order() -> None:
    """docs "appliedTo per rule": each rule applies to its own targets; parts are numbered by
    rule position (ingress, then egress) so ordering by part keeps the rule order."""
    parts = policies(
        ACNP,
        "priority: 1\ningress:\n"
        "- {action: Drop, name: r0, appliedTo: [{podSelector: {matchLabels: {t: a}}}, "
        "{podSelector: {matchLabels: {t: b}}}]}\n"
        "- {action: Allow, name: r1, appliedTo: [{podSelector: {matchLabels: {t: c}}}]}\n"
        "egress:\n- {action: Pass, name: r2, appliedTo: [{podSelector: {matchLabels: {t: d}}}]}\n",
    )
    assert [(p.part, p.rules[0].name, p.subject.pod_selector) for p in parts] == [
        (0, "r0", sel(t="a")),
        (1, "r0", sel(t="b")),
        (2, "r1", sel(t="c")),
        (3, "r2", sel(t="d")),
    ]
    assert all(len(p.rules) == 1 and p.tiebreak == "" for p in parts)
    assert [p.rules[0].index for p in parts] == [0, 0, 1, 0]
    assert parts[3].directions == frozenset({Direction.EGRESS})


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        pytest.param(
            "priority: 1\n" + ALL + "ingress: [{action: Drop, appliedTo: [{podSelector: {}}]}]",
            "spec.appliedTo: appliedTo cannot be set both",
            id="both-levels",
        ),
        pytest.param(
            "priority: 1\ningress: [{action: Drop}]", "must be set in spec or in every rule", id="none"
        ),
        pytest.param(
            "priority: 1\ningress: [{action: Drop, appliedTo: [{podSelector: {}}]}, {action: Allow}]",
            "spec.ingress[1].appliedTo: appliedTo must be set in every rule",
            id="some-rules",
        ),
        pytest.param(
            "priority: 1\nappliedTo: [{}]", "spec.appliedTo[0]: an appliedTo entry must set", id="empty"
        ),
        pytest.param(
            "priority: 1\nappliedTo: [{group: g, podSelector: {}}]",
            "group cannot be set with",
            id="group-mixed",
        ),
        pytest.param(
            "priority: 1\nappliedTo: [{service: {name: s, namespace: n}}]\negress: [{action: Drop}]",
            "egress rules cannot be applied to Services",
            id="service-with-egress",
        ),
    ],
)
def test_applied_to_validation(spec: str, fragment: str) -> None:
    """pkg/controller/networkpolicy/validate.go validateAppliedTo."""
    found = errors(ACNP, spec)
    assert any(fragment in e for e in found), found


def test_annp_applied_to_namespace_selector_is_forbidden() -> None:
    """docs: "Unlike the appliedTo in a ClusterNetworkPolicy, setting a namespaceSelector in the
    appliedTo field is forbidden" (the ANNP CRD has no such field)."""
    found = errors(ANNP, "priority: 1\nappliedTo: [{namespaceSelector: {}}]")
    assert any("not allowed in the appliedTo of an Antrea NetworkPolicy" in e for e in found), found


@pytest.mark.parametrize(
    ("target", "field"),
    [
        pytest.param("{service: {name: s, namespace: n}}", "service", id="nodeport-service"),
        pytest.param("{nodeSelector: {}}", "nodeSelector", id="node-policy"),
    ],
)
def test_unmodelled_applied_to_is_skipped_with_warning(target: str, field: str) -> None:
    """Entries that do not select pods by label cannot be IR subjects: warn, emit no part."""
    result = parse(ACNP, f"priority: 1\nappliedTo: [{target}, {{podSelector: {{}}}}]\n")
    assert [p.part for p in result.policies] == [0]
    (warning,) = [d for d in result.diagnostics if d.code == "not-modelled"]
    assert warning.field == f"spec.appliedTo[0].{field}"


def test_applied_to_group_is_a_placeholder_the_link_step_replaces() -> None:
    """docs/antrea-network-policy.md "ClusterGroup" example: appliedTo a ClusterGroup applies
    the policy to the group's pods; the dialect names the group, the link step expands it."""
    from kubefence.dialects.base import GROUP_SUBJECT

    (p,) = policies(ACNP, "priority: 1\nappliedTo: [{group: cg}]")
    assert isinstance(p.subject.pod_selector, LabelSelector)
    assert dict(p.subject.pod_selector.match_labels) == {GROUP_SUBJECT: "ClusterGroup//cg"}


def test_service_account_subject_uses_cni_view() -> None:
    """docs "ServiceAccount based selection"; LabelView.CNI exposes the service account."""
    (p,) = policies(ACNP, "priority: 1\nappliedTo: [{serviceAccount: {name: sa-1, namespace: ns-1}}]")
    assert p.subject == PodSelection(
        sel(**{"io.cilium.k8s.policy.serviceaccount": "sa-1"}), namespace="ns-1", view=LabelView.CNI
    )


@pytest.mark.parametrize(
    ("text", "action"),
    [("Allow", Action.ALLOW), ("Drop", Action.DENY), ("Reject", Action.REJECT), ("Pass", Action.PASS)],
)
def test_actions(text: str, action: Action) -> None:
    """§5.3; CRD enum Allow | Drop | Reject | Pass."""
    (p,) = policies(ACNP, f"priority: 1\n{ALL}egress: [{{action: {text}}}]")
    assert p.rules[0].action is action and p.rules[0].peers == (AnyPeer(),) and p.rules[0].ports is None


def test_deny_is_not_an_antrea_action() -> None:
    """§5.2: "Deny" is not valid (docs contain an example using it)."""
    found = errors(ACNP, f"priority: 1\n{ALL}ingress: [{{action: Deny}}]")
    assert found == [
        "spec.ingress[0].action: unsupported action 'Deny' (expected Allow, Drop, Reject or Pass; "
        "Antrea has no Deny action, use Drop or Reject)"
    ]


@pytest.mark.parametrize("tier", ["baseline", "Baseline"])
def test_pass_in_baseline_tier_is_rejected(tier: str) -> None:
    """validate.go validateTierForPassAction (compares the lower-cased tier name)."""
    found = errors(ACNP, f"priority: 1\ntier: {tier}\n{ALL}egress: [{{action: Pass}}]")
    assert any("Pass is not allowed in baseline tier" in e for e in found), found


@pytest.mark.parametrize(
    ("spec_tier", "name"),
    [
        pytest.param("", "application", id="default"),
        pytest.param("tier: securityops\n", "securityops", id="static"),
        pytest.param("tier: SecurityOps\n", "securityops", id="legacy-capitalised-static"),
        pytest.param("tier: mytier\n", "mytier", id="custom"),
    ],
)
def test_tier_placeholder(spec_tier: str, name: str) -> None:
    """Policies sit in an ORDERED placeholder tier named after spec.tier (default "application");
    the 0.9 static names map to the lower-case Tier objects (crd_utils.go getTierPriority)."""
    (p,) = policies(ACNP, f"priority: 2.5\n{spec_tier}{ALL}")
    assert p.tier == Tier(0.0, name, TierKind.ORDERED) and p.tier.kind is TierKind.ORDERED
    assert p.priority == 2.5


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        pytest.param(ALL, "spec.priority: required field is missing", id="missing"),
        pytest.param("priority: 0.5\n" + ALL, "spec.priority: 0.5 is out of range", id="too-low"),
        pytest.param("priority: 10001\n" + ALL, "out of range", id="too-high"),
        pytest.param("priority: high\n" + ALL, "expected a number", id="not-a-number"),
    ],
)
def test_priority_validation(spec: str, fragment: str) -> None:
    """CRD: priority required, float 1.0..10000.0."""
    found = errors(ACNP, spec)
    assert any(fragment in e for e in found), found


def test_duplicate_rule_names_are_rejected() -> None:
    """validate.go validateRuleName: rule names are unique within the policy."""
    found = errors(
        ACNP, f"priority: 1\n{ALL}ingress: [{{action: Drop, name: a}}]\negress: [{{action: Drop, name: a}}]"
    )
    assert any("used twice" in e for e in found), found


def test_errors_name_file_line_and_field() -> None:
    result = parse(
        ACNP, f"priority: 1\n{ALL}ingress:\n- action: Allow\n  from:\n  - ipBlock: {{cidr: nope}}\n"
    )
    (d,) = [d for d in result.diagnostics if d.is_error]
    assert (d.file, d.line, d.field) == ("antrea.yaml", 10, "spec.ingress[0].from[0].ipBlock.cidr")
    assert d.object == "ClusterNetworkPolicy c" and result.policies == ()


def test_docs_acnp_with_stand_alone_selectors() -> None:
    """docs/antrea-network-policy.md "ACNP with stand-alone selectors", parsed in full."""
    text = textwrap.dedent(
        """\
        apiVersion: crd.antrea.io/v1beta1
        kind: ClusterNetworkPolicy
        metadata:
          name: acnp-with-stand-alone-selectors
        spec:
          priority: 5
          tier: securityops
          appliedTo:
            - podSelector:
                matchLabels:
                  role: db
            - namespaceSelector:
                matchLabels:
                  env: prod
          ingress:
            - action: Allow
              from:
                - podSelector:
                    matchLabels:
                      role: frontend
                - podSelector:
                    matchLabels:
                      role: nondb
                  namespaceSelector:
                    matchLabels:
                      role: db
              ports:
                - protocol: TCP
                  port: 8080
                  endPort: 9000
                - protocol: TCP
                  port: 6379
              name: AllowFromFrontend
          egress:
            - action: Drop
              to:
                - ipBlock:
                    cidr: 10.0.10.0/24
              ports:
                - protocol: TCP
                  port: 5978
              name: DropToThirdParty
        """
    )
    result = AntreaDialect().parse(load_text(text, "acnp.yaml").documents[0])
    assert result.diagnostics == ()
    obj = "ClusterNetworkPolicy acnp-with-stand-alone-selectors"
    ingress = Rule(
        Direction.INGRESS,
        Action.ALLOW,
        (
            PodPeer(PodSelection(sel(role="frontend"), namespace_selector=EVERYWHERE)),
            PodPeer(PodSelection(sel(role="nondb"), namespace_selector=sel(role="db"))),
        ),
        (PortRange(Protocol.TCP, 8080, 9000), PortRange(Protocol.TCP, 6379, 6379)),
        0,
        Source("acnp.yaml", 16, "antrea", obj),
        "AllowFromFrontend",
    )
    egress = Rule(
        Direction.EGRESS,
        Action.DENY,
        (IPBlockPeer(IPBlock(ipaddress.ip_network("10.0.10.0/24"))),),
        (PortRange(Protocol.TCP, 5978, 5978),),
        0,
        Source("acnp.yaml", 35, "antrea", obj),
        "DropToThirdParty",
    )
    subjects = (
        PodSelection(sel(role="db"), namespace_selector=EVERYWHERE),
        PodSelection(EVERYWHERE, namespace_selector=sel(env="prod")),
    )
    assert result.policies == tuple(
        Policy(
            kind="ClusterNetworkPolicy",
            name="acnp-with-stand-alone-selectors",
            namespace=None,
            tier=Tier(0.0, "securityops", TierKind.ORDERED),
            priority=5.0,
            subject=subject,
            directions=frozenset(Direction),
            rules=(ingress, egress),
            source=Source("acnp.yaml", 1, "antrea", obj),
            part=part,
        )
        for part, subject in enumerate(subjects)
    )
