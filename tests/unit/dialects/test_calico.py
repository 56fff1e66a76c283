"""Calico policy objects: kinds, tiers, order, subjects, types defaulting, policy parts, host
options, staged kinds, Tier and (Global)NetworkSet definitions (§3.1-§3.3, §3.6, §3.9 of the
semantics reference; projectcalico/calico api/pkg/apis/projectcalico/v3 and
libcalico-go/lib/validator/v3/validator.go)."""

from __future__ import annotations

import ipaddress
import math
import textwrap

import pytest

from kubefence.dialects.base import NetworkSetDef, ParseResult, TierDef
from kubefence.dialects.calico import CalicoDialect
from kubefence.dialects.loader import load_text
from kubefence.dialects.registry import dialect_for
from kubefence.ir.diagnostics import Diagnostic
from kubefence.ir.expressions import All, And, Compare, Has, InSet, Not, Op
from kubefence.ir.model import Action, Direction, LabelView, Policy, Tier, TierKind
from kubefence.ir.selectors import Labels

FILE = "calico.yaml"


def parse_object(
    kind: str, spec: str | None, metadata: str = "{name: p, namespace: x}", api: str = ""
) -> ParseResult:
    text = f"apiVersion: {api or 'projectcalico.org/v3'}\nkind: {kind}\nmetadata: {metadata}\n"
    if spec is not None:
        text += "spec:\n" + textwrap.indent(textwrap.dedent(spec), "  ")
    loaded = load_text(text, FILE)
    assert not loaded.has_errors, loaded.diagnostics
    return CalicoDialect().parse(loaded.documents[0])


def parts(
    spec: str, kind: str = "NetworkPolicy", metadata: str = "{name: p, namespace: x}"
) -> tuple[Policy, ...]:
    result = parse_object(kind, spec, metadata)
    assert not [d for d in result.diagnostics if d.is_error], result.diagnostics
    return result.policies


def policy(spec: str, kind: str = "NetworkPolicy") -> Policy:
    return parts(spec, kind)[0]


def errors(spec: str, kind: str = "NetworkPolicy") -> list[Diagnostic]:
    result = parse_object(kind, spec)
    found = [d for d in result.diagnostics if d.is_error]
    assert found and not result.policies, result
    return found


def warnings(spec: str, kind: str = "NetworkPolicy") -> list[Diagnostic]:
    result = parse_object(kind, spec)
    assert not [d for d in result.diagnostics if d.is_error], result.diagnostics
    return [d for d in result.diagnostics if not d.is_error]


# -- kinds and dispatch ------------------------------------------------------------------------


@pytest.mark.parametrize("api", ["projectcalico.org/v3", "crd.projectcalico.org/v1"])
@pytest.mark.parametrize(
    "kind",
    [
        "NetworkPolicy",
        "GlobalNetworkPolicy",
        "StagedNetworkPolicy",
        "StagedGlobalNetworkPolicy",
        "StagedKubernetesNetworkPolicy",
        "Tier",
        "NetworkSet",
        "GlobalNetworkSet",
    ],
)
def test_registry_dispatches_both_api_groups(api: str, kind: str) -> None:
    """§3.1 kinds; the CRD group crd.projectcalico.org/v1 carries the same spec."""
    assert isinstance(dialect_for(api, kind), CalicoDialect)


@pytest.mark.parametrize("kind", ["Profile", "HostEndpoint", "IPPool"])
def test_other_calico_kinds_are_not_read(kind: str) -> None:
    assert dialect_for("projectcalico.org/v3", kind) is None


def test_crd_group_parses_like_v3() -> None:
    result = parse_object(
        "NetworkPolicy", "order: 5\ningress: [{action: Allow}]\n", api="crd.projectcalico.org/v1"
    )
    assert result.policies[0].priority == 5.0 and result.policies[0].dialect == "calico"


# -- tier, order, identity ---------------------------------------------------------------------


