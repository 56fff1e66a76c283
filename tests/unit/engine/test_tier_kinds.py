"""The tier kinds of the CNI dialects in the connection-set pipeline and the per-flow evaluator:
each example is checked through both (matrix and evaluate)."""

from __future__ import annotations

import ipaddress

from kubefence.cluster.snapshot import ClusterSnapshot, Namespace, Node, Pod
from kubefence.engine.endpoints import Universe
from kubefence.engine.matrix import ReachabilityMatrix
from kubefence.engine.probes import Probe
from kubefence.engine.resolve import Resolution
from kubefence.engine.verdict import evaluate
from kubefence.ir.model import (
    Action,
    AnyPeer,
    Direction,
    PodSelection,
    Policy,
    Rule,
    Tier,
    TierKind,
)
from kubefence.ir.ports import Protocol
from kubefence.ir.provenance import Source
from kubefence.ir.selectors import Labels, LabelSelector

SRC = Source("t.yaml", 1, "test", "test")
ALL = PodSelection(LabelSelector(), namespace="a")
ANTREA_LIKE = Tier(5.0, "antrea-like", TierKind.ORDERED, pass_to=200.0)
UNION = Tier(180.0, "union", TierKind.UNION)
CALICO_LIKE = Tier(150.0, "calico-like", TierKind.ORDERED_DENY)
PROBE = Probe(80, Protocol.TCP)


def _snapshot() -> ClusterSnapshot:
    pods = [
        Pod("a", f"p{i}", Labels(), (ipaddress.ip_address(f"10.0.0.{i + 1}"),), "n1", False, ())
        for i in range(2)
    ]
    node = Node("n1", Labels(), (ipaddress.ip_address("172.18.0.2"),))
    return ClusterSnapshot.build([Namespace("a", Labels())], pods, [node])


def _policy(name: str, tier: Tier, *rules: Rule, isolates: frozenset[Direction] | None = None) -> Policy:
    return Policy(
        "T", name, None, tier, 0, ALL, frozenset({Direction.INGRESS}), rules, SRC, isolates=isolates
    )


def _rule(action: Action) -> Rule:
    return Rule(Direction.INGRESS, action, (AnyPeer(),), None, 0, SRC)


def _verdict(*policies: Policy) -> bool:
    resolution = Resolution(policies, Universe(_snapshot()))
    by_matrix = ReachabilityMatrix(resolution).connections(0, 1).contains(PROBE.protocol, PROBE.port)
    by_flow = evaluate(resolution, 0, 1, PROBE).allowed
    assert by_matrix == by_flow
    return by_flow


def test_pass_to_skips_final_tiers_below_its_target() -> None:
    """Antrea Pass goes to NetworkPolicy (§5.3): a UNION tier ranked between them is skipped,
    and with no NetworkPolicy selecting the pod the flow is allowed (found by hypothesis)."""
    isolating_union = _policy("u", UNION)
    assert not _verdict(isolating_union)
    assert _verdict(_policy("pass", ANTREA_LIKE, _rule(Action.PASS)), isolating_union)


def test_end_of_tier_deny_only_for_selected_endpoints() -> None:
    """Calico §3.6: a tier that selects the endpoint and matches nothing drops; Pass leaves it."""
    assert not _verdict(_policy("c", CALICO_LIKE))
    assert _verdict(_policy("c", CALICO_LIKE, _rule(Action.PASS)))


def test_union_deny_beats_allow_and_isolation_is_per_policy() -> None:
    """Cilium §7.3: any matching deny wins; without isolation, unmatched traffic is allowed."""
    allow = _policy("allow", UNION, _rule(Action.ALLOW))
    deny = _policy("deny", UNION, _rule(Action.DENY), isolates=frozenset())
    assert _verdict(allow)
    assert not _verdict(allow, deny)
    assert _verdict(_policy("quiet", UNION, isolates=frozenset()))
