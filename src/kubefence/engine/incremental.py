"""IncrementalEngine: one cluster kept up to date by events, answering check and matrix queries.

Like cilium's policy repository, the engine has a ``revision`` that every applied event bumps,
and answers are cached per revision. What an event did not change is carried over:

* pod events (in namespaces given as objects) derive the next snapshot, universe, selector
  index and Resolution from the last ones: the pods' groups are renumbered, but only groups
  never seen before are matched against the selectors, and only profiles never seen before
  get new signatures (``SelectorIndex.for_pods``, ``Resolution.for_universe``);
* the class table is remapped when every class is known, or grown by the rows and columns of
  the few new classes (``ClassTable.grown``);
* policy events rebind only the rules never seen before, over the unchanged cluster: its
  selector index and endpoint profiles are kept and peer signatures translated
  (``Resolution.with_policies``);
* the tier pipeline per subject and cell of remote classes is memoised across revisions
  (``PipelineMemo``, keyed by the selecting policy objects and the matching peer objects). A
  changed policy is a new object, so only the answers it takes part in are computed again; a
  pod that joins existing classes costs no pipeline run at all.

Given an ``Enforcement`` (a ``--cni`` profile, DNS answers, staged policies), the engine keeps
the policies as loaded and answers for what that CNI enforces of them (``EnforcedPolicies``:
each policy object is viewed and prepared once); without one, the policies are taken as they
are given. Given also the ``definitions`` (Calico and Antrea tiers, Antrea groups, Calico
network sets), the policies are as parsed and the engine links them itself, so that events
may change the definitions too (every policy is linked again then).

Events name objects by key: pods ``namespace/name``, namespaces and nodes by name, policies by
``(dialect, kind, namespace, name)`` (namespace None for cluster-scoped kinds: a Calico and a
Kubernetes NetworkPolicy of the same name are two objects), definitions by ``DefinitionKey``;
``add`` and ``change`` are the same upsert.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from kubefence.cluster.addressing import assign_addresses
from kubefence.cluster.snapshot import (
    ClusterSnapshot,
    EndpointSlice,
    Namespace,
    Node,
    Pod,
    Service,
    ServiceAccount,
)
from kubefence.dialects.base import Definition, GroupDef, NetworkSetDef, TierDef
from kubefence.engine.cells import PipelineMemo
from kubefence.engine.endpoints import Universe
from kubefence.engine.enforced import EnforcedPolicies, Enforcement
from kubefence.engine.matrix import ReachabilityMatrix
from kubefence.engine.resolve import Resolution
from kubefence.engine.verdict import evaluate
from kubefence.ir.model import Policy

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from kubefence.cluster.selector_index import SelectorIndex
    from kubefence.engine.explain import Explanation
    from kubefence.engine.probes import Probe
    from kubefence.ir.addresses import IPAddress
    from kubefence.ir.diagnostics import Diagnostic

__all__ = [
    "DefinitionKey",
    "Enforcement",
    "Event",
    "IncrementalEngine",
    "Op",
    "PolicyKey",
    "definition_key",
    "policy_key",
]

PolicyKey = tuple[str, str, str | None, str]


def policy_key(policy: Policy) -> PolicyKey:
    """``(dialect, kind, namespace, name)``: the API object a policy came from."""
    return (policy.dialect, policy.kind, policy.namespace, policy.name)


@dataclass(frozen=True, slots=True)
class DefinitionKey:
    """What names a definition: ``kind`` is ``calico Tier`` or ``antrea Tier``, ``NetworkSet``
    (namespace None: a GlobalNetworkSet), ``ClusterGroup`` or ``Group``."""

    kind: str
    namespace: str | None
    name: str


def definition_key(definition: Definition) -> DefinitionKey:
    if isinstance(definition, TierDef):
        return DefinitionKey(f"{definition.dialect} Tier", None, definition.name)
    if isinstance(definition, NetworkSetDef):
        return DefinitionKey("NetworkSet", definition.namespace, definition.name)
    return DefinitionKey(definition.kind, definition.namespace, definition.name)


_DEFINITIONS = (TierDef, NetworkSetDef, GroupDef, DefinitionKey)


class Op(enum.Enum):
    ADD = "add"
    CHANGE = "change"
    DELETE = "delete"


ClusterObject = Namespace | Node | ServiceAccount | Service | EndpointSlice
Subject = Pod | ClusterObject | Policy | tuple[Policy, ...] | Definition


@dataclass(frozen=True, slots=True)
class Event:
    """One change. ``obj`` is the new object (for DELETE, the object or just its key: a pod
    key ``ns/name``, a namespace or node name, a PolicyKey or a DefinitionKey); a tuple of
    policies replaces every policy of the keys it carries (one manifest may give several)."""

    op: Op
    obj: Subject | str | PolicyKey | DefinitionKey


def _is_policy_key(obj: tuple[object, ...]) -> bool:
    """A tuple of policies, or a PolicyKey: either way a policy event."""
    return all(isinstance(p, Policy) for p in obj) or (len(obj) == 4 and isinstance(obj[0], str))


class IncrementalEngine:
    """A snapshot and its policies, updated by ``apply``; queries reuse what did not change."""

    def __init__(
        self,
        snapshot: ClusterSnapshot,
        policies: Sequence[Policy],
        enforcement: Enforcement | None = None,
        definitions: Sequence[Definition] | None = None,
    ) -> None:
        """``policies`` as loaded (linked) when ``enforcement`` is given, else as enforced
        already; as parsed (not linked) when ``definitions`` are given with an enforcement."""
        self.revision = 0
        self._namespaces = dict(snapshot.namespaces)
        self._nodes = dict(snapshot.nodes)
        self._pods = {p.key: p for p in snapshot.pods}
        self._services = {f"{s.namespace}/{s.name}": s for s in snapshot.services}
        self._slices = {f"{s.namespace}/{s.name}": s for s in snapshot.endpoint_slices}
        self._accounts = {f"{ns}/{name}": a for (ns, name), a in snapshot.accounts.items()}
        self._policies: dict[PolicyKey, list[Policy]] = {}
        for policy in policies:
            self._policies.setdefault(policy_key(policy), []).append(policy)
        self._enforced = EnforcedPolicies(enforcement) if enforcement is not None else None
        self._definitions: dict[DefinitionKey, Definition] | None = None
        if definitions is not None and enforcement is not None:
            self._definitions = {definition_key(d): d for d in definitions}
        self._linked_with: tuple[Definition, ...] | None = None  # the current revision's, as one object
        self._ipblocks = enforcement.profile.ipblock_matches_pods if enforcement is not None else True
        self._policy_revision = 0  # bumped by policy events
        self._current: tuple[int, object, tuple[Policy, ...], list[Diagnostic]] | None = None
        self.memo = PipelineMemo()
        self._state: tuple[int, tuple[IPAddress, ...], Resolution] | None = None
        self._matrix: tuple[int, ReachabilityMatrix] | None = None
        self._snapshot: ClusterSnapshot | None = snapshot
        self._built = snapshot  # the last snapshot built, and whether only pods changed since
        self._pods_only = True
        self._universes: dict[tuple[IPAddress, ...], Universe] = {}

    # state ----------------------------------------------------------------------------------

    @property
    def policies(self) -> tuple[Policy, ...]:
        """Every enforced policy, in evaluation order."""
        return self._enforcing()[2]

    @property
    def enforcement(self) -> Enforcement | None:
        """How the loaded policies are enforced (None: they are given as enforced)."""
        return self._enforced.enforcement if self._enforced is not None else None

    @property
    def loaded(self) -> tuple[Policy, ...]:
        """Every policy as loaded (before the enforcement, when there is one)."""
        return tuple(p for group in self._policies.values() for p in group)

    @property
    def warnings(self) -> list[Diagnostic]:
        """What the enforcement dropped or changed of the policies, and notes on preparing them."""
        return self._enforcing()[3]

    def _enforcing(self) -> tuple[int, object, tuple[Policy, ...], list[Diagnostic]]:
        """The enforced policies of the current policies (and, when the enforcement reads
        them, namespaces and pods), computed again only after a policy or cluster change."""
        read: tuple[object, object] | None = None
        if self._enforced is not None:
            snapshot = self.snapshot
            read = (snapshot.namespaces, snapshot.pods if self._enforced.reads_pods else None)
        current = self._current
        if current is None or current[0] != self._policy_revision or not _same(current[1], read):
            loaded = self.loaded
            found: tuple[tuple[Policy, ...], list[Diagnostic]]
            if self._enforced is None:
                found = (tuple(sorted(loaded, key=lambda p: p.order_key)), [])
            else:
                found = self._enforced(loaded, self.snapshot, self.definitions)
            if self._enforced is not None:  # reading may have made the pods matter
                read = (self.snapshot.namespaces, self.snapshot.pods if self._enforced.reads_pods else None)
            self._current = current = (self._policy_revision, read, *found)
        return current

    @property
    def definitions(self) -> tuple[Definition, ...] | None:
        """The definitions the policies are linked to (None: they come linked)."""
        if self._definitions is None:
            return None
        if self._linked_with is None:
            self._linked_with = tuple(self._definitions.values())
        return self._linked_with

    @property
    def snapshot(self) -> ClusterSnapshot:
        """The cluster at the current revision (rebuilt only after cluster events; after pod
        events in known namespaces, the last one with other pods)."""
        if self._snapshot is None:
            if self._pods_only:
                self._snapshot = replace(self._built, pods=tuple(self._pods.values()))
            else:
                self._snapshot = ClusterSnapshot.build(
                    self._namespaces.values(),
                    self._pods.values(),
                    self._nodes.values(),
                    self._services.values(),
                    self._accounts.values(),
                    self._slices.values(),
                )
            self._built, self._pods_only = self._snapshot, True
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
                before = self._state[2].universe if self._state is not None else None
                universe = self._universes[extra] = Universe(snapshot, extra, before)
            previous = self._state[2] if self._state is not None else None
            resolution = _rebound(previous, self.policies, universe, self._ipblocks)
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
        if isinstance(obj, _DEFINITIONS):
            self._definition(obj, delete)
            self.revision += 1
            return self.revision
        if not isinstance(obj, Policy) and not (isinstance(obj, tuple) and _is_policy_key(obj)):
            self._snapshot = None  # a cluster object changed (policy tuples never hit this)
            self._universes.clear()
            self._pods_only = self._pods_only and self._in_known_namespace(obj)
        if isinstance(obj, Pod):
            self._pod(obj, delete)
        elif isinstance(obj, ClusterObject):
            self._upsert(*self._table(obj), obj, delete)
        elif isinstance(obj, Policy):
            self._policy((obj,), delete)
        elif isinstance(obj, tuple) and all(isinstance(p, Policy) for p in obj):
            self._policy([p for p in obj if isinstance(p, Policy)], delete)
        else:
            self._delete_key(obj, event)
        self.revision += 1
        return self.revision

    def _in_known_namespace(self, obj: object) -> bool:
        """A pod (or pod key) of a namespace given as an object: its change leaves the
        snapshot's namespaces as they are (a pod alone implies its namespace)."""
        if isinstance(obj, Pod):
            return obj.namespace in self._namespaces
        return isinstance(obj, str) and "/" in obj and obj.split("/")[0] in self._namespaces

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

    def _table(self, obj: ClusterObject) -> tuple[dict[str, Any], str]:
        """Where a cluster object other than a pod is kept, and its key there."""
        if isinstance(obj, Namespace | Node):
            return (self._namespaces if isinstance(obj, Namespace) else self._nodes), obj.name
        key = f"{obj.namespace}/{obj.name}"
        if isinstance(obj, ServiceAccount):
            return self._accounts, key
        return (self._services if isinstance(obj, Service) else self._slices), key

    @staticmethod
    def _upsert(table: dict[str, Any], key: str, obj: object, delete: bool) -> None:
        if delete:
            table.pop(key, None)
        else:
            table[key] = obj

    def _policy(self, policies: Sequence[Policy], delete: bool) -> None:
        self._policy_revision += 1
        keys = {policy_key(p) for p in policies}
        for key in keys:
            self._policies.pop(key, None)
        if not delete:
            for policy in policies:
                self._policies.setdefault(policy_key(policy), []).append(policy)

    def _definition(self, obj: Definition | DefinitionKey, delete: bool) -> None:
        if self._definitions is None:
            raise TypeError("this engine was given linked policies and no definitions: it cannot relink them")
        key = obj if isinstance(obj, DefinitionKey) else definition_key(obj)
        if delete:
            self._definitions.pop(key, None)
        elif isinstance(obj, DefinitionKey):
            raise TypeError(f"cannot apply an upsert of {key!r}: give the definition")
        else:
            self._definitions[key] = obj
        self._linked_with = None
        self._policy_revision += 1  # every policy is linked again

    def _delete_key(self, key: Any, event: Event) -> None:
        if event.op is not Op.DELETE:
            raise TypeError(f"cannot apply {event.op.value} of {key!r}: give the object")
        if isinstance(key, tuple):
            self._policy_revision += 1
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