def test_network_policy_defaults() -> None:
    """§3.2: tier default "default", order absent = +inf, namespace default "default" for
    metadata without one; tiebreak is v3.32+'s "<name>/<namespace>/<kind>"."""
    pol = parts("ingress: [{action: Allow}]\n", metadata="{name: p}")[0]
    assert pol.tier == Tier(0.0, "default", TierKind.ORDERED_DENY)
    assert pol.tier.kind is TierKind.ORDERED_DENY
    assert pol.priority == math.inf
    assert (pol.kind, pol.name, pol.namespace) == ("NetworkPolicy", "p", "default")
    assert pol.tiebreak == "p/default/NetworkPolicy"
    assert pol.source.file == FILE and pol.source.dialect == "calico"


def test_tier_and_order_are_kept() -> None:
    """§3.2: `tier` names the tier (placeholder rank 0, linked later); `order` is a float."""
    pol = parts("tier: security\norder: 10.5\n", metadata="{name: security.p, namespace: y}")[0]
    assert pol.tier.name == "security" and pol.priority == 10.5
    assert pol.name == "security.p" and pol.tiebreak == "security.p/y/NetworkPolicy"


def test_global_network_policy_identity() -> None:
    """§3.2: GNP is cluster-scoped; its tiebreak has an empty namespace."""
    pol = parts("order: 1\n", kind="GlobalNetworkPolicy", metadata="{name: g}")[0]
    assert (pol.kind, pol.namespace, pol.tiebreak) == ("GlobalNetworkPolicy", None, "g//GlobalNetworkPolicy")


# -- subject -----------------------------------------------------------------------------------


def test_subject_of_network_policy() -> None:
    """§3.2/§3.4: selector ∧ serviceAccountSelector (SA labels seen as pcsa.*), in the policy's
    namespace, over the CNI label view."""
    subject = policy("selector: app == 'db'\nserviceAccountSelector: role in {'a'}\n").subject
    assert subject.namespace == "x" and subject.namespace_selector is None
    assert subject.view is LabelView.CNI
    assert subject.pod_selector == And((Compare("app", Op.EQ, "db"), InSet("pcsa.role", frozenset({"a"}))))


@pytest.mark.parametrize(
    ("spec", "pods", "namespaces"),
    [
        pytest.param("{}", All(), All(), id="absent-selectors-select-everything"),
        pytest.param("selector: ''", All(), All(), id="empty-selector-is-all"),
        pytest.param("namespaceSelector: has(team)", All(), Has("team"), id="namespace-selector"),
        pytest.param("selector: '!has(a)'", Not(Has("a")), All(), id="selector"),
    ],
)
def test_subject_of_global_network_policy(spec: str, pods: object, namespaces: object) -> None:
    """§3.8: absent/"" selector = all(); GNP namespaceSelector restricts subject namespaces."""
    subject = policy(spec, "GlobalNetworkPolicy").subject
    assert subject.namespace is None
    assert (subject.pod_selector, subject.namespace_selector) == (pods, namespaces)


# -- types -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "directions"),
    [
        pytest.param("{}", {Direction.INGRESS}, id="no-rules-ingress"),
        pytest.param("ingress: [{action: Allow}]", {Direction.INGRESS}, id="ingress-only"),
        pytest.param("egress: [{action: Allow}]", {Direction.EGRESS}, id="egress-only-is-egress-only"),
        pytest.param(
            "ingress: [{action: Allow}]\negress: [{action: Allow}]",
            {Direction.INGRESS, Direction.EGRESS},
            id="both",
        ),
        pytest.param("egress: []", {Direction.INGRESS}, id="empty-egress-list"),
        pytest.param("types: [Egress]", {Direction.EGRESS}, id="explicit"),
        pytest.param("types: []\negress: [{action: Deny}]", {Direction.EGRESS}, id="empty-types-defaulted"),
    ],
)
def test_types_defaulting(spec: str, directions: set[Direction]) -> None:
    """§3.3 (differs from Kubernetes): egress rules without ingress rules → [Egress] only."""
    assert policy(spec).directions == frozenset(directions)


def test_rules_outside_types_are_dropped_with_warning() -> None:
    """§3.3: a policy applies to a direction only if it is in `types`."""
    result = parse_object("NetworkPolicy", "types: [Ingress]\negress: [{action: Deny}]\n")
    assert result.policies[0].rules == ()
    assert [d.code for d in result.diagnostics] == ["dead-rules"]
    assert result.diagnostics[0].field == "spec.egress"


