"""ReachabilityMatrix: endpoint × endpoint → ConnectionSet, computed per equivalence class.

Two endpoints are in one class when the policies cannot tell them apart: the same selecting
policies, the same matching peers, the same declared ports (when a rule names a port) and the
same node relation. The connection set between two classes is computed once; a pair of
endpoints is a look-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kubefence.engine.pipeline import DirectionQuery, allowed_connections
from kubefence.engine.resolve import Resolution, ports_of_rule
from kubefence.ir.model import Direction, Rule

if TYPE_CHECKING:
    from collections.abc import Hashable, Iterator, Sequence

    from kubefence.engine.connset import ConnectionSet
    from kubefence.engine.probes import Probe
    from kubefence.ir.ports import ContainerPort

__all__ = ["ReachabilityMatrix", "Verdicts"]


@dataclass(frozen=True, slots=True)
class Verdicts:
    """Allowed and denied ``[src, dst, port, protocol]`` tuples over distinct pairs × probes."""

    allowed: tuple[tuple[str, str, int, str], ...]
    denied: tuple[tuple[str, str, int, str], ...]


class ReachabilityMatrix:
    """Connections between every ordered pair of endpoints of a Resolution."""

    def __init__(self, resolution: Resolution) -> None:
        self.resolution = resolution
        self.universe = resolution.universe
        self._node_matters = any(e.node is not None for e in self.universe.endpoints)
        keys: dict[Hashable, int] = {}
        self.class_of = [keys.setdefault(self._class_key(i), len(keys)) for i in range(len(self.universe))]
        self.representative = {c: i for i, c in reversed(list(enumerate(self.class_of)))}
        self._pair: dict[tuple[int, int], ConnectionSet] = {}
        self._rule_ports: dict[tuple[Rule, tuple[ContainerPort, ...]], ConnectionSet] = {}

    @property
    def class_count(self) -> int:
        return len(self.representative)

    def _class_key(self, i: int) -> Hashable:
        r, endpoint = self.resolution, self.universe.endpoints[i]
        ports = self._dst_ports(i) if r.uses_named_ports else ()
        node = (endpoint.pod.node if endpoint.pod else None, endpoint.node) if self._node_matters else None
        return (r.subject_sigs[i], r.peer_sigs[i], ports, node)

    def _dst_ports(self, i: int) -> tuple[ContainerPort, ...]:
        endpoint = self.universe.endpoints[i]
        return endpoint.pod.ports if endpoint.managed and endpoint.pod else ()

    def _ports(self, rule: Rule, dst: int) -> ConnectionSet:
        key = (rule, self._dst_ports(dst))
        if key not in self._rule_ports:
            self._rule_ports[key] = ports_of_rule(rule, key[1])
        return self._rule_ports[key]

    def _direction(self, direction: Direction, subject: int, remote: int, dst: int) -> ConnectionSet:
        r = self.resolution
        subject_node = self.universe.endpoints[subject].pod
        remote_node = self.universe.endpoints[remote].node
        query = DirectionQuery(
            direction=direction,
            policies=r.selecting(subject),
            peer_matches=lambda rule: r.rule_matches_peer(rule, remote),
            ports=lambda rule: self._ports(rule, dst),
            from_local_node=remote_node is not None
            and subject_node is not None
            and subject_node.node == remote_node,
        )
        return allowed_connections(query)

    def one_direction(self, direction: Direction, subject: int, remote: int) -> ConnectionSet:
        """What ``subject``'s policies alone let through toward or from ``remote``."""
        dst = remote if direction is Direction.EGRESS else subject
        return self._direction(direction, subject, remote, dst)

    def connections(self, src: int, dst: int) -> ConnectionSet:
        """What src may open toward dst: src's egress AND dst's ingress."""
        key = (self.class_of[src], self.class_of[dst])
        if key not in self._pair:
            a, b = self.representative[key[0]], self.representative[key[1]]
            egress = self._direction(Direction.EGRESS, a, b, b)
            self._pair[key] = egress & self._direction(Direction.INGRESS, b, a, b) if egress else egress
        return self._pair[key]

    def pairs(self, endpoints: Sequence[int] | None = None) -> Iterator[tuple[int, int]]:
        """Every ordered pair of distinct endpoints (of ``endpoints``, default all)."""
        chosen = range(len(self.universe)) if endpoints is None else endpoints
        for src in chosen:
            for dst in chosen:
                if src != dst:
                    yield src, dst

    def verdicts(self, probes: Sequence[Probe], endpoints: Sequence[int] | None = None) -> Verdicts:
        allowed: list[tuple[str, str, int, str]] = []
        denied: list[tuple[str, str, int, str]] = []
        keys = [e.key for e in self.universe.endpoints]
        for src, dst in self.pairs(endpoints):
            conns = self.connections(src, dst)
            for probe in probes:
                row = (keys[src], keys[dst], probe.port, probe.protocol.value)
                (allowed if conns.contains(probe.protocol, probe.port) else denied).append(row)
        return Verdicts(tuple(allowed), tuple(denied))
