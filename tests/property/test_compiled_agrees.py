"""The compiled nftables ruleset, interpreted for each new connection (nft_sim.py), gives the
engine's verdicts on random clusters and policies, with pods spread over two nodes: egress is
checked on the source's node, ingress on the destination's."""

from __future__ import annotations

import ipaddress

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubefence.backends.nftables.ast import Hook
from kubefence.backends.nftables.compile import compile_node, local_pods
from kubefence.cluster.snapshot import ClusterSnapshot, Node
from kubefence.engine.endpoints import Universe
from kubefence.engine.matrix import ReachabilityMatrix
from kubefence.engine.resolve import Resolution
from kubefence.ir.model import Policy
from kubefence.ir.selectors import Labels
from nft_sim import Packet, Sim
from strategies import PROBES, policies, snapshots


def _two_nodes(snapshot: ClusterSnapshot, flips: list[bool]) -> ClusterSnapshot:
    """Move some pod-network pods to a second node."""
    import dataclasses

    n2 = Node("n2", Labels({"os": "linux"}), (ipaddress.ip_address("172.18.0.3"),))
    pods = [
        dataclasses.replace(p, node="n2") if not p.host_network and flips[i % len(flips)] else p
        for i, p in enumerate(snapshot.pods)
    ]
    return ClusterSnapshot.build(snapshot.namespaces.values(), pods, [*snapshot.nodes.values(), n2])


def _kernel_allows(sims: dict[str, Sim], universe: Universe, src: int, dst: int, p: Packet) -> bool:
    """Which hooks a new connection crosses in the lab: a pod's packets leave through its node's
    forward hook (input when addressed to that node itself); a host-network pod's leave through
    the output hook (open); a pod receives through its node's forward hook."""
    s, d = universe.endpoints[src], universe.endpoints[dst]
    assert s.pod is not None and d.pod is not None
    src_node, dst_node = s.pod.node, d.pod.node
    if not s.pod.host_network:
        assert src_node is not None
        if d.node == src_node:
            return sims[src_node].hook(Hook.INPUT, p)
        if not sims[src_node].hook(Hook.FORWARD, p):
            return False
        if d.pod.host_network or dst_node == src_node:
            return True  # to another node's address, or already checked on this node's forward hook
    elif d.pod.host_network:
        return True  # node to node: never policy-managed
    elif dst_node == src_node:
        assert dst_node is not None
        return sims[dst_node].hook(Hook.OUTPUT, p)  # the node (or its host-network pod) to a local pod
    assert dst_node is not None
    return sims[dst_node].hook(Hook.FORWARD, p)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots(), policies(), st.lists(st.booleans(), min_size=1, max_size=4))
def test_compiled_ruleset_matches_engine(
    snapshot: ClusterSnapshot, pols: list[Policy], flips: list[bool]
) -> None:
    snapshot = _two_nodes(snapshot, flips)
    resolution = Resolution(pols, Universe(snapshot))
    matrix = ReachabilityMatrix(resolution)
    sims = {n: Sim(compile_node(resolution, local_pods(resolution, n), node=n)) for n in ("n1", "n2")}
    universe = resolution.universe
    for src, dst in matrix.pairs():
        s, d = universe.endpoints[src], universe.endpoints[dst]
        if s.ip == d.ip:
            continue  # two host-network pods of one node: not a network flow
        conns = matrix.connections(src, dst)
        for probe in PROBES:
            packet = Packet(s.ip, d.ip, probe.protocol.value.lower(), probe.port)
            expected = conns.contains(probe.protocol, probe.port)
            assert _kernel_allows(sims, universe, src, dst, packet) == expected, (s.key, d.key, probe)
