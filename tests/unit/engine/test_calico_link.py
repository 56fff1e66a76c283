"""The link step for Calico (engine/link.py): tier order from Tier objects (felix/calc/policy_sorter.go
``TierLess``), network-set scoping of rule selectors (§3.5)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from kubefence.engine.profiles import apply_profile, parse_profile
from kubefence.ir.model import CompoundPeer, IPBlockPeer
from kubefence.workspace.load import load_workspace

if TYPE_CHECKING:
    from pathlib import Path

    from kubefence.ir.model import Peer, Policy


def _policies(tmp_path: Path, text: str) -> dict[str, Policy]:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    workspace = load_workspace([str(path)])
    assert not workspace.errors, workspace.errors
    return {p.name: p for p in workspace.policies}


def _policy(name: str, tier: str) -> str:
    return (
        "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\n"
        f"metadata: {{name: {name}, namespace: x}}\nspec: {{tier: {tier}, ingress: [{{action: Deny}}]}}\n"
    )


def test_missing_tier_sorts_after_every_valid_tier(tmp_path: Path) -> None:
    """felix/calc/policy_sorter.go ``TierLess``: valid tiers before invalid (missing) ones, then
    nil order after set orders, then by name; so an existing tier without order ``zzz`` comes
    before a missing tier ``aaa``, and after an ordered tier."""
    tiers = (
        "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: zzz}\nspec: {}\n---\n"
        "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: big}\nspec: {order: 1.0e+300}\n---\n"
    )
    found = _policies(
        tmp_path,
        tiers + _policy("p1", "zzz") + "---\n" + _policy("p2", "aaa") + "---\n" + _policy("p3", "big"),
    )
    assert found["p3"].tier < found["p1"].tier < found["p2"].tier


def test_staged_kubernetes_network_policy_has_no_tier_to_look_up(tmp_path: Path) -> None:
    """A StagedKubernetesNetworkPolicy has no ``tier`` (api/pkg/apis/projectcalico/v3
    stagedkubernetesnetworkpolicy.go); libcalico-go .../conversion.go ``K8sNetworkPolicyToCalico``
    puts it in tier default at order 1000 once applied: no unknown-tier warning."""
    path = tmp_path / "s.yaml"
    path.write_text(
        "apiVersion: projectcalico.org/v3\nkind: StagedKubernetesNetworkPolicy\n"
        "metadata: {name: sk, namespace: x}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n"
    )
    workspace = load_workspace([str(path)])
    assert not workspace.errors and not workspace.warnings, workspace.warnings
    applied, notes = apply_profile(parse_profile("calico"), workspace.policies, staged=True)
    assert notes == []
    (policy,) = applied
    assert (policy.tier.name, policy.priority) == ("default", 1000.0)


def _set_blocks(peer: Peer) -> set[str]:
    """The network-set addresses a linked peer contains (any depth)."""
    if isinstance(peer, IPBlockPeer):
        return {str(peer.block.cidr)}
    if isinstance(peer, CompoundPeer):
        return {b for p in (*peer.any_of, *peer.all_of) for b in _set_blocks(p)}
    return set()


@pytest.mark.parametrize(
    ("namespace_selector", "matched"),
    [
        pytest.param("env != 'prod'", True, id="negation-matches-absent-label"),
        pytest.param("!has(env)", True, id="not-has"),
        pytest.param("env == 'prod'", False, id="equality"),
        pytest.param("all()", False, id="all-means-namespaced"),
    ],
)
def test_rule_namespace_selector_on_global_network_sets(
    tmp_path: Path, namespace_selector: str, matched: bool
) -> None:
    """libcalico-go/lib/backend/syncersv1/updateprocessors/rules.go ``entityRuleAPIV2TOBackend``
    (namespaceSelector prefixed with ``pcns.``, ``all()`` → ``has(projectcalico.org/namespace)``)
    and libcalico-go/lib/selector/parser/ast.go ``LabelNeValueNode`` (``!=`` holds when the label
    is absent): a GlobalNetworkSet, which has no ``pcns.`` labels, matches a negated selector."""
    text = (
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\n"
        "metadata: {name: partners, labels: {kind: partner}}\nspec: {nets: [198.51.100.0/24]}\n---\n"
        "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: p, namespace: y}\n"
        f'spec: {{ingress: [{{action: Allow, source: {{namespaceSelector: "{namespace_selector}"}}}}]}}\n'
    )
    (policy,) = _policies(tmp_path, text).values()
    (rule,) = policy.rules
    blocks = {b for p in rule.peers for b in _set_blocks(p)}
    assert ("198.51.100.0/24" in blocks) is matched
