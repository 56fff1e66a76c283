"""Address arithmetic for nft interval sets: CIDR minus exceptions as ranges, and element text."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from kubefence.ir.addresses import IPAddress, IPBlock, IPNetwork

__all__ = ["block_elements", "host_elements", "ip_text"]


def _minus(net: IPNetwork, excepts: Iterable[IPNetwork]) -> list[IPNetwork]:
    pieces = [net]
    for ex in excepts:
        next_pieces: list[IPNetwork] = []
        for piece in pieces:
            if piece.version == ex.version and ex.subnet_of(piece):  # type: ignore[arg-type]
                next_pieces.extend(piece.address_exclude(ex))  # type: ignore[arg-type]
            elif piece.version == ex.version and piece.subnet_of(ex):  # type: ignore[arg-type]
                continue
            else:
                next_pieces.append(piece)
        pieces = next_pieces
    return sorted(pieces, key=lambda n: (n.network_address, n.prefixlen))


def _ranges(nets: list[IPNetwork]) -> list[tuple[IPAddress, IPAddress]]:
    """Adjacent networks merged into address ranges (what auto-merge would do)."""
    out: list[tuple[IPAddress, IPAddress]] = []
    for net in nets:
        start, end = net.network_address, net.broadcast_address
        if out and int(out[-1][1]) + 1 == int(start):
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def block_elements(block: IPBlock) -> tuple[str, ...]:
    """``cidr − except`` as nft elements: a prefix when the block has no exception, else ranges."""
    if not block.excepts:
        return (str(block.cidr),)
    return tuple(f"{a}-{b}" if a != b else str(a) for a, b in _ranges(_minus(block.cidr, block.excepts)))


@functools.lru_cache(maxsize=1 << 18)
def ip_text(ip: IPAddress) -> str:
    """``str(ip)``, cached: formatting addresses dominates compiling large clusters."""
    return str(ip)


def host_elements(ips: Iterable[IPAddress], version: int) -> tuple[str, ...]:
    """Sorted, de-duplicated single addresses of one IP version."""
    return tuple(ip_text(ip) for ip in sorted({ip for ip in ips if ip.version == version}, key=int))
