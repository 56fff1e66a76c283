"""evaluate(flow) → Explanation: one flow through the tier pipeline, step by step.

This is the scalar twin of ``engine.pipeline``: it walks the same tiers for one protocol and
port and records why, so that ``check`` can explain itself. A test holds the two to the same
answers on every conformance case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kubefence.engine.explain import DirectionTrace, Explanation, NearMiss, RuleRef, Verdict
from kubefence.engine.probes import Probe
from kubefence.engine.resolve import Resolution, ports_of_rule
from kubefence.ir.model import Action, Direction, Policy, Rule, Tier, TierKind

if TYPE_CHECKING:
    from kubefence.engine.endpoints import Endpoint

__all__ = ["evaluate"]

_VERDICT = {Action.ALLOW: Verdict.ALLOW, Action.DENY: Verdict.DENY, Action.PASS: Verdict.PASS}


@dataclass
class _Walk:
    """Mutable state of one direction's walk."""

    resolution: Resolution
    direction: Direction
    subject: int
    remote: int
    dst: int
    probe: Probe
    passed: list[RuleRef] = field(default_factory=list)
    near: list[NearMiss] = field(default_factory=list)

    def endpoint(self, i: int) -> Endpoint:
        return self.resolution.universe.endpoints[i]

    def peer_ok(self, rule: Rule) -> bool:
        return self.resolution.rule_matches_peer(rule, self.remote)

    def port_ok(self, rule: Rule) -> bool:
        dst = self.endpoint(self.dst)
        ports = dst.pod.ports if dst.managed and dst.pod else ()
        return ports_of_rule(rule, ports).contains(self.probe.protocol, self.probe.port)

    def note(self, policy: Policy, rule: Rule, peer_ok: bool, port_ok: bool) -> None:
        if peer_ok == port_ok:
            return
        remote = self.endpoint(self.remote).key
        if peer_ok:
            dst = self.endpoint(self.dst)
            ports = ports_of_rule(rule, dst.pod.ports if dst.managed and dst.pod else ())
            message = f"{rule.label} matches {remote} but covers only {ports}, not {self.probe}"
        else:
            peers = "; ".join(str(p) for p in rule.peers) or "no peer"
            message = f"{rule.label} covers {self.probe} but only for {peers}, which does not match {remote}"
        self.near.append(NearMiss(policy, rule, message))


def _selected(walk: _Walk) -> tuple[Policy, ...]:
    return tuple(p for p in walk.resolution.selecting(walk.subject) if walk.direction in p.directions)


def _tiers(policies: tuple[Policy, ...]) -> list[tuple[Tier, list[Policy]]]:
    grouped: dict[Tier, list[Policy]] = {}
    for policy in policies:
        grouped.setdefault(policy.tier, []).append(policy)
    return sorted(grouped.items())


def _ordered(walk: _Walk, policies: list[Policy]) -> RuleRef | None:
    """First matching rule of the tier: ALLOW/DENY decide, PASS hands on (None = fall through)."""
    for policy in policies:
        for rule in policy.rules_for(walk.direction):
            peer_ok, port_ok = walk.peer_ok(rule), walk.port_ok(rule)
            if peer_ok and port_ok:
                ref = RuleRef(policy, rule, _VERDICT[rule.action])
                if rule.action is Action.PASS:
                    walk.passed.append(ref)
                    return None
                return ref
            walk.note(policy, rule, peer_ok, port_ok)
    return None


def _isolating(walk: _Walk, policies: list[Policy]) -> tuple[Verdict, tuple[RuleRef, ...]]:
    for policy in policies:
        for rule in policy.rules_for(walk.direction):
            peer_ok, port_ok = walk.peer_ok(rule), walk.port_ok(rule)
            if peer_ok and port_ok:
                return Verdict.ALLOW, (RuleRef(policy, rule, Verdict.ALLOW),)
            walk.note(policy, rule, peer_ok, port_ok)
    return Verdict.DENY, tuple(RuleRef(p, None, Verdict.DENY) for p in policies)


def _from_local_node(walk: _Walk) -> bool:
    subject, remote = walk.endpoint(walk.subject), walk.endpoint(walk.remote)
    return (
        walk.direction is Direction.INGRESS
        and remote.node is not None
        and (subject.pod is not None and subject.pod.node == remote.node)
    )


def _trace(walk: _Walk, verdict: Verdict, decided: tuple[RuleRef, ...], reason: str) -> DirectionTrace:
    endpoint = walk.endpoint(walk.subject)
    return DirectionTrace(
        walk.direction,
        endpoint.key,
        endpoint.managed,
        _selected(walk),
        verdict,
        decided,
        tuple(walk.passed),
        tuple(walk.near),
        reason,
    )


def _direction(walk: _Walk) -> DirectionTrace:
    endpoint, d = walk.endpoint(walk.subject), walk.direction.value
    if not endpoint.managed:
        what = "a host-network pod" if endpoint.pod else "an address outside the cluster's pods"
        return _trace(walk, Verdict.ALLOW, (), f"{endpoint.key} is {what}: no policy governs its {d}")
    for tier, policies in _tiers(_selected(walk)):
        if tier.kind is TierKind.ISOLATING:
            return _decide_isolating(walk, tier, policies)
        ref = _ordered(walk, policies)
        if ref is not None:
            word = "allows" if ref.action is Verdict.ALLOW else "denies"
            return _trace(walk, ref.action, (ref,), f"{ref.describe()} {word} it")
    how = "after Pass" if walk.passed else "no policy decides"
    return _trace(walk, Verdict.ALLOW, (), f"{how}: {d} is allowed by default")


def _decide_isolating(walk: _Walk, tier: Tier, policies: list[Policy]) -> DirectionTrace:
    d = walk.direction.value
    if _from_local_node(walk):
        return _trace(
            walk, Verdict.ALLOW, (), f"traffic from the pod's own node is always allowed in by {tier}"
        )
    verdict, refs = _isolating(walk, policies)
    if verdict is Verdict.ALLOW:
        return _trace(walk, verdict, refs, f"{refs[0].describe()} allows it")
    names = ", ".join(p.key for p in policies)
    return _trace(walk, verdict, refs, f"isolated for {d} by {names}, and no rule of theirs allows it")


def evaluate(resolution: Resolution, src: int, dst: int, probe: Probe) -> Explanation:
    """The verdict for src → dst on one probe, with both directions explained."""
    universe = resolution.universe
    s, t = universe.endpoints[src], universe.endpoints[dst]
    if src == dst:
        return Explanation(
            s.key, t.key, probe, True, "traffic from a pod to itself is always allowed", None, None
        )
    egress = _direction(_Walk(resolution, Direction.EGRESS, src, dst, dst, probe))
    ingress = _direction(_Walk(resolution, Direction.INGRESS, dst, src, dst, probe))
    allowed = egress.allowed and ingress.allowed
    reason = _reason(egress, ingress)
    return Explanation(s.key, t.key, probe, allowed, reason, egress, ingress)


def _reason(egress: DirectionTrace, ingress: DirectionTrace) -> str:
    if not egress.allowed:
        return f"egress from {egress.endpoint} denied: {egress.reason}"
    if not ingress.allowed:
        return f"ingress to {ingress.endpoint} denied: {ingress.reason}"
    return f"egress: {egress.reason}; ingress: {ingress.reason}"
