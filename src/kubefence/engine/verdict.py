"""evaluate(flow) → Explanation: one flow through the tier pipeline, step by step.

This is the scalar twin of ``engine.pipeline``: it walks the same tiers for one protocol and
port and records why, so that ``check`` can explain itself. A test holds the two to the same
answers on every conformance case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kubefence.engine.explain import DirectionTrace, Explanation, NearMiss, RuleRef, Verdict
from kubefence.engine.pipeline import local_bypass, tiers_of
from kubefence.engine.probes import Probe
from kubefence.engine.resolve import Resolution, ports_of_rule
from kubefence.ir.l7 import HTTPRequest
from kubefence.ir.model import Action, Direction, Policy, Rule, Tier, TierKind

if TYPE_CHECKING:
    from collections.abc import Sequence

    from kubefence.engine.endpoints import Endpoint

__all__ = ["evaluate"]

_VERDICT = {
    Action.ALLOW: Verdict.ALLOW,
    Action.DENY: Verdict.DENY,
    Action.REJECT: Verdict.DENY,
    Action.PASS: Verdict.PASS,
}


@dataclass
class _Walk:
    """Mutable state of one direction's walk."""

    resolution: Resolution
    direction: Direction
    subject: int
    remote: int
    dst: int
    probe: Probe
    request: HTTPRequest | None = None
    passed: list[RuleRef] = field(default_factory=list)
    near: list[NearMiss] = field(default_factory=list)

    def endpoint(self, i: int) -> Endpoint:
        return self.resolution.universe.endpoints[i]

    def peer_ok(self, rule: Rule) -> bool:
        return self.resolution.rule_matches_peer(rule, self.remote, _own_node(self))

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


def _distinct(policies: tuple[Policy, ...]) -> tuple[Policy, ...]:
    """One entry per policy object (its parts are one policy to the user)."""
    seen: dict[tuple[str, str], Policy] = {}
    for p in policies:
        seen.setdefault((p.dialect, p.key), p)
    return tuple(seen.values())


def _names(policies: Sequence[Policy]) -> str:
    return ", ".join(p.key for p in _distinct(tuple(policies)))


def _l7_action(walk: _Walk, rule: Rule) -> Verdict:
    """An L7 rule whose L3/L4 part matched: ALLOW only for a request it allows."""
    assert rule.l7 is not None
    return Verdict.ALLOW if walk.request is not None and rule.l7.allows(walk.request) else Verdict.DENY


def _l7_note(walk: _Walk, rule: Rule) -> str:
    if walk.request is None:
        return f"; its L7 rule ({rule.l7}) sees no HTTP request (give --http-method/--http-path)"
    word = "allows" if rule.l7 is not None and rule.l7.allows(walk.request) else "does not allow"
    return f"; its L7 rule ({rule.l7}) {word} {walk.request}"


def _ordered(walk: _Walk, policies: list[Policy]) -> tuple[RuleRef | None, bool]:
    """First matching rule of the tier: (the deciding ALLOW/DENY rule or None, whether a PASS
    rule handed the flow on). An L7 rule that matches at L3/L4 decides: the L7 engine allows
    the requests it matches and drops the rest (Antrea, §5.3)."""
    for policy in policies:
        for rule in policy.rules_for(walk.direction):
            peer_ok, port_ok = walk.peer_ok(rule), walk.port_ok(rule)
            if peer_ok and port_ok:
                if rule.l7 is not None:
                    return RuleRef(policy, rule, _l7_action(walk, rule)), False
                ref = RuleRef(policy, rule, _VERDICT[rule.action])
                if rule.action is Action.PASS:
                    walk.passed.append(ref)
                    return None, True
                return ref, False
            walk.note(policy, rule, peer_ok, port_ok)
    return None, False


def _isolating(walk: _Walk, policies: list[Policy]) -> tuple[Verdict, tuple[RuleRef, ...]]:
    for policy in policies:
        for rule in policy.rules_for(walk.direction):
            peer_ok, port_ok = walk.peer_ok(rule), walk.port_ok(rule)
            if peer_ok and port_ok and (rule.l7 is None or _l7_action(walk, rule) is Verdict.ALLOW):
                return Verdict.ALLOW, (RuleRef(policy, rule, Verdict.ALLOW),)
            walk.note(policy, rule, peer_ok, port_ok)
    return Verdict.DENY, tuple(RuleRef(p, None, Verdict.DENY) for p in policies)


def _own_node(walk: _Walk) -> bool:
    """Whether the remote is at an address of the subject's node."""
    subject, remote = walk.endpoint(walk.subject), walk.endpoint(walk.remote)
    return remote.node is not None and subject.pod is not None and subject.pod.node == remote.node


def _from_local_node(walk: _Walk) -> bool:
    return walk.direction is Direction.INGRESS and _own_node(walk)


