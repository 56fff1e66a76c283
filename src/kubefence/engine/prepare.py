"""Before resolving: the peers that need more than the policy itself.

- ``FQDNPeer``: bound to the addresses a DNS map gives for matching names (outside addresses
  only, §4.9); without a map they match nothing and every such rule is reported as
  "depends on DNS" instead of being guessed. Cilium learns a name's addresses only from
  lookups its DNS proxy answers, which it does for the names a DNS rule (``toPorts[].rules.dns``)
  admits; the agent pools what every endpoint looked up (cilium/cilium pkg/fqdn doc: "DNS data
  is tracked per-endpoint but collected globally"). So a Cilium FQDN peer is bound only to the
  names some Cilium DNS rule admits (``learned``).
- ``RelativeNamespacePeer`` (Antrea ``namespaces: match: Self`` / ``sameLabels``, §5.2): the
  policy is split per subject namespace, each part with the peer made absolute.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import replace
from typing import TYPE_CHECKING

from kubefence.cluster.views import cni_namespace_labels
from kubefence.engine.services import bind_services, has_services
from kubefence.engine.tiers import NOTHING
from kubefence.ir.addresses import IPBlock
from kubefence.ir.diagnostics import Diagnostic, Severity
from kubefence.ir.model import (
    CompoundPeer,
    Direction,
    ExternalBlockPeer,
    FQDNPeer,
    LabelView,
    NamespaceGatedPeer,
    Peer,
    PodPeer,
    PodSelection,
    Policy,
    RelativeNamespacePeer,
    Rule,
    leaf_peers,
    map_peers,
)
from kubefence.ir.selectors import LabelSelector

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from kubefence.cluster.snapshot import ClusterSnapshot
    from kubefence.ir.addresses import IPAddress

__all__ = ["DnsMap", "fqdn_matches", "learned", "prepare", "proxied_names"]

DnsMap = dict[str, tuple["IPAddress", ...]]


def _pattern(pattern: str) -> re.Pattern[str]:
    """Cilium matchPattern (``*`` within a label, ``**.`` for any subdomains, ``*`` alone for
    every name) and Antrea's leading-``*`` wildcard (``*example.com``: any prefix)."""
    pattern = pattern.lower().rstrip(".")
    if pattern == "*":
        return re.compile(r".+")
    if pattern.startswith("**."):
        return re.compile(r"(?:[-a-z0-9_]+\.)+" + re.escape(pattern[3:]))
    if pattern.startswith("*") and not pattern.startswith("*."):
        return re.compile(".*" + re.escape(pattern[1:]))
    return re.compile(r"[-a-z0-9_]*".join(re.escape(part) for part in pattern.split("*")))


def fqdn_matches(pattern: str, name: str) -> bool:
    return _pattern(pattern).fullmatch(name.lower().rstrip(".")) is not None


def proxied_names(policies: Iterable[Policy]) -> frozenset[str]:
    """The names and patterns of every Cilium egress DNS rule: the lookups its proxy sees."""
    return frozenset(
        name
        for p in policies
        if p.dialect == "cilium"
        for r in p.rules
        if r.direction is Direction.EGRESS
        for name in r.dns
    )


def learned(dns: DnsMap | None, proxied: frozenset[str]) -> DnsMap | None:
    """The part of ``dns`` that Cilium learns: the names some DNS rule of ``proxied`` admits."""
    if dns is None:
        return None
    return {name: ips for name, ips in dns.items() if any(fqdn_matches(p, name) for p in proxied)}


def _unlearned(policy: Policy, rule: Rule, pattern: str, names: list[str]) -> Diagnostic:
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    return Diagnostic.at(
        Severity.WARNING,
        "fqdn-not-proxied",
        f"{policy.key} {rule.label}: no DNS rule (toPorts rules.dns) of the policies given admits "
        f"lookups of {shown}, so Cilium's DNS proxy never learns {'its' if len(names) == 1 else 'their'} "
        f"addresses and toFQDNs {pattern} matches none of them",
        rule.source,
    )


def _bind_dns(
    policy: Policy, dns: DnsMap | None, notes: list[Diagnostic], known: DnsMap | None = None
) -> Policy:
    """FQDN peers bound to the addresses of ``known`` (what the CNI learned; default ``dns``),
    with a note for the names of ``dns`` it did not learn."""
    known = dns if known is None else known

    def bind(peer: Peer) -> Peer:
        if not isinstance(peer, FQDNPeer):
            return peer
        if known is None:
            return NOTHING
        ips = sorted(
            {ip for name, found in known.items() if fqdn_matches(peer.pattern, name) for ip in found},
            key=str,
        )
        blocks = tuple(ExternalBlockPeer(IPBlock(ipaddress.ip_network(ip))) for ip in ips)
        return CompoundPeer(any_of=blocks) if blocks else NOTHING

    rules = []
    for rule in policy.rules:
        fqdns = [p for p in rule.peers if isinstance(p, FQDNPeer)]
        if fqdns and dns is None:
            names = ", ".join(p.pattern for p in fqdns)
            notes.append(
                Diagnostic.at(
                    Severity.WARNING,
                    "depends-on-dns",
                    f"{policy.key} {rule.label} names {names}: the answer depends on DNS; it is "
                    "treated as matching no address (give --dns NAME=IP to answer for it)",
                    rule.source,
                )
            )
        elif fqdns and dns is not None and known is not None and known is not dns:
            for peer in fqdns:
                missing = sorted(n for n in dns if n not in known and fqdn_matches(peer.pattern, n))
                if missing:
                    notes.append(_unlearned(policy, rule, peer.pattern, missing))
        rules.append(map_peers(rule, bind))
    return replace(policy, rules=tuple(rules))


