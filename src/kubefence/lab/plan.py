"""LabPlan: what a lab consists of, as plain values (no I/O).

A plan names every namespace and link and gives every address; ``lab.commands`` turns it into
``ip`` commands and ``lab.netns`` executes them. Invariants (checked by ``topology.plan_lab``):
pod-network pods have distinct IPv4 addresses that are no node's, outside's or gateway's
address; a host-network pod lives in its node's namespace at the node's address; every name
starts with ``<prefix>-``. Plans round-trip through JSON so ``lab probe`` and ``lab down`` can
find a lab that ``lab up`` built in another process.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
from dataclasses import dataclass
from typing import Any

from kubefence.errors import LabError

__all__ = ["Endpoint", "LabPlan", "Mode", "NodePlan", "OutsidePlan", "PodPlan"]

IPv4 = ipaddress.IPv4Address
IPv6 = ipaddress.IPv6Address


class Mode(enum.Enum):
    """How nodes reach each other's pods."""

    HOST_GW = "host-gw"
    VXLAN = "vxlan"

    @classmethod
    def parse(cls, text: str) -> Mode:
        for mode in cls:
            if mode.value == text:
                return mode
        raise LabError(f"unknown lab mode {text!r} (expected host-gw or vxlan)")


@dataclass(frozen=True, slots=True)
class NodePlan:
    """A node: its namespace, underlay addresses (IPv4 = its InternalIP) and VXLAN identity."""

    name: str
    index: int
    netns: str
    address: IPv4
    address6: IPv6
    vtep: IPv4
    vtep6: IPv6
    vtep_mac: str
    synthetic: bool = False


@dataclass(frozen=True, slots=True)
class PodPlan:
    """A pod: the namespace it lives in (its node's for host-network pods) and its addresses.

    ``veth`` is the node-side end of its veth pair; empty for host-network pods.
    """

    key: str
    index: int
    node: str
    netns: str
    ip: IPv4
    ip6: IPv6
    host_network: bool = False
    veth: str = ""


@dataclass(frozen=True, slots=True)
class OutsidePlan:
    """The namespace standing for addresses outside the cluster."""

    netns: str
    addresses: tuple[IPv4, ...]
    addresses6: tuple[IPv6, ...]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Something probes start from or go to: a name (``ns/pod`` or an IP), a namespace, an address."""

    key: str
    netns: str
    ip: IPv4 | IPv6


@dataclass(frozen=True, slots=True)
class LabPlan:
    """The whole lab: nodes, pods, the outside and the underlay that links them."""

    prefix: str
    mode: Mode
    nodes: tuple[NodePlan, ...]
    pods: tuple[PodPlan, ...]
    outside: OutsidePlan
    underlay_netns: str

    def node(self, name: str) -> NodePlan:
        for node in self.nodes:
            if node.name == name:
                return node
        raise LabError(f"no node {name!r} in lab {self.prefix!r}")

    def node_pods(self, name: str) -> tuple[PodPlan, ...]:
        """The pod-network pods on node ``name``."""
        return tuple(p for p in self.pods if p.node == name and not p.host_network)

    @property
    def netns_names(self) -> tuple[str, ...]:
        """Every namespace of the lab, the underlay first."""
        pods = [p.netns for p in self.pods if not p.host_network]
        return (self.underlay_netns, self.outside.netns, *(n.netns for n in self.nodes), *pods)

    def endpoints(self, ipv6: bool = False) -> tuple[Endpoint, ...]:
        """Every pod, at its IPv4 address (or its derived IPv6 one)."""
        return tuple(Endpoint(p.key, p.netns, p.ip6 if ipv6 else p.ip) for p in self.pods)

    def outside_endpoints(self, ipv6: bool = False) -> tuple[Endpoint, ...]:
        """The outside addresses as endpoints named by their (IPv4 or IPv6) address."""
        ips: tuple[IPv4 | IPv6, ...] = self.outside.addresses6 if ipv6 else self.outside.addresses
        return tuple(Endpoint(str(ip), self.outside.netns, ip) for ip in ips)

    def to_json(self) -> dict[str, Any]:
        return {
            "prefix": self.prefix,
            "mode": self.mode.value,
            "underlay_netns": self.underlay_netns,
            "outside": _fields(self.outside),
            "nodes": [_fields(n) for n in self.nodes],
            "pods": [_fields(p) for p in self.pods],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LabPlan:
        try:
            out = data["outside"]
            outside = OutsidePlan(
                out["netns"],
                tuple(IPv4(a) for a in out["addresses"]),
                tuple(IPv6(a) for a in out["addresses6"]),
            )
            return cls(
                data["prefix"],
                Mode.parse(data["mode"]),
                tuple(_node(n) for n in data["nodes"]),
                tuple(_pod(p) for p in data["pods"]),
                outside,
                data["underlay_netns"],
            )
        except (KeyError, TypeError, ValueError) as e:
            raise LabError(f"the saved lab state is unreadable ({e!r}); run 'kubefence lab down'") from None


def _fields(value: NodePlan | PodPlan | OutsidePlan) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(value):
        name = f.name
        item = getattr(value, name)
        if isinstance(item, tuple):
            out[name] = [str(x) for x in item]
        elif isinstance(item, IPv4 | IPv6):
            out[name] = str(item)
        else:
            out[name] = item
    return out


def _node(d: dict[str, Any]) -> NodePlan:
    return NodePlan(
        str(d["name"]),
        int(d["index"]),
        str(d["netns"]),
        IPv4(d["address"]),
        IPv6(d["address6"]),
        IPv4(d["vtep"]),
        IPv6(d["vtep6"]),
        str(d["vtep_mac"]),
        bool(d["synthetic"]),
    )


def _pod(d: dict[str, Any]) -> PodPlan:
    return PodPlan(
        str(d["key"]),
        int(d["index"]),
        str(d["node"]),
        str(d["netns"]),
        IPv4(d["ip"]),
        IPv6(d["ip6"]),
        bool(d["host_network"]),
        str(d["veth"]),
    )
