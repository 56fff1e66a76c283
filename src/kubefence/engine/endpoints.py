"""The endpoints a question is about: every pod of the snapshot (host-network pods at their
node's address), plus outside addresses the user names (``--from 203.0.113.7``)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kubefence.cluster.snapshot import ClusterSnapshot, Pod
from kubefence.ir.addresses import IPAddress

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["Endpoint", "Universe"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A pod or an outside address. ``node`` is the node whose address ``ip`` is, if any."""

    key: str
    ip: IPAddress
    pod: Pod | None
    node: str | None

    @property
    def managed(self) -> bool:
        """Policy-managed: a pod-network pod (host-network pods and addresses are not)."""
        return self.pod is not None and not self.pod.host_network

    def __str__(self) -> str:
        return self.key


class Universe:
    """Indexed endpoints. Index i < len(snapshot.pods) is snapshot.pods[i]."""

    def __init__(
        self, snapshot: ClusterSnapshot, extra_ips: Iterable[IPAddress] = (), previous: Universe | None = None
    ) -> None:
        """``previous``: a universe of a snapshot with the same nodes, whose endpoints are
        reused for the very same pod objects (after pod events, most of them)."""
        self.snapshot = snapshot
        node_of = {ip: n.name for n in snapshot.nodes.values() for ip in n.addresses}
        known: dict[int, Endpoint] = {}  # by pod identity: those pods are alive in ``previous``
        if previous is not None and previous.snapshot.nodes is snapshot.nodes:
            known = {id(e.pod): e for e in previous.endpoints if e.pod is not None}
        self.endpoints: list[Endpoint] = [
            known.get(id(p)) or Endpoint(p.key, p.ip, p, node_of.get(p.ip)) for p in snapshot.pods
        ]
        for ip in extra_ips:
            self.endpoints.append(Endpoint(str(ip), ip, None, node_of.get(ip)))
        self.by_key = {e.key: i for i, e in enumerate(self.endpoints)}

    def __len__(self) -> int:
        return len(self.endpoints)

    def index(self, key: str) -> int | None:
        return self.by_key.get(key)

    @staticmethod
    def parse_ip(text: str) -> IPAddress | None:
        try:
            return ipaddress.ip_address(text)
        except ValueError:
            return None
