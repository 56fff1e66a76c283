"""Where each CNI puts its tiers in kubefence's one evaluation order (semantics reference §7).

Ranks: upstream Admin 100, NetworkPolicy 200, Baseline 300 (generic); Calico tiers by their
order (kube-admin 1000, default 1e6, kube-baseline 1e7); Antrea regular tiers at priority / 10
(5..25, before NetworkPolicy), the Antrea baseline tier at 250; Cilium's one UNION tier at 200.
"""

from __future__ import annotations

import math

from kubefence.dialects.antrea_tiers import STATIC_TIERS
from kubefence.ir.model import NETWORK_POLICY, Action, Entity, EntityPeer, Tier, TierKind

__all__ = [
    "ANTREA_STATIC_TIERS",
    "CALICO_BUILTIN_TIERS",
    "CALICO_DEFAULT",
    "CILIUM",
    "CILIUM_LOCALHOST_POLICY",
    "NETWORK_POLICY_OWN_NODE_EGRESS",
    "NOTHING",
    "antrea_tier",
    "calico_tier",
]

# Calico built-in tiers (§3.6): name → (order, default action).
CALICO_BUILTIN_TIERS: dict[str, tuple[float, Action]] = {
    "default": (1e6, Action.DENY),
    "kube-admin": (1000.0, Action.PASS),
    "kube-baseline": (1e7, Action.PASS),
    "adminnetworkpolicy": (1000.0, Action.PASS),
    "baselineadminnetworkpolicy": (1e7, Action.PASS),
}
# Antrea static tiers (§5.4): name → priority.
ANTREA_STATIC_TIERS: dict[str, float] = dict(STATIC_TIERS)
ANTREA_BASELINE_RANK = 250.0
NOTHING = EntityPeer(Entity.NONE)  # after NetworkPolicy (200), before BANP (300)


def calico_tier(name: str, order: float | None, default_action: Action) -> Tier:
    """A Calico tier: ranked by its order (absent: last), end-of-tier Deny unless Pass."""
    kind = TierKind.ORDERED_DENY if default_action is Action.DENY else TierKind.ORDERED
    return Tier(order if order is not None else math.inf, name, kind)


def antrea_tier(name: str, priority: float) -> Tier:
    """An Antrea tier. Regular tiers rank before NetworkPolicy (priority / 10, so 50..250 →
    5..25) and their Pass goes straight to NetworkPolicy (§5.3); the baseline tier ranks after it.
    Traffic from a pod's own node is never dropped by Antrea: locally generated packets bypass
    the policy tables (docs/antrea-network-policy.md, "Node Selector": traffic from a Node to
    its Pods "will always be allowed"; docs/design/ovs-pipeline.md IngressSecurityClassifier)."""
    if name == "baseline":
        return Tier(ANTREA_BASELINE_RANK, name, TierKind.ORDERED, local_allowed=True)
    return Tier(priority / 10, name, TierKind.ORDERED, pass_to=NETWORK_POLICY.rank, local_allowed=True)


CALICO_DEFAULT = calico_tier("default", 1e6, Action.DENY)
CILIUM = Tier(200.0, "cilium", TierKind.UNION)
# Weave Net: NetworkPolicy, with egress to the pod's own node never policed.
NETWORK_POLICY_OWN_NODE_EGRESS = Tier(
    NETWORK_POLICY.rank, NETWORK_POLICY.name, TierKind.ISOLATING, local_egress=True
)
# Cilium with allow-localhost=policy: the local node's traffic to its pods is policed too.
CILIUM_LOCALHOST_POLICY = Tier(200.0, "cilium", TierKind.UNION, local_policy=True)
