"""A small typed model of the nftables objects kubefence emits.

One ``Table`` (family inet) holds named ``NftSet``s (address intervals, address . protocol .
port tuples), verdict ``NftMap``s (pod address → jump to a class chain) and ``Chain``s of
``NftRule``s. A rule is a conjunction of matches and one verdict. The model is closed: the
renderers know every node type, so text and JSON stay in step.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "AddrInSet",
    "Chain",
    "CtState",
    "Family",
    "Hook",
    "Icmpv6Type",
    "L4Ports",
    "L4Proto",
    "Match",
    "NamedPortsInSet",
    "NftMap",
    "NftRule",
    "NftSet",
    "SetKind",
    "Table",
    "Verdict",
    "VerdictKind",
    "Vmap",
]


class Family(enum.Enum):
    """Address family of an address match or set."""

    V4 = "ip"
    V6 = "ip6"


class SetKind(enum.Enum):
    """Element types of the sets kubefence uses."""

    ADDR = "addr"  # interval set of addresses (CIDRs minus exceptions)
    HOSTS = "hosts"  # plain set of single addresses: element updates skip libnftables' interval cache
    ADDR_PROTO_PORT = "addr_proto_port"  # pod address . protocol . port (named ports)


@dataclass(frozen=True, slots=True)
class NftSet:
    """A named set. ``elements`` are rendered strings: ``10.0.0.0/8``, ``10.0.0.1-10.0.0.9``,
    ``10.0.1.1 . tcp . 80``."""

    name: str
    family: Family
    kind: SetKind
    elements: tuple[str, ...]
    comment: str = ""


@dataclass(frozen=True, slots=True)
class NftMap:
    """A verdict map from a local pod address to ``jump <chain>``."""

    name: str
    family: Family
    elements: tuple[tuple[str, str], ...]  # (address, chain)


@dataclass(frozen=True, slots=True)
class AddrInSet:
    """``ip saddr @set`` / ``ip6 daddr @set``."""

    family: Family
    field: str  # "saddr" | "daddr"
    set_name: str


@dataclass(frozen=True, slots=True)
class L4Ports:
    """``meta l4proto . th dport { tcp . 80, udp . 53-54 }`` (proto, start, end) triples."""

    elements: tuple[tuple[str, int, int], ...]


@dataclass(frozen=True, slots=True)
class L4Proto:
    """``meta l4proto { tcp, udp }``: every port of these protocols."""

    protocols: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NamedPortsInSet:
    """``ip daddr . meta l4proto . th dport @set``: a named port resolved per pod."""

    family: Family
    set_name: str


@dataclass(frozen=True, slots=True)
class CtState:
    """``ct state { established, related }``."""

    states: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Icmpv6Type:
    """``icmpv6 type { nd-neighbor-solicit, ... }`` (neighbour discovery must pass isolation)."""

    types: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MarkBit:
    """``meta mark & BIT == BIT``: the packet was already let through by the agent's table."""

    bit: int


Match = AddrInSet | L4Ports | L4Proto | NamedPortsInSet | CtState | Icmpv6Type | MarkBit


class VerdictKind(enum.Enum):
    ACCEPT = "accept"
    DROP = "drop"
    RETURN = "return"
    GOTO = "goto"
    JUMP = "jump"


@dataclass(frozen=True, slots=True)
class Verdict:
    """A rule's verdict; GOTO and JUMP name a chain."""

    kind: VerdictKind
    chain: str | None = None


@dataclass(frozen=True, slots=True)
class Vmap:
    """``ip saddr vmap @map``: dispatch by a local pod's address (a rule's final statement)."""

    family: Family
    field: str
    map_name: str


@dataclass(frozen=True, slots=True)
class MarkSet:
    """``meta mark set meta mark | BIT`` (a rule's final statement; evaluation goes on)."""

    bit: int


class Hook(enum.Enum):
    FORWARD = "forward"
    INPUT = "input"
    OUTPUT = "output"


@dataclass(frozen=True, slots=True)
class NftRule:
    """Matches (all must hold), an optional NFLOG prefix, a verdict and a comment naming the
    policy rule it comes from."""

    matches: tuple[Match, ...]
    verdict: Verdict | Vmap | MarkSet
    comment: str = ""
    log_prefix: str | None = None


@dataclass(frozen=True, slots=True)
class Chain:
    """A chain; base chains carry a hook (priority filter + ``priority``, policy accept)."""

    name: str
    rules: tuple[NftRule, ...]
    hook: Hook | None = None
    priority: int = 0


@dataclass(frozen=True, slots=True)
class Table:
    """The one table the agent owns."""

    name: str
    sets: tuple[NftSet, ...]
    maps: tuple[NftMap, ...]
    chains: tuple[Chain, ...]

    def chain(self, name: str) -> Chain | None:
        return next((c for c in self.chains if c.name == name), None)
