"""Each distinct selector matched once per snapshot (like cilium's SelectorCache).

Pod sets are Python ints used as bitsets over ``snapshot.pods`` indices: union and
intersection of thousands of pods are single integer operations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubefence.cluster.snapshot import ClusterSnapshot
    from kubefence.ir.model import PodSelection
    from kubefence.ir.selectors import Labels, LabelSelector

__all__ = ["SelectorIndex"]


class SelectorIndex:
    """Caches selector → matching pods / namespaces / nodes for one snapshot."""

    def __init__(self, snapshot: ClusterSnapshot) -> None:
        self.snapshot = snapshot
        self._by_label_set: dict[Labels, int] = {}
        self._by_namespace: dict[str, int] = {}
        for i, pod in enumerate(snapshot.pods):
            if pod.host_network:
                continue  # never subjects nor selector peers (§0.1, §1.7 option b)
            self._by_label_set[pod.labels] = self._by_label_set.get(pod.labels, 0) | (1 << i)
            self._by_namespace[pod.namespace] = self._by_namespace.get(pod.namespace, 0) | (1 << i)
        self._pod_selector: dict[LabelSelector, int] = {}
        self._ns_selector: dict[LabelSelector, frozenset[str]] = {}
        self._selection: dict[PodSelection, int] = {}
        self._node_selector: dict[LabelSelector, frozenset[str]] = {}

    def pods_matching(self, selector: LabelSelector) -> int:
        """Pod-network pods of any namespace whose labels match."""
        if selector not in self._pod_selector:
            bits = 0
            for labels, members in self._by_label_set.items():
                if selector.matches(labels):
                    bits |= members
            self._pod_selector[selector] = bits
        return self._pod_selector[selector]

    def namespaces_matching(self, selector: LabelSelector) -> frozenset[str]:
        if selector not in self._ns_selector:
            self._ns_selector[selector] = frozenset(
                name for name, ns in self.snapshot.namespaces.items() if selector.matches(ns.labels)
            )
        return self._ns_selector[selector]

    def pods_in(self, namespaces: frozenset[str] | tuple[str, ...]) -> int:
        bits = 0
        for name in namespaces:
            bits |= self._by_namespace.get(name, 0)
        return bits

    def selection(self, selection: PodSelection) -> int:
        """The pods a PodSelection picks, as a bitset over ``snapshot.pods``."""
        if selection not in self._selection:
            if selection.namespace is not None:
                scope = self.pods_in((selection.namespace,))
            else:
                assert selection.namespace_selector is not None
                scope = self.pods_in(self.namespaces_matching(selection.namespace_selector))
            self._selection[selection] = scope & self.pods_matching(selection.pod_selector)
        return self._selection[selection]

    def nodes_matching(self, selector: LabelSelector) -> frozenset[str]:
        if selector not in self._node_selector:
            self._node_selector[selector] = frozenset(
                name for name, node in self.snapshot.nodes.items() if selector.matches(node.labels)
            )
        return self._node_selector[selector]
