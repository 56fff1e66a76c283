"""IR + snapshot → Resolution: which endpoints each policy selects and each peer matches.

Subjects and peers are bitsets (Python ints) over the Universe's endpoint indices. From them
every endpoint gets two signatures: the policies that select it (as a subject) and the peers
that match it (as a remote). Endpoints with equal signatures are indistinguishable to the
policies, which is what lets the matrix work per class instead of per pod pair.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubefence.cluster.selector_index import SelectorIndex
from kubefence.engine.connset import ConnectionSet
from kubefence.ir.model import AnyPeer, IPBlockPeer, NodePeer, Peer, PodPeer, Policy, Rule
from kubefence.ir.ports import ContainerPort, NamedPort, PortMatch, PortRange

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from kubefence.engine.endpoints import Universe

__all__ = ["Resolution", "iter_bits", "ports_of_rule"]


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
    """The connections a rule's ports cover, toward a destination declaring ``dst_ports``."""
    if rule.ports is None:
        return ConnectionSet.all()
    out = ConnectionSet.empty()
    for match in rule.ports:
        out = out | _port_match(match, dst_ports)
    return out


class Resolution:
    """Policies bound to one Universe of endpoints."""

    def __init__(self, policies: Sequence[Policy], universe: Universe) -> None:
        self.policies = tuple(policies)
        self.universe = universe
        self.index = SelectorIndex(universe.snapshot)
        self.subjects = [self._subject_bits(p) for p in self.policies]
        self.peer_ids: dict[Peer, int] = {}
        self.peer_bits: list[int] = []
        self.rule_peers: dict[Rule, frozenset[int]] = {}
        for policy in self.policies:
            for rule in policy.rules:
                self.rule_peers[rule] = frozenset(self._peer_id(peer) for peer in rule.peers)
        self.uses_named_ports = any(
            isinstance(m, NamedPort) for p in self.policies for r in p.rules for m in (r.ports or ())
        )
        self.subject_sigs = self._signatures(self.subjects)
        self.peer_sigs = self._signatures(self.peer_bits)

    def _subject_bits(self, policy: Policy) -> int:
        # snapshot.pods come first in the universe, so pod bitsets are endpoint bitsets.
        return self.index.selection(policy.subject)

    def _peer_id(self, peer: Peer) -> int:
        if peer not in self.peer_ids:
            self.peer_ids[peer] = len(self.peer_bits)
            self.peer_bits.append(self._peer_bits(peer))
        return self.peer_ids[peer]

    def _peer_bits(self, peer: Peer) -> int:
        if isinstance(peer, PodPeer):
            return self.index.selection(peer.selection)
        if isinstance(peer, AnyPeer):
            return (1 << len(self.universe)) - 1
        if isinstance(peer, IPBlockPeer):
            return self._bits_where(lambda i: peer.block.contains(self.universe.endpoints[i].ip))
        assert isinstance(peer, NodePeer)
        nodes = self.index.nodes_matching(peer.selector)
        return self._bits_where(lambda i: self.universe.endpoints[i].node in nodes)

    def _bits_where(self, predicate: object) -> int:
        assert callable(predicate)
        bits = 0
        for i in range(len(self.universe)):
            if predicate(i):
                bits |= 1 << i
        return bits

    def _signatures(self, sets: list[int]) -> list[frozenset[int]]:
        """For each endpoint, the ids of the sets that contain it."""
        members: list[list[int]] = [[] for _ in range(len(self.universe))]
        for set_id, bits in enumerate(sets):
            for i in iter_bits(bits):
                members[i].append(set_id)
        return [frozenset(m) for m in members]

    def selecting(self, endpoint: int) -> tuple[Policy, ...]:
        """Policies whose subject is this endpoint, in evaluation order."""
        return tuple(self.policies[i] for i in sorted(self.subject_sigs[endpoint]))

    def rule_matches_peer(self, rule: Rule, remote: int) -> bool:
        return not self.rule_peers[rule].isdisjoint(self.peer_sigs[remote])
