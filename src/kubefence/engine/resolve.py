"""IR + snapshot → Resolution: which endpoints each policy selects and each peer matches.

Nothing here is done per endpoint pair, and little per endpoint. Endpoints are first sorted
into *profiles*: the same pod group (namespace + labels, see ``SelectorIndex``), the same CIDR
atom (see ``AtomIndex``) and the same node address. Policies cannot tell the endpoints of one
profile apart, so subjects and peers are matched once per profile: pod selectors through the
selector index's posting lists, ipBlocks as atom bitsets, node selectors by node name.

Every endpoint then gets two signatures: the policies that select it (as a subject) and the
peers that match it (as a remote). Endpoints with equal signatures are indistinguishable to the
policies, which is what lets the matrix work per class instead of per pod pair.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubefence.cluster.selector_index import SelectorIndex
from kubefence.engine.atoms import AtomIndex
from kubefence.engine.connset import ConnectionSet
from kubefence.ir.model import (
    AnyPeer,
    CompoundPeer,
    Direction,
    Entity,
    EntityPeer,
    ExternalBlockPeer,
    IPBlockPeer,
    NodePeer,
    Peer,
    PodPeer,
    Policy,
    Rule,
    leaf_peers,
)
from kubefence.ir.ports import ContainerPort, NamedPort, PortMatch, PortRange

if TYPE_CHECKING:
    from collections.abc import Hashable, Iterable, Iterator, Sequence

    from kubefence.engine.endpoints import Universe
    from kubefence.ir.addresses import IPBlock

__all__ = ["Resolution", "iter_bits", "ports_of_rule"]

_HOST = EntityPeer(Entity.HOST)
_REMOTE_NODE = EntityPeer(Entity.REMOTE_NODE)
# KUBE_APISERVER is bound to the API server's endpoints before resolving; unbound, it is the nodes.
_NODE_ENTITIES = frozenset({Entity.NODES, Entity.HOST, Entity.REMOTE_NODE, Entity.KUBE_APISERVER})


def iter_bits(bits: int) -> Iterator[int]:
    """Indices of the set bits of ``bits``, ascending."""
    while bits:
        low = bits & -bits
        yield low.bit_length() - 1
        bits ^= low


def _port_match(match: PortMatch, dst_ports: Sequence[ContainerPort]) -> ConnectionSet:
    if isinstance(match, PortRange):
        return ConnectionSet.of_range(match)
    return _named(match, dst_ports)


def _named(match: NamedPort, dst_ports: Sequence[ContainerPort]) -> ConnectionSet:
    """A named port resolves against the destination's declarations: name and protocol must fit."""
    out = ConnectionSet.empty()
    for cp in dst_ports:
        if cp.name == match.name and (match.protocol is None or cp.protocol is match.protocol):
            out = out | ConnectionSet.of_port(cp.protocol, cp.port)
    return out


def ports_of_rule(rule: Rule, dst_ports: Sequence[ContainerPort]) -> ConnectionSet:
    """The connections a rule's ports (minus its except_ports) cover, toward a destination
    declaring ``dst_ports``."""
    if rule.ports is None:
        out = ConnectionSet.all()
    else:
        out = ConnectionSet.empty()
        for match in rule.ports:
            out = out | _port_match(match, dst_ports)
    for match in rule.except_ports:
        out = out - _port_match(match, dst_ports)
    return out


def rule_names_ports(rule: Rule) -> bool:
    """Whether the rule's ports depend on the destination's declarations (a named port)."""
    return any(isinstance(m, NamedPort) for m in (*(rule.ports or ()), *rule.except_ports))


def peer_blocks(peer: Peer) -> Iterator[IPBlock]:
    """The CIDR blocks a peer tests addresses against (inside compound peers too)."""
    for leaf in leaf_peers((peer,)):
        if isinstance(leaf, IPBlockPeer | ExternalBlockPeer):
            yield leaf.block


