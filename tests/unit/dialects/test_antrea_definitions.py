"""Antrea Tier, ClusterGroup and Group objects → definitions (§5.1, §5.4 of the semantics
reference; antrea-io/antrea pkg/controller/networkpolicy/tier.go and validate.go,
pkg/apis/crd/v1beta1/types.go GroupSpec, docs/antrea-network-policy.md "Tier", "ClusterGroup",
"Group")."""

from __future__ import annotations

import ipaddress
import textwrap

import pytest

from kubefence.dialects.antrea import STATIC_TIERS, AntreaDialect
from kubefence.dialects.base import GroupDef, ParseResult, TierDef
from kubefence.dialects.loader import load_text
from kubefence.dialects.registry import dialect_for
from kubefence.ir.addresses import IPBlock
from kubefence.ir.model import Action, IPBlockPeer, NodePeer, PodPeer, PodSelection, ServiceBackendsPeer
from kubefence.ir.provenance import Source
from kubefence.ir.selectors import LabelSelector


def parse(
    kind: str, spec: str, *, api: str = "crd.antrea.io/v1beta1", meta: str = "{name: t}"
) -> ParseResult:
    text = f"apiVersion: {api}\nkind: {kind}\nmetadata: {meta}\nspec:\n" + textwrap.indent(
        textwrap.dedent(spec), "  "
    )
    loaded = load_text(text, "defs.yaml")
    assert not loaded.has_errors, loaded.diagnostics
    return AntreaDialect().parse(loaded.documents[0])


def errors(kind: str, spec: str, **kw: str) -> list[str]:
    return [f"{d.field}: {d.message}" for d in parse(kind, spec, **kw).diagnostics if d.is_error]


# -- tiers ---------------------------------------------------------------------------------


def test_custom_tier_definition() -> None:
    """docs "Tier CRDs" example: a Tier is a TierDef ordered by its priority; a tier without a
    matching rule falls through (PASS)."""
    result = parse("Tier", "priority: 10\ndescription: my custom tier\n", meta="{name: mytier}")
    assert result.policies == () and result.diagnostics == ()
    assert result.definitions == (
        TierDef("antrea", "mytier", 10.0, Action.PASS, Source("defs.yaml", 1, "antrea", "Tier mytier")),
    )


@pytest.mark.parametrize(("name", "priority"), sorted(STATIC_TIERS.items()))
def test_static_tiers_with_their_priority_are_accepted(name: str, priority: int) -> None:
    """tier.go systemGeneratedTiers (``kubectl get tiers -o yaml`` output reads back)."""
    (tier,) = parse("Tier", f"priority: {priority}\n", meta=f"{{name: {name}}}").definitions
    assert isinstance(tier, TierDef) and tier.order == float(priority)


@pytest.mark.parametrize(
    ("name", "priority", "fragment"),
    [
        pytest.param("mine", 250, "lower than 250", id="custom-too-high"),
        pytest.param("mine", 255, "lower than 250", id="custom-reserved"),
        pytest.param("mine", 100, "taken by a static tier", id="custom-overlaps-static"),
        pytest.param("mine", 256, "out of range", id="crd-range"),
        pytest.param("application", 240, "static, read-only tier with priority 250", id="static-changed"),
    ],
)
def test_invalid_tiers(name: str, priority: int, fragment: str) -> None:
    """docs "Static tiers": custom tiers need a priority below 250; validate.go rejects overlaps."""
    result = parse("Tier", f"priority: {priority}\n", meta=f"{{name: {name}}}")
    found = [f"{d.field}: {d.message}" for d in result.diagnostics if d.is_error]
    assert any(fragment in e for e in found) and result.definitions == (), found


def test_tier_priority_220_warns() -> None:
    """validate.go: 220 is reserved for the upstream ClusterNetworkPolicy Admin tier when that
    feature gate is on."""
    result = parse("Tier", "priority: 220\n", meta="{name: mine}")
    assert [d.code for d in result.diagnostics] == ["reserved-tier-priority"] and result.definitions


# -- groups --------------------------------------------------------------------------------


def sel(**labels: str) -> LabelSelector:
    return LabelSelector.of(labels)


