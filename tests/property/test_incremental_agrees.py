"""The IncrementalEngine, after random sequences of pod / namespace / policy events, answers
exactly as an engine built from scratch on the resulting cluster (matrix, counts and check)."""

from __future__ import annotations

import dataclasses
import ipaddress

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubefence.cluster.snapshot import ClusterSnapshot, Namespace, Pod
from kubefence.engine import matrix as matrix_module
from kubefence.engine.endpoints import Universe
from kubefence.engine.incremental import Enforcement, Event, IncrementalEngine, Op, policy_key
from kubefence.engine.matrix import ReachabilityMatrix
from kubefence.engine.prepare import prepare
from kubefence.engine.profiles import Profile, apply_profile, parse_profile
from kubefence.engine.resolve import Resolution, peer_blocks
from kubefence.engine.verdict import evaluate
from kubefence.ir.model import Action, Direction, PodSelection, Policy, RelativeNamespacePeer, Rule
from kubefence.ir.ports import ContainerPort, Protocol
from kubefence.ir.selectors import Labels, LabelSelector
from strategies import (
    ANTREA_LIKE,
    CALICO_LIKE,
    CILIUM_LIKE,
    NAMESPACES,
    PROBES,
    SRC,
    labels,
    policies,
    selector,
    snapshots,
    vendor_policies,
)


@st.composite
def events(draw, snapshot: ClusterSnapshot, pols: list[Policy]) -> list[Event]:
    pods = {p.key: p for p in snapshot.pods}
    current = {policy_key(p): p for p in pols}
    out: list[Event] = []
    for step in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["pod+", "pod~", "pod-", "ns~", "pol+", "pol~", "pol-"]))
        if kind == "pod+" or (kind in ("pod~", "pod-") and not pods):
            # "d" is no Namespace object: its first pod brings it (and the whole snapshot is rebuilt)
            ns = draw(st.sampled_from([*NAMESPACES, "d"]))
            ports = (ContainerPort(80, Protocol.TCP, draw(st.sampled_from([None, "web"]))),)
            host = draw(st.booleans()) and step % 2 == 1
            ip = ipaddress.ip_address("172.18.0.2" if host else f"10.1.9.{step + 1}")
            pod = Pod(ns, f"new{step}", Labels(draw(labels)), (ip,), "n1", host, ports)
            pods[pod.key] = pod
            out.append(Event(Op.ADD, pod))
        elif kind == "pod~":
            pod = pods[draw(st.sampled_from(sorted(pods)))]
            changed = dataclasses.replace(pod, labels=Labels(draw(labels)))
            pods[pod.key] = changed
            out.append(Event(Op.CHANGE, changed))
        elif kind == "pod-":
            key = draw(st.sampled_from(sorted(pods)))
            del pods[key]
            out.append(Event(Op.DELETE, key))
        elif kind == "ns~":
            name = draw(st.sampled_from(NAMESPACES))
            extra = draw(st.sampled_from([{}, {"ns": "a"}, {"team": "x"}]))
            out.append(Event(Op.CHANGE, Namespace(name, Labels({"ns": name, **extra}))))
        elif kind == "pol+" or (kind in ("pol~", "pol-") and not current):
            fresh = draw(policies())
            if fresh:
                policy = dataclasses.replace(fresh[0], name=f"q{step}")
                current[policy_key(policy)] = policy
                out.append(Event(Op.ADD, policy))
        elif kind == "pol~":
            key = draw(st.sampled_from(sorted(current, key=str)))
            old = current[key]
            policy = dataclasses.replace(old, rules=old.rules[:-1], priority=draw(st.integers(0, 3)))
            current[key] = policy
            out.append(Event(Op.CHANGE, policy))
        else:
            key = draw(st.sampled_from(sorted(current, key=str)))
            del current[key]
            out.append(Event(Op.DELETE, key))
    return out


def _fresh(engine: IncrementalEngine, profile: Profile | None = None) -> ReachabilityMatrix:
    """From scratch: without a profile, of the engine's policies; with one, of its policies as
    loaded, enforced the way ``check`` and ``matrix`` do it (``load_for``)."""
    if profile is None:
        return ReachabilityMatrix(Resolution(engine.policies, Universe(engine.snapshot)))
    viewed, _ = apply_profile(profile, engine.loaded)
    enforced, _ = prepare(viewed, engine.snapshot)
    universe = Universe(engine.snapshot)
    return ReachabilityMatrix(
        Resolution(enforced, universe, ipblock_matches_pods=profile.ipblock_matches_pods)
    )


@pytest.mark.parametrize(("kind", "grow"), [("upstream", 8), ("vendor", 8), ("upstream", 1), ("vendor", 1)])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_incremental_equals_fresh(kind: str, grow: int, data: st.DataObject) -> None:
    """Pod events in known namespaces take the derived path (``SelectorIndex.for_pods``,
    ``Resolution.for_universe``); vendor policies bring CNI-view selectors and expressions,
    whose cached answers are extended to new groups there. ``grow`` 1 makes the matrix grow
    its previous class table whenever a class is new (``ClassTable.grown``), as it does for
    the few new classes of a large cluster."""
    saved, matrix_module._GROW_LIMIT = matrix_module._GROW_LIMIT, grow
    try:
        _check_events(kind, data)
    finally:
        matrix_module._GROW_LIMIT = saved