class Resolution:
    """Policies bound to one Universe of endpoints.

    ``profile_of[i]`` is endpoint i's profile; ``subject_sigs[i]`` the indices (into
    ``policies``) of the policies selecting it; ``peer_sigs[i]`` the ids of the peers matching it
    (``peers[k]`` is peer id k; ``rule_peers[rule]`` the ids of a rule's peers). Endpoints of one
    profile share the very same signature objects.
    """

    def __init__(
        self,
        policies: Sequence[Policy],
        universe: Universe,
        *,
        index: SelectorIndex | None = None,
        ipblock_matches_pods: bool = True,
    ) -> None:
        """``index``: a SelectorIndex of ``universe.snapshot`` to reuse (its selector matches
        stay valid while the snapshot does), e.g. when only the policies changed.

        ``ipblock_matches_pods``: False for CNIs whose ipBlock never selects in-cluster pods
        (Cilium, semantics reference §4.8/§6): IPBlockPeers then match only host-network pods,
        nodes and outside addresses, never a pod-network pod."""
        self.ipblock_matches_pods = ipblock_matches_pods
        self.policies = tuple(policies)
        self.universe = universe
        self.index = (
            index
            if index is not None and index.snapshot is universe.snapshot
            else (SelectorIndex(universe.snapshot))
        )
        self._bind_policies(None)
        self.atoms = AtomIndex(block for p in self.peers for block in peer_blocks(p))
        self._bind_endpoints(None)

    def _bind_policies(self, previous: Resolution | None) -> dict[int, int]:
        """Number the peers of every rule in order of first appearance (one id per peer
        value). The rules of ``previous`` (the very same objects) take their peers from it
        without hashing them again. Returns previous peer id → this one's."""
        self._peer_index: dict[Peer, int] | None = {} if previous is None else None
        self.peers: list[Peer] = []
        self._rule_peer_seq: dict[int, tuple[int, ...]] = {}  # id(rule) → its peers' ids, in order
        self._rule_peer_ids: dict[int, frozenset[int]] = {}
        self._rule_peers: dict[Rule, frozenset[int]] | None = None
        self._node_entities: tuple[frozenset[int], frozenset[int]] | None = None
        self._selecting: dict[frozenset[int], tuple[Policy, ...]] = {}
        self._rules_for: dict[tuple[int, bool], tuple[Rule, ...]] = {}
        adopted: dict[int, int] = {}
        fresh: dict[Peer, int] = {}
        for policy in self.policies:
            for rule in policy.rules:
                known = previous._rule_peer_seq.get(id(rule)) if previous is not None else None
                if known is not None:  # a live rule of ``previous``: its id names this object
                    assert previous is not None
                    ids = tuple(self._adopt(k, previous, adopted) for k in known)
                elif previous is not None:
                    ids = tuple(self._peer_from(peer, previous, adopted, fresh) for peer in rule.peers)
                else:
                    ids = tuple(self._peer_id(peer) for peer in rule.peers)
                self._rule_peer_seq[id(rule)] = ids
                self._rule_peer_ids[id(rule)] = frozenset(ids)
        self.uses_named_ports = any(rule_names_ports(r) for p in self.policies for r in p.rules)
        return adopted

    def _adopt(self, old: int, previous: Resolution, adopted: dict[int, int]) -> int:
        found = adopted.get(old)
        if found is None:
            found = adopted[old] = len(self.peers)
            self.peers.append(previous.peers[old])
        return found

    def _peer_from(
        self, peer: Peer, previous: Resolution, adopted: dict[int, int], fresh: dict[Peer, int]
    ) -> int:
        old = previous.peer_ids.get(peer)
        if old is not None:
            return self._adopt(old, previous, adopted)
        found = fresh.get(peer)
        if found is None:
            found = fresh[peer] = len(self.peers)
            self.peers.append(peer)
        return found

    @property
    def peer_ids(self) -> dict[Peer, int]:
        """Peer value → id (made on first use when the peers were carried over)."""
        if self._peer_index is None:
            self._peer_index = {peer: k for k, peer in enumerate(self.peers)}
        return self._peer_index

    @property
    def rule_peers(self) -> dict[Rule, frozenset[int]]:
        """Rule value → the ids of its peers (for rules equal to, not the same as, ours)."""
        if self._rule_peers is None:
            self._rule_peers = {
                rule: self._rule_peer_ids[id(rule)] for policy in self.policies for rule in policy.rules
            }
        return self._rule_peers

    def with_policies(self, policies: Sequence[Policy]) -> Resolution:
        """Other policies bound to this universe (policy events): the peers of rules that
        were here already are carried over without hashing, the endpoints' profiles are kept
        while the CIDR blocks are the same, and peer signatures are translated, so that only
        the peers never seen before are matched. Equal to ``Resolution(policies, universe)``."""
        new = object.__new__(Resolution)
        new.ipblock_matches_pods, new.policies = self.ipblock_matches_pods, tuple(policies)
        new.universe, new.index = self.universe, self.index
        adopted = new._bind_policies(self)
        carried = set(adopted.values())
        added = [k for k in range(len(new.peers)) if k not in carried]
        dropped = (k for k in range(len(self.peers)) if k not in adopted)
        changed = [*(new.peers[k] for k in added), *(self.peers[k] for k in dropped)]
        if any(True for peer in changed for _ in peer_blocks(peer)):
            new.atoms = AtomIndex(block for p in new.peers for block in peer_blocks(p))
            new._bind_endpoints(None)
            return new
        new.atoms = self.atoms
        new.profile_of, new.profile_keys, new.endpoint_atoms = (
            self.profile_of,
            self.profile_keys,
            self.endpoint_atoms,
        )
        subjects = new._profile_subjects(new.profile_keys)
        added_matches = new._profile_peers(new.profile_keys, [(k, new.peers[k]) for k in added])
        translated: dict[int, frozenset[int]] = {}
        seen: dict[frozenset[int], frozenset[int]] = {}
        peers = []
        for sig, more in zip(self.profile_peer_sigs, added_matches, strict=True):
            base = translated.get(id(sig))
            if base is None:
                base = translated[id(sig)] = frozenset(adopted[k] for k in sig if k in adopted)
            sig_new = base | more if more else base
            peers.append(seen.setdefault(sig_new, sig_new))
        new._set_signatures(subjects, peers)
        return new

    def for_universe(self, universe: Universe, index: SelectorIndex) -> Resolution:
        """The same policies bound to ``universe``, whose snapshot differs from this one's in
        pods only (``index``: its SelectorIndex, see ``SelectorIndex.for_pods``). The binding
        of the policies is shared, and the signatures of every profile known here carry over:
        only profiles not seen before (a new label set, a pod on a new node) are matched."""
        new = object.__new__(Resolution)
        new.ipblock_matches_pods, new.policies = self.ipblock_matches_pods, self.policies
        new.universe, new.index = universe, index
        new.peers, new._peer_index, new._rule_peers = self.peers, self._peer_index, self._rule_peers
        new._rule_peer_seq, new._rule_peer_ids = self._rule_peer_seq, self._rule_peer_ids
        new.uses_named_ports, new.atoms = self.uses_named_ports, self.atoms
        new._selecting, new._rules_for = self._selecting, self._rules_for
        new._node_entities = self._node_entities
        new._bind_endpoints(self)
        return new

    def _bind_endpoints(self, previous: Resolution | None) -> None:
        """Profiles and signatures of this universe's endpoints (those of ``previous``'s
        profiles are taken from it)."""
        self.profile_of, self.profile_keys = self._profiles(previous)
        if previous is None:
            subjects = self._profile_subjects(self.profile_keys)
            peers = self._profile_peers(self.profile_keys)
        else:
            subjects, peers = self._carried(previous)
        self._set_signatures(subjects, peers)

    def _set_signatures(self, subjects: list[frozenset[int]], peers: list[frozenset[int]]) -> None:
        self.profile_subject_sigs = subjects
        self.profile_peer_sigs = peers
        self.subject_sigs = [subjects[p] for p in self.profile_of]
        self.peer_sigs = [peers[p] for p in self.profile_of]

    def _carried(self, previous: Resolution) -> tuple[list[frozenset[int]], list[frozenset[int]]]:
        known = {key: p for p, key in enumerate(previous.profile_keys)}
        new_keys = [key for key in self.profile_keys if key not in known]
        fresh = iter(zip(self._profile_subjects(new_keys), self._profile_peers(new_keys), strict=True))
        subject_sigs = {sig: sig for sig in previous.profile_subject_sigs}
        peer_sigs = {sig: sig for sig in previous.profile_peer_sigs}
        subjects, peers = [], []
        for key in self.profile_keys:
            p = known.get(key)
            if p is not None:
                subjects.append(previous.profile_subject_sigs[p])
                peers.append(previous.profile_peer_sigs[p])
            else:
                subject, peer = next(fresh)
                subjects.append(subject_sigs.setdefault(subject, subject))
                peers.append(peer_sigs.setdefault(peer, peer))
        return subjects, peers

    def _peer_id(self, peer: Peer) -> int:
        index = self.peer_ids
        found = index.get(peer)
        if found is None:
            found = index[peer] = len(self.peers)
            self.peers.append(peer)
        return found

    def _profiles(
        self, previous: Resolution | None = None
    ) -> tuple[list[int], list[tuple[int, int, str | None]]]:
        """Endpoint → profile id, and each profile's key (group, atom, node). The atoms of
        ``previous``'s endpoint objects are reused when its atoms are these."""
        group_of, n_pods = self.index.group_of, len(self.universe.snapshot.pods)
        known: dict[int, int] = {}  # id(endpoint) → atom: those endpoints live in ``previous``
        if previous is not None and previous.atoms is self.atoms:
            known = {
                id(e): a for e, a in zip(previous.universe.endpoints, previous.endpoint_atoms, strict=True)
            }
        ids: dict[Hashable, int] = {}
        profile_of = []
        self.endpoint_atoms: list[int] = []
        for i, endpoint in enumerate(self.universe.endpoints):
            group = group_of[i] if i < n_pods else -1
            atom = known.get(id(endpoint))
            if atom is None:
                atom = self.atoms.atom_of(endpoint.ip)
            self.endpoint_atoms.append(atom)
            profile_of.append(ids.setdefault((group, atom, endpoint.node), len(ids)))
        return profile_of, list(ids)  # type: ignore[arg-type]

    def _profile_subjects(self, keys: list[tuple[int, int, str | None]]) -> list[frozenset[int]]:
        by_group: dict[int, list[int]] = {}
        for profile, (group, _, _) in enumerate(keys):
            if group >= 0:
                by_group.setdefault(group, []).append(profile)
        members: list[list[int]] = [[] for _ in keys]
        wanted = _bits(by_group)  # only these groups' bits are visited: few for a few new keys
        for k, policy in enumerate(self.policies):
            for group in iter_bits(self.index.selection_groups(policy.subject) & wanted):
                for profile in by_group.get(group, ()):
                    members[profile].append(k)
        return _interned(members)

    def _profile_peers(
        self, keys: list[tuple[int, int, str | None]], peers: Iterable[tuple[int, Peer]] | None = None
    ) -> list[frozenset[int]]:
        """Per profile, the ids of the peers (default: all) matching it."""
        members: list[list[int]] = [[] for _ in keys]
        where = _Where(keys, self.ipblock_matches_pods)
        for k, peer in enumerate(self.peers) if peers is None else peers:
            for profile in self._peer_profiles(peer, where):
                members[profile].append(k)
        return _interned(members)

    def _peer_profiles(self, peer: Peer, where: _Where) -> Iterator[int]:
        if isinstance(peer, PodPeer):
            for group in iter_bits(self.index.selection_groups(peer.selection) & where.groups):
                yield from where.by_group.get(group, ())
        elif isinstance(peer, AnyPeer):
            yield from range(len(where.keys))
        elif isinstance(peer, IPBlockPeer | ExternalBlockPeer):
            by_atom = where.by_atom if isinstance(peer, IPBlockPeer) else where.outside_by_atom
            yield from _in_atoms(self.atoms.atoms(peer.block), by_atom)
        elif isinstance(peer, NodePeer):
            yield from where.nodes(self.index.nodes_matching(peer.selector))
        elif isinstance(peer, EntityPeer):
            yield from where.entity(peer.entity)
        elif isinstance(peer, CompoundPeer):
            yield from self._compound(peer, where)
        # FQDN, group, network-set and relative peers are bound before resolving
        # (engine.prepare); any left over match nothing.

    def _compound(self, peer: CompoundPeer, where: _Where) -> Iterator[int]:
        found = set(range(len(where.keys)))
        if peer.any_of:
            found = {p for child in peer.any_of for p in self._peer_profiles(child, where)}
        for child in peer.all_of:
            found &= set(self._peer_profiles(child, where))
        for child in peer.none_of:
            found -= set(self._peer_profiles(child, where))
        yield from sorted(found)

    def selecting(self, endpoint: int) -> tuple[Policy, ...]:
        """Policies whose subject is this endpoint, in evaluation order."""
        return self.policies_of(self.subject_sigs[endpoint])

    def policies_of(self, sig: frozenset[int]) -> tuple[Policy, ...]:
        """The policies of a subject signature, in evaluation order."""
        found = self._selecting.get(sig)
        if found is None:
            found = self._selecting[sig] = tuple(self.policies[i] for i in sorted(sig))
        return found

    def rules_for(self, policy: Policy, direction: Direction) -> tuple[Rule, ...]:
        """``policy.rules_for(direction)``, computed once per policy of this Resolution."""
        key = (id(policy), direction is Direction.INGRESS)
        found = self._rules_for.get(key)
        if found is None:
            found = self._rules_for[key] = policy.rules_for(direction)
        return found

    def peers_of_rule(self, rule: Rule) -> frozenset[int]:
        """The peer ids of a rule of one of the policies."""
        found = self._rule_peer_ids.get(id(rule))
        return found if found is not None else self.rule_peers[rule]

    def rule_matches_peer(self, rule: Rule, remote: int, own_node: bool = False) -> bool:
        """Whether a rule's peers match endpoint ``remote`` (``own_node``: it is at an address
        of the subject's node)."""
        return not self.peers_of_rule(rule).isdisjoint(self.seen_sig(self.peer_sigs[remote], own_node))

    def seen_sig(self, sig: frozenset[int], own_node: bool) -> frozenset[int]:
        """A remote's peer signature as one subject sees it: the Cilium ``host`` entity matches
        only the subject's own node, ``remote-node`` only the others."""
        host, remote = self._node_entity_ids()
        drop = remote if own_node else host
        return sig - drop if drop and not sig.isdisjoint(drop) else sig

    @property
    def uses_node_entities(self) -> bool:
        """Whether a rule names the ``host`` or ``remote-node`` entity."""
        return any(self._node_entity_ids())

    def _node_entity_ids(self) -> tuple[frozenset[int], frozenset[int]]:
        """The peer ids of the ``host`` and ``remote-node`` entities (found once)."""
        if self._node_entities is None:
            host = frozenset(k for k, p in enumerate(self.peers) if p == _HOST)
            remote = frozenset(k for k, p in enumerate(self.peers) if p == _REMOTE_NODE)
            self._node_entities = (host, remote)
        return self._node_entities