# -- parts: rules with a local restriction -----------------------------------------------------


def test_local_restrictions_split_the_policy_into_ordered_parts() -> None:
    """§3.5: the local side (ingress destination) narrows the endpoints a rule applies to.
    Consecutive rules with the same restriction share a part; order across parts is rule order."""
    spec = """\
    selector: app == 'db'
    ingress:
    - action: Allow
    - action: Deny
      destination: {selector: tier == 'gold'}
    - action: Pass
      destination: {selector: tier == 'gold'}
    - action: Allow
    egress:
    - action: Deny
      source: {selector: has(x)}
    """
    p0, p1, p2, p3 = parts(spec)
    assert [p.part for p in (p0, p1, p2, p3)] == [0, 1, 2, 3]
    assert [r.index for r in p0.rules] == [0]
    assert [r.index for r in p1.rules] == [1, 2] and p1.directions == frozenset({Direction.INGRESS})
    assert p1.subject.pod_selector == And((Compare("app", Op.EQ, "db"), Compare("tier", Op.EQ, "gold")))
    assert [r.index for r in p2.rules] == [3] and p2.subject == p0.subject
    assert [r.index for r in p3.rules] == [0] and p3.directions == frozenset({Direction.EGRESS})
    assert p3.subject.pod_selector == And((Compare("app", Op.EQ, "db"), Has("x")))
    assert p0.directions == frozenset({Direction.INGRESS, Direction.EGRESS})
    assert [p.order_key for p in (p0, p1, p2, p3)] == sorted(p.order_key for p in (p0, p1, p2, p3))


def test_part_zero_exists_without_rules() -> None:
    """The tier must still select the endpoint (end-of-tier deny) when every rule is restricted."""
    p0, p1 = parts("ingress: [{action: Allow, destination: {selector: has(a)}}]\n")
    assert p0.rules == () and p0.subject.pod_selector == All()
    assert p1.subject.pod_selector == Has("a")


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        pytest.param("{selector: all()}", None, id="all-is-no-restriction"),
        pytest.param("{notSelector: has(a)}", Not(Has("a")), id="not-selector"),
        pytest.param(
            "{namespaceSelector: team == 'a'}", Compare("pcns.team", Op.EQ, "a"), id="namespace-selector-pcns"
        ),
        pytest.param("{namespaceSelector: global()}", Not(All()), id="global-is-no-pod"),
        pytest.param(
            "{serviceAccounts: {names: [sa1]}}",
            InSet("projectcalico.org/serviceaccount", frozenset({"sa1"})),
            id="service-account-names",
        ),
        pytest.param("{serviceAccounts: {selector: has(r)}}", Has("pcsa.r"), id="service-account-selector"),
    ],
)
def test_local_restriction_expressions(local: str, expected: object) -> None:
    """libcalico-go updateprocessors/rules.go: namespace selectors are matched on pcns.* labels,
    all() there means any namespaced endpoint, global() none; SA names on
    projectcalico.org/serviceaccount, SA selectors on pcsa.*."""
    found = parts(f"ingress: [{{action: Allow, destination: {local}}}]\n")
    if expected is None:
        assert len(found) == 1 and len(found[0].rules) == 1
    else:
        assert len(found) == 2 and found[1].subject.pod_selector == expected


# -- GNP host options --------------------------------------------------------------------------


@pytest.mark.parametrize("option", ["doNotTrack", "preDNAT"])
def test_host_endpoint_only_policies_are_left_out(option: str) -> None:
    """§3.9: untracked and pre-DNAT policies apply at host endpoints only (docs.tigera.io
    "Summary of host endpoint policies"); kubefence does not model those: warn, no policy."""
    result = parse_object("GlobalNetworkPolicy", f"{option}: true\napplyOnForward: true\n", "{name: g}")
    assert result.policies == ()
    assert [(d.code, d.field) for d in result.diagnostics] == [("not-modelled", f"spec.{option}")]


