"""What the kernel backends can enforce: the upstream tier kinds (ISOLATING NetworkPolicy,
ORDERED Admin/Baseline tiers) with pod, ipBlock, node and any peers. CNI dialects are analysed
by the engine but not compiled; callers leave them out under the generic profile."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubefence.errors import CompileError
from kubefence.ir.model import AnyPeer, IPBlockPeer, NodePeer, PodPeer, TierKind

if TYPE_CHECKING:
    from collections.abc import Iterable

    from kubefence.ir.model import Policy

__all__ = ["ensure_compilable"]

_PEERS = (PodPeer, IPBlockPeer, NodePeer, AnyPeer)


def ensure_compilable(policies: Iterable[Policy]) -> None:
    """CompileError naming the first policy a kernel backend cannot express."""
    for policy in policies:
        tier = policy.tier
        plain_tier = tier.kind in (TierKind.ISOLATING, TierKind.ORDERED) and tier.pass_to is None
        odd = not plain_tier or any(
            r.l7 is not None or r.except_ports or not all(isinstance(p, _PEERS) for p in r.peers)
            for r in policy.rules
        )
        if odd:
            raise CompileError(
                f"{policy.key} ({policy.source}): {policy.dialect} policies are analysed by check/matrix "
                "but not enforced by the kernel backends yet; apply the generic profile first"
            )
