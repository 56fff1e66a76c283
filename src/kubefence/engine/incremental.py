"""IncrementalEngine: one cluster kept up to date by events, answering check and matrix queries.

Like cilium's policy repository, the engine has a ``revision`` that every applied event bumps,
and answers are cached per revision. After an event the Resolution is rebuilt (cheap: it works
per pod group and CIDR atom), but the expensive part, the tier pipeline per subject and cell of
remote classes, is memoised across revisions (``PipelineMemo``, keyed by the selecting policy
objects and the matching peer objects): what an event did not change is looked up, not
recomputed. A changed policy is a new object, so only the answers it takes part in are
computed again; a pod that joins existing classes costs no pipeline run at all.

Events name objects by key: pods ``namespace/name``, namespaces and nodes by name, policies by
``(kind, namespace, name)`` (namespace None for cluster-scoped kinds); ``add`` and ``change``
are the same upsert.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kubefence.cluster.addressing import assign_addresses
from kubefence.cluster.snapshot import ClusterSnapshot, Namespace, Node, Pod
from kubefence.engine.cells import PipelineMemo
from kubefence.engine.endpoints import Universe
from kubefence.engine.matrix import ReachabilityMatrix
from kubefence.engine.resolve import Resolution
from kubefence.engine.verdict import evaluate
from kubefence.ir.model import Policy

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from kubefence.engine.explain import Explanation
    from kubefence.engine.probes import Probe
    from kubefence.ir.addresses import IPAddress

__all__ = ["Event", "IncrementalEngine", "Op", "PolicyKey", "policy_key"]

PolicyKey = tuple[str, str | None, str]


def policy_key(policy: Policy) -> PolicyKey:
    return (policy.kind, policy.namespace, policy.name)


class Op(enum.Enum):
    ADD = "add"
    CHANGE = "change"
    DELETE = "delete"


Subject = Pod | Namespace | Node | Policy | tuple[Policy, ...]


@dataclass(frozen=True, slots=True)
class Event:
    """One change. ``obj`` is the new object (for DELETE, the object or just its key: a pod
    key ``ns/name``, a namespace or node name, or a PolicyKey); a tuple of policies replaces
    every policy of the keys it carries (one manifest may give several)."""

    op: Op
    obj: Subject | str | PolicyKey


def _is_policy_key(obj: tuple[object, ...]) -> bool:
    """A tuple of policies, or a PolicyKey: either way a policy event."""
    return all(isinstance(p, Policy) for p in obj) or (len(obj) == 3 and isinstance(obj[0], str))


class IncrementalEngine:
    """A snapshot and its policies, updated by ``apply``; queries reuse what did not change."""

    def __init__(self, snapshot: ClusterSnapshot, policies: Sequence[Policy]) -> None:
        self.revision = 0
        self._namespaces = dict(snapshot.namespaces)
        self._nodes = dict(snapshot.nodes)
        self._pods = {p.key: p for p in snapshot.pods}
        self._services = snapshot.services
        self._policies: dict[PolicyKey, list[Policy]] = {}
        for policy in policies:
            self._policies.setdefault(policy_key(policy), []).append(policy)
        self.memo = PipelineMemo()
        self._state: tuple[int, tuple[IPAddress, ...], Resolution] | None = None
        self._matrix: tuple[int, ReachabilityMatrix] | None = None
        self._snapshot: ClusterSnapshot | None = snapshot
        self._universes: dict[tuple[IPAddress, ...], Universe] = {}

    # state ----------------------------------------------------------------------------------

    @property
    def policies(self) -> tuple[Policy, ...]:
        """Every policy, in evaluation order."""
        found = [p for group in self._policies.values() for p in group]
        return tuple(sorted(found, key=lambda p: p.order_key))

    @property
    def snapshot(self) -> ClusterSnapshot:
        """The cluster at the current revision (rebuilt only after cluster events)."""
        if self._snapshot is None:
            self._snapshot = ClusterSnapshot.build(
                self._namespaces.values(), self._pods.values(), self._nodes.values(), self._services
            )
        return self._snapshot

    def resolution(self, extra_ips: Iterable[IPAddress] = ()) -> Resolution:
        """The Resolution of the current revision (with ``extra_ips`` as outside endpoints).

        After a policy event the universe and the selector index of the unchanged cluster are
        reused; only the policies are bound again."""
        extra = tuple(extra_ips)
        if self._state is None or self._state[:2] != (self.revision, extra):
            snapshot = self.snapshot
            universe = self._universes.get(extra)
            if universe is None or universe.snapshot is not snapshot:
                universe = self._universes[extra] = Universe(snapshot, extra)
            index = self._state[2].index if self._state is not None else None
            resolution = Resolution(self.policies, universe, index=index)
            self._state = (self.revision, extra, resolution)
        return self._state[2]

    def matrix(self) -> ReachabilityMatrix:
        """The reachability matrix of the current revision (pipeline answers memoised)."""
        if self._matrix is None or self._matrix[0] != self.revision:
            previous = self._matrix[1] if self._matrix is not None else None
            self._matrix = (self.revision, ReachabilityMatrix(self.resolution(), self.memo, previous))
        return self._matrix[1]

    # events ---------------------------------------------------------------------------------

    def apply(self, event: Event) -> int:
        """Apply one event; returns the new revision."""
        obj, delete = event.obj, event.op is Op.DELETE
        if not isinstance(obj, Policy) and not (isinstance(obj, tuple) and _is_policy_key(obj)):
            self._snapshot = None  # a cluster object changed (policy tuples never hit this)
            self._universes.clear()
        if isinstance(obj, Pod):
            self._pod(obj, delete)
        elif isinstance(obj, Namespace):
            self._upsert(self._namespaces, obj.name, obj, delete)
        elif isinstance(obj, Node):
            self._upsert(self._nodes, obj.name, obj, delete)
        elif isinstance(obj, Policy):
            self._policy((obj,), delete)
        elif isinstance(obj, tuple) and all(isinstance(p, Policy) for p in obj):
            self._policy([p for p in obj if isinstance(p, Policy)], delete)
        else:
            self._delete_key(obj, event)
        self.revision += 1
        return self.revision

    def apply_all(self, events: Iterable[Event]) -> int:
        for event in events:
            self.apply(event)
        return self.revision

    def _pod(self, pod: Pod, delete: bool) -> None:
        if delete:
            self._pods.pop(pod.key, None)
            return
        if not pod.ips or pod.host_network:
            others = [p for k, p in self._pods.items() if k != pod.key]
            placed, _ = assign_addresses([*others, pod], self._nodes)
            pod = placed[-1]
        self._pods[pod.key] = pod

    @staticmethod
    def _upsert(table: dict[str, Any], key: str, obj: object, delete: bool) -> None:
        if delete:
            table.pop(key, None)
        else:
            table[key] = obj

    def _policy(self, policies: Sequence[Policy], delete: bool) -> None:
        keys = {policy_key(p) for p in policies}
        for key in keys:
            self._policies.pop(key, None)
        if not delete:
            for policy in policies:
                self._policies.setdefault(policy_key(policy), []).append(policy)

    def _delete_key(self, key: Any, event: Event) -> None:
        if event.op is not Op.DELETE:
            raise TypeError(f"cannot apply {event.op.value} of {key!r}: give the object")
        if isinstance(key, tuple):
            self._policies.pop(key, None)
        elif isinstance(key, str) and "/" in key:
            self._pods.pop(key, None)
        elif isinstance(key, str):
            self._namespaces.pop(key, None)
            self._nodes.pop(key, None)

    # queries --------------------------------------------------------------------------------

    def check(self, src: str, dst: str, probe: Probe) -> Explanation:
        """One flow between endpoint names (``ns/pod`` or an IP) at the current revision."""
        extra = [ip for ip in (Universe.parse_ip(src), Universe.parse_ip(dst)) if ip is not None]
        pod_ips = {ip for p in self._pods.values() for ip in p.ips}
        resolution = self.resolution(ip for ip in extra if ip not in pod_ips)
        a, b = self._index(resolution, src), self._index(resolution, dst)
        return evaluate(resolution, a, b, probe)

    @staticmethod
    def _index(resolution: Resolution, name: str) -> int:
        universe = resolution.universe
        found = universe.index(name)
        if found is None:
            ip = Universe.parse_ip(name)
            matches = [i for i, e in enumerate(universe.endpoints) if ip is not None and e.ip == ip]
            managed = [i for i in matches if universe.endpoints[i].managed]
            chosen = managed or matches
            found = chosen[0] if chosen else None
        if found is None:
            raise KeyError(name)
        return found

    def counts(self, probes: Sequence[Probe]) -> tuple[int, int]:
        """(allowed, denied) over every ordered pair of distinct pods × probes."""
        return self.matrix().counts(probes)
