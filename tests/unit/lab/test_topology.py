"""Lab planning without root: placement, addresses, names, lab snapshots and the commands."""

from __future__ import annotations

import dataclasses
import ipaddress

import pytest

from kubefence.cluster.snapshot import ClusterSnapshot, Node, Pod
from kubefence.errors import LabError
from kubefence.ir.selectors import Labels
from kubefence.lab.commands import root_links, scripts
from kubefence.lab.names import check_prefix, is_lab_name, node_netns, pod_netns
from kubefence.lab.plan import LabPlan, Mode
from kubefence.lab.topology import GATEWAY, lab_snapshot, plan_lab

IP = ipaddress.ip_address


def pod(key: str, ip: str, node: str | None = None, host: bool = False) -> Pod:
    ns, name = key.split("/")
    return Pod(ns, name, Labels({"pod": name}), (IP(ip),), node=node, host_network=host)


def node(name: str, *ips: str) -> Node:
    return Node(name, Labels({}), tuple(IP(i) for i in ips))


def snap(*pods: Pod, nodes: tuple[Node, ...] = ()) -> ClusterSnapshot:
    return ClusterSnapshot.build(pods=pods, nodes=nodes)


FOUR = snap(pod("x/a", "10.0.1.1"), pod("x/b", "10.0.1.2"), pod("y/a", "10.0.2.1"), pod("y/b", "10.0.2.2"))


def test_no_nodes_gives_synthetic_nodes_and_round_robin() -> None:
    plan = plan_lab(FOUR, prefix="kt", node_count=2)
    assert [n.name for n in plan.nodes] == ["node-1", "node-2"]
    assert all(n.synthetic for n in plan.nodes)
    assert [p.node for p in plan.pods] == ["node-1", "node-2", "node-1", "node-2"]
    assert [str(n.address) for n in plan.nodes] == ["100.127.255.1", "100.127.255.2"]


def test_declared_nodes_and_node_names_are_kept() -> None:
    s = snap(
        pod("x/a", "10.0.1.1", node="n2"),
        pod("x/b", "10.0.1.2"),
        pod("x/c", "10.0.1.3"),
        nodes=(node("n1", "172.18.0.2"), node("n2", "172.18.0.3")),
    )
    plan = plan_lab(s, prefix="kt", node_count=5)  # --nodes is ignored when Nodes are declared
    assert [(n.name, str(n.address), n.synthetic) for n in plan.nodes] == [
        ("n1", "172.18.0.2", False),
        ("n2", "172.18.0.3", False),
    ]
    assert [p.node for p in plan.pods] == ["n2", "n1", "n2"]


def test_unknown_node_name_becomes_a_synthetic_node() -> None:
    plan = plan_lab(snap(pod("x/a", "10.0.1.1", node="w7")), prefix="kt", node_count=2)
    assert [n.name for n in plan.nodes] == ["w7", "node-1"]
    assert plan.pods[0].node == "w7"


def test_derived_ipv6_addresses_are_per_node_and_distinct() -> None:
    plan = plan_lab(FOUR, prefix="kt")
    assert [str(p.ip6) for p in plan.pods] == ["fd00:1::1", "fd00:2::1", "fd00:1::2", "fd00:2::2"]
    assert [str(n.address6) for n in plan.nodes] == ["fd00:ffff::1", "fd00:ffff::2"]
    assert str(plan.outside.addresses[0]) == "203.0.113.1"


def test_host_network_pod_lives_in_its_node_namespace_at_the_node_address() -> None:
    s = snap(
        pod("x/a", "10.0.1.1", node="n1"),
        pod("h/h", "172.18.0.2", node="n1", host=True),
        nodes=(node("n1", "172.18.0.2"),),
    )
    plan = plan_lab(s, prefix="kt")
    host = plan.pods[1]
    assert host.host_network and host.netns == plan.nodes[0].netns == node_netns("kt", "n1")
    assert host.ip == plan.nodes[0].address and host.veth == ""
    assert plan.pods[0].netns == pod_netns("kt", "x/a") == "kt-pod-x.a"
    assert host.netns not in plan.netns_names[4:]


@pytest.mark.parametrize(
    ("pods", "nodes", "message"),
    [
        pytest.param((pod("x/a", "10.0.0.1"), pod("x/b", "10.0.0.1")), (), "same address", id="duplicate-ip"),
        pytest.param((pod("x/a", "fd00::1"),), (), "IPv6", id="ipv6-pod"),
        pytest.param((pod("x/a", "169.254.1.1"),), (), "cannot give", id="gateway-address"),
        pytest.param((pod("x/a", "127.0.0.1"),), (), "cannot give", id="loopback"),
        pytest.param(
            (pod("x/a", "172.18.0.2", node="n1"),),
            (node("n1", "172.18.0.2"),),
            "node n1",
            id="pod-is-node-ip",
        ),
    ],
)
def test_unbuildable_snapshots_are_lab_errors(
    pods: tuple[Pod, ...], nodes: tuple[Node, ...], message: str
) -> None:
    with pytest.raises(LabError, match=message):
        plan_lab(snap(*pods, nodes=nodes), prefix="kt")


@pytest.mark.parametrize("prefix", ["", "KF", "1kf", "kf-1", "kfabcdefg", "k f"])
def test_bad_prefixes_are_rejected(prefix: str) -> None:
    with pytest.raises(LabError, match="prefix"):
        check_prefix(prefix)


