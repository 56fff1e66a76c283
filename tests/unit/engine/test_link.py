"""The link step (engine/link.py): tiers placed from Tier objects, group references and
appliedTo groups replaced by the groups' members."""

from __future__ import annotations

from pathlib import Path

from kubefence.engine.tiers import antrea_tier
from kubefence.ir.model import CompoundPeer, IPBlockPeer, PodPeer
from kubefence.workspace.load import load_workspace

ANTREA = """\
apiVersion: crd.antrea.io/v1beta1
kind: Tier
metadata: {name: mytier}
spec: {priority: 10}
---
apiVersion: crd.antrea.io/v1beta1
kind: ClusterGroup
metadata: {name: web}
spec: {podSelector: {matchLabels: {app: web}}, childGroups: []}
---
apiVersion: crd.antrea.io/v1beta1
kind: ClusterGroup
metadata: {name: outside}
spec: {ipBlocks: [{cidr: 203.0.113.0/24}]}
---
apiVersion: crd.antrea.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: p}
spec:
  tier: mytier
  priority: 5
  appliedTo: [{group: web}]
  ingress:
  - action: Drop
    from: [{group: outside}]
"""


def test_antrea_tier_group_subject_and_group_peer(tmp_path: Path) -> None:
    """docs/antrea-network-policy.md "Tier" (custom tier priority) and "ClusterGroup"
    (appliedTo and peers by group): the policy lands in its tier, applies to the group's pods
    and its peer is the group's ipBlock."""
    path = tmp_path / "a.yaml"
    path.write_text(ANTREA)
    workspace = load_workspace([str(path)])
    assert not workspace.errors, workspace.errors
    (policy,) = workspace.policies
    assert policy.tier == antrea_tier("mytier", 10) and policy.tier.pass_to == 200
    assert dict(policy.subject.pod_selector.match_labels) == {"app": "web"}  # type: ignore[union-attr]
    (peer,) = policy.rules[0].peers
    assert isinstance(peer, CompoundPeer)
    assert [type(p) for p in peer.any_of] == [IPBlockPeer]


def test_unknown_group_matches_nothing_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(ANTREA.replace("from: [{group: outside}]", "from: [{group: nope}]"))
    workspace = load_workspace([str(path)])
    assert any(d.code == "unknown-group" for d in workspace.warnings)
    (policy,) = workspace.policies
    assert not any(isinstance(p, PodPeer) for p in policy.rules[0].peers)
