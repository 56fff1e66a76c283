"""CIDR blocks minus exceptions (§0.3): ``ip ∈ cidr ∧ ∀e ∈ except: ip ∉ e``.

IPv4 and IPv6 never match each other. The parser has already checked that each exception is a
strict subset of its block of the same family.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

__all__ = ["IPAddress", "IPBlock", "IPNetwork"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class IPBlock:
    """One CIDR and the CIDRs carved out of it."""

    cidr: IPNetwork
    excepts: tuple[IPNetwork, ...] = ()

    def contains(self, ip: IPAddress) -> bool:
        if ip.version != self.cidr.version or ip not in self.cidr:
            return False
        return not any(ip in e for e in self.excepts)

    def __str__(self) -> str:
        if not self.excepts:
            return str(self.cidr)
        return f"{self.cidr} except {', '.join(str(e) for e in self.excepts)}"
