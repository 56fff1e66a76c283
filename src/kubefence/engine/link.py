"""Cross-object references, resolved once every object is read: Calico and Antrea tiers get
their place in the evaluation order from Tier objects (or the built-in tiers), Antrea group
references become the groups' members, Calico network-set selectors become the sets' nets.

Nothing here sees the cluster; references that name nothing are warnings and match nothing.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

from kubefence.dialects.base import GROUP_SUBJECT, Definition, GroupDef, NetworkSetDef, TierDef
from kubefence.engine.tiers import (
    ANTREA_STATIC_TIERS,
    CALICO_BUILTIN_TIERS,
    NOTHING,
    antrea_tier,
    calico_tier,
)
from kubefence.ir.addresses import IPBlock
from kubefence.ir.diagnostics import Diagnostic, Severity
from kubefence.ir.expressions import Global
from kubefence.ir.model import (
    CompoundPeer,
    GroupRefPeer,
    IPBlockPeer,
    NetworkSetPeer,
    Peer,
    PodPeer,
    Policy,
    Rule,
    Tier,
    TierKind,
)
from kubefence.ir.selectors import LabelSelector

if TYPE_CHECKING:
    from collections.abc import Sequence

    from kubefence.ir.provenance import Source

__all__ = ["Linker", "link"]


class Linker:
    """The definitions of one revision, resolving the references of any policy; what it
    finds wrong is appended to ``diagnostics``."""

    def __init__(
        self, definitions: Sequence[Definition], diagnostics: list[Diagnostic] | None = None
    ) -> None:
        self.definitions = definitions
        self.diagnostics: list[Diagnostic] = diagnostics if diagnostics is not None else []
        self.calico_tiers = {
            d.name: d for d in self.definitions if isinstance(d, TierDef) and d.dialect == "calico"
        }
        self.antrea_tiers = {
            d.name: d for d in self.definitions if isinstance(d, TierDef) and d.dialect == "antrea"
        }
        self.groups = {(d.kind, d.namespace, d.name): d for d in self.definitions if isinstance(d, GroupDef)}
        self.sets = [d for d in self.definitions if isinstance(d, NetworkSetDef)]

    def warn(self, source: Source, code: str, message: str) -> None:
        self.diagnostics.append(
            Diagnostic(Severity.WARNING, code, message, source.file, source.line, None, source.object)
        )

    def link(self, policy: Policy) -> list[Policy]:
        """One policy linked: its parts (one per pod selection of an appliedTo group), none
        when its CNI would refuse it."""
        return [p for p in (self.policy(part) for part in self.subjects(policy)) if p is not None]

    def subjects(self, policy: Policy) -> list[Policy]:
        """An Antrea policy applied to a group: one part per pod selection of the group."""
        labels = (
            dict(policy.subject.pod_selector.match_labels)
            if isinstance(policy.subject.pod_selector, LabelSelector)
            else {}
        )
        ref = labels.get(GROUP_SUBJECT)
        if ref is None:
            return [policy]
        kind, namespace, name = ref.split("/", 2)
        members = self._members(kind, namespace or None, name, ())
        if members is None:
            self.warn(
                policy.source,
                "unknown-group",
                f"appliedTo {kind} {name} is not given: the policy applies to no pod",
            )
            return []
        parts = [m.selection for m in members if isinstance(m, PodPeer)]
        return [replace(policy, subject=s, part=policy.part * 1000 + i) for i, s in enumerate(parts)]

    def _members(
        self, kind: str, namespace: str | None, name: str, seen: tuple[str, ...]
    ) -> list[Peer] | None:
        group = self.groups.get((kind, namespace, name))
        if group is None or name in seen:
            return None
        out = list(group.peers)
        for child in group.children:
            out += self._members(kind, namespace, child, (*seen, name)) or []
        return out

    def policy(self, policy: Policy) -> Policy | None:
        if policy.dialect == "calico":
            policy = replace(policy, tier=self._calico(policy))
        elif policy.dialect == "antrea":
            tier = self._antrea(policy)
            if tier is None:
                return None
            policy = replace(policy, tier=tier)
        rules = tuple(self.rule(r) for r in policy.rules)
        if any(a is not b for a, b in zip(rules, policy.rules, strict=True)):
            policy = replace(policy, rules=rules)
        return policy

    def _calico(self, policy: Policy) -> Tier:
        name = policy.tier.name
        found = self.calico_tiers.get(name)
        if found is not None:
            return calico_tier(name, found.order, found.default_action)
        if name in CALICO_BUILTIN_TIERS:
            order, action = CALICO_BUILTIN_TIERS[name]
            return calico_tier(name, order, action)
        self.warn(
            policy.source,
            "unknown-tier",
            f"tier {name!r} is not defined by any Tier object given: Calico orders it after every "
            "existing tier, with the default end-of-tier Deny",
        )
        return Tier(math.inf, name, TierKind.ORDERED_DENY)

    def _antrea(self, policy: Policy) -> Tier | None:
        name = policy.tier.name
        found = self.antrea_tiers.get(name)
        priority = found.order if found is not None else ANTREA_STATIC_TIERS.get(name)
        if priority is None:
            self.warn(
                policy.source,
                "unknown-tier",
                f"tier {name!r} is not defined by any Tier object given: Antrea's admission webhook "
                "refuses the policy, so it is ignored",
            )
            return None
        return antrea_tier(name, priority)

    def rule(self, rule: Rule) -> Rule:
        peers = tuple(self.peer(p, rule) for p in rule.peers)
        if all(a is b for a, b in zip(peers, rule.peers, strict=True)):
            return rule
        return replace(rule, peers=peers)

    def peer(self, peer: Peer, rule: Rule) -> Peer:
        if isinstance(peer, GroupRefPeer):
            return self._group(peer, rule, ())
        if isinstance(peer, NetworkSetPeer):
            return self._network_sets(peer)
        if isinstance(peer, CompoundPeer):
            return _simplified(
                tuple(self.peer(p, rule) for p in peer.any_of),
                tuple(self.peer(p, rule) for p in peer.all_of),
                tuple(self.peer(p, rule) for p in peer.none_of),
            )
        return peer

    def _group(self, ref: GroupRefPeer, rule: Rule, seen: tuple[str, ...]) -> Peer:
        group = self.groups.get((ref.kind, ref.namespace, ref.name))
        if group is None or ref.name in seen:
            what = "refers to itself" if group is not None else "is not given"
            self.warn(rule.source, "unknown-group", f"{rule.label}: {ref} {what}: it matches nothing")
            return NOTHING
        members = list(group.peers)
        for child in group.children:
            members.append(self._group(GroupRefPeer(ref.kind, child, ref.namespace), rule, (*seen, ref.name)))
        if not members:
            return NOTHING
        return CompoundPeer(any_of=tuple(members))

    def _network_sets(self, peer: NetworkSetPeer) -> Peer:
        blocks: list[Peer] = []
        for found in self.sets:
            if self._in_scope(peer, found) and peer.selector.matches(found.labels):
                blocks += [IPBlockPeer(IPBlock(net)) for net in found.nets]
        if not blocks:
            return NOTHING
        return CompoundPeer(any_of=tuple(blocks))

    @staticmethod
    def _in_scope(peer: NetworkSetPeer, found: NetworkSetDef) -> bool:
        if found.namespace is None:
            return peer.global_sets
        if isinstance(peer.namespace_selector, Global):
            return False
        if peer.namespace is not None:
            return found.namespace == peer.namespace
        if peer.namespace_selector is not None:
            # Only the namespace name is known here (§3.4 projectcalico.org/name).
            return peer.namespace_selector.matches({"projectcalico.org/name": found.namespace})
        return True


def _simplified(any_of: tuple[Peer, ...], all_of: tuple[Peer, ...], none_of: tuple[Peer, ...]) -> Peer:
    """A compound peer without the alternatives that match nothing (network sets or groups
    that resolved to no address), and a single alternative unwrapped."""
    kept = tuple(p for p in any_of if p != NOTHING)
    if any_of and not kept:
        return NOTHING
    none_kept = tuple(p for p in none_of if p != NOTHING)
    if len(kept) == 1 and not all_of and not none_kept:
        return kept[0]
    return CompoundPeer(kept, all_of, none_kept)


def link(
    policies: Sequence[Policy], definitions: Sequence[Definition]
) -> tuple[list[Policy], list[Diagnostic]]:
    """Policies with their tiers placed and group / network-set references replaced."""
    linker = Linker(definitions)
    return [part for policy in policies for part in linker.link(policy)], linker.diagnostics