def _trace(walk: _Walk, verdict: Verdict, decided: tuple[RuleRef, ...], reason: str) -> DirectionTrace:
    endpoint = walk.endpoint(walk.subject)
    return DirectionTrace(
        walk.direction,
        endpoint.key,
        endpoint.managed,
        _distinct(_selected(walk)),
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
    if local_bypass(walk.direction, _own_node(walk), _selected(walk)):
        why = (
            f"traffic from the pod's own node bypasses {endpoint.key}'s Antrea policies: always allowed"
            if walk.direction is Direction.INGRESS
            else f"traffic to the pod's own node skips {endpoint.key}'s egress policies (Weave Net): "
            "always allowed"
        )
        return _trace(walk, Verdict.ALLOW, (), why)
    skip_below: float | None = None
    for tier, policies in tiers_of(_selected(walk), walk.direction):
        if skip_below is not None and tier.rank < skip_below:
            continue
        if tier.kind is TierKind.ISOLATING:
            return _decide_isolating(walk, tier, policies)
        if tier.kind is TierKind.UNION:
            return _decide_union(walk, tier, policies)
        ref, passed = _ordered(walk, policies)
        if ref is not None:
            return _decided(walk, ref)
        if passed:
            skip_below = tier.pass_to
        elif tier.kind is TierKind.ORDERED_DENY and not _from_local_node(walk):
            names = _names(policies)
            refs = tuple(RuleRef(p, None, Verdict.DENY) for p in policies)
            why = f"end of tier {tier}: {names} select {endpoint.key} for {d} and no rule matches"
            return _trace(walk, Verdict.DENY, refs, why)
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
        return _decided(walk, refs[0])
    names = _names(policies)
    return _trace(walk, verdict, refs, f"isolated for {d} by {names}, and no rule of theirs allows it")


def _decided(walk: _Walk, ref: RuleRef) -> DirectionTrace:
    word = "allows" if ref.action is Verdict.ALLOW else "denies"
    rule = ref.rule
    extra = _l7_note(walk, rule) if rule is not None and rule.l7 is not None else ""
    if rule is not None and rule.action is Action.REJECT:
        extra += " (rejects: the client gets a TCP reset / ICMP error)"
    return _trace(walk, ref.action, (ref,), f"{ref.describe()} {word} it{extra}")


def _union_matches(walk: _Walk, policies: list[Policy]) -> tuple[RuleRef | None, list[RuleRef], list[Rule]]:
    """(first matching deny rule, matching allow rules, L7 rules whose request check failed)."""
    allows: list[RuleRef] = []
    l7_misses: list[Rule] = []
    for policy in policies:
        for rule in policy.rules_for(walk.direction):
            peer_ok, port_ok = walk.peer_ok(rule), walk.port_ok(rule)
            if not (peer_ok and port_ok):
                walk.note(policy, rule, peer_ok, port_ok)
            elif rule.action.denies:
                return RuleRef(policy, rule, Verdict.DENY), [], []
            elif rule.l7 is not None and _l7_action(walk, rule) is Verdict.DENY:
                l7_misses.append(rule)
            elif rule.action is Action.ALLOW:
                allows.append(RuleRef(policy, rule, Verdict.ALLOW))
    return None, allows, l7_misses


def _decide_union(walk: _Walk, tier: Tier, policies: list[Policy]) -> DirectionTrace:
    """Cilium (§7.3): any matching deny rule wins; else any matching allow; else default deny
    if a selecting policy isolates the direction."""
    d = walk.direction.value
    if _from_local_node(walk) and not tier.local_policy:
        return _trace(
            walk, Verdict.ALLOW, (), f"traffic from the pod's own node is always allowed in by {tier}"
        )
    deny, allows, l7_misses = _union_matches(walk, policies)
    if deny is not None:
        return _decided(walk, deny)
    if allows:
        return _decided(walk, allows[0])
    if not any(p.isolates_direction(walk.direction) for p in policies):
        return _trace(walk, Verdict.ALLOW, (), f"no rule matches and no policy turns on default deny for {d}")
    refs = tuple(RuleRef(p, None, Verdict.DENY) for p in policies)
    names = _names(policies)
    why = f"default deny for {d} from {names}, and no rule of theirs allows it"
    if l7_misses:
        why += _l7_note(walk, l7_misses[0])
    return _trace(walk, Verdict.DENY, refs, why)


def evaluate(
    resolution: Resolution, src: int, dst: int, probe: Probe, request: HTTPRequest | None = None
) -> Explanation:
    """The verdict for src → dst on one probe (and, for L7 rules, one HTTP request), with both
    directions explained."""
    universe = resolution.universe
    s, t = universe.endpoints[src], universe.endpoints[dst]
    if src == dst:
        return Explanation(
            s.key, t.key, probe, True, "traffic from a pod to itself is always allowed", None, None
        )
    egress = _direction(_Walk(resolution, Direction.EGRESS, src, dst, dst, probe, request))
    ingress = _direction(_Walk(resolution, Direction.INGRESS, dst, src, dst, probe, request))
    allowed = egress.allowed and ingress.allowed
    reason = _reason(egress, ingress)
    return Explanation(s.key, t.key, probe, allowed, reason, egress, ingress, request)


def _reason(egress: DirectionTrace, ingress: DirectionTrace) -> str:
    if not egress.allowed:
        return f"egress from {egress.endpoint} denied: {egress.reason}"
    if not ingress.allowed:
        return f"ingress to {ingress.endpoint} denied: {ingress.reason}"
    return f"egress: {egress.reason}; ingress: {ingress.reason}"
