"""LabPlan → the commands that build it (pure): sysctls and ``ip``/``bridge`` batch lines.

Build order (``lab.netns.create`` follows it): create every namespace; write each namespace's
sysctls (before any link exists, so ``default`` values apply to the links created later);
create the veth pairs from the host namespace with both ends placed straight into lab
namespaces (``root_links``); then run each namespace's script.

Routing, per node namespace: the node bridge holds ``GATEWAY``/32 and ``GATEWAY6``/64, every
local pod has a /32 and /128 host route on the bridge (``src`` the node's address, so traffic a
node or host-network pod originates carries the node's IP, as policies expect), every other
node and outside address has an on-link host route on the uplink, and every remote pod a host
route via its node (``host-gw``) or via its node's VXLAN tunnel endpoint (``vxlan``; static
neighbour and FDB entries, no flooding or learning). Pod addresses need not fall in per-node
CIDRs, which is why every route is a host route.

Per pod namespace: the pod's /32 and /128, a default route via ``GATEWAY``/``GATEWAY6``, and
on-link host routes to the other pods of its node, so traffic between pods of one node is
bridged (and seen by the node's ``inet`` forward hook through br_netfilter), not routed.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubefence.lab.names import (
    bridge_name,
    node_uplink_name,
    pod_eth_name,
    underlay_bridge_name,
    underlay_port_name,
    vxlan_name,
)
from kubefence.lab.plan import LabPlan, Mode, NodePlan, PodPlan
from kubefence.lab.topology import GATEWAY, GATEWAY6

__all__ = ["VXLAN_MTU", "VXLAN_PORT", "Script", "root_links", "scripts"]

VXLAN_PORT = 4789
VXLAN_MTU = 1450

_COMMON = (
    ("net/ipv6/conf/all/accept_dad", "0"),
    ("net/ipv6/conf/default/accept_dad", "0"),
    ("net/ipv4/conf/all/rp_filter", "0"),
    ("net/ipv4/conf/default/rp_filter", "0"),
)
_NODE = (
    ("net/ipv4/ip_forward", "1"),
    ("net/ipv6/conf/all/forwarding", "1"),
    ("net/ipv4/conf/all/send_redirects", "0"),
    ("net/ipv4/conf/default/send_redirects", "0"),
    # br_netfilter: bridged pod-to-pod traffic goes through the inet forward hook.
    ("net/bridge/bridge-nf-call-iptables", "1"),
    ("net/bridge/bridge-nf-call-ip6tables", "1"),
)
_UNDERLAY = (
    ("net/bridge/bridge-nf-call-iptables", "0"),
    ("net/bridge/bridge-nf-call-ip6tables", "0"),
)


@dataclass(frozen=True, slots=True)
class Script:
    """What to run in one namespace: sysctls (paths under /proc/sys), ``ip`` and ``bridge`` lines."""

    netns: str
    sysctls: tuple[tuple[str, str], ...]
    ip: tuple[str, ...] = ()
    bridge: tuple[str, ...] = ()


def root_links(plan: LabPlan) -> tuple[str, ...]:
    """``ip -batch`` lines for the host namespace: veth pairs born inside lab namespaces."""
    p = plan.prefix
    lines = [
        f"link add {pod.veth} netns {_node(plan, pod).netns} type veth peer name {pod_eth_name(p)} "
        f"netns {pod.netns}"
        for pod in plan.pods
        if not pod.host_network
    ]
    for node in plan.nodes:
        lines.append(
            f"link add {node_uplink_name(p)} netns {node.netns} type veth peer name "
            f"{underlay_port_name(p, node.index)} netns {plan.underlay_netns}"
        )
    lines.append(
        f"link add {node_uplink_name(p)} netns {plan.outside.netns} type veth peer name "
        f"{underlay_port_name(p, None)} netns {plan.underlay_netns}"
    )
    return tuple(lines)


def scripts(plan: LabPlan) -> tuple[Script, ...]:
    """One script per namespace, in ``plan.netns_names`` order."""
    pods = [_pod_script(plan, pod) for pod in plan.pods if not pod.host_network]
    nodes = [_node_script(plan, node) for node in plan.nodes]
    return (_underlay_script(plan), _outside_script(plan), *nodes, *pods)


def _node(plan: LabPlan, pod: PodPlan) -> NodePlan:
    return plan.node(pod.node)


def _underlay_script(plan: LabPlan) -> Script:
    p, br = plan.prefix, underlay_bridge_name(plan.prefix)
    ports = [underlay_port_name(p, n.index) for n in plan.nodes] + [underlay_port_name(p, None)]
    lines = ["link set lo up", f"link add {br} type bridge forward_delay 0", f"link set {br} up"]
    lines += [f"link set {port} master {br} up" for port in ports]
    return Script(plan.underlay_netns, _COMMON + _UNDERLAY, tuple(lines))


def _outside_script(plan: LabPlan) -> Script:
    ul = node_uplink_name(plan.prefix)
    out = plan.outside
    lines = ["link set lo up", f"link set {ul} up"]
    lines += [f"addr add {ip}/32 dev {ul}" for ip in out.addresses]
    lines += [f"addr add {ip}/128 dev {ul} nodad" for ip in out.addresses6]
    for node in plan.nodes:
        lines += [
            f"route add {node.address}/32 dev {ul} scope link",
            f"route add {node.address6}/128 dev {ul}",
        ]
    for pod in plan.pods:
        if not pod.host_network:
            node = _node(plan, pod)
            lines.append(f"route add {pod.ip}/32 via {node.address} dev {ul} onlink")
            lines.append(f"route add {pod.ip6}/128 via {node.address6} dev {ul}")
    return Script(out.netns, _COMMON, tuple(lines))


def _node_script(plan: LabPlan, node: NodePlan) -> Script:
    lines = _node_underlay(plan, node) + _node_local(plan, node)
    bridge: list[str] = []
    if plan.mode is Mode.VXLAN:
        lines += _node_vxlan(plan, node)
        bridge = _node_fdb(plan, node)
    lines += _node_remote_pods(plan, node)
    return Script(node.netns, _COMMON + _NODE, tuple(lines), tuple(bridge))


def _node_local(plan: LabPlan, node: NodePlan) -> list[str]:
    br = bridge_name(plan.prefix)
    mtu = f" mtu {VXLAN_MTU}" if plan.mode is Mode.VXLAN else ""
    lines = [
        f"link add {br} type bridge forward_delay 0",
        f"link set {br} up",
        f"addr add {GATEWAY}/32 dev {br}",
        f"addr add {GATEWAY6}/64 dev {br} nodad",
    ]
    for pod in plan.node_pods(node.name):
        lines.append(f"link set {pod.veth} master {br}{mtu} up")
        lines.append(f"route add {pod.ip}/32 dev {br} scope link src {node.address}")
        lines.append(f"route add {pod.ip6}/128 dev {br} src {node.address6}")
    return lines


def _node_underlay(plan: LabPlan, node: NodePlan) -> list[str]:
    ul = node_uplink_name(plan.prefix)
    lines = ["link set lo up", f"link set {ul} up", f"addr add {node.address}/32 dev {ul}"]
    lines.append(f"addr add {node.address6}/128 dev {ul} nodad")
    peers = [(n.address, n.address6) for n in plan.nodes if n.name != node.name]
    peers += list(zip(plan.outside.addresses, plan.outside.addresses6, strict=True))
    for v4, v6 in peers:
        lines.append(f"route add {v4}/32 dev {ul} scope link src {node.address}")
        lines.append(f"route add {v6}/128 dev {ul} src {node.address6}")
    return lines


def _node_vxlan(plan: LabPlan, node: NodePlan) -> list[str]:
    vx, ul = vxlan_name(plan.prefix), node_uplink_name(plan.prefix)
    lines = [
        f"link add {vx} address {node.vtep_mac} type vxlan id 1 local {node.address} dev {ul} "
        f"dstport {VXLAN_PORT} nolearning",
        f"link set {vx} mtu {VXLAN_MTU} up",
        f"addr add {node.vtep}/32 dev {vx}",
        f"addr add {node.vtep6}/64 dev {vx} nodad",
    ]
    for other in plan.nodes:
        if other.name != node.name:
            lines.append(f"neigh replace {other.vtep} lladdr {other.vtep_mac} dev {vx} nud permanent")
            lines.append(f"neigh replace {other.vtep6} lladdr {other.vtep_mac} dev {vx} nud permanent")
    return lines


def _node_fdb(plan: LabPlan, node: NodePlan) -> list[str]:
    vx = vxlan_name(plan.prefix)
    return [
        f"fdb add {other.vtep_mac} dev {vx} dst {other.address} self permanent"
        for other in plan.nodes
        if other.name != node.name
    ]


def _node_remote_pods(plan: LabPlan, node: NodePlan) -> list[str]:
    ul, vx = node_uplink_name(plan.prefix), vxlan_name(plan.prefix)
    lines = []
    for pod in plan.pods:
        other = _node(plan, pod)
        if pod.host_network or other.name == node.name:
            continue
        if plan.mode is Mode.VXLAN:
            lines.append(f"route add {pod.ip}/32 via {other.vtep} dev {vx} onlink src {node.address}")
            lines.append(f"route add {pod.ip6}/128 via {other.vtep6} dev {vx} src {node.address6}")
        else:
            lines.append(f"route add {pod.ip}/32 via {other.address} dev {ul} onlink src {node.address}")
            lines.append(f"route add {pod.ip6}/128 via {other.address6} dev {ul} src {node.address6}")
    return lines


def _pod_script(plan: LabPlan, pod: PodPlan) -> Script:
    eth = pod_eth_name(plan.prefix)
    mtu = f" mtu {VXLAN_MTU}" if plan.mode is Mode.VXLAN else ""
    lines = [
        "link set lo up",
        f"link set {eth}{mtu} up",
        f"addr add {pod.ip}/32 dev {eth}",
        f"addr add {pod.ip6}/128 dev {eth} nodad",
        f"route add {GATEWAY}/32 dev {eth} scope link",
        f"route add default via {GATEWAY} dev {eth}",
        f"route add ::/0 via {GATEWAY6} dev {eth}",
    ]
    for other in plan.node_pods(pod.node):
        if other.key != pod.key:
            lines.append(f"route add {other.ip}/32 dev {eth} scope link")
            lines.append(f"route add {other.ip6}/128 dev {eth}")
    return Script(pod.netns, _COMMON, tuple(lines))
