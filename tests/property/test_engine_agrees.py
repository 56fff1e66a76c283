"""The class-based matrix (connection-set pipeline), the per-flow evaluator and a naive
oracle (engine/naive.py) agree on random clusters and random NetworkPolicy /
AdminNetworkPolicy / Baseline policies."""

from __future__ import annotations

import ipaddress

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubefence.cluster.snapshot import ClusterSnapshot
from kubefence.engine import naive
from kubefence.engine.endpoints import Universe
from kubefence.engine.matrix import ReachabilityMatrix
from kubefence.engine.resolve import Resolution
from kubefence.engine.verdict import evaluate
from kubefence.ir.model import Policy
from strategies import ICMP_PROBES, PROBES, policies, snapshots, vendor_policies


def _assert_agree(resolution: Resolution, snapshot: ClusterSnapshot, pols: list[Policy]) -> None:
    """Every pair and probe: the matrix's connection sets, evaluate() and the naive oracle
    (under the same ipBlock-matches-pods option) give one verdict."""
    matrix = ReachabilityMatrix(resolution)
    ends = [naive.Remote(e.ip, e.pod) for e in resolution.universe.endpoints]
    on_pods = resolution.ipblock_matches_pods
    for src, dst in matrix.pairs():
        conns = matrix.connections(src, dst)
        for probe in [*PROBES, *ICMP_PROBES]:
            fast = conns.contains(probe.protocol, probe.port)
            assert fast == evaluate(resolution, src, dst, probe).allowed, (src, dst, probe)
            slow = naive.allowed(
                snapshot, pols, ends[src], ends[dst], probe.protocol, probe.port, ipblock_matches_pods=on_pods
            )
            assert fast == slow, (src, dst, probe)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots(), policies(), st.sampled_from(["203.0.113.9", "10.1.2.200", "172.18.0.2"]))
def test_matrix_equals_per_flow_evaluation(
    snapshot: ClusterSnapshot, pols: list[Policy], outside: str
) -> None:
    resolution = Resolution(pols, Universe(snapshot, [ipaddress.ip_address(outside)]))
    _assert_agree(resolution, snapshot, pols)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots(), policies(), st.sampled_from(["203.0.113.9", "10.1.2.200", "172.18.0.2"]))
def test_engines_agree_when_ipblock_skips_pods(
    snapshot: ClusterSnapshot, pols: list[Policy], outside: str
) -> None:
    """The same three-way agreement under a Cilium-like profile (ipBlock never matches
    pod-network pods; semantics reference §4.8, §6)."""
    universe = Universe(snapshot, [ipaddress.ip_address(outside)])
    resolution = Resolution(pols, universe, ipblock_matches_pods=False)
    _assert_agree(resolution, snapshot, pols)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots(), vendor_policies(), st.sampled_from(["203.0.113.9", "10.1.2.200", "172.18.0.2"]))
def test_engines_agree_on_vendor_tiers(snapshot: ClusterSnapshot, pols: list[Policy], outside: str) -> None:
    """Calico end-of-tier deny, Cilium's deny-before-allow union, Antrea's Pass to
    NetworkPolicy, entities, compound peers, CNI label views, except-ports and L7 rules (for
    traffic that is not an HTTP request): class engine == evaluator == naive oracle."""
    resolution = Resolution(pols, Universe(snapshot, [ipaddress.ip_address(outside)]))
    _assert_agree(resolution, snapshot, pols)