def _rebound(
    previous: Resolution | None, policies: tuple[Policy, ...], universe: Universe, ipblocks: bool
) -> Resolution:
    """The Resolution of ``policies`` over ``universe``, reusing what ``previous`` found that
    still holds: its selector index when the cluster is the same or differs in pods only, its
    whole binding of the policies when those are the very same objects, and its binding of
    the endpoints when only the policies changed. ``ipblocks``: whether ipBlocks select pods."""
    if previous is None:
        return Resolution(policies, universe, ipblock_matches_pods=ipblocks)
    index: SelectorIndex | None = previous.index
    old, new = previous.index.snapshot, universe.snapshot
    if old is not new:
        same_world = old.namespaces is new.namespaces and old.nodes is new.nodes
        index = previous.index.for_pods(new) if same_world else None
    same_policies = len(policies) == len(previous.policies) and all(
        a is b for a, b in zip(policies, previous.policies, strict=True)
    )
    if index is not None and same_policies:
        return previous.for_universe(universe, index)
    if universe is previous.universe:
        return previous.with_policies(policies)
    return Resolution(policies, universe, index=index, ipblock_matches_pods=ipblocks)


def _same(before: object, now: tuple[object, object] | None) -> bool:
    """Whether what the enforcement read (namespaces, pods) is the very same objects."""
    if before is None or now is None:
        return before is now
    assert isinstance(before, tuple)
    return all(a is b for a, b in zip(before, now, strict=True))
