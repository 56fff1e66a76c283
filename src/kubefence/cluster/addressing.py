"""Give every pod an address: host-network pods take their node's, others keep theirs or get
a synthesized one from 198.18.0.0/15 (RFC 2544 benchmarking space, unlikely in real policies)."""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import TYPE_CHECKING

from kubefence.ir.diagnostics import Diagnostic, Severity

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from kubefence.cluster.snapshot import Node, Pod
    from kubefence.ir.addresses import IPAddress

__all__ = ["SYNTHETIC_POOL", "assign_addresses"]

SYNTHETIC_POOL = ipaddress.ip_network("198.18.0.0/15")


def assign_addresses(pods: Iterable[Pod], nodes: Mapping[str, Node]) -> tuple[list[Pod], list[Diagnostic]]:
    """Pods with an address each, and a note for every address kubefence had to make up."""
    pods = [_host_address(p, nodes) for p in pods]
    used = {ip for p in pods for ip in p.ips}
    pool = (ip for ip in SYNTHETIC_POOL.hosts() if ip not in used)
    out, notes = [], []
    for pod in pods:
        if not pod.ips:
            pod, note = _synthesize(pod, pool)
            notes.append(note)
        out.append(pod)
    return out, notes


def _host_address(pod: Pod, nodes: Mapping[str, Node]) -> Pod:
    if not pod.host_network or pod.node is None or pod.node not in nodes:
        return pod
    node_ips = nodes[pod.node].addresses
    return dataclasses.replace(pod, ips=node_ips) if node_ips else pod


def _synthesize(pod: Pod, pool: Iterator[IPAddress]) -> tuple[Pod, Diagnostic]:
    ip = next(pool)
    what = f"{pod.workload} {pod.key}" if pod.workload else f"Pod {pod.key}"
    why = "host-network pod on an unknown node" if pod.host_network else "no status.podIP"
    source = pod.source
    note = Diagnostic(
        Severity.INFO,
        "synthesized-ip",
        f"{why}: using the synthesized address {ip}",
        source.file if source else None,
        source.line if source else None,
        None,
        what,
    )
    return dataclasses.replace(pod, ips=(ip,), ip_synthesized=True), note
