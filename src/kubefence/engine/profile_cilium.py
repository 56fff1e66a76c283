"""Cilium's agent behaviour and options applied to the IR (semantics reference §4, §7.3).

- ``without_node_rules``: without ``enable-node-selector-labels`` the agent rejects a policy
  with ``fromNodes``/``toNodes``;
- ``always_deny``: ``enable-policy=always`` makes every endpoint default-deny;
- ``cilium_tier`` / ``cilium_options``: ``allow-localhost=policy``,
  ``enable-non-default-deny-policies=false`` and ``policy-cidr-match-mode=nodes`` on the
  policies Cilium enforces;
- ``cidr_peers``: a NetworkPolicy ipBlock becomes a Cilium CIDR rule.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

from kubefence.engine.cni_catalog import Profile, not_enforced, parse_version
from kubefence.engine.tiers import CILIUM, CILIUM_LOCALHOST_POLICY
from kubefence.ir.model import (
    Direction,
    ExternalBlockPeer,
    IPBlockPeer,
    NodePeer,
    Peer,
    PodSelection,
    Policy,
    ServiceBackendsPeer,
    TierKind,
    leaf_peers,
    map_peers,
)
from kubefence.ir.provenance import Source
from kubefence.ir.selectors import LabelSelector

if TYPE_CHECKING:
    from collections.abc import Sequence

    from kubefence.ir.diagnostics import Diagnostic
    from kubefence.ir.model import Rule, Tier

__all__ = ["always_deny", "cidr_peers", "cilium_options", "cilium_tier", "without_node_rules"]


def without_node_rules(
    profile: Profile, policies: Sequence[Policy], warnings: list[Diagnostic]
) -> Sequence[Policy]:
    """Cilium without ``enable-node-selector-labels`` (default false) rejects a policy with
    ``fromNodes``/``toNodes`` as a whole, every part of the object (cilium/cilium
    pkg/policy/api rule_validation.go ``IngressCommonRule.Validate``/``EgressCommonRule.Validate``:
    ``ErrFromToNodesRequiresNodeSelectorOption``; pkg/defaults ``EnableNodeSelectorLabels = false``)."""
    if profile.name != "cilium" or profile.node_selector_labels:
        return policies
    rejected: set[tuple[str, str | None, str]] = set()
    for policy in policies:
        key = (policy.kind, policy.namespace, policy.name)
        rule = next(
            (r for r in policy.rules if any(isinstance(p, NodePeer) for p in leaf_peers(r.peers))), None
        )
        if policy.dialect != "cilium" or rule is None or key in rejected:
            continue
        rejected.add(key)
        what = (
            f"{rule.label} selects nodes (fromNodes/toNodes), which Cilium rejects "
            "unless enable-node-selector-labels=true; the whole policy is ignored"
        )
        warnings.append(not_enforced(profile, rule.source, what))
    if not rejected:
        return policies
    return [p for p in policies if p.dialect != "cilium" or (p.kind, p.namespace, p.name) not in rejected]


# Cilium with enable-policy=always: every endpoint is default-deny in both directions (§4.3).
ALWAYS_DENY = Policy(
    "CiliumAgentOption",
    "enable-policy=always",
    None,
    CILIUM,
    0,
    PodSelection(LabelSelector(), namespace_selector=LabelSelector()),
    frozenset(Direction),
    (),
    Source("<--cni cilium,enable-policy=always>", 0, "cilium", "enable-policy=always"),
)
ALWAYS_DENY_LOCALHOST_POLICY = replace(ALWAYS_DENY, tier=CILIUM_LOCALHOST_POLICY)


def always_deny(profile: Profile) -> Policy:
    """The policy standing for ``enable-policy=always`` (one object per option set)."""
    return ALWAYS_DENY_LOCALHOST_POLICY if profile.localhost_policy else ALWAYS_DENY


def cilium_tier(profile: Profile) -> Tier:
    """``allow-localhost=policy``: the local node's traffic to its pods is policed (§4.3)."""
    return CILIUM_LOCALHOST_POLICY if profile.localhost_policy else CILIUM


def cilium_options(profile: Profile, policy: Policy) -> Policy:
    """Cilium's agent options on its own policies: ``enable-non-default-deny-policies=false``
    (enableDefaultDeny is not honoured, §4.3), ``allow-localhost=policy`` (the tier polices the
    local node) and ``policy-cidr-match-mode=nodes`` (CIDR rules also select node addresses,
    §4.8: an ipBlock peer, which the profile keeps off pods)."""
    if policy.dialect != "cilium":
        return policy
    selectors, nodes = _selector_services(profile), profile.cidr_match_nodes
    if not selectors or nodes:
        read = partial(_services, selectors, nodes)
        policy = replace(policy, rules=tuple(map_peers(r, read) for r in policy.rules))
    if not profile.default_deny_options and policy.isolates is not None:
        policy = replace(policy, isolates=None)
    if profile.localhost_policy and policy.tier.kind is TierKind.UNION:
        policy = replace(policy, tier=CILIUM_LOCALHOST_POLICY)
    if profile.cidr_match_nodes and any(
        isinstance(p, ExternalBlockPeer) for r in policy.rules for p in r.peers
    ):
        rules = tuple(
            replace(
                r,
                peers=tuple(IPBlockPeer(p.block) if isinstance(p, ExternalBlockPeer) else p for p in r.peers),
            )
            for r in policy.rules
        )
        policy = replace(policy, rules=rules)
    return policy


def _selector_services(profile: Profile) -> bool:
    """Whether ``toServices`` matches Services with a selector: from Cilium 1.17 (cilium/cilium
    pull 34208; before, "ToService rules only apply to services without selectors", pull 25864)."""
    if profile.version is None:
        return True
    major, minor = parse_version(profile.name, profile.version)
    return (major, minor or 0) >= (1, 17)


def _services(selectors: bool, nodes: bool, peer: Peer) -> Peer:
    """``toServices`` as this agent reads it: before 1.17 only Services without a selector;
    with ``policy-cidr-match-mode=nodes`` their endpoint CIDRs also select node addresses."""
    if not isinstance(peer, ServiceBackendsPeer):
        return peer
    return replace(peer, pod_selectors=selectors, cidrs_match_nodes=nodes)


def cidr_peers(profile: Profile, rule: Rule, warnings: list[Diagnostic]) -> Rule:
    """Cilium turns an ipBlock into a CIDR rule (cilium/cilium pkg/k8s/network_policy.go
    ``ipBlockToCIDRRule``), which selects neither pods nor nodes under the default
    ``policy-cidr-match-mode`` (pkg/ipcache/metadata.go: node identities carry no CIDR labels
    unless the mode includes "nodes"): an ExternalBlockPeer, as a CNP ``toCIDRSet`` (§4.8)."""
    if not profile.ipblock_as_cidr or not any(isinstance(p, IPBlockPeer) for p in rule.peers):
        return rule
    peers = tuple(ExternalBlockPeer(p.block) if isinstance(p, IPBlockPeer) else p for p in rule.peers)
    what = (
        f"{rule.label}: ipBlock acts as a Cilium CIDR rule and matches only addresses outside the "
        "cluster, never a pod, a node or a host-network pod"
    )
    warnings.append(not_enforced(profile, rule.source, what))
    return replace(rule, peers=peers)
