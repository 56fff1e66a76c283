"""A naive per-flow evaluator written straight from the semantics reference (§1.3, §1.4,
§2.1, §7.1), sharing nothing with the engine but the IR and snapshot types.

It re-matches every selector for every flow: slow on purpose. It is the oracle of the
property tests and the per-pair baseline of the benchmarks; never use it to answer users.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubefence.cluster.views import cni_namespace_labels, cni_pod_labels
from kubefence.ir.model import (
    Action,
    AnyPeer,
    CompoundPeer,
    Direction,
    Entity,
    EntityPeer,
    ExternalBlockPeer,
    IPBlockPeer,
    LabelView,
    NamespaceGatedPeer,
    NodePeer,
    Peer,
    PodPeer,
    PodSelection,
    Policy,
    Rule,
)
from kubefence.ir.ports import NamedPort, PortMatch, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

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
    ns_labels = snap.namespace_labels(pod.namespace)
    cni = sel.view is LabelView.CNI
    if sel.namespace_selector is not None and not sel.namespace_selector.matches(
        cni_namespace_labels(pod.namespace, ns_labels) if cni else ns_labels
    ):
        return False
    account = snap.account_labels(pod.namespace, pod.service_account)
    labels = (
        cni_pod_labels(pod.labels, pod.namespace, ns_labels, pod.service_account, account)
        if cni
        else pod.labels
    )
    return sel.pod_selector.matches(labels)


def _node_of(snap: ClusterSnapshot, ip: IPAddress) -> str | None:
    return next((n.name for n in snap.nodes.values() if ip in n.addresses), None)


def _entity_ok(snap: ClusterSnapshot, entity: Entity, remote: Remote, own: str | None = None) -> bool:
    """``own``: the subject's node (Cilium ``host`` is that node, ``remote-node`` the others)."""
    node = _node_of(snap, remote.ip)
    on_node = node is not None
    outside = remote.pod is None and not on_node
    if remote.pod is not None and remote.pod.host_network:
        outside = False
    return {
        Entity.ALL: True,
        Entity.NONE: False,
        Entity.WORLD: outside,
        Entity.CLUSTER: not outside,
        Entity.NODES: on_node,
        Entity.KUBE_APISERVER: on_node,  # bound before evaluating; unbound, the nodes
        Entity.HOST: on_node and node == own,
        Entity.REMOTE_NODE: on_node and node != own,
    }[entity]


def one_peer_ok(
    snap: ClusterSnapshot, peer: Peer, remote: Remote, ipblock_pods: bool = True, own: str | None = None
) -> bool:
    """``ipblock_pods`` False: an ipBlock never matches a pod-network pod (Cilium, §4.8)."""
    pod_network = remote.pod is not None and not remote.pod.host_network
    if isinstance(peer, AnyPeer):
        return True
    if isinstance(peer, PodPeer):
        return in_selection(snap, peer.selection, remote.pod)
    if isinstance(peer, IPBlockPeer):
        return peer.block.contains(remote.ip) and (ipblock_pods or not pod_network)
    if isinstance(peer, ExternalBlockPeer):
        return peer.block.contains(remote.ip) and _entity_ok(snap, Entity.WORLD, remote)
    if isinstance(peer, NodePeer):
        nodes = [n for n in snap.nodes.values() if peer.selector.matches(n.labels)]
        return any(remote.ip in n.addresses for n in nodes)
    if isinstance(peer, EntityPeer):
        return _entity_ok(snap, peer.entity, remote, own)
    if isinstance(peer, NamespaceGatedPeer):
        labels = cni_namespace_labels(peer.namespace, snap.namespace_labels(peer.namespace))
        return peer.selector.matches(labels) and one_peer_ok(snap, peer.peer, remote, ipblock_pods, own)
    if isinstance(peer, CompoundPeer):
        return (
            (not peer.any_of or any(one_peer_ok(snap, p, remote, ipblock_pods, own) for p in peer.any_of))
            and all(one_peer_ok(snap, p, remote, ipblock_pods, own) for p in peer.all_of)
            and not any(one_peer_ok(snap, p, remote, ipblock_pods, own) for p in peer.none_of)
        )
    return False


