"""kube-router's ways of installing NetworkPolicies that change what they allow.

**Rule-wide excepts** (``rule_wide_excepts``): every ``except`` of a rule's ipBlocks applies
to all of them.

**Shared chain.** What a NetworkPolicy with both policy types also allows.

kube-router compiles each NetworkPolicy into one chain. A pod's firewall chain jumps to it
restricted to the pod as destination (``-d ip``) for an Ingress-only policy and as source
(``-s ip``) for an Egress-only one, but with no address at all when the policy has both types
(cloudnativelabs/kube-router pkg/controllers/netpol/pod.go ``setupPodNetpolRules``,
``kubeBothPolicyType``). The chain's ingress rules match any source of the rule's peers toward
the policy's own pods (``targetDestPodIPSetName``), its egress rules the policy's pods toward
the rule's peers (``targetSourcePodIPSetName``), and a match marks the packet as allowed
(policy.go ``processIngressRules``/``processEgressRules``). So while a pod's *egress* is
checked, an ingress rule of such a policy allows it toward another pod of the same policy when
the pod is one of the rule's sources; likewise an egress rule allows a pod's *ingress* from
another pod of the policy when the receiving pod is one of the rule's destinations.

``companions`` writes those extra allows as policies of their own, in the NetworkPolicy tier:
the subject is the policy's pods that are also the rule's peer, the one rule reaches the
policy's pods in the other direction with the rule's ports. They isolate nothing that the
policy does not isolate already. Peers that are not pod selections (ipBlocks) select pods by
address, which no pod selection expresses: they are reported and left out.

**Named ports without destinations.** For an egress rule without ``to``, kube-router looks a
named port up on the pods of the policy's own namespace and allows the numbers found toward
every destination (policy.go ``buildNetworkPoliciesInfo``: "we must try to grab NamedPort from
pods that in same namespace"; ``processEgressRules``: ``matchAllDestinations``), where the API
resolves the name on each destination pod. ``open_named_ports`` binds such rules against the
snapshot.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from kubefence.cluster.snapshot import NAME_LABEL
from kubefence.engine.cni_catalog import Profile, not_enforced
from kubefence.ir.addresses import IPBlock
from kubefence.ir.model import AnyPeer, Direction, IPBlockPeer, PodPeer, PodSelection, Policy, Rule
from kubefence.ir.ports import NamedPort, PortMatch, PortRange, Protocol
from kubefence.ir.selectors import LabelSelector, Operator, Requirement

if TYPE_CHECKING:
    from collections.abc import Sequence

    from kubefence.cluster.snapshot import ClusterSnapshot, Pod
    from kubefence.ir.diagnostics import Diagnostic
    from kubefence.ir.model import Peer

__all__ = ["companions", "has_open_named_ports", "open_named_ports", "rule_wide_excepts"]

_OTHER = {Direction.INGRESS: Direction.EGRESS, Direction.EGRESS: Direction.INGRESS}


def companions(policy: Policy) -> tuple[list[Policy], list[Rule], list[Rule]]:
    """The extra policies the shared chain of a both-types NetworkPolicy amounts to, the rules
    they come from, and the rules with peers that no pod selection expresses (left out)."""
    if policy.directions != frozenset(Direction):
        return [], [], []
    out: list[Policy] = []
    used: list[Rule] = []
    skipped: list[Rule] = []
    for rule in policy.rules:
        subjects: list[PodSelection] = []
        for peer in rule.peers:
            found = _within(policy.subject, peer)
            if found is None:
                skipped.append(rule)
                break
            subjects += found
        else:
            other = _OTHER[rule.direction]
            leaked = replace(
                rule,
                direction=other,
                peers=(PodPeer(policy.subject),),
                name=f"{rule.label}, run on {other.value} by kube-router's shared chain",
            )
            used.append(rule)
            for subject in subjects:
                part = policy.part * 1000 + 1 + len(out)  # after the policy's own part, in order
                out.append(
                    replace(
                        policy,
                        subject=subject,
                        directions=frozenset({other}),
                        rules=(leaked,),
                        isolates=frozenset(),
                        part=part,
                        dormant=(),
                    )
                )
    return out, used, skipped


def _within(subject: PodSelection, peer: object) -> list[PodSelection] | None:
    """The pods of ``subject`` that ``peer`` also matches, as one selection or none (None:
    ``peer`` is not a pod selection)."""
    if isinstance(peer, AnyPeer):
        return [subject]
    if not isinstance(peer, PodPeer) or not isinstance(subject.pod_selector, LabelSelector):
        return None
    other = peer.selection
    if not isinstance(other.pod_selector, LabelSelector) or other.view is not subject.view:
        return None
    pods = _both(subject.pod_selector, other.pod_selector)
    if other.namespace is not None:
        return [replace(subject, pod_selector=pods)] if other.namespace == subject.namespace else []
    if not isinstance(other.namespace_selector, LabelSelector) or subject.namespace is None:
        return None
    own = LabelSelector.of({NAME_LABEL: subject.namespace})
    return [PodSelection(pods, None, _both(own, other.namespace_selector), subject.view)]


def _both(a: LabelSelector, b: LabelSelector) -> LabelSelector:
    """A selector matching what both match (match labels written as ``In`` requirements, so
    that two values for one key match nothing rather than overwrite each other)."""
    as_reqs = [Requirement(k, Operator.IN, frozenset({v})) for k, v in (*a.match_labels, *b.match_labels)]
    return LabelSelector((), (*as_reqs, *a.match_expressions, *b.match_expressions))


def _open(rule: Rule) -> bool:
    return (
        rule.direction is Direction.EGRESS
        and rule.peers == (AnyPeer(),)
        and any(isinstance(m, NamedPort) for m in rule.ports or ())
    )


def has_open_named_ports(policy: Policy) -> bool:
    """Whether a rule of the policy is an egress rule without ``to`` that names a port."""
    return any(_open(r) for r in policy.rules)


def open_named_ports(policy: Policy, snapshot: ClusterSnapshot) -> tuple[Policy, list[Rule]]:
    """The policy with the named ports of its egress rules without ``to`` replaced by the
    numbers the pods of its namespace give them (none found: the name allows nothing), and the
    rules changed."""
    if policy.namespace is None or not has_open_named_ports(policy):
        return policy, []
    pods = [p for p in snapshot.pods if p.namespace == policy.namespace and not p.host_network]
    rules: list[Rule] = []
    changed: list[Rule] = []
    for rule in policy.rules:
        if _open(rule):
            ports: list[PortMatch] = []
            for match in rule.ports or ():
                if isinstance(match, NamedPort):
                    ports += _numbers(match, pods)
                else:
                    ports.append(match)
            changed.append(rule)
            rule = replace(rule, ports=tuple(dict.fromkeys(ports)))
        rules.append(rule)
    return replace(policy, rules=tuple(rules)), changed


def _numbers(match: NamedPort, pods: Sequence[Pod]) -> list[PortRange]:
    """The ports named ``match`` (of its protocol, TCP when unset) on ``pods``, one entry each."""
    protocol = match.protocol or Protocol.TCP
    found = sorted(
        {c.port for pod in pods for c in pod.ports if c.name == match.name and c.protocol is protocol}
    )
    return [PortRange(protocol, n, n) for n in found]


def rule_wide_excepts(profile: Profile, rule: Rule, warnings: list[Diagnostic]) -> Rule:
    """kube-router puts every ipBlock of a rule in one ipset, excepts as ``nomatch`` entries, and
    the longest matching prefix decides (cloudnativelabs/kube-router pkg/controllers/netpol
    policy.go ``evalIPBlockPeer``; npc_nftables.go per-rule except set): an except of one block
    also cuts out of every wider block of the rule. Each block then excepts every more specific
    except of the rule; a narrower block inside an except still lets its own addresses in."""
    blocks = [p for p in rule.peers if isinstance(p, IPBlockPeer)]
    if not profile.rule_wide_excepts or len(blocks) < 2:
        return rule
    excepts = {e for b in blocks for e in b.block.excepts}
    peers: list[Peer] = []
    for peer in rule.peers:
        if isinstance(peer, IPBlockPeer):
            cidr = peer.block.cidr
            cut = {e for e in excepts if e.version == cidr.version and e.prefixlen > cidr.prefixlen}
            cut = {e for e in cut if e.subnet_of(cidr)}  # type: ignore[arg-type]
            if cut != set(peer.block.excepts):
                peer = IPBlockPeer(IPBlock(cidr, tuple(sorted(cut, key=str))))
        peers.append(peer)
    if tuple(peers) == rule.peers:
        return rule
    what = (
        f"{rule.label}: kube-router applies every except of the rule's ipBlocks to all of them "
        "(one ipset per rule, longest prefix wins)"
    )
    warnings.append(not_enforced(profile, rule.source, what))
    return replace(rule, peers=tuple(peers))
