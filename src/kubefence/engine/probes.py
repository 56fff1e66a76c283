"""Probes: the (port, protocol) pairs a matrix is computed for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kubefence.ir.ports import MAX_PORT, MIN_PORT, NamedPort, PortRange, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from kubefence.cluster.snapshot import ClusterSnapshot
    from kubefence.ir.model import Policy

__all__ = ["Probe", "default_probes", "icmp_caveat", "parse_probe"]


@dataclass(frozen=True, slots=True, order=True)
class Probe:
    """One destination port of one protocol (for ICMP and ICMPv6, one message type)."""

    port: int
    protocol: Protocol

    def __str__(self) -> str:
        return f"{self.port}/{self.protocol.value}"

    def to_json(self) -> dict[str, object]:
        return {"port": self.port, "protocol": self.protocol.value}


def parse_probe(text: str) -> Probe:
    """``80``, ``80/TCP``, ``53/udp``, ``8/ICMP`` (an ICMP message type: 8 is an echo request)
    → Probe; ValueError with a readable message otherwise."""
    port_text, _, proto_text = text.strip().partition("/")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(
            f"invalid port {text!r}: expected PORT or PORT/PROTOCOL, e.g. 80/TCP (or TYPE/ICMP, e.g. 8/ICMP)"
        ) from None
    protocol = Protocol.parse(proto_text) if proto_text else Protocol.TCP
    if not protocol.numbered:
        raise ValueError(f"invalid port {text!r}: protocol must be TCP, UDP, SCTP, ICMP or ICMPv6")
    if protocol.is_icmp and not 0 <= port <= protocol.top:
        raise ValueError(f"invalid ICMP type {text!r}: {port} is out of range 0-{protocol.top}")
    if not protocol.is_icmp and not 1 <= port <= MAX_PORT:
        raise ValueError(f"invalid port {text!r}: {port} is out of range 1-65535")
    return Probe(port, protocol)


def _from_range(r: PortRange) -> Iterable[Probe]:
    if not r.protocol.has_ports or (r.start == MIN_PORT and r.end == MAX_PORT):
        return ()
    return {Probe(max(r.start, 1), r.protocol), Probe(r.end, r.protocol)}


def default_probes(policies: Iterable[Policy], snapshot: ClusterSnapshot) -> tuple[Probe, ...]:
    """Every port a policy names (range ends included) and every declared container port."""
    found: set[Probe] = set()
    named: set[str] = set()
    for policy in policies:
        for rule in policy.rules:
            for match in rule.ports or ():
                if isinstance(match, NamedPort):
                    named.add(match.name)
                else:
                    found.update(_from_range(match))
    for pod in snapshot.pods:
        found.update(Probe(cp.port, cp.protocol) for cp in pod.ports)
    return tuple(sorted(found, key=lambda p: (p.protocol.value, p.port))) or (Probe(80, Protocol.TCP),)


def icmp_caveat(probes: Sequence[Probe], generic: bool) -> list[str]:
    """ICMP under the upstream APIs (``generic``: answered under the generic profile): their
    ports name TCP, UDP and SCTP only, and what a rule without ports does to ICMP is up to the
    CNI (semantics reference §1, "Protocols")."""
    if not generic or not any(p.protocol.is_icmp for p in probes):
        return []
    return [
        "ICMP is not defined by NetworkPolicy or AdminNetworkPolicy (their ports name TCP, UDP and "
        "SCTP) and CNIs differ on it: this answer reads rules without ports as matching ICMP; give "
        "--cni for a CNI's answer"
    ]