def _has_relative(policy: Policy) -> bool:
    return any(isinstance(p, RelativeNamespacePeer) for r in policy.rules for p in r.peers)


def _has_gated(policy: Policy) -> bool:
    return any(isinstance(p, NamespaceGatedPeer) for r in policy.rules for p in leaf_peers(r.peers))


def _ungated(policy: Policy, snapshot: ClusterSnapshot) -> Policy:
    """Gated peers as their peer where the namespace's labels match, else as nothing."""

    def bind(peer: Peer) -> Peer:
        if not isinstance(peer, NamespaceGatedPeer):
            return peer
        labels = cni_namespace_labels(peer.namespace, snapshot.namespace_labels(peer.namespace))
        return peer.peer if peer.selector.matches(labels) else NOTHING

    return replace(policy, rules=tuple(map_peers(r, bind) for r in policy.rules))


def _absolute(peer: RelativeNamespacePeer, namespace: str, ns_labels: Mapping[str, str]) -> Peer:
    if not peer.same_labels:
        return PodPeer(PodSelection(peer.pod_selector, namespace=namespace))
    if any(key not in ns_labels for key in peer.same_labels):
        return NOTHING  # §5.2: that namespace gets no rule from this peer
    same = LabelSelector.of({key: ns_labels[key] for key in peer.same_labels})
    return PodPeer(PodSelection(peer.pod_selector, namespace_selector=same))


def _split(policy: Policy, snapshot: ClusterSnapshot) -> list[Policy]:
    """One part per namespace the subject can select pods in, with relative peers made absolute."""
    subject = policy.subject
    out = []
    for index, name in enumerate(sorted(snapshot.namespaces)):
        labels = snapshot.namespace_labels(name)
        if subject.namespace is not None and subject.namespace != name:
            continue
        if subject.namespace_selector is not None:
            view = cni_namespace_labels(name, labels) if subject.view is LabelView.CNI else labels
            if not subject.namespace_selector.matches(view):
                continue

        def absolute(peer: Peer, name: str = name, labels: Mapping[str, str] = labels) -> Peer:
            return _absolute(peer, name, labels) if isinstance(peer, RelativeNamespacePeer) else peer

        part_subject = PodSelection(subject.pod_selector, namespace=name, view=subject.view)
        rules = tuple(map_peers(r, absolute) for r in policy.rules)
        out.append(replace(policy, subject=part_subject, rules=rules, part=policy.part * 100_000 + index))
    return out


def prepare_policy(
    policy: Policy,
    snapshot: ClusterSnapshot,
    dns: DnsMap | None,
    notes: list[Diagnostic],
    cilium_dns: DnsMap | None = None,
) -> list[Policy]:
    """One policy ready for ``Resolution`` (its parts, when it is split per namespace); its
    notes are appended to ``notes``. A policy with relative peers (``needs_namespaces``)
    depends on the snapshot's namespaces; one naming Services (``has_services``) on its
    Services, EndpointSlices and pods. ``cilium_dns``: what Cilium
    learns of ``dns`` (``learned``), for Cilium FQDN peers."""
    if has_fqdn(policy):
        known = cilium_dns if policy.dialect == "cilium" and cilium_dns is not None else dns
        policy = _bind_dns(policy, dns, notes, known)
    if _has_gated(policy):
        policy = _ungated(policy, snapshot)
    if has_services(policy):
        policy = bind_services(policy, snapshot, notes)
    return _split(policy, snapshot) if _has_relative(policy) else [policy]


def has_fqdn(policy: Policy) -> bool:
    return any(isinstance(p, FQDNPeer) for r in policy.rules for p in r.peers)


def needs_namespaces(policy: Policy) -> bool:
    """Whether ``prepare_policy`` reads the snapshot's namespaces for this policy."""
    return _has_relative(policy) or _has_gated(policy)


def prepare(
    policies: Sequence[Policy], snapshot: ClusterSnapshot, dns: DnsMap | None = None
) -> tuple[tuple[Policy, ...], list[Diagnostic]]:
    """Policies ready for ``Resolution``: FQDNs bound, relative peers expanded."""
    notes: list[Diagnostic] = []
    out: list[Policy] = []
    cilium_dns = learned(dns, proxied_names(policies))
    for policy in policies:
        out += prepare_policy(policy, snapshot, dns, notes, cilium_dns)
    return tuple(sorted(out, key=lambda p: p.order_key)), notes