def test_apply_on_forward_warns_and_keeps_policy() -> None:
    result = parse_object("GlobalNetworkPolicy", "applyOnForward: true\n", "{name: g}")
    assert len(result.policies) == 1 and [d.code for d in result.diagnostics] == ["not-modelled"]


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        pytest.param("doNotTrack: true", "must be true when doNotTrack", id="dnt-needs-aof"),
        pytest.param(
            "doNotTrack: true\npreDNAT: true\napplyOnForward: true",
            "cannot both be true",
            id="dnt-and-prednat",
        ),
        pytest.param(
            "preDNAT: true\napplyOnForward: true\negress: [{action: Allow}]",
            "only have ingress",
            id="prednat-egress",
        ),
        pytest.param("doNotTrack: 'yes'", "expected true or false", id="not-bool"),
    ],
)
def test_host_option_validation(spec: str, fragment: str) -> None:
    """libcalico-go validator.go validateGlobalNetworkPolicy."""
    assert any(fragment in d.message for d in errors(spec, "GlobalNetworkPolicy"))


def test_network_policy_does_not_know_gnp_fields() -> None:
    """namespaceSelector/doNotTrack are GNP-only: unknown on a NetworkPolicy."""
    found = warnings("doNotTrack: true\nnamespaceSelector: all()\n")
    assert {(d.code, d.field) for d in found} == {
        ("unknown-field", "spec.doNotTrack"),
        ("unknown-field", "spec.namespaceSelector"),
    }


def test_performance_hints_are_ignored_silently() -> None:
    assert warnings("performanceHints: [AssumeNeededOnEveryNode]\n") == []


# -- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "field", "fragment"),
    [
        pytest.param("order: high", "spec.order", "expected a number", id="order-string"),
        pytest.param("order: .nan", "spec.order", "expected a number", id="order-nan"),
        pytest.param("types: [ingress]", "spec.types[0]", "unsupported value", id="types-case"),
        pytest.param("types: [{}]", "spec.types[0]", "must be a string", id="types-mapping"),
        pytest.param("types: [Ingress, []]", "spec.types[1]", "must be a string", id="types-list"),
        pytest.param("tier: Security", "spec.tier", "invalid tier name", id="tier-name"),
        pytest.param("selector: has (x)", "spec.selector", "column 5", id="selector-syntax"),
        pytest.param("selector: global()", "spec.selector", "global()", id="global-in-subject"),
        pytest.param(
            "serviceAccountSelector: \"a == 'b'\\n\"",
            "spec.serviceAccountSelector",
            "only spaces",
            id="sa-newline",
        ),
        pytest.param(
            "ingress: [{action: allow}]", "spec.ingress[0].action", "unsupported action", id="action-case"
        ),
        pytest.param("ingress: [{}]", "spec.ingress[0].action", "required", id="action-missing"),
        pytest.param("ingress: [7]", "spec.ingress[0]", "expected a mapping", id="rule-not-mapping"),
    ],
)
def test_policy_errors_are_located(spec: str, field: str, fragment: str) -> None:
    """Malformed objects: ERROR naming file, line, object and field; no policy."""
    found = errors(spec)
    assert any(d.field == field and fragment in d.message for d in found), found
    assert all(d.file == FILE and d.object == "NetworkPolicy x/p" and d.line for d in found)


def test_selector_error_points_at_the_line() -> None:
    result = parse_object("NetworkPolicy", "ingress:\n- action: Allow\n  source:\n    selector: a = 'b'\n")
    (diag,) = result.diagnostics
    assert (diag.field, diag.line, diag.code) == ("spec.ingress[0].source.selector", 8, "bad-selector")
    assert "column 3" in diag.message and "expected '=='" in diag.message


def test_missing_spec_is_an_error() -> None:
    result = parse_object("NetworkPolicy", None)
    assert result.policies == () and [d.field for d in result.diagnostics] == ["spec"]


# -- staged kinds ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "live"), [("StagedNetworkPolicy", True), ("StagedGlobalNetworkPolicy", False)]
)
def test_staged_policies_keep_their_kind(kind: str, live: bool) -> None:
    """§3.1: staged policies are never enforced; parsed like their live kind, own kind name."""
    pol = policy("stagedAction: Set\norder: 3\ningress: [{action: Deny}]\n", kind)
    assert pol.kind == kind and pol.priority == 3.0 and pol.rules[0].action is Action.DENY
    assert (pol.namespace is not None) is live
    assert pol.tiebreak.endswith(f"/{kind}")