@pytest.mark.parametrize(
    ("kind", "spec", "peers"),
    [
        pytest.param(
            "ClusterGroup",
            "podSelector: {matchLabels: {role: db}}",
            (PodPeer(PodSelection(sel(role="db"), namespace_selector=LabelSelector())),),
            id="cluster-group-pods-everywhere",
        ),
        pytest.param(
            "Group",
            "podSelector: {matchLabels: {role: db}}",
            (PodPeer(PodSelection(sel(role="db"), namespace="x")),),
            id="group-pods-in-its-namespace",
        ),
        pytest.param(
            "Group",
            "podSelector: {matchLabels: {role: db}}\nnamespaceSelector: {matchLabels: {env: prod}}",
            (PodPeer(PodSelection(sel(role="db"), namespace_selector=sel(env="prod"))),),
            id="group-with-namespace-selector",
        ),
        pytest.param(
            "ClusterGroup",
            "namespaceSelector: {matchLabels: {env: prod}}",
            (PodPeer(PodSelection(LabelSelector(), namespace_selector=sel(env="prod"))),),
            id="namespace-selector-alone",
        ),
        pytest.param(
            "ClusterGroup",
            "ipBlocks: [{cidr: 10.0.10.0/24}, {cidr: 10.0.0.0/8, except: [10.0.1.0/24]}]",
            (
                IPBlockPeer(IPBlock(ipaddress.ip_network("10.0.10.0/24"))),
                IPBlockPeer(
                    IPBlock(ipaddress.ip_network("10.0.0.0/8"), (ipaddress.ip_network("10.0.1.0/24"),))
                ),
            ),
            id="ip-blocks",
        ),
        pytest.param(
            "ClusterGroup", "nodeSelector: {matchLabels: {a: b}}", (NodePeer(sel(a="b")),), id="nodes"
        ),
    ],
)
def test_group_members(kind: str, spec: str, peers: tuple[object, ...]) -> None:
    """docs "ClusterGroup CRD" and "Group CRD" examples; a Group's bare podSelector stays in its
    namespace, a ClusterGroup's spans the cluster."""
    meta = "{name: g, namespace: x}" if kind == "Group" else "{name: g}"
    result = parse(kind, spec, meta=meta)
    assert result.diagnostics == ()
    (group,) = result.definitions
    assert isinstance(group, GroupDef)
    assert (group.kind, group.name, group.namespace, group.peers) == (
        kind,
        "g",
        "x" if kind == "Group" else None,
        peers,
    )


def test_child_groups_and_v1alpha2_ip_block() -> None:
    """childGroups name other groups of the same kind; v1alpha2 ClusterGroup had ``ipBlock``."""
    (nested,) = parse("ClusterGroup", "childGroups: [a, b]", meta="{name: parent}").definitions
    assert isinstance(nested, GroupDef) and nested.children == ("a", "b") and nested.peers == ()
    (old,) = parse("ClusterGroup", "ipBlock: {cidr: 1.2.3.0/24}", api="crd.antrea.io/v1alpha2").definitions
    assert isinstance(old, GroupDef) and old.peers == (
        IPBlockPeer(IPBlock(ipaddress.ip_network("1.2.3.0/24"))),
    )


@pytest.mark.parametrize(
    ("api", "kind"),
    [
        ("crd.antrea.io/v1alpha2", "ClusterGroup"),
        ("crd.antrea.io/v1alpha3", "ClusterGroup"),
        ("crd.antrea.io/v1beta1", "ClusterGroup"),
        ("crd.antrea.io/v1alpha3", "Group"),
        ("crd.antrea.io/v1beta1", "Group"),
    ],
)
def test_group_kinds_are_registered(api: str, kind: str) -> None:
    """Served versions: ClusterGroup v1alpha2 (until #6049), v1alpha3 (until #6239), v1beta1."""
    assert isinstance(dialect_for(api, kind), AntreaDialect)


@pytest.mark.parametrize(
    ("kind", "spec", "fragment"),
    [
        pytest.param(
            "ClusterGroup", "podSelector: {}\nipBlocks: [{cidr: 1.0.0.0/8}]", "at most one of", id="mixed"
        ),
        pytest.param("ClusterGroup", "childGroups: [t]", "its own child group", id="self-child"),
        pytest.param(
            "ClusterGroup",
            "ipBlocks: [{cidr: 1.0.0.0/8, except: [2.0.0.0/16]}]",
            "not a strict subset",
            id="except",
        ),
    ],
)
def test_invalid_groups(kind: str, spec: str, fragment: str) -> None:
    """validate.go validateAntreaClusterGroupSpec / validateChildClusterGroup / validateIPBlock."""
    found = errors(kind, spec)
    assert any(fragment in e for e in found), found


def test_service_reference_groups_the_backends_of_a_service() -> None:
    """docs/antrea-network-policy.md ("serviceReference: Pods that serve as the backend for the
    specified Service", no port assumed; Services without selectors are ignored) and
    pkg/controller/networkpolicy/clustergroup.go ``serviceToGroupSelector``: the Service's
    selector in the Service's namespace, bound against the snapshot (engine.services)."""
    result = parse("Group", "serviceReference: {name: svc}", meta="{name: g, namespace: web}")
    (group,) = result.definitions
    assert isinstance(group, GroupDef)
    assert group.peers == (ServiceBackendsPeer("web", name="svc", outside_endpoints=False),)
    assert result.diagnostics == ()
    (cluster,) = parse("ClusterGroup", "serviceReference: {name: svc, namespace: db}").definitions
    assert isinstance(cluster, GroupDef)
    assert cluster.peers == (ServiceBackendsPeer("db", name="svc", outside_endpoints=False),)
