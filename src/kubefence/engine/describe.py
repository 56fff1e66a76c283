"""What one endpoint's policies let in and out: the data behind ``kubefence explain``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kubefence.engine.connset import ConnectionSet
from kubefence.ir.model import Direction, Policy

if TYPE_CHECKING:
    from kubefence.engine.matrix import ReachabilityMatrix

__all__ = ["DirectionReport", "EndpointReport", "describe_endpoint"]


@dataclass(frozen=True, slots=True)
class DirectionReport:
    """Policies selecting the endpoint in one direction, and the resulting connections per peer
    group (peers with the same allowed connections share a row)."""

    direction: Direction
    policies: tuple[Policy, ...]
    effective: tuple[tuple[ConnectionSet, tuple[str, ...]], ...]


@dataclass(frozen=True, slots=True)
class EndpointReport:
    """Both directions of one endpoint."""

    endpoint: str
    managed: bool
    ingress: DirectionReport
    egress: DirectionReport


def _group(pairs: list[tuple[str, ConnectionSet]]) -> tuple[tuple[ConnectionSet, tuple[str, ...]], ...]:
    groups: dict[ConnectionSet, list[str]] = {}
    for key, conns in pairs:
        groups.setdefault(conns, []).append(key)
    return tuple((c, tuple(keys)) for c, keys in sorted(groups.items(), key=lambda kv: kv[1][0]))


def _report(matrix: ReachabilityMatrix, i: int, direction: Direction) -> DirectionReport:
    resolution = matrix.resolution
    policies = tuple(p for p in resolution.selecting(i) if direction in p.directions)
    others = [j for j in range(len(matrix.universe)) if j != i]
    keys = [e.key for e in matrix.universe.endpoints]
    pairs = [(keys[j], matrix.one_direction(direction, i, j)) for j in others]
    return DirectionReport(direction, policies, _group(pairs))


def describe_endpoint(matrix: ReachabilityMatrix, i: int) -> EndpointReport:
    """The policies selecting endpoint ``i`` and what each direction lets through, per peer."""
    endpoint = matrix.universe.endpoints[i]
    return EndpointReport(
        endpoint.key,
        endpoint.managed,
        _report(matrix, i, Direction.INGRESS),
        _report(matrix, i, Direction.EGRESS),
    )
