"""Antrea references checked when linking (engine/link.py): groups used as appliedTo, nested
child groups, Tier priorities and the tier a policy names (§5 of the semantics reference)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from kubefence.engine.prepare import prepare
from kubefence.ir.diagnostics import Severity
from kubefence.ir.model import PodSelection
from kubefence.ir.selectors import LabelSelector
from kubefence.workspace.load import load_workspace

if TYPE_CHECKING:
    from pathlib import Path

    from kubefence.workspace.load import Workspace

V1 = "apiVersion: crd.antrea.io/v1beta1\n"


def load(tmp_path: Path, *objects: str, pods: str = "") -> Workspace:
    path = tmp_path / "a.yaml"
    path.write_text("---\n".join(V1 + o for o in objects))
    if not pods:
        return load_workspace([str(path)])
    (tmp_path / "pods.yaml").write_text(pods)
    return load_workspace([str(path), str(tmp_path / "pods.yaml")])


def pod(namespace: str, labels: str) -> str:
    return (
        f"---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p, namespace: {namespace}, labels: {labels}}}\n"
    )


def group(kind: str, name: str, spec: str) -> str:
    meta = f"{{name: {name}, namespace: x}}" if kind == "Group" else f"{{name: {name}}}"
    return f"kind: {kind}\nmetadata: {meta}\nspec: {spec}\n"


def policy(kind: str, spec: str) -> str:
    meta = "{name: p, namespace: x}" if kind == "NetworkPolicy" else "{name: p}"
    return f"kind: {kind}\nmetadata: {meta}\nspec:\n  priority: 1\n{spec}"


DROP = "  ingress: [{action: Drop}]\n"


# -- a Group with Pods in other Namespaces as appliedTo ------------------------------------


@pytest.mark.parametrize(
    "groups",
    [
        pytest.param(
            [group("Group", "g", "{podSelector: {matchLabels: {pod: a}}, namespaceSelector: {}}")],
            id="namespace-selector",
        ),
        pytest.param(
            [
                group("Group", "g", "{childGroups: [sel]}"),
                group("Group", "sel", "{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}}"),
            ],
            id="child-group-with-namespace-selector",
        ),
    ],
)
def test_group_with_pods_in_other_namespaces_is_not_an_applied_to(tmp_path: Path, groups: list[str]) -> None:
    """pkg/controller/networkpolicy/networkpolicy_controller.go getInternalGroupWorkloads returns
    ErrNetworkPolicyAppliedToUnsupportedGroup ("Group %s/%s with Pods in other Namespaces can not
    be used as AppliedTo", also through a child group: e2e
    TestAntreaPolicyStatusWithAppliedToUnsupportedGroup); docs/antrea-network-policy.md Group
    "Restrictions": Realizable=False, reason NetworkPolicyAppliedToUnsupportedGroup. The policy
    applies to no pod, with a warning naming it, the pod, the field and the reason. The check is
    on the Pods selected: with no Pod of another Namespace selected the Group is accepted."""
    use = policy("NetworkPolicy", "  appliedTo: [{group: g}]\n" + DROP)
    workspace = load(tmp_path, *groups, use, pods=pod("y", "{pod: a}") + pod("x", "{pod: a}"))
    assert not workspace.errors and workspace.policies == ()
    (warning,) = [d for d in workspace.warnings if d.code == "applied-to-unsupported-group"]
    assert warning.object == "NetworkPolicy x/p" and warning.field == "appliedTo"
    assert "Group x/g selects Pod y/p" in warning.message
    assert "NetworkPolicyAppliedToUnsupportedGroup" in warning.message
    alone = load(tmp_path, *groups, use, pods=pod("x", "{pod: a}") + pod("z", "{other: b}"))
    assert len(alone.policies) == 1
    assert not [d for d in alone.diagnostics if d.code == "applied-to-unsupported-group"]


@pytest.mark.parametrize(
    "namespaces",
    [
        "{matchLabels: {kubernetes.io/metadata.name: x}}",
        "{matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [x]}]}",
    ],
)
def test_namespace_selector_of_its_own_namespace_is_an_applied_to(tmp_path: Path, namespaces: str) -> None:
    """networkpolicy_controller.go getInternalGroupWorkloads fails a namespaced Group only when
    it selects a Pod whose Namespace differs from the Group's: a namespaceSelector that names
    the Group's own namespace cannot, so the policy stays realized."""
    workspace = load(
        tmp_path,
        group("Group", "g", f"{{podSelector: {{matchLabels: {{pod: a}}}}, namespaceSelector: {namespaces}}}"),
        policy("NetworkPolicy", "  appliedTo: [{group: g}]\n" + DROP),
    )
    assert not [d for d in workspace.diagnostics if d.code == "applied-to-unsupported-group"]
    assert len(workspace.policies) == 1


def test_group_in_its_own_namespace_is_an_applied_to(tmp_path: Path) -> None:
    """docs/antrea-network-policy.md "Group": a Group without namespaceSelector selects Pods of
    its own Namespace and can be an ANNP's appliedTo."""
    workspace = load(
        tmp_path,
        group("Group", "g", "{podSelector: {matchLabels: {pod: a}}}"),
        policy("NetworkPolicy", "  appliedTo: [{group: g}]\n" + DROP),
    )
    assert not workspace.diagnostics
    (linked,) = workspace.policies
    assert linked.subject.namespace == "x"