def test_staged_action_is_validated() -> None:
    found = errors("stagedAction: Apply\n", "StagedNetworkPolicy")
    assert [d.field for d in found] == ["spec.stagedAction"]


def test_staged_kubernetes_network_policy_is_read_as_kubernetes() -> None:
    """StagedKubernetesNetworkPolicy carries a Kubernetes NetworkPolicy spec (§1 semantics)."""
    result = parse_object(
        "StagedKubernetesNetworkPolicy",
        "stagedAction: Set\npodSelector: {}\ningress: [{ports: [{port: 80}]}]\n",
    )
    (pol,) = result.policies
    assert result.diagnostics == ()
    assert pol.kind == "StagedKubernetesNetworkPolicy" and pol.dialect == "calico"
    assert pol.rules[0].source.dialect == "calico" and pol.tier.kind is TierKind.ISOLATING


def test_staged_kubernetes_network_policy_errors() -> None:
    result = parse_object("StagedKubernetesNetworkPolicy", "stagedAction: Nope\npodSelector: {}\n")
    assert result.policies == () and [d.field for d in result.diagnostics] == ["spec.stagedAction"]
    result = parse_object("StagedKubernetesNetworkPolicy", "ingress: [{ports: [{port: 70000}]}]\n")
    assert result.policies == () and result.diagnostics[0].object == "StagedKubernetesNetworkPolicy x/p"


# -- Tier and network sets ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "order", "action"),
    [
        pytest.param("{order: 100, defaultAction: Pass}", 100.0, Action.PASS, id="pass"),
        pytest.param("{order: 1000000}", 1e6, Action.DENY, id="default-deny"),
        pytest.param("{}", None, Action.DENY, id="no-order-last"),
        pytest.param(None, None, Action.DENY, id="no-spec"),
    ],
)
def test_tier_definition(spec: str | None, order: float | None, action: Action) -> None:
    """§3.6: Tier.spec.order (absent = last), defaultAction Deny (default) or Pass."""
    result = parse_object("Tier", spec, "{name: security}")
    assert result.policies == () and result.diagnostics == ()
    (tier,) = result.definitions
    assert isinstance(tier, TierDef)
    assert (tier.dialect, tier.name, tier.order, tier.default_action) == ("calico", "security", order, action)


def test_tier_errors() -> None:
    result = parse_object("Tier", "{defaultAction: Allow, order: x}", "{name: t}")
    assert result.definitions == ()
    assert {d.field for d in result.diagnostics} == {"spec.defaultAction", "spec.order"}


def test_network_sets() -> None:
    """§3.1: labelled sets of nets; a bare address is a /32 (libcalico-go ParseCIDROrIP)."""
    result = parse_object(
        "NetworkSet", "nets: [10.0.0.0/8, 1.2.3.4, 'fd00::1']", "{name: s, namespace: y, labels: {a: b}}"
    )
    (nset,) = result.definitions
    assert isinstance(nset, NetworkSetDef)
    assert (nset.name, nset.namespace, nset.labels) == ("s", "y", Labels({"a": "b"}))
    assert nset.nets == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("1.2.3.4/32"),
        ipaddress.ip_network("fd00::1/128"),
    )
    (gset,) = parse_object("GlobalNetworkSet", "nets: []", "{name: g}").definitions
    assert isinstance(gset, NetworkSetDef) and gset.namespace is None and gset.nets == ()


def test_network_set_bad_net() -> None:
    result = parse_object("GlobalNetworkSet", "nets: [10.0.0.300]", "{name: g}")
    assert result.definitions == () and result.diagnostics[0].field == "spec.nets[0]"


