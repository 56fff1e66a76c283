"""ClusterSnapshot → LabPlan: where each pod lives and which addresses everything gets (pure).

Placement: pods keep their ``nodeName``; pods without one are spread round-robin over the
nodes. The nodes are the snapshot's Nodes plus any node a pod names that no Node declares;
when the snapshot declares no Node at all, synthetic nodes ``node-1``… are added until there
are ``node_count`` of them.

Addresses:

* a node's IPv4 underlay address is its first IPv4 address in the snapshot (its InternalIP),
  else one picked from ``SYNTHETIC_NODE_POOL``; its IPv6 underlay address is
  ``fd00:ffff::<node+1>``;
* a pod-network pod keeps its snapshot IPv4 address and gets ``fd00:<node+1>::<n+1>`` (n: its
  rank on its node) as a derived IPv6 address; a host-network pod uses its node's addresses;
* the outside namespace holds ``outside`` (default 203.0.113.1) and ``fd00:fffe::<k+1>``;
* 169.254.0.0/16 is the lab's own: ``GATEWAY`` (every node bridge, the pods' default gateway),
  and the VXLAN tunnel endpoints 169.254.100.<node+1> / fe80::100:<node+1>.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import TYPE_CHECKING

from kubefence.cluster.snapshot import ClusterSnapshot, Node, Pod
from kubefence.errors import LabError
from kubefence.ir.selectors import Labels
from kubefence.lab.names import (
    check_prefix,
    node_netns,
    outside_netns,
    pod_netns,
    pod_veth_name,
    underlay_netns,
)
from kubefence.lab.plan import LabPlan, Mode, NodePlan, OutsidePlan, PodPlan

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from kubefence.ir.addresses import IPAddress

__all__ = [
    "DEFAULT_OUTSIDE",
    "GATEWAY",
    "GATEWAY6",
    "MAX_NODES",
    "SYNTHETIC_NODE_POOL",
    "lab_snapshot",
    "plan_lab",
]

IPv4 = ipaddress.IPv4Address
IPv6 = ipaddress.IPv6Address

GATEWAY = IPv4("169.254.1.1")
GATEWAY6 = IPv6("fe80::1")
DEFAULT_OUTSIDE = IPv4("203.0.113.1")
SYNTHETIC_NODE_POOL = ipaddress.IPv4Network("100.127.255.0/24")
MAX_NODES = 64
_LINK_LOCAL = ipaddress.IPv4Network("169.254.0.0/16")


def plan_lab(
    snapshot: ClusterSnapshot,
    *,
    prefix: str = "kf",
    mode: Mode = Mode.HOST_GW,
    node_count: int = 2,
    outside: Sequence[IPv4] = (),
) -> LabPlan:
    """The lab for ``snapshot``; LabError when the snapshot cannot be built on one host."""
    check_prefix(prefix)
    if not 1 <= node_count <= MAX_NODES:
        raise LabError(f"--nodes must be between 1 and {MAX_NODES}, not {node_count}")
    names = _node_names(snapshot, node_count)
    if len(names) > MAX_NODES:
        raise LabError(f"the lab supports at most {MAX_NODES} nodes, the input has {len(names)}")
    placement = _place(snapshot.pods, names)
    used = _check_pod_addresses(snapshot)
    nodes = _plan_nodes(prefix, snapshot, names, used)
    used |= {n.address for n in nodes}
    pods = _plan_pods(prefix, snapshot.pods, placement, {n.name: n for n in nodes})
    return LabPlan(prefix, mode, nodes, pods, _plan_outside(prefix, outside, used), underlay_netns(prefix))


def _node_names(snapshot: ClusterSnapshot, node_count: int) -> list[str]:
    names = list(snapshot.nodes)
    for pod in snapshot.pods:
        if pod.node is not None and pod.node not in names:
            names.append(pod.node)
    k = 0
    while not snapshot.nodes and len(names) < node_count:
        k += 1
        if f"node-{k}" not in names:
            names.append(f"node-{k}")
    return names


def _place(pods: Sequence[Pod], names: Sequence[str]) -> list[str]:
    """The node of each pod: its own, or the next node round-robin."""
    turn = 0
    placement = []
    for pod in pods:
        if pod.node is not None:
            placement.append(pod.node)
        else:
            placement.append(names[turn % len(names)])
            turn += 1
    return placement


def _check_pod_addresses(snapshot: ClusterSnapshot) -> set[IPAddress]:
    """The pod-network pods' addresses; LabError for any the lab cannot give a pod."""
    seen: dict[IPAddress, str] = {}
    for pod in snapshot.pods:
        if pod.host_network:
            continue
        ip = pod.ip
        if not isinstance(ip, IPv4):
            raise LabError(f"pod {pod.key} has the IPv6 address {ip}; the lab needs IPv4 pod addresses")
        if ip.is_link_local or ip.is_loopback or ip.is_multicast or ip.is_unspecified or ip.is_reserved:
            raise LabError(f"pod {pod.key} has the address {ip}, which the lab cannot give a pod")
        if ip in seen:
            raise LabError(f"pods {seen[ip]} and {pod.key} have the same address {ip}")
        seen[ip] = pod.key
    return set(seen)