def test_service_reference_group_as_applied_to_is_the_service_backends(tmp_path: Path) -> None:
    """docs/antrea-network-policy.md "serviceReference": ClusterGroups with serviceReference may
    be an ACNP's appliedTo; the policy applies to the pods the Service's selector picks in the
    Service's namespace (clustergroup.go serviceToGroupSelector), bound against the snapshot
    before resolving; a Service that is not given leaves the policy without pods, with a warning."""
    service = (
        "---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: x}\n"
        "spec: {selector: {app: web}}\n"
    )
    workspace = load(
        tmp_path,
        group("ClusterGroup", "svc", "{serviceReference: {name: web, namespace: x}}"),
        policy("ClusterNetworkPolicy", "  appliedTo: [{group: svc}]\n" + DROP),
        pods=service,
    )
    assert not workspace.diagnostics
    (prepared,), notes = prepare(workspace.policies, workspace.snapshot)
    assert prepared.subject == PodSelection(LabelSelector.of({"app": "web"}), namespace="x") and not notes
    bare = load(
        tmp_path,
        group("ClusterGroup", "svc", "{serviceReference: {name: web, namespace: x}}"),
        policy("ClusterNetworkPolicy", "  appliedTo: [{group: svc}]\n" + DROP),
    )
    _, notes = prepare(bare.policies, bare.snapshot)
    assert [n.code for n in notes] == ["service-unresolved"]


# -- childGroups nested more than one level ------------------------------------------------


@pytest.mark.parametrize("kind", ["ClusterGroup", "Group"])
@pytest.mark.parametrize(
    "use",
    [
        pytest.param("  appliedTo: [{group: top}]\n" + DROP, id="applied-to"),
        pytest.param(
            "  appliedTo: [{podSelector: {}}]\n  ingress: [{action: Drop, from: [{group: top}]}]\n", id="peer"
        ),
    ],
)
def test_child_group_with_child_groups_is_an_error(tmp_path: Path, kind: str, use: str) -> None:
    """pkg/controller/networkpolicy/validate.go validateChildClusterGroup / validateChildGroup:
    "cannot set ClusterGroup %s as childGroup, who has %d childGroups itself" (and "Group
    %s/%s"); docs/antrea-network-policy.md "ClusterGroup": "only one level of nesting is
    supported". The error names the file, the parent group and its childGroups entry."""
    policy_kind = "ClusterNetworkPolicy" if kind == "ClusterGroup" else "NetworkPolicy"
    workspace = load(
        tmp_path,
        group(kind, "top", "{childGroups: [leaf, middle]}"),
        group(kind, "middle", "{childGroups: [leaf]}"),
        group(kind, "leaf", "{podSelector: {matchLabels: {pod: b}}}"),
        policy(policy_kind, use),
    )
    (error,) = workspace.errors
    assert (error.code, error.field, error.line) == ("group-nesting", "spec.childGroups[1]", 1)
    assert error.file is not None and error.file.endswith("a.yaml")
    assert error.object == (f"{kind} top" if kind == "ClusterGroup" else f"{kind} x/top")


# -- Tier priorities and tier references ---------------------------------------------------


def test_two_tiers_with_one_priority_is_an_error_on_the_later(tmp_path: Path) -> None:
    """pkg/controller/networkpolicy/validate.go tierValidator.createValidate: "tier %s priority
    %d overlaps with existing Tier"; docs/antrea-network-policy.md "Tier": "No two Tiers can be
    created with the same priority". (A priority of a static tier is refused when the Tier is
    parsed: tests/unit/dialects/test_antrea_definitions.py.)"""
    workspace = load(
        tmp_path,
        "kind: Tier\nmetadata: {name: first}\nspec: {priority: 20}\n",
        "kind: Tier\nmetadata: {name: second}\nspec: {priority: 20}\n",
        policy("ClusterNetworkPolicy", "  tier: first\n  appliedTo: [{podSelector: {}}]\n" + DROP),
    )
    (error,) = workspace.errors
    assert (error.code, error.object, error.field, error.line) == (
        "tier-priority-overlap",
        "Tier second",
        "spec.priority",
        6,
    )


def test_definitions_are_checked_whether_used_or_not(tmp_path: Path) -> None:
    """validate.go rejects the overlapping Tier and the doubly nested ClusterGroup when they are
    created, before any policy refers to them: both are errors with no policy at all."""
    workspace = load(
        tmp_path,
        "kind: Tier\nmetadata: {name: first}\nspec: {priority: 20}\n",
        "kind: Tier\nmetadata: {name: second}\nspec: {priority: 20}\n",
        group("ClusterGroup", "top", "{childGroups: [middle]}"),
        group("ClusterGroup", "middle", "{childGroups: [leaf]}"),
        group("ClusterGroup", "leaf", "{podSelector: {}}"),
    )
    assert sorted(e.code for e in workspace.errors) == ["group-nesting", "tier-priority-overlap"]


def test_unknown_tier_warning_names_the_field(tmp_path: Path) -> None:
    """pkg/controller/networkpolicy/validate.go validateTierForPolicy: "tier %s does not exist".
    The Tier may exist in the cluster without being given, so a warning on spec.tier."""
    workspace = load(
        tmp_path, policy("ClusterNetworkPolicy", "  tier: mytier\n  appliedTo: [{podSelector: {}}]\n" + DROP)
    )
    (warning,) = workspace.diagnostics
    assert warning.severity is Severity.WARNING and workspace.policies == ()
    assert (warning.code, warning.object, warning.field) == (
        "unknown-tier",
        "ClusterNetworkPolicy p",
        "spec.tier",
    )