def test_prefixes_do_not_claim_each_others_names() -> None:
    assert is_lab_name("kf", "kf-node-a") and not is_lab_name("kf", "kf2-node-a")
    assert not is_lab_name("kf", "kfx")


def test_outside_addresses_are_checked_and_default_avoids_collisions() -> None:
    s = snap(pod("x/a", "203.0.113.1"))
    assert str(plan_lab(s, prefix="kt").outside.addresses[0]) == "203.0.113.2"
    with pytest.raises(LabError, match="outside address"):
        plan_lab(s, prefix="kt", outside=[ipaddress.IPv4Address("203.0.113.1")])


@pytest.mark.parametrize("count", [0, 65])
def test_node_count_is_bounded(count: int) -> None:
    with pytest.raises(LabError, match="--nodes"):
        plan_lab(FOUR, prefix="kt", node_count=count)


def test_plan_round_trips_through_json() -> None:
    plan = plan_lab(FOUR, prefix="kt", mode=Mode.VXLAN, outside=[ipaddress.IPv4Address("198.51.100.7")])
    assert LabPlan.from_json(plan.to_json()) == plan


def test_every_name_carries_the_prefix_and_fits_an_interface() -> None:
    plan = plan_lab(FOUR, prefix="abcdefgh", mode=Mode.VXLAN)
    assert all(is_lab_name("abcdefgh", n) for n in plan.netns_names)
    words = [w for line in root_links(plan) for w in line.split()]
    links = [words[i + 1] for i, w in enumerate(words) if w in ("add", "name")]
    assert links and all(is_lab_name("abcdefgh", link) and len(link) <= 15 for link in links)


def test_lab_snapshot_places_pods_and_adds_ipv6_and_nodes() -> None:
    plan = plan_lab(FOUR, prefix="kt")
    lab = lab_snapshot(plan, FOUR)
    assert [p.node for p in lab.pods] == ["node-1", "node-2", "node-1", "node-2"]
    assert [str(ip) for ip in lab.pods[0].ips] == ["10.0.1.1", "fd00:1::1"]
    assert set(lab.nodes) == {"node-1", "node-2"}
    assert lab.nodes["node-1"].addresses[0] == plan.nodes[0].address


def test_lab_snapshot_accepts_label_changes_but_not_other_pods() -> None:
    plan = plan_lab(FOUR, prefix="kt")
    relabelled = dataclasses.replace(
        FOUR, pods=tuple(dataclasses.replace(p, labels=Labels({})) for p in FOUR.pods)
    )
    assert [p.labels for p in lab_snapshot(plan, relabelled).pods] == [Labels({})] * 4
    with pytest.raises(LabError, match="other pods"):
        lab_snapshot(plan, snap(*FOUR.pods[:3]))
    moved = dataclasses.replace(
        FOUR, pods=(dataclasses.replace(FOUR.pods[0], ips=(IP("10.9.9.9"),)), *FOUR.pods[1:])
    )
    with pytest.raises(LabError, match="address"):
        lab_snapshot(plan, moved)


def script_of(plan: LabPlan, netns: str) -> tuple[str, ...]:
    return next(s.ip for s in scripts(plan) if s.netns == netns)


def test_host_gw_routes_remote_pods_via_node_addresses() -> None:
    plan = plan_lab(FOUR, prefix="kt", mode=Mode.HOST_GW)
    lines = script_of(plan, plan.nodes[0].netns)
    assert "route add 10.0.1.2/32 via 100.127.255.2 dev kt-ul onlink src 100.127.255.1" in lines
    assert "route add 10.0.1.1/32 dev kt-br scope link src 100.127.255.1" in lines
    assert not any("vxlan" in line for line in lines)


def test_vxlan_routes_remote_pods_via_tunnel_endpoints() -> None:
    plan = plan_lab(FOUR, prefix="kt", mode=Mode.VXLAN)
    n1, n2 = plan.nodes
    lines = script_of(plan, n1.netns)
    assert any(line.startswith("link add kt-vx ") and "vxlan id 1" in line for line in lines)
    assert f"route add 10.0.1.2/32 via {n2.vtep} dev kt-vx onlink src {n1.address}" in lines
    assert f"neigh replace {n2.vtep} lladdr {n2.vtep_mac} dev kt-vx nud permanent" in lines
    fdb = next(s.bridge for s in scripts(plan) if s.netns == n1.netns)
    assert fdb == (f"fdb add {n2.vtep_mac} dev kt-vx dst {n2.address} self permanent",)


def test_pods_route_via_the_gateway_and_reach_node_mates_on_link() -> None:
    plan = plan_lab(FOUR, prefix="kt")
    lines = script_of(plan, "kt-pod-x.a")
    assert f"route add default via {GATEWAY} dev kt-eth0" in lines
    assert "route add 10.0.2.1/32 dev kt-eth0 scope link" in lines  # y/a shares node-1
    assert not any("10.0.1.2" in line for line in lines)  # x/b is on node-2


def test_nodes_enable_br_netfilter_and_forwarding() -> None:
    plan = plan_lab(FOUR, prefix="kt")
    sysctls = dict(next(s.sysctls for s in scripts(plan) if s.netns == plan.nodes[0].netns))
    assert sysctls["net/bridge/bridge-nf-call-iptables"] == "1"
    assert sysctls["net/bridge/bridge-nf-call-ip6tables"] == "1"
    assert sysctls["net/ipv4/ip_forward"] == "1"