@pytest.mark.parametrize(
    ("name", "spec", "fields"),
    [
        pytest.param(
            "default", "{order: 100, defaultAction: Pass}", ["spec.order", "spec.defaultAction"], id="default"
        ),
        pytest.param("default", "{}", ["spec.order"], id="default-no-order"),
        pytest.param("kube-admin", "{order: 1000}", ["spec.defaultAction"], id="kube-admin-deny"),
        pytest.param("kube-baseline", "{order: 1, defaultAction: Pass}", ["spec.order"], id="kube-baseline"),
    ],
)
def test_builtin_tier_order_and_action_are_fixed(name: str, spec: str, fields: list[str]) -> None:
    """api/pkg/apis/projectcalico/v3/tier.go (v3.32.0) Tier CEL rules: "The 'default' tier must
    have default action 'Deny'", "default tier order must be 1000000" (kube-admin 1000 Pass,
    kube-baseline 10000000 Pass): such a Tier is refused, so it is not used."""
    result = parse_object("Tier", spec, f"{{name: {name}}}")
    assert result.definitions == ()
    assert [d.field for d in result.diagnostics if d.is_error] == fields


def test_builtin_tier_with_its_fixed_values_is_accepted() -> None:
    """api/pkg/apis/projectcalico/v3/tier.go CEL rules (defaultAction defaults to Deny)."""
    result = parse_object("Tier", "{order: 1000000}", "{name: default}")
    assert result.diagnostics == () and len(result.definitions) == 1


@pytest.mark.parametrize("name", ["Bad_Tier", "a.b", "-a", "x" * 64])
def test_invalid_tier_name_is_an_error(name: str) -> None:
    """libcalico-go/lib/validator/v3/validator.go ``validateTier``: ``tierNameRegex`` (one DNS
    label, no dots) and at most 63 characters."""
    result = parse_object("Tier", "{order: 5}", f"{{name: {name!r}}}")
    assert result.definitions == ()
    assert [d.field for d in result.diagnostics] == ["metadata.name"]


@pytest.mark.parametrize("kind", ["StagedNetworkPolicy", "StagedGlobalNetworkPolicy"])
def test_staged_delete_has_no_directions(kind: str) -> None:
    """libcalico-go/lib/clientv3/stagednetworkpolicy.go ``Create`` clears ``types`` for
    stagedAction Delete; the policy only removes the live one (no Ingress default)."""
    (pol,) = parts("stagedAction: Delete\ntier: default\n", kind)
    assert pol.directions == frozenset() and pol.rules == ()


def test_staged_delete_must_be_empty() -> None:
    """libcalico-go/lib/validator/v3/validator.go ``validateStagedNetworkPolicy``: "Spec fields,
    except Tier, should all be zero-value if stagedAction is Delete"."""
    found = errors(
        "stagedAction: Delete\nselector: all()\ningress: [{action: Deny}]\n", "StagedNetworkPolicy"
    )
    assert [d.field for d in found] == ["spec.selector", "spec.ingress"]
    result = parse_object(
        "StagedKubernetesNetworkPolicy", "stagedAction: Delete\npodSelector: {matchLabels: {a: b}}\n"
    )
    assert result.policies == () and [d.field for d in result.diagnostics] == ["spec.podSelector"]


def test_staged_kubernetes_delete_has_no_directions() -> None:
    """libcalico-go/lib/validator/v3/validator.go ``validateStagedKubernetesNetworkPolicy``
    (Delete: empty spec); the policy only removes the live Kubernetes NetworkPolicy."""
    (pol,) = parse_object("StagedKubernetesNetworkPolicy", "stagedAction: Delete\n").policies
    assert pol.kind == "StagedKubernetesNetworkPolicy" and pol.directions == frozenset()


@pytest.mark.parametrize("kind", ["StagedNetworkPolicy", "StagedKubernetesNetworkPolicy"])
@pytest.mark.parametrize("action", ["Learn", "Ignore"])
def test_staged_learn_and_ignore_are_left_out(kind: str, action: str) -> None:
    """api/pkg/apis/projectcalico/v3/policy_common.go ``StagedAction``: Learn and Ignore are
    policy-recommendation states, not staged changes: left out with a warning."""
    spec = "podSelector: {}\n" if kind.endswith("KubernetesNetworkPolicy") else "selector: all()\n"
    result = parse_object(kind, f"stagedAction: {action}\n{spec}")
    assert result.policies == ()
    assert [(d.is_error, d.field) for d in result.diagnostics] == [(False, "spec.stagedAction")]
