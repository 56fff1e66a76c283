"""kube-router's shared chain of a NetworkPolicy with both policy types (engine/kube_router.py):
cloudnativelabs/kube-router pkg/controllers/netpol/pod.go ``setupPodNetpolRules`` jumps to a
``kubeBothPolicyType`` policy's chain with no ``-d``/``-s`` restriction, and policy.go matches
its ingress rules on the policy's pods as destination and its egress rules on them as source."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubefence.engine.profiles import apply_profile, parse_profile
from kubefence.workspace.load import load_workspace

if TYPE_CHECKING:
    from pathlib import Path

CLUSTER = """\
apiVersion: v1
kind: Namespace
metadata: {name: x, labels: {team: a}}
---
apiVersion: v1
kind: Namespace
metadata: {name: y, labels: {team: a}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: x, labels: {app: web}}
status: {podIP: 10.0.9.1}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: x, labels: {app: api}}
status: {podIP: 10.0.9.2}
---
"""


def policy(types: str, ingress: str) -> str:
    return (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: x}\n"
        f"spec:\n  podSelector: {{}}\n  policyTypes: {types}\n  ingress:\n{ingress}"
    )


def enforced(tmp_path: Path, text: str) -> tuple[list[str], list[str]]:
    path = tmp_path / "in.yaml"
    path.write_text(CLUSTER + text)
    workspace = load_workspace([str(path)])
    policies, warnings = apply_profile(parse_profile("kube-router"), workspace.policies)
    return [f"{p.subject} {sorted(d.value for d in p.directions)}" for p in policies], [
        w.message for w in warnings
    ]


def test_namespace_selector_peer_is_cut_to_the_policy_namespace(tmp_path: Path) -> None:
    """A peer with a namespaceSelector leaks only for the policy's own pods: the companion's
    subject is the policy's pods whose namespace also matches the peer's selector."""
    subjects, warnings = enforced(
        tmp_path,
        policy("[Ingress, Egress]", "  - from: [{namespaceSelector: {matchLabels: {team: a}}}]\n"),
    )
    assert subjects == [
        "pods [{}] in namespace x ['egress', 'ingress']",
        "pods [{}] in namespaces [kubernetes.io/metadata.name in (x),team in (a)] ['egress']",
    ]
    assert any("ingress rule 1 also allows traffic the other way" in w for w in warnings)


def test_ingress_only_policy_has_no_companion(tmp_path: Path) -> None:
    """pod.go: an Ingress-only policy's jump carries ``-d <pod ip>``: nothing leaks."""
    subjects, warnings = enforced(tmp_path, policy("[Ingress]", "  - from: [{podSelector: {}}]\n"))
    assert len(subjects) == 1 and not warnings


def test_ipblock_peer_is_reported_not_modelled(tmp_path: Path) -> None:
    """An ipBlock peer selects the policy's pods by address, which no pod selection expresses:
    the rule is reported and adds nothing."""
    subjects, warnings = enforced(
        tmp_path, policy("[Ingress, Egress]", "  - from: [{ipBlock: {cidr: 10.0.9.0/24}}]\n")
    )
    assert len(subjects) == 1
    assert any("not modelled for a rule with ipBlock peers" in w for w in warnings)


def test_each_peer_of_a_rule_gives_its_own_companion(tmp_path: Path) -> None:
    """A rule's peers are alternatives: each pod selection gives one companion, in order, each
    a part of its own after the policy's."""
    path = tmp_path / "in.yaml"
    two = "  - from: [{podSelector: {matchLabels: {app: a}}}, {podSelector: {matchLabels: {app: web}}}]\n"
    path.write_text(CLUSTER + policy("[Ingress, Egress]", two))
    policies, _ = apply_profile(parse_profile("kube-router"), load_workspace([str(path)]).policies)
    parts = [p.part for p in policies]
    assert len(parts) == 3 and len(set(parts)) == 3