def peer_ok(
    snap: ClusterSnapshot, rule: Rule, remote: Remote, ipblock_pods: bool = True, own: str | None = None
) -> bool:
    """``own``: the subject's node, which Cilium's ``host`` entity names."""
    return any(one_peer_ok(snap, peer, remote, ipblock_pods, own) for peer in rule.peers)


def _match_ok(m: PortMatch, dst: Pod | None, proto: Protocol, port: int) -> bool:
    if isinstance(m, NamedPort):
        if dst is None or dst.host_network:
            return False
        return any(
            cp.name == m.name and cp.port == port and cp.protocol is proto and m.protocol in (None, proto)
            for cp in dst.ports
        )
    return m.protocol is proto and (not proto.numbered or m.start <= port <= m.end)


def port_ok(rule: Rule, dst: Pod | None, proto: Protocol, port: int) -> bool:
    if any(_match_ok(m, dst, proto, port) for m in rule.except_ports):
        return False
    return rule.ports is None or any(_match_ok(m, dst, proto, port) for m in rule.ports)


def _union_ok(matched: list[Rule], in_tier: list[Policy], d: Direction) -> bool:
    """Cilium: deny beats allow; nothing matched → denied only where a policy isolates."""
    if any(r.action in (Action.DENY, Action.REJECT) for r in matched):
        return False
    if any(r.action is Action.ALLOW and r.l7 is None for r in matched):
        return True
    return not any(p.isolates_direction(d) for p in in_tier)


def _hits(
    snap: ClusterSnapshot,
    rules: Sequence[Rule],
    remote: Remote,
    dst: Pod | None,
    proto: Protocol,
    port: int,
    ipblock_pods: bool,
    own: str | None,
) -> list[Rule]:
    return [r for r in rules if peer_ok(snap, r, remote, ipblock_pods, own) and port_ok(r, dst, proto, port)]


def _on_own_node(snap: ClusterSnapshot, subject: Pod, remote: Remote) -> bool:
    """Whether the remote is at an address of the subject's node."""
    node = _node_of(snap, remote.ip)
    return node is not None and node == subject.node


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
    own_node = _on_own_node(snap, subject, remote)
    local = d is Direction.INGRESS and own_node

    def hits(p: Policy) -> list[Rule]:
        return _hits(snap, p.rules_for(d), remote, dst, proto, port, ipblock_pods, subject.node)

    if local and any(p.tier.local_allowed for p in mine):
        return True  # Antrea: packets from the pod's own node bypass every policy table
    if d is Direction.EGRESS and own_node and any(p.tier.local_egress for p in mine):
        return True  # Weave Net: egress to the pod's own node skips its egress policies
    return _walk_tiers(mine, d, local, hits)


def _walk_tiers(mine: list[Policy], d: Direction, local: bool, hits: Callable[[Policy], list[Rule]]) -> bool:
    """The tiers in order: the first that decides gives the verdict; none: allowed."""
    skip_below = None
    for tier in sorted({p.tier for p in mine}):
        if skip_below is not None and tier.rank < skip_below:
            continue
        in_tier = sorted((p for p in mine if p.tier == tier), key=lambda p: p.order_key)
        kind = tier.kind.value
        if kind == "isolating" and not any(p.isolates_direction(d) for p in in_tier):
            continue  # Weave: rules beyond policyTypes, and no policy isolates the direction
        if kind in ("isolating", "union") and local and not tier.local_policy:
            return True
        matched = [r for p in in_tier for r in hits(p)]
        if kind == "isolating":
            return any(r.action is Action.ALLOW and r.l7 is None for r in matched)
        if kind == "union":
            return _union_ok(matched, in_tier, d)
        if matched:
            first = matched[0]
            if first.action is not Action.PASS:
                return first.action is Action.ALLOW and first.l7 is None
            skip_below = tier.pass_to
        elif kind == "ordered-deny" and not local:
            return False
    return True


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
