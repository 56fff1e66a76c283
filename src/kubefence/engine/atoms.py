"""CIDR atoms: every CIDR the policies name, cut into disjoint address ranges.

The boundaries of all CIDRs and of their exceptions split each IP family into intervals
(*atoms*) that no CIDR cuts: every atom lies wholly inside or wholly outside every CIDR. An
``IPBlock`` (CIDR minus exceptions) is then a bitset of atoms, and an address is placed in its
atom once, by binary search, instead of testing every block against every endpoint.

Invariants: ``cuts[v]`` is sorted and starts with 0; atom ``k`` of family ``v`` is
``[cuts[v][k], cuts[v][k+1])`` (the last one ends at the top of the family), and its global id
is ``offset[v] + k``.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from kubefence.ir.addresses import IPAddress, IPBlock, IPNetwork

__all__ = ["AtomIndex"]

_FAMILIES = (4, 6)


class AtomIndex:
    """The atoms of a set of IP blocks, and block → atoms, address → atom."""

    def __init__(self, blocks: Iterable[IPBlock]) -> None:
        points: dict[int, set[int]] = {v: {0} for v in _FAMILIES}
        self.blocks = tuple(dict.fromkeys(blocks))
        for block in self.blocks:
            for net in (block.cidr, *block.excepts):
                first, last = _span(net)
                points[net.version].update((first, last + 1))
        top = {4: 1 << 32, 6: 1 << 128}
        self.cuts = {v: sorted(p for p in points[v] if p < top[v]) for v in _FAMILIES}
        self.offset = {4: 0, 6: len(self.cuts[4])}
        self._block_atoms: dict[IPBlock, int] = {}

    def __len__(self) -> int:
        return len(self.cuts[4]) + len(self.cuts[6])

    def atom_of(self, ip: IPAddress) -> int:
        """The global id of the atom holding ``ip``."""
        cuts = self.cuts[ip.version]
        return self.offset[ip.version] + bisect_right(cuts, int(ip)) - 1

    def _range(self, net: IPNetwork) -> int:
        """The atoms inside ``net``, as a bitset (their union is exactly ``net``)."""
        first, last = _span(net)
        cuts = self.cuts[net.version]
        lo = bisect_right(cuts, first) - 1
        hi = bisect_right(cuts, last)  # atoms lo..hi-1
        return ((1 << (hi - lo)) - 1) << (self.offset[net.version] + lo)

    def atoms(self, block: IPBlock) -> int:
        """The atoms of ``block``'s CIDR outside every exception, as a bitset of global ids."""
        found = self._block_atoms.get(block)
        if found is None:
            found = self._range(block.cidr)
            for net in block.excepts:
                found &= ~self._range(net)
            self._block_atoms[block] = found
        return found


def _span(net: IPNetwork) -> tuple[int, int]:
    return int(net.network_address), int(net.broadcast_address)
