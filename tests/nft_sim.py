"""A tiny interpreter of kubefence's nft AST: walks the base chains for one new connection the
way the kernel does (vmap jump, goto, return, accept, drop). Lets property tests compare the
compiled ruleset with the engine without root; the privileged tests compare with the kernel."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from kubefence.backends.nftables.ast import (
    AddrInSet,
    Chain,
    CtState,
    Hook,
    Icmpv6Type,
    L4Ports,
    L4Proto,
    MarkBit,
    MarkSet,
    Match,
    NamedPortsInSet,
    Table,
    VerdictKind,
    Vmap,
)


@dataclass(frozen=True)
class Packet:
    saddr: ipaddress.IPv4Address | ipaddress.IPv6Address
    daddr: ipaddress.IPv4Address | ipaddress.IPv6Address
    proto: str
    dport: int


def _in_element(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, element: str) -> bool:
    if "/" in element:
        net = ipaddress.ip_network(element)
        return ip.version == net.version and ip in net
    if "-" in element:
        a, b = (ipaddress.ip_address(x) for x in element.split("-"))
        return ip.version == a.version and int(a) <= int(ip) <= int(b)
    other = ipaddress.ip_address(element)
    return ip == other


class Sim:
    def __init__(self, table: Table) -> None:
        self.table = table
        self.sets = {s.name: s for s in table.sets}
        self.maps = {m.name: dict(m.elements) for m in table.maps}

    def _addr(self, p: Packet, field: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        return p.saddr if field == "saddr" else p.daddr

    def matches(self, m: Match, p: Packet) -> bool:
        if isinstance(m, AddrInSet):
            ip = self._addr(p, m.field)
            return ip.version == (4 if m.family.value == "ip" else 6) and any(
                _in_element(ip, e) for e in self.sets[m.set_name].elements
            )
        if isinstance(m, L4Ports):
            return any(proto == p.proto and a <= p.dport <= b for proto, a, b in m.elements)
        if isinstance(m, L4Proto):
            return p.proto in m.protocols
        if isinstance(m, NamedPortsInSet):
            key = f"{p.daddr} . {p.proto} . {p.dport}"
            return (
                p.daddr.version == (4 if m.family.value == "ip" else 6)
                and key in self.sets[m.set_name].elements
            )
        if isinstance(m, CtState):
            return "new" in m.states
        if isinstance(m, MarkBit):
            return False
        assert isinstance(m, Icmpv6Type)
        return False

    def run_chain(self, chain: Chain, p: Packet) -> str:
        """'accept' | 'drop' | 'return' (fell off or returned)."""
        for rule in chain.rules:
            if not all(self.matches(m, p) for m in rule.matches):
                continue
            v = rule.verdict
            if isinstance(v, MarkSet):
                continue
            if isinstance(v, Vmap):
                ip = self._addr(p, v.field)
                if ip.version != (4 if v.family.value == "ip" else 6):
                    continue
                target = self.maps[v.map_name].get(str(ip))
                if target is None:
                    continue
                result = self.run_chain(self._chain(target), p)
                if result != "return":
                    return result
                continue
            if v.kind is VerdictKind.GOTO:
                assert v.chain is not None
                return self.run_chain(self._chain(v.chain), p)
            if v.kind is VerdictKind.JUMP:
                assert v.chain is not None
                result = self.run_chain(self._chain(v.chain), p)
                if result != "return":
                    return result
                continue
            return str(v.kind.value)
        return "return"

    def _chain(self, name: str) -> Chain:
        chain = self.table.chain(name)
        assert chain is not None, name
        return chain

    def hook(self, hook: Hook, p: Packet) -> bool:
        base = next(c for c in self.table.chains if c.hook is hook)
        return self.run_chain(base, p) != "drop"
