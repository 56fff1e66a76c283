"""The tier pipeline over connection sets: what one direction of one endpoint allows toward
one remote, for every protocol and port at once (§7.1 of the semantics reference).

The walk keeps ``undecided`` connections: ORDERED tiers take matching connections out of it
by the first rule that covers them (ALLOW adds them to the result, DENY drops them, PASS puts
them back after the tier); an ISOLATING tier that selects the endpoint decides everything left;
after the last tier, whatever is undecided is allowed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kubefence.engine.connset import ConnectionSet
from kubefence.ir.model import Action, Direction, Policy, Rule, Tier, TierKind

__all__ = ["DirectionQuery", "allowed_connections", "local_bypass", "tiers_of"]


@dataclass(frozen=True, slots=True)
class DirectionQuery:
    """One direction at one endpoint toward one remote.

    ``policies``: the policies selecting the endpoint, in evaluation order;
    ``peer_matches``: does a rule's peer list match the remote;
    ``ports``: a rule's ports resolved against the destination;
    ``own_node``: the remote is the endpoint's own node (ingress: traffic from it, always allowed
    by NetworkPolicy; egress: traffic to it).
    """

    direction: Direction
    policies: Sequence[Policy]
    peer_matches: Callable[[Rule], bool]
    ports: Callable[[Rule], ConnectionSet]
    own_node: bool = False


def tiers_of(policies: Sequence[Policy], direction: Direction) -> list[tuple[Tier, list[Policy]]]:
    """The policies of ``direction`` by tier, in evaluation order. An ISOLATING tier takes part
    only where some policy isolates the direction (Weave installs rules beyond ``policyTypes``
    without isolating by them)."""
    grouped: dict[Tier, list[Policy]] = {}
    for policy in policies:
        if direction in policy.directions:
            grouped.setdefault(policy.tier, []).append(policy)
    return [
        (tier, found)
        for tier, found in sorted(grouped.items())
        if tier.kind is not TierKind.ISOLATING or any(p.isolates_direction(direction) for p in found)
    ]


def _ordered(
    query: DirectionQuery, policies: list[Policy], undecided: ConnectionSet
) -> tuple[ConnectionSet, ConnectionSet, ConnectionSet]:
    """First-match tier: returns (allowed, passed, not matched). An L7 rule matches no
    connection-level traffic: its L3/L4 match is a denial (the L7 engine drops non-HTTP)."""
    allowed = passed = ConnectionSet.empty()
    for policy in policies:
        for rule in policy.rules_for(query.direction):
            if not undecided:
                break
            if not query.peer_matches(rule):
                continue
            hit = query.ports(rule) & undecided
            undecided = undecided - hit
            if rule.action is Action.ALLOW and rule.l7 is None:
                allowed = allowed | hit
            elif rule.action is Action.PASS:
                passed = passed | hit
    return allowed, passed, undecided


def _isolating(query: DirectionQuery, policies: list[Policy]) -> ConnectionSet:
    """Isolated: the union of what matching rules allow (everything from the local node)."""
    if query.direction is Direction.INGRESS and query.own_node:
        return ConnectionSet.all()
    allowed = ConnectionSet.empty()
    for policy in policies:
        for rule in policy.rules_for(query.direction):
            if query.peer_matches(rule) and rule.action is Action.ALLOW and rule.l7 is None:
                allowed = allowed | query.ports(rule)
    return allowed


def _union(query: DirectionQuery, tier: Tier, policies: list[Policy]) -> tuple[ConnectionSet, ConnectionSet]:
    """Cilium (§7.3): (allowed, denied); what is neither is denied when a policy isolates."""
    if query.direction is Direction.INGRESS and query.own_node and not tier.local_policy:
        return ConnectionSet.all(), ConnectionSet.empty()
    allowed = denied = ConnectionSet.empty()
    for policy in policies:
        for rule in policy.rules_for(query.direction):
            if not query.peer_matches(rule):
                continue
            if rule.action.denies:
                denied = denied | query.ports(rule)
            elif rule.action is Action.ALLOW and rule.l7 is None:
                allowed = allowed | query.ports(rule)
    if any(p.isolates_direction(query.direction) for p in policies):
        return allowed - denied, ConnectionSet.all() - (allowed - denied)
    return ConnectionSet.all() - denied, denied


def local_bypass(direction: Direction, own_node: bool, policies: Sequence[Policy]) -> bool:
    """Traffic between the subject and its own node that the CNI lets through whatever the
    policies say: ingress from it while a policy of a ``local_allowed`` tier selects the
    subject (Antrea), egress to it while one of a ``local_egress`` tier does (Weave Net)."""
    if not own_node:
        return False
    if direction is Direction.INGRESS:
        return any(p.tier.local_allowed and direction in p.directions for p in policies)
    return any(p.tier.local_egress and direction in p.directions for p in policies)


def allowed_connections(query: DirectionQuery) -> ConnectionSet:
    """Everything this direction lets through toward the remote."""
    if local_bypass(query.direction, query.own_node, query.policies):
        return ConnectionSet.all()
    undecided, allowed = ConnectionSet.all(), ConnectionSet.empty()
    parked: list[tuple[float, ConnectionSet]] = []  # passed on, waiting for a later tier
    for tier, policies in tiers_of(query.policies, query.direction):
        held = ConnectionSet.empty()
        for until, conns in parked:
            if until > tier.rank:
                held = held | conns
        parked = [(until, conns) for until, conns in parked if until > tier.rank]
        active = undecided - held
        if tier.kind in (TierKind.ISOLATING, TierKind.UNION):
            # Final for what reaches it; what a Pass sent beyond it goes on.
            decided = (
                _isolating(query, policies)
                if tier.kind is TierKind.ISOLATING
                else _union(query, tier, policies)[0]
            )
            allowed, undecided = allowed | (active & decided), held
            if not undecided:
                return allowed
            continue
        tier_allowed, passed, rest = _ordered(query, policies, active)
        allowed = allowed | tier_allowed
        if tier.kind is TierKind.ORDERED_DENY and not (
            query.direction is Direction.INGRESS and query.own_node
        ):
            rest = ConnectionSet.empty()
        if tier.pass_to is not None and passed:
            parked.append((tier.pass_to, passed))
        undecided = held | passed | rest
        if not undecided:
            return allowed
    return allowed | undecided