def _fresh(pool: Iterator[IPv4], used: set[IPAddress]) -> IPv4:
    for ip in pool:
        if ip not in used:
            used.add(ip)
            return ip
    raise LabError("no free address left for the lab's synthetic nodes or outside")


def _node_address(name: str, node: Node | None, used: set[IPAddress], pool: Iterator[IPv4]) -> IPv4:
    v4 = [a for a in (node.addresses if node else ()) if isinstance(a, IPv4)]
    if not v4:
        return _fresh(pool, used)
    if v4[0] in used or v4[0] in _LINK_LOCAL:
        raise LabError(f"node {name}'s address {v4[0]} is also a pod's or another node's address")
    used.add(v4[0])
    return v4[0]


def _plan_nodes(
    prefix: str, snapshot: ClusterSnapshot, names: Sequence[str], used: set[IPAddress]
) -> tuple[NodePlan, ...]:
    pool = SYNTHETIC_NODE_POOL.hosts()
    taken = set(used)
    nodes = []
    for i, name in enumerate(names):
        node = snapshot.nodes.get(name)
        address = _node_address(name, node, taken, pool)
        nodes.append(
            NodePlan(
                name=name,
                index=i,
                netns=node_netns(prefix, name),
                address=address,
                address6=IPv6(f"fd00:ffff::{i + 1:x}"),
                vtep=IPv4(f"169.254.100.{i + 1}"),
                vtep6=IPv6(f"fe80::100:{i + 1:x}"),
                vtep_mac=f"02:6b:66:00:{(i + 1) >> 8:02x}:{(i + 1) & 0xFF:02x}",
                synthetic=node is None,
            )
        )
    return tuple(nodes)


def _plan_pods(
    prefix: str, pods: Sequence[Pod], placement: Sequence[str], nodes: dict[str, NodePlan]
) -> tuple[PodPlan, ...]:
    rank = dict.fromkeys(nodes, 0)
    out = []
    for index, (pod, name) in enumerate(zip(pods, placement, strict=True)):
        node = nodes[name]
        if pod.host_network:
            out.append(PodPlan(pod.key, index, name, node.netns, node.address, node.address6, True))
            continue
        rank[name] += 1
        assert isinstance(pod.ip, IPv4)  # checked by _check_pod_addresses
        ip6 = IPv6(f"fd00:{node.index + 1:x}::{rank[name]:x}")
        veth = pod_veth_name(prefix, index)
        out.append(PodPlan(pod.key, index, name, pod_netns(prefix, pod.key), pod.ip, ip6, False, veth))
    return tuple(out)


def _plan_outside(prefix: str, outside: Sequence[IPv4], used: set[IPAddress]) -> OutsidePlan:
    if outside:
        for ip in outside:
            if ip in used or ip in _LINK_LOCAL:
                raise LabError(f"outside address {ip} is a pod's, a node's or the lab's own address")
        addresses = tuple(dict.fromkeys(outside))
    else:
        pool = (ip for ip in ipaddress.IPv4Network("203.0.113.0/24").hosts())
        addresses = (_fresh(pool, set(used)),)
    v6 = tuple(IPv6(f"fd00:fffe::{k + 1:x}") for k in range(len(addresses)))
    return OutsidePlan(outside_netns(prefix), addresses, v6)


def lab_snapshot(plan: LabPlan, snapshot: ClusterSnapshot) -> ClusterSnapshot:
    """``snapshot`` as the lab realises it: every pod on its lab node, host-network pods at their
    node's address, pod-network pods with their derived IPv6 address second, and every lab node
    declared. This is what the engine predicts and the enforcer enforces against.

    ``snapshot`` may differ from the one the plan was made from only in labels and ports
    (a label update does not change the data plane); LabError otherwise.
    """
    by_key = {p.key: p for p in plan.pods}
    if [p.key for p in snapshot.pods] != [p.key for p in plan.pods]:
        raise LabError("the lab was built for other pods; build a lab for this input")
    pods = [_lab_pod(pod, by_key[pod.key], plan) for pod in snapshot.pods]
    nodes = [_lab_node(n, snapshot.nodes.get(n.name)) for n in plan.nodes]
    return dataclasses.replace(snapshot, pods=tuple(pods), nodes={n.name: n for n in nodes})


def _lab_pod(pod: Pod, planned: PodPlan, plan: LabPlan) -> Pod:
    if pod.host_network != planned.host_network or pod.node not in (None, planned.node):
        raise LabError(f"pod {pod.key} is placed differently from the lab's; build a lab for this input")
    if pod.host_network:
        node = plan.node(planned.node)
        return dataclasses.replace(pod, node=planned.node, ips=(node.address, node.address6))
    if pod.ip != planned.ip:
        raise LabError(f"pod {pod.key} has the address {pod.ip}, the lab gave it {planned.ip}")
    return dataclasses.replace(pod, node=planned.node, ips=(planned.ip, planned.ip6))


def _lab_node(planned: NodePlan, node: Node | None) -> Node:
    if node is None:
        labels = Labels({"kubernetes.io/hostname": planned.name})
        return Node(planned.name, labels, (planned.address, planned.address6))
    rest = tuple(a for a in node.addresses if a not in (planned.address, planned.address6))
    return dataclasses.replace(node, addresses=(planned.address, *rest, planned.address6))
