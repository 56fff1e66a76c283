"""A naive per-flow evaluator written straight from the semantics reference (§1.3, §1.4,
§2.1, §7.1), sharing nothing with the engine but the IR and snapshot types.

It re-matches every selector for every flow: slow on purpose. It is the oracle of the
property tests and the per-pair baseline of the benchmarks; never use it to answer users.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubefence.ir.model import (
    Action,
    AnyPeer,
    Direction,
    IPBlockPeer,
    NodePeer,
    PodPeer,
    PodSelection,
    Policy,
    Rule,
)
from kubefence.ir.ports import NamedPort, Protocol

if TYPE_CHECKING:
    from kubefence.cluster.snapshot import ClusterSnapshot, Pod
    from kubefence.ir.addresses import IPAddress

__all__ = ["Remote", "allowed"]


class Remote:
    """One end of a flow: an address, and the pod that has it (None outside the cluster)."""

    def __init__(self, ip: IPAddress, pod: Pod | None) -> None:
        self.ip, self.pod = ip, pod


def in_selection(snap: ClusterSnapshot, sel: PodSelection, pod: Pod | None) -> bool:
    if pod is None or pod.host_network:
        return False
    if sel.namespace is not None and pod.namespace != sel.namespace:
        return False
    if sel.namespace_selector is not None and not sel.namespace_selector.matches(
        snap.namespace_labels(pod.namespace)
    ):
        return False
    return sel.pod_selector.matches(pod.labels)


def peer_ok(snap: ClusterSnapshot, rule: Rule, remote: Remote, ipblock_pods: bool = True) -> bool:
    """``ipblock_pods`` False: an ipBlock never matches a pod-network pod (Cilium, §4.8)."""
    pod_network = remote.pod is not None and not remote.pod.host_network
    for peer in rule.peers:
        if isinstance(peer, AnyPeer):
            return True
        if isinstance(peer, PodPeer) and in_selection(snap, peer.selection, remote.pod):
            return True
        if isinstance(peer, IPBlockPeer) and peer.block.contains(remote.ip):
            if ipblock_pods or not pod_network:
                return True
        if isinstance(peer, NodePeer):
            nodes = [n for n in snap.nodes.values() if peer.selector.matches(n.labels)]
            if any(remote.ip in n.addresses for n in nodes):
                return True
    return False


def port_ok(rule: Rule, dst: Pod | None, proto: Protocol, port: int) -> bool:
    if rule.ports is None:
        return True
    for m in rule.ports:
        if isinstance(m, NamedPort):
            if dst is None or dst.host_network:
                continue
            for cp in dst.ports:
                if (
                    cp.name == m.name
                    and cp.port == port
                    and cp.protocol is proto
                    and m.protocol in (None, proto)
                ):
                    return True
        elif m.protocol is proto and m.start <= port <= m.end:
            return True
    return False


def direction_ok(
    snap: ClusterSnapshot,
    pols: list[Policy],
    d: Direction,
    subject: Pod,
    remote: Remote,
    dst: Pod | None,
    proto: Protocol,
    port: int,
    ipblock_pods: bool = True,
) -> bool:
    mine = [p for p in pols if d in p.directions and in_selection(snap, p.subject, subject)]
    for tier in sorted({p.tier for p in mine}):
        in_tier = [p for p in mine if p.tier == tier]
        if tier.kind.value == "isolating":
            node = next((n for n in snap.nodes.values() if remote.ip in n.addresses), None)
            if d is Direction.INGRESS and node is not None and node.name == subject.node:
                return True
            return any(
                peer_ok(snap, r, remote, ipblock_pods) and port_ok(r, dst, proto, port)
                for p in in_tier
                for r in p.rules_for(d)
            )
        decided = _first_match(snap, in_tier, d, remote, dst, proto, port, ipblock_pods)
        if decided is not None and decided is not Action.PASS:
            return decided is Action.ALLOW
    return True


def _first_match(
    snap: ClusterSnapshot,
    pols: list[Policy],
    d: Direction,
    remote: Remote,
    dst: Pod | None,
    proto: Protocol,
    port: int,
    ipblock_pods: bool,
) -> Action | None:
    for p in pols:
        for r in p.rules_for(d):
            if peer_ok(snap, r, remote, ipblock_pods) and port_ok(r, dst, proto, port):
                return r.action
    return None


def allowed(
    snap: ClusterSnapshot,
    pols: list[Policy],
    src: Remote,
    dst: Remote,
    proto: Protocol,
    port: int,
    *,
    ipblock_matches_pods: bool = True,
) -> bool:
    """src → dst on (proto, port): egress at src AND ingress at dst; unmanaged ends allow.

    ``ipblock_matches_pods`` False: ipBlock peers never match pod-network pods (Cilium)."""
    ip_pods = ipblock_matches_pods
    egress = True
    if src.pod is not None and not src.pod.host_network:
        egress = direction_ok(snap, pols, Direction.EGRESS, src.pod, dst, dst.pod, proto, port, ip_pods)
    ingress = True
    if dst.pod is not None and not dst.pod.host_network:
        ingress = direction_ok(snap, pols, Direction.INGRESS, dst.pod, src, dst.pod, proto, port, ip_pods)
    return egress and ingress
