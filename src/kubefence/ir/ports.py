"""Ports and protocols as policies name them.

``PortRange`` is a numeric, inclusive range of one protocol; ``NamedPort`` is a name that is
resolved later against the container ports of the pod that owns the port (§0.4 of the
semantics reference). A named port's ``protocol`` is ``None`` when the dialect takes the
protocol from the container port declaration (AdminNetworkPolicy ``namedPort``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "MAX_ICMP_TYPE",
    "MAX_PORT",
    "MIN_PORT",
    "PORT_PROTOCOLS",
    "ContainerPort",
    "NamedPort",
    "PortMatch",
    "PortRange",
    "Protocol",
]

MIN_PORT = 0
MAX_PORT = 65535
MAX_ICMP_TYPE = 255


class Protocol(enum.Enum):
    """IP protocols kubefence distinguishes; OTHER stands for every other IP protocol."""

    TCP = "TCP"
    UDP = "UDP"
    SCTP = "SCTP"
    ICMP = "ICMP"
    ICMPV6 = "ICMPv6"
    OTHER = "OTHER"

    @property
    def has_ports(self) -> bool:
        return self in (Protocol.TCP, Protocol.UDP, Protocol.SCTP)

    @property
    def is_icmp(self) -> bool:
        return self in (Protocol.ICMP, Protocol.ICMPV6)

    @property
    def numbered(self) -> bool:
        """Whether flows of this protocol carry a number policies match: a port, or for ICMP
        and ICMPv6 the message type (its code is not modelled)."""
        return self is not Protocol.OTHER

    @property
    def top(self) -> int:
        """The largest number of this protocol: 65535 for ports, 255 for ICMP types."""
        return MAX_ICMP_TYPE if self.is_icmp else MAX_PORT

    @classmethod
    def parse(cls, text: str) -> Protocol:
        """Case-insensitive look-up by name (``tcp``, ``SCTP``, ``icmpv6``); ValueError otherwise."""
        for proto in cls:
            if proto.value.upper() == text.upper():
                return proto
        raise ValueError(f"unknown protocol {text!r} (expected TCP, UDP, SCTP, ICMP or ICMPv6)")


PORT_PROTOCOLS = (Protocol.TCP, Protocol.UDP, Protocol.SCTP)


@dataclass(frozen=True, slots=True)
class PortRange:
    """``start..end`` inclusive of one protocol: ports, or for ICMP and ICMPv6 message types
    (0-255; the default full range is every type). OTHER uses the full range."""

    protocol: Protocol
    start: int = MIN_PORT
    end: int = MAX_PORT

    def __str__(self) -> str:
        proto = self.protocol
        if (self.start == MIN_PORT and self.end >= proto.top) or not proto.numbered:
            return f"all {proto.value}"
        if proto.is_icmp:
            what = f"type {self.start}" if self.start == self.end else f"types {self.start}-{self.end}"
            return f"{proto.value} {what}"
        if self.start == self.end:
            return f"{self.start}/{proto.value}"
        return f"{self.start}-{self.end}/{proto.value}"


@dataclass(frozen=True, slots=True)
class NamedPort:
    """A container port name; ``protocol=None`` takes the protocol of the declaration."""

    name: str
    protocol: Protocol | None = None

    def __str__(self) -> str:
        suffix = f"/{self.protocol.value}" if self.protocol else ""
        return f"port named {self.name!r}{suffix}"


PortMatch = PortRange | NamedPort


@dataclass(frozen=True, slots=True)
class ContainerPort:
    """One ``containers[*].ports[*]`` declaration of a pod."""

    port: int
    protocol: Protocol
    name: str | None = None
