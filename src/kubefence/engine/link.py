"""Cross-object references, resolved once every object is read: Calico and Antrea tiers get
their place in the evaluation order from Tier objects (or the built-in tiers), Antrea group
references become the groups' members, Calico network-set selectors become the sets' nets.

Nothing here sees the cluster; references that name nothing are warnings and match nothing.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from kubefence.cluster.snapshot import NAME_LABEL
from kubefence.dialects.base import GROUP_SUBJECT, Definition, GroupDef, NetworkSetDef, TierDef
from kubefence.dialects.calico_entity import NS_PREFIX
from kubefence.dialects.calico_selector import prefix_keys
from kubefence.engine.services import service_subject
from kubefence.engine.tiers import (
    ANTREA_STATIC_TIERS,
    CALICO_BUILTIN_TIERS,
    NOTHING,
    antrea_tier,
    calico_tier,
)
from kubefence.ir.addresses import IPBlock
from kubefence.ir.diagnostics import Diagnostic, Severity
from kubefence.ir.expressions import Global, Has
from kubefence.ir.model import (
    CompoundPeer,
    GroupRefPeer,
    IPBlockPeer,
    NamespaceGatedPeer,
    NetworkSetPeer,
    Peer,
    PodPeer,
    PodSelection,
    Policy,
    Rule,
    ServiceBackendsPeer,
    Tier,
    TierKind,
)
from kubefence.ir.provenance import Source
from kubefence.ir.selectors import LabelSelector, Operator

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from kubefence.cluster.snapshot import ClusterSnapshot, Pod

__all__ = ["AppliedToGuard", "Linker", "ObjectId", "link", "object_id", "realized"]

ObjectId = tuple[str, str, "str | None", str]  # dialect, kind, namespace, name

NAMESPACE_LABEL = "projectcalico.org/namespace"  # on namespaced Calico endpoints and sets only


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
        # Objects that Antrea realizes only while an appliedTo Group keeps to its namespace.
        self.guards: dict[ObjectId, AppliedToGuard] = {}

    def check_definitions(self) -> None:
        """What Antrea's admission webhook refuses among the definitions themselves, whether a
        policy uses them or not: Tiers sharing a priority, and child groups that have child
        groups (both reported once, as errors)."""
        for tier in self.antrea_tiers.values():
            self._admitted(tier)
        for group in self.groups.values():
            self._nested_too_deep(group)

    def warn(self, source: Source, code: str, message: str) -> None:
        self.diagnostics.append(
            Diagnostic(Severity.WARNING, code, message, source.file, source.line, None, source.object)
        )

    def report(self, severity: Severity, source: Source, code: str, message: str, field: str) -> None:
        """A diagnostic on one field of a definition or policy, once: many policies may refer to
        the same group or tier."""
        found = Diagnostic(severity, code, message, source.file, source.line, None, source.object, field)
        if found not in self.diagnostics:
            self.diagnostics.append(found)

    def link(self, policy: Policy) -> list[Policy]:
        """One policy linked: its parts (one per pod selection of an appliedTo group, and for
        Antrea one per rule index), none when its CNI would refuse it."""
        linked = [p for p in (self.policy(part) for part in self.subjects(policy)) if p is not None]
        return (
            [chunk for p in linked for chunk in _by_rule_index(p)] if policy.dialect == "antrea" else linked
        )

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
        members = self._members(kind, namespace or None, name)
        if members is None:
            self.warn(
                policy.source,
                "unknown-group",
                f"appliedTo {kind} {name} is not given: the policy applies to no pod",
            )
            return []
        parts = [m.selection for m in members if isinstance(m, PodPeer)]
        parts += [service_subject(m) for m in members if isinstance(m, ServiceBackendsPeer)]
        wide = tuple(s for s in parts if not _within_namespace(s, namespace))
        if kind == "Group" and wide:
            self.guards[object_id(policy)] = AppliedToGuard(
                f"{namespace}/{name}", namespace, wide, policy.source
            )
        return [replace(policy, subject=s, part=policy.part * 1000 + i) for i, s in enumerate(parts)]

    def _members(self, kind: str, namespace: str | None, name: str) -> list[Peer] | None:
        """The peers of a group and of its child groups; None when the group is not given."""
        group = self.groups.get((kind, namespace, name))
        if group is None:
            return None
        if self._nested_too_deep(group):
            return []
        out = list(group.peers)
        for child in group.children:
            out += self._members(kind, namespace, child) or []
        return out

    def _nested_too_deep(self, group: GroupDef) -> bool:
        """Whether a child group has child groups itself: an error, and the group selects
        nothing. Antrea supports one level of nesting; its admission webhook rejects whichever
        of the two groups is created last (pkg/controller/networkpolicy/validate.go
        validateChildClusterGroup, validateChildGroup)."""
        for i, name in enumerate(group.children):
            child = self.groups.get((group.kind, group.namespace, name))
            if child is not None and child.children:
                self.report(
                    Severity.ERROR,
                    group.source,
                    "group-nesting",
                    f"{group.kind} {name} has childGroups itself: only one level of nesting is "
                    f"supported, and Antrea rejects whichever of {group.name} and {name} is created last",
                    f"spec.childGroups[{i}]",
                )
                return True
        return False

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
        if policy.kind == "StagedKubernetesNetworkPolicy":
            # No tier of its own: placed like a Kubernetes NetworkPolicy (default tier, order
            # 1000) when --staged applies it (engine/profiles.py).
            return policy.tier
        name = policy.tier.name
        found = self.calico_tiers.get(name)
        if found is not None:
            # felix/calc/policy_sorter.go TierLess: valid tiers first, unordered ones after the
            # ordered ones but before every missing tier (rank +inf below), then by name.
            order = found.order if found.order is not None else sys.float_info.max
            return calico_tier(name, order, found.default_action)
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
            self.report(
                Severity.WARNING,
                policy.source,
                "unknown-tier",
                f"tier {name!r} is not defined by any Tier object given: Antrea's admission webhook "
                "refuses the policy, so it is ignored",
                "spec.tier",
            )
            return None
        if found is not None and not self._admitted(found):
            return None
        return antrea_tier(name, priority)

    def _admitted(self, tier: TierDef) -> bool:
        """Whether Antrea admits the Tier: of Tiers with one priority, only the first created
        (pkg/controller/networkpolicy/validate.go tierValidator.createValidate: "overlaps with
        existing Tier"). The others are errors, and their policies are refused too."""
        same = [t for t in self.antrea_tiers.values() if t.order == tier.order]
        for later in same[1:]:
            self.report(
                Severity.ERROR,
                later.source,
                "tier-priority-overlap",
                f"tier {later.name} priority {later.order:g} overlaps with Tier {same[0].name}: "
                "no two Tiers can have the same priority, so Antrea rejects this one",
                "spec.priority",
            )
        return tier is same[0]

    def rule(self, rule: Rule) -> Rule:
        peers = tuple(self.peer(p, rule) for p in rule.peers)
        if all(a is b for a, b in zip(peers, rule.peers, strict=True)):
            return rule
        return replace(rule, peers=peers)

    def peer(self, peer: Peer, rule: Rule) -> Peer:
        if isinstance(peer, GroupRefPeer):
            return self._group(peer, rule)
        if isinstance(peer, NetworkSetPeer):
            return self._network_sets(peer)
        if isinstance(peer, CompoundPeer):
            return _simplified(
                tuple(self.peer(p, rule) for p in peer.any_of),
                tuple(self.peer(p, rule) for p in peer.all_of),
                tuple(self.peer(p, rule) for p in peer.none_of),
            )
        return peer

    def _group(self, ref: GroupRefPeer, rule: Rule) -> Peer:
        group = self.groups.get((ref.kind, ref.namespace, ref.name))
        if group is None:
            self.warn(rule.source, "unknown-group", f"{rule.label}: {ref} is not given: it matches nothing")
            return NOTHING
        if self._nested_too_deep(group):
            return NOTHING
        members = list(group.peers)
        for child in group.children:
            members.append(self._group(GroupRefPeer(ref.kind, child, ref.namespace), rule))
        if not members:
            return NOTHING
        return CompoundPeer(any_of=tuple(members))

    def _network_sets(self, peer: NetworkSetPeer) -> Peer:
        blocks: list[Peer] = []
        for found in self.sets:
            if not (self._in_scope(peer, found) and peer.selector.matches(found.labels)):
                continue
            nets = [IPBlockPeer(IPBlock(net)) for net in found.nets]
            gate = peer.namespace_selector
            if found.namespace is not None and peer.namespace is None and gate is not None and nets:
                # The set inherits its namespace's labels (pcns.*: updateprocessors/
                # networksetprocessor.go, profile kns.<namespace>); those are known to the
                # engine, not here: it binds the gate against the snapshot.
                blocks.append(NamespaceGatedPeer(CompoundPeer(any_of=tuple(nets)), found.namespace, gate))
            else:
                blocks += nets
        if not blocks:
            return NOTHING
        return CompoundPeer(any_of=tuple(blocks))

    @staticmethod
    def _in_scope(peer: NetworkSetPeer, found: NetworkSetDef) -> bool:
        if found.namespace is None:
            selector = peer.namespace_selector
            if peer.global_sets or selector is None or isinstance(selector, Global | LabelSelector):
                return peer.global_sets
            # libcalico-go .../updateprocessors/rules.go: a rule namespaceSelector is matched
            # pcns.-prefixed against the set's own labels ("all()": has(projectcalico.org/namespace));
            # a GlobalNetworkSet has neither, so e.g. `env != "prod"` selects it.
            return prefix_keys(selector, NS_PREFIX, all_is=Has(NAMESPACE_LABEL)).matches(found.labels)
        if isinstance(peer.namespace_selector, Global):
            return False
        if peer.namespace is not None:
            return found.namespace == peer.namespace
        return True  # a namespaceSelector is a NamespaceGatedPeer, bound by the engine


def _by_rule_index(policy: Policy) -> list[Policy]:
    """An Antrea policy as one part per rule index. Antrea orders rules by (tier, policy
    priority, rule priority = index in its list) across policies (antrea
    pkg/agent/types/networkpolicy.go ``Priority.Less``): rule 0 of every policy of one priority
    comes before rule 1 of any of them. ``tiebreak`` puts the index before the policy's name."""
    indexes = sorted({r.index for r in policy.rules})
    if len(indexes) < 2:
        return [replace(policy, tiebreak=f"{indexes[0] if indexes else 0:06d}")]
    return [
        replace(
            policy,
            rules=chunk,
            directions=frozenset(r.direction for r in chunk) & policy.directions,
            tiebreak=f"{index:06d}",
            part=policy.part * 1000 + index,
        )
        for index in indexes
        if (chunk := tuple(r for r in policy.rules if r.index == index))
    ]


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


def _within_namespace(selection: PodSelection, namespace: str) -> bool:
    """Whether a Group's selection can only pick pods of ``namespace``: no namespaceSelector,
    or one that requires the namespace's name label to be ``namespace``."""
    if selection.namespace is not None:
        return selection.namespace == namespace
    chosen = selection.namespace_selector
    if not isinstance(chosen, LabelSelector):
        return False
    if (NAME_LABEL, namespace) in chosen.match_labels:
        return True
    return any(
        r.key == NAME_LABEL and r.operator is Operator.IN and r.values == {namespace}
        for r in chosen.match_expressions
    )


def object_id(policy: Policy) -> ObjectId:
    """The API object a policy (part) comes from: its parts share it."""
    return (policy.dialect, policy.kind, policy.namespace, policy.name)


@dataclass(frozen=True, slots=True)
class AppliedToGuard:
    """A namespaced Group used as an appliedTo, whose selections may reach pods of other
    namespaces: Antrea fails the Group's sync as soon as one such pod exists
    (pkg/controller/networkpolicy/networkpolicy_controller.go getInternalGroupWorkloads:
    ErrNetworkPolicyAppliedToUnsupportedGroup) and then realizes none of the policy."""

    group: str  # namespace/name
    namespace: str
    selections: tuple[PodSelection, ...]
    source: Source

    def outsider(self, snapshot: ClusterSnapshot | None) -> Pod | None:
        """A pod of another namespace that the Group selects (None: it keeps to its own)."""
        if snapshot is None:
            return None
        for pod in snapshot.pods:
            if pod.namespace != self.namespace and not pod.host_network:
                labels = snapshot.namespace_labels(pod.namespace)
                if any(_selects(s, pod, labels) for s in self.selections):
                    return pod
        return None


def _selects(selection: PodSelection, pod: Pod, namespace_labels: Mapping[str, str]) -> bool:
    """Whether an Antrea Group selection (Kubernetes label selectors) picks ``pod``."""
    chosen, pods = selection.namespace_selector, selection.pod_selector
    if not isinstance(chosen, LabelSelector) or not isinstance(pods, LabelSelector):
        return True  # not a plain label selector: assume it may
    return chosen.matches(namespace_labels) and pods.matches(pod.labels)


def realized(
    parts: Iterable[Policy], guards: Mapping[ObjectId, AppliedToGuard], snapshot: ClusterSnapshot | None
) -> tuple[list[Policy], list[Diagnostic]]:
    """``parts`` without those of objects Antrea does not realize at all, with a warning for
    each: when one of its appliedTo Groups fails to sync, the internal policy gets no Node to run
    on (networkpolicy_controller.go syncInternalNetworkPolicy: SyncError instead of NodeNames),
    whatever its other appliedTo entries and rules."""
    dropped: set[ObjectId] = set()
    notes: list[Diagnostic] = []
    for key, guard in guards.items():
        pod = guard.outsider(snapshot)
        if pod is None:
            continue
        dropped.add(key)
        notes.append(
            Diagnostic.at(
                Severity.WARNING,
                "applied-to-unsupported-group",
                f"Group {guard.group} selects Pod {pod.key} of another Namespace, which Antrea does "
                "not accept in an appliedTo: it marks the policy Realizable=False "
                "(NetworkPolicyAppliedToUnsupportedGroup) and enforces none of it",
                guard.source,
                "appliedTo",
            )
        )
    kept = [p for p in parts if object_id(p) not in dropped] if dropped else list(parts)
    return kept, notes


def link(
    policies: Sequence[Policy], definitions: Sequence[Definition], snapshot: ClusterSnapshot | None = None
) -> tuple[list[Policy], list[Diagnostic]]:
    """Policies with their tiers placed and group / network-set references replaced; those
    Antrea would not realize in ``snapshot`` dropped."""
    linker = Linker(definitions)
    linker.check_definitions()
    linked = [part for policy in policies for part in linker.link(policy)]
    kept, notes = realized(linked, linker.guards, snapshot)
    return kept, [*linker.diagnostics, *notes]
