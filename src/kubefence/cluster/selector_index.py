"""Each distinct selector matched once per snapshot (like cilium's SelectorCache).

Pod-network pods with the same namespace and the same labels are one *group*: no selector can
tell them apart. Selectors are matched against groups through posting lists, never by testing
every label set: ``(key, value)`` → groups carrying that label, ``key`` → groups having the key,
namespace → its groups. Every set is a Python int used as a bitset (over group ids, or over
``snapshot.pods`` indices for the pod-level views), so union, intersection and complement of
thousands of pods are single integer operations.

Invariants: ``group_of[i]`` is the group of ``snapshot.pods[i]``, or -1 for host-network pods,
which are never subjects nor selector peers (§0.1, §1.7 option b); group ids are dense and
``group_key[g] = (namespace, labels, service account)``.

Selections in ``LabelView.CNI`` see each group's labels plus the CNI-derived ones
(``cluster.views``); Calico expressions, which have no posting-list form, are evaluated once per
group and cached.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubefence.cluster.views import cni_namespace_labels, cni_pod_labels
from kubefence.ir.model import LabelView
from kubefence.ir.selectors import LabelSelector, Operator

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from kubefence.cluster.snapshot import ClusterSnapshot
    from kubefence.ir.expressions import Selector
    from kubefence.ir.model import PodSelection
    from kubefence.ir.selectors import Labels, Requirement

__all__ = ["LabelPostings", "SelectorIndex"]


class LabelPostings:
    """Label sets numbered 0..n-1, and selector → bitset of the label sets it matches.

    The match is exact (§0.2): ``In`` needs the key with one of the values, ``NotIn`` and
    ``DoesNotExist`` also match label sets without the key.
    """

    def __init__(self, label_sets: Iterable[Labels]) -> None:
        self.by_pair: dict[tuple[str, str], int] = {}
        self.by_key: dict[str, int] = {}
        self.size = 0
        for labels in label_sets:
            self.add(labels)
        self._cache: dict[LabelSelector, int] = {}

    def add(self, labels: Labels) -> int:
        """Number the next label set; returns its id."""
        bit = 1 << self.size
        for pair in labels.items():
            self.by_pair[pair] = self.by_pair.get(pair, 0) | bit
            self.by_key[pair[0]] = self.by_key.get(pair[0], 0) | bit
        self.size += 1
        return self.size - 1

    @property
    def everything(self) -> int:
        return (1 << self.size) - 1

    def extended(self, label_sets: Sequence[Labels]) -> LabelPostings:
        """A copy with more label sets numbered after these; the selectors matched so far are
        tested against the new sets only."""
        new = LabelPostings(())
        new.by_pair, new.by_key, new.size = dict(self.by_pair), dict(self.by_key), self.size
        added = [(new.add(labels), labels) for labels in label_sets]
        new._cache = {}
        for selector, bits in self._cache.items():
            for k, labels in added:
                if selector.matches(labels):
                    bits |= 1 << k
            new._cache[selector] = bits
        return new

    def matching(self, selector: LabelSelector) -> int:
        """The label sets ``selector`` matches, as a bitset."""
        found = self._cache.get(selector)
        if found is None:
            found = self.everything
            for pair in selector.match_labels:
                found &= self.by_pair.get(pair, 0)
            for req in selector.match_expressions:
                found &= self._requirement(req)
            self._cache[selector] = found
        return found

    def _requirement(self, req: Requirement) -> int:
        if req.operator is Operator.EXISTS:
            return self.by_key.get(req.key, 0)
        if req.operator is Operator.DOES_NOT_EXIST:
            return self.everything & ~self.by_key.get(req.key, 0)
        hit = 0
        for value in req.values:
            hit |= self.by_pair.get((req.key, value), 0)
        return hit if req.operator is Operator.IN else self.everything & ~hit


class SelectorIndex:
    """Caches selector → matching groups / pods / namespaces / nodes for one snapshot."""

    def __init__(self, snapshot: ClusterSnapshot) -> None:
        self.snapshot = snapshot
        self._number({})
        self.labels = LabelPostings(labels for _, labels, _ in self.group_key)
        self._cni_postings: LabelPostings | None = None
        self._cni_labels: list[Labels] | None = None
        self._by_namespace: dict[str, int] = {}
        self._add_to_namespaces(0)
        self._ns_selector: dict[tuple[Selector, LabelView], frozenset[str]] = {}
        self._expr: dict[tuple[Selector, LabelView], int] = {}
        self._selection: dict[PodSelection, int] = {}
        self._pods: dict[int, int] = {}
        self._node_selector: dict[LabelSelector, frozenset[str]] = {}

    def _number(self, ids: dict[tuple[str, Labels, str], int], known: dict[int, int] | None = None) -> None:
        """Group the snapshot's pods, keeping the ids already in ``ids``; new keys go last.
        ``known``: id(pod) → group for pod objects (alive elsewhere) already grouped."""
        known = known or {}
        self.group_of = []
        for pod in self.snapshot.pods:
            g = known.get(id(pod))
            if g is None:
                g = (
                    -1
                    if pod.host_network
                    else ids.setdefault((pod.namespace, pod.labels, pod.service_account), len(ids))
                )
            self.group_of.append(g)
        self.group_key = list(ids)
        self._members: list[int] | None = None

    @property
    def group_members(self) -> list[int]:
        """Group → bitset over ``snapshot.pods`` (made on first use)."""
        if self._members is None:
            members = [0] * len(self.group_key)
            for i, g in enumerate(self.group_of):
                if g >= 0:
                    members[g] |= 1 << i
            self._members = members
        return self._members

    def _add_to_namespaces(self, first: int) -> None:
        for g in range(first, len(self.group_key)):
            namespace = self.group_key[g][0]
            self._by_namespace[namespace] = self._by_namespace.get(namespace, 0) | (1 << g)

    def for_pods(self, snapshot: ClusterSnapshot) -> SelectorIndex:
        """The index of ``snapshot``, which has this snapshot's namespaces and nodes but other
        pods (pod events): group ids and every selector answer carry over, and only groups not
        seen before are matched, against the selectors asked so far. Groups left without pods
        stay (they match nothing that is there)."""
        old = self.snapshot
        assert snapshot.namespaces is old.namespaces and snapshot.nodes is old.nodes
        new = object.__new__(SelectorIndex)
        new.snapshot = snapshot
        known = len(self.group_key)
        grouped = {id(pod): g for pod, g in zip(old.pods, self.group_of, strict=True)}  # alive in ``old``
        new._number({key: g for g, key in enumerate(self.group_key)}, grouped)
        added = [labels for _, labels, _ in new.group_key[known:]]
        new.labels = self.labels.extended(added)
        new._cni_labels = new._cni_postings = None
        if self._cni_labels is not None:
            new._cni_labels = self._cni_labels + new._cni_group_labels(known)
            if self._cni_postings is not None:
                new._cni_postings = self._cni_postings.extended(new._cni_labels[known:])
        new._by_namespace = dict(self._by_namespace)
        new._add_to_namespaces(known)
        new._ns_selector, new._node_selector = self._ns_selector, self._node_selector
        # Copies keep the keys' hashes: a selector is hashed again only if its answer grows.
        new._expr, new._selection, new._pods = dict(self._expr), dict(self._selection), {}
        if len(new.group_key) == known:
            return new
        for key, bits in self._expr.items():
            more = new._expr_bits(*key, known)
            if more:
                new._expr[key] = bits | more
        fresh = ((1 << len(new.group_key)) - 1) & ~((1 << known) - 1)
        for selection, bits in self._selection.items():
            scope = new._scope(selection) & fresh
            if scope and (more := scope & new.groups_matching(selection.pod_selector, selection.view)):
                new._selection[selection] = bits | more
        return new

    # group level --------------------------------------------------------------------------

    @property
    def group_count(self) -> int:
        return len(self.group_key)

    def groups_in(self, namespaces: Iterable[str]) -> int:
        bits = 0
        for name in namespaces:
            bits |= self._by_namespace.get(name, 0)
        return bits

    def selection_groups(self, selection: PodSelection) -> int:
        """The groups a PodSelection picks, as a bitset over group ids."""
        found = self._selection.get(selection)
        if found is None:
            scope = self._scope(selection)
            found = scope & self.groups_matching(selection.pod_selector, selection.view) if scope else 0
            self._selection[selection] = found
        return found

    def _scope(self, selection: PodSelection) -> int:
        """The groups of the namespaces a PodSelection looks in."""
        if selection.namespace is not None:
            return self._by_namespace.get(selection.namespace, 0)
        assert selection.namespace_selector is not None
        return self.groups_in(self.namespaces_matching(selection.namespace_selector, selection.view))

    def groups_matching(self, selector: Selector, view: LabelView = LabelView.PLAIN) -> int:
        """The groups whose labels (in ``view``) ``selector`` matches, as a bitset."""
        if isinstance(selector, LabelSelector):
            postings = self.labels if view is LabelView.PLAIN else self._cni()
            return postings.matching(selector)
        key = (selector, view)
        found = self._expr.get(key)
        if found is None:
            found = self._expr[key] = self._expr_bits(selector, view, 0)
        return found

    def _expr_bits(self, selector: Selector, view: LabelView, first: int) -> int:
        """The groups from id ``first`` on that ``selector`` matches, tested one by one."""
        cni = self._cni_view() if view is LabelView.CNI else None
        found = 0
        for g in range(first, len(self.group_key)):
            if selector.matches(cni[g] if cni is not None else self.group_key[g][1]):
                found |= 1 << g
        return found

    def _cni_view(self) -> list[Labels]:
        if self._cni_labels is None:
            self._cni_labels = self._cni_group_labels(0)
        return self._cni_labels

    def _cni_group_labels(self, first: int) -> list[Labels]:
        snap = self.snapshot
        return [
            cni_pod_labels(labels, ns, snap.namespace_labels(ns), account, snap.account_labels(ns, account))
            for ns, labels, account in self.group_key[first:]
        ]

    def _cni(self) -> LabelPostings:
        if self._cni_postings is None:
            self._cni_postings = LabelPostings(self._cni_view())
        return self._cni_postings

    def pods_of_groups(self, groups: int) -> int:
        """The pods of a group bitset, as a bitset over ``snapshot.pods``."""
        found = self._pods.get(groups)
        if found is None:
            found, rest, members = 0, groups, self.group_members
            while rest:
                low = rest & -rest
                found |= members[low.bit_length() - 1]
                rest ^= low
            self._pods[groups] = found
        return found

    # pod level (kept for callers that think in pods) ---------------------------------------

    def pods_matching(self, selector: LabelSelector) -> int:
        """Pod-network pods of any namespace whose labels match."""
        return self.pods_of_groups(self.labels.matching(selector))

    def pods_in(self, namespaces: frozenset[str] | tuple[str, ...]) -> int:
        return self.pods_of_groups(self.groups_in(namespaces))

    def selection(self, selection: PodSelection) -> int:
        """The pods a PodSelection picks, as a bitset over ``snapshot.pods``."""
        return self.pods_of_groups(self.selection_groups(selection))

    # namespaces and nodes ------------------------------------------------------------------

    def namespaces_matching(self, selector: Selector, view: LabelView = LabelView.PLAIN) -> frozenset[str]:
        key = (selector, view)
        if key not in self._ns_selector:
            cni = view is LabelView.CNI
            self._ns_selector[key] = frozenset(
                name
                for name, ns in self.snapshot.namespaces.items()
                if selector.matches(cni_namespace_labels(name, ns.labels) if cni else ns.labels)
            )
        return self._ns_selector[key]

    def nodes_matching(self, selector: LabelSelector) -> frozenset[str]:
        if selector not in self._node_selector:
            self._node_selector[selector] = frozenset(
                name for name, node in self.snapshot.nodes.items() if selector.matches(node.labels)
            )
        return self._node_selector[selector]
