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

    @classmethod
    def parse(cls, text: str) -> Protocol:
        """Case-insensitive look-up by name (``tcp``, ``SCTP``, ``icmpv6``); ValueError otherwise."""
        for proto in cls:
            if proto.value.upper() == text.upper():
                return proto
        raise ValueError(f"unknown protocol {text!r} (expected TCP, UDP or SCTP)")


PORT_PROTOCOLS = (Protocol.TCP, Protocol.UDP, Protocol.SCTP)


@dataclass(frozen=True, slots=True)
class PortRange:
    """``start..end`` inclusive of one protocol. Port-less protocols use the full range."""

    protocol: Protocol
    start: int = MIN_PORT
    end: int = MAX_PORT

    def __str__(self) -> str:
        if self.start == MIN_PORT and self.end == MAX_PORT:
            return f"all {self.protocol.value}"
        if self.start == self.end:
            return f"{self.start}/{self.protocol.value}"
        return f"{self.start}-{self.end}/{self.protocol.value}"


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
