"""Give every pod an address: host-network pods take their node's; others keep theirs or get a
synthesized one, from their node's pod CIDR (``spec.podCIDR``) when the node gives one, else
from 10.244.0.0/14. Pod networks are private ranges in practice, so a made-up address should
be one too: policies commonly allow ``0.0.0.0/0`` except the RFC 1918 ranges to mean "outside
the cluster", and an address outside those ranges would wrongly count as outside."""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import TYPE_CHECKING

from kubefence.ir.diagnostics import Diagnostic, Severity

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from kubefence.cluster.snapshot import Node, Pod
    from kubefence.ir.addresses import IPAddress, IPNetwork

__all__ = ["SYNTHETIC_POOL", "assign_addresses"]

SYNTHETIC_POOL = ipaddress.ip_network("10.244.0.0/14")


def assign_addresses(pods: Iterable[Pod], nodes: Mapping[str, Node]) -> tuple[list[Pod], list[Diagnostic]]:
    """Pods with an address each, and a note for every address kubefence had to make up."""
    pods = [_host_address(p, nodes) for p in pods]
    used = {ip for p in pods for ip in p.ips}
    pools: dict[IPNetwork, Iterator[IPAddress]] = {}

    def free(network: IPNetwork) -> Iterator[IPAddress]:
        return (ip for ip in network.hosts() if ip not in used)

    out, notes = [], []
    for pod in pods:
        if not pod.ips:
            network = _pod_network(pod, nodes)
            pool = pools.setdefault(network, free(network))
            ip = next(pool, None)
            if ip is None:  # the node's range is full: the shared pool then
                ip = next(pools.setdefault(SYNTHETIC_POOL, free(SYNTHETIC_POOL)))
            used.add(ip)
            pod, note = _synthesize(pod, ip, network)
            notes.append(note)
        out.append(pod)
    return out, notes


def _pod_network(pod: Pod, nodes: Mapping[str, Node]) -> IPNetwork:
    """The node's first IPv4 pod CIDR (else its first), or the shared pool."""
    node = nodes.get(pod.node) if pod.node is not None and not pod.host_network else None
    cidrs = node.pod_cidrs if node is not None else ()
    return next((c for c in cidrs if c.version == 4), cidrs[0] if cidrs else SYNTHETIC_POOL)


def _host_address(pod: Pod, nodes: Mapping[str, Node]) -> Pod:
    if not pod.host_network or pod.node is None or pod.node not in nodes:
        return pod
    node_ips = nodes[pod.node].addresses
    return dataclasses.replace(pod, ips=node_ips) if node_ips else pod


def _synthesize(pod: Pod, ip: IPAddress, network: IPNetwork) -> tuple[Pod, Diagnostic]:
    what = f"{pod.workload} {pod.key}" if pod.workload else f"Pod {pod.key}"
    why = "host-network pod on an unknown node" if pod.host_network else "no status.podIP"
    where = f"node {pod.node}'s pod CIDR {network}" if network != SYNTHETIC_POOL else str(SYNTHETIC_POOL)
    source = pod.source
    note = Diagnostic(
        Severity.INFO,
        "synthesized-ip",
        f"{why}: using the synthesized address {ip} (from {where})",
        source.file if source else None,
        source.line if source else None,
        None,
        what,
    )
    return dataclasses.replace(pod, ips=(ip,), ip_synthesized=True), note