def _in_atoms(atoms: int, by_atom: dict[int, list[int]]) -> Iterator[int]:
    for atom, profiles in by_atom.items():
        if atoms >> atom & 1:
            yield from profiles


class _Where:
    """Profiles by group, CIDR atom and node, and by entity (§4.6): what peers are matched on."""

    def __init__(self, keys: list[tuple[int, int, str | None]], ipblock_matches_pods: bool) -> None:
        self.keys = keys
        self.by_group: dict[int, list[int]] = {}
        self.by_atom: dict[int, list[int]] = {}
        self.outside_by_atom: dict[int, list[int]] = {}
        self.by_node: dict[str, list[int]] = {}
        for profile, (group, atom, node) in enumerate(keys):
            if group >= 0:
                self.by_group.setdefault(group, []).append(profile)
            if ipblock_matches_pods or group < 0:  # group >= 0: a pod-network pod
                self.by_atom.setdefault(atom, []).append(profile)
            if group < 0 and node is None:
                self.outside_by_atom.setdefault(atom, []).append(profile)
            if node is not None:
                self.by_node.setdefault(node, []).append(profile)
        self.groups = _bits(self.by_group)

    def nodes(self, names: Iterable[str]) -> Iterator[int]:
        for node in names:
            yield from self.by_node.get(node, ())

    def entity(self, entity: Entity) -> Iterator[int]:
        for profile, (group, _, node) in enumerate(self.keys):
            outside = group < 0 and node is None
            if entity is Entity.ALL:
                yield profile
            elif entity is Entity.WORLD and outside:
                yield profile
            elif entity is Entity.CLUSTER and not outside:
                yield profile
            elif entity in _NODE_ENTITIES and node is not None:
                yield profile


def _bits(indices: Iterable[int]) -> int:
    out = 0
    for i in indices:
        out |= 1 << i
    return out


def _interned(members: list[list[int]]) -> list[frozenset[int]]:
    """One frozenset object per distinct signature (equal signatures are the same object)."""
    seen: dict[frozenset[int], frozenset[int]] = {}
    return [seen.setdefault(sig, sig) for sig in map(frozenset, members)]