def _check_events(kind: str, data: st.DataObject, profile: Profile | None = None) -> None:
    snapshot = data.draw(snapshots())
    pols = data.draw(policies() if kind == "upstream" else vendor_policies())
    if profile is not None:  # CNI dialects for the CNI tiers, and maybe a relative peer
        pols = [_as_vendor(p) for p in pols] + [data.draw(relative_policy())]
    engine = IncrementalEngine(snapshot, pols, Enforcement(profile) if profile is not None else None)
    engine.counts(PROBES)  # warm the memo with the first revision's answers
    for event in data.draw(events(snapshot, pols)):
        engine.apply(event)
        ours, fresh = engine.matrix(), _fresh(engine, profile)
        assert engine.counts(PROBES) == fresh.counts(PROBES)
        keys = [e.key for e in fresh.universe.endpoints]
        assert keys == [e.key for e in ours.universe.endpoints]
        for src, dst in fresh.pairs():
            assert ours.connections(src, dst) == fresh.connections(src, dst)
        if len(keys) >= 2:
            probe = PROBES[0]
            expected = evaluate(fresh.resolution, 0, 1, probe).allowed
            assert engine.check(keys[0], keys[1], probe).allowed == expected


_DIALECTS = {CALICO_LIKE.name: "calico", ANTREA_LIKE.name: "antrea", CILIUM_LIKE.name: "cilium"}


def _as_vendor(policy: Policy) -> Policy:
    """A policy of a CNI-like tier as that CNI's own (profiles drop it under other CNIs)."""
    dialect = _DIALECTS.get(policy.tier.name)
    if dialect is None:
        return policy
    return dataclasses.replace(policy, source=dataclasses.replace(policy.source, dialect=dialect))


@st.composite
def relative_policy(draw: st.DrawFn) -> Policy:
    """An Antrea policy whose peer is relative to the subject's namespace (``match: Self`` or
    ``sameLabels``): ``prepare`` splits it per namespace, so it depends on namespace labels."""
    same = draw(st.sampled_from([(), ("team",), ("ns",)]))
    peer = RelativeNamespacePeer(draw(selector), same)
    action = draw(st.sampled_from([Action.ALLOW, Action.DENY]))
    rule = Rule(Direction.INGRESS, action, (peer,), None, 0, SRC)
    everywhere = PodSelection(LabelSelector(), namespace_selector=LabelSelector())
    source = dataclasses.replace(SRC, dialect="antrea")
    return Policy(
        "Gen", "rel", None, ANTREA_LIKE, 1, everywhere, frozenset({Direction.INGRESS}), (rule,), source
    )


@pytest.mark.parametrize(
    "cni",
    [
        "generic",
        "calico",
        "cilium",
        "antrea",
        "weave",
        "kube-router",
        "cilium,enable-policy=always",
        "cilium,allow-localhost=policy,policy-cidr-match-mode=nodes",
    ],
)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_incremental_under_a_cni_equals_fresh(cni: str, data: st.DataObject) -> None:
    """With an ``Enforcement``, the engine keeps the policies as loaded and answers for what
    the CNI enforces of them, viewing each policy object once: after any events it answers as
    ``check``/``matrix --cni`` would on the resulting cluster (profile, then ``prepare``, then
    a Resolution that honours the profile's ipBlock rule)."""
    _check_events("vendor", data, parse_profile(cni))


@pytest.mark.parametrize("kind", ["upstream", "vendor"])
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_with_policies_equals_a_fresh_binding(kind: str, data: st.DataObject) -> None:
    """``Resolution.with_policies`` (policy events: carried rules, translated signatures) binds
    exactly as a Resolution built from scratch: the same peers in the same order, and the same
    signatures for every endpoint. Policies with CIDR peers stay, and none come, so that the
    endpoints' profiles are carried (CIDR changes rebind them, as in the test above)."""
    draw = policies() if kind == "upstream" else vendor_policies()
    universe = Universe(data.draw(snapshots()))
    before = data.draw(draw)
    kept = [p for p in before if _has_blocks(p) or data.draw(st.booleans())]
    changed = [dataclasses.replace(p, rules=p.rules[:-1]) for p in before if data.draw(st.booleans())]
    changed = [p for p in changed if not _has_blocks(p)]
    added = [p for p in data.draw(draw) if not _has_blocks(p)]
    after = sorted([*kept, *changed, *added], key=lambda p: p.order_key)
    ours = Resolution(before, universe).with_policies(after)
    fresh = Resolution(after, universe)
    assert ours.peers == fresh.peers
    assert ours.subject_sigs == fresh.subject_sigs
    assert ours.peer_sigs == fresh.peer_sigs
    assert [ours.peers_of_rule(r) for p in after for r in p.rules] == [
        fresh.peers_of_rule(r) for p in after for r in p.rules
    ]


def _has_blocks(policy: Policy) -> bool:
    return any(True for rule in policy.rules for peer in rule.peers for _ in peer_blocks(peer))
