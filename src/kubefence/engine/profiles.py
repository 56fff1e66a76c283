"""CNI enforcement profiles: what a given CNI really enforces of the policies the API server accepts.

Semantics reference §6 (the profile table and its notes) and §2.5 (who implements the
AdminNetworkPolicy family). A ``Profile`` says which policy kinds a CNI enforces and which
Kubernetes NetworkPolicy features it drops or changes; ``apply_profile`` rewrites the IR into
the policies as that CNI enforces them, with one warning per dropped or changed policy or field.
``Profile.ipblock_matches_pods`` is honoured by the engine (``Resolution``), not here. The
profiles themselves, and ``--cni`` parsing, are in ``engine.cni_catalog`` (re-exported here);
Cilium's agent options in ``engine.profile_cilium``; kube-router's ways of installing rules in
``engine.kube_router``.

Only the dialects kubefence reads are covered: Kubernetes NetworkPolicy, AdminNetworkPolicy /
BaselineAdminNetworkPolicy v1alpha1 and ClusterNetworkPolicy v1alpha2. Decisions where the
reference is unsure are recorded in each profile's ``description`` and in ``notes``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from kubefence.engine.kube_router import companions, has_open_named_ports, open_named_ports, rule_wide_excepts
from kubefence.engine.profile_cilium import (
    always_deny,
    cidr_peers,
    cilium_options,
    cilium_tier,
    without_node_rules,
)
from kubefence.engine.tiers import (
    CALICO_BUILTIN_TIERS,
    CALICO_DEFAULT,
    NETWORK_POLICY_OWN_NODE_EGRESS,
    antrea_tier,
    calico_tier,
)
from kubefence.ir.diagnostics import Diagnostic, Severity
from kubefence.ir.model import (
    NETWORK_POLICY,
    Action,
    AnyPeer,
    Direction,
    IPBlockPeer,
    PodPeer,
    Policy,
    TierKind,
)
from kubefence.ir.ports import MAX_PORT, MIN_PORT, NamedPort, PortMatch, PortRange, Protocol

if TYPE_CHECKING:
    from kubefence.cluster.snapshot import ClusterSnapshot
    from kubefence.ir.model import Rule

from kubefence.engine.cni_catalog import (
    ANP,
    CILIUM_OPTIONS,
    CNI_NAMES,
    CNP,
    GENERIC,
    NOT_ENFORCED,
    NP,
    POLICY_KINDS,
    UPSTREAM_DIALECTS,
    VENDORS,
    Profile,
    ProfileError,
    all_profiles,
    not_enforced,
    parse_profile,
)

__all__ = [
    "CILIUM_OPTIONS",
    "CNI_NAMES",
    "GENERIC",
    "NOT_ENFORCED",
    "POLICY_KINDS",
    "Profile",
    "ProfileError",
    "all_profiles",
    "apply_profile",
    "bind_to_snapshot",
    "parse_profile",
    "reads_pods",
    "view_policies",
    "view_policy",
]


def _vendor_ignored(profile: Profile, policy: Policy) -> str | None:
    """Why ``profile`` does not enforce a policy of a CNI's own API (None: it does)."""
    vendor = VENDORS.get(policy.dialect)
    if vendor is None or policy.dialect in profile.dialects:
        return None
    who = {"calico": "calico and canal"}.get(policy.dialect, policy.dialect)
    return f"{vendor} {policy.kind} is {vendor}'s own API, enforced only by {who}; the policy is ignored"


# What one policy becomes (none, one or several policies), its warnings appended to the list.
Each = Callable[[Policy, list[Diagnostic]], Sequence[Policy]]


def view_policy(profile: Profile, policy: Policy, warnings: list[Diagnostic]) -> Policy | None:
    """One policy as ``profile``'s CNI enforces it (None: not at all), one warning appended to
    ``warnings`` per dropped or changed item. Staged kinds are previews: reported, left out."""
    why = _vendor_ignored(profile, policy)
    if why is None and policy.dialect in UPSTREAM_DIALECTS:
        kind_why = profile.ignores(policy.kind)
        why = f"{policy.kind} ({kind_why}); the policy is ignored" if kind_why else None
    if why is not None:
        warnings.append(not_enforced(profile, policy.source, why))
        return None
    if policy.kind.startswith("Staged"):
        warnings.append(_staged(policy))
        return None
    if policy.kind == NP and policy.dialect == "networkpolicy":
        kept = _network_policy(profile, policy, warnings)
        if kept is None:
            return None
        policy = kept
    elif policy.dialect == "adminnetworkpolicy" and profile.calico_minor is not None:
        policy = _calico_admin(profile, profile.calico_minor, policy, warnings)
    return place(profile, _strip_l7(profile, policy, warnings))


def view_policies(profile: Profile, policy: Policy, warnings: list[Diagnostic]) -> list[Policy]:
    """``view_policy``, and the policies the CNI's way of installing it adds (kube-router's
    shared chain of a both-types NetworkPolicy, ``engine.kube_router``)."""
    kept = view_policy(profile, policy, warnings)
    if kept is None:
        return []
    if not profile.shared_chain or kept.kind != NP or kept.dialect != "networkpolicy":
        return [kept]
    extra, used, skipped = companions(kept)
    for rule in skipped:
        other = "egress" if rule.direction is Direction.INGRESS else "ingress"
        what = (
            f"{rule.label}: with both policy types kube-router also runs it on the {other} of the "
            "policy's pods (one shared chain); not modelled for a rule with ipBlock peers"
        )
        warnings.append(not_enforced(profile, rule.source, what))
    if used:
        what = (
            "with both policy types kube-router runs every rule on every packet of the policy's "
            f"pods (one shared chain): {', '.join(r.label for r in used)} also allow"
            f"{'s' if len(used) == 1 else ''} traffic the other way between the policy's own pods"
        )
        warnings.append(not_enforced(profile, kept.source, what))
    return [kept, *extra]


def reads_pods(profile: Profile, policy: Policy) -> bool:
    """Whether ``bind_to_snapshot`` reads the snapshot's pods for this (viewed) policy."""
    return profile.open_named_ports and policy.kind == NP and has_open_named_ports(policy)


def bind_to_snapshot(
    profile: Profile, policy: Policy, snapshot: ClusterSnapshot, warnings: list[Diagnostic]
) -> Policy:
    """What a viewed policy means to the CNI given the cluster's pods: kube-router's named ports
    of egress rules without ``to`` (``engine.kube_router``)."""
    if not reads_pods(profile, policy):
        return policy
    bound, changed = open_named_ports(policy, snapshot)
    for old, new in zip(policy.rules, bound.rules, strict=True):
        if old in changed:
            numbers = (
                ", ".join(str(m) for m in new.ports or ()) or "no port (no pod of the namespace names it)"
            )
            what = (
                f"{old.label} has no `to`: kube-router looks its named port up on the pods of "
                f"{policy.namespace} and allows {numbers} toward every destination"
            )
            warnings.append(not_enforced(profile, old.source, what))
    return bound


def apply_profile(
    profile: Profile, policies: Sequence[Policy], *, staged: bool = False, each: Each | None = None
) -> tuple[tuple[Policy, ...], list[Diagnostic]]:
    """The policies as ``profile``'s CNI enforces them, in the CNI's evaluation order (§7), and
    one warning per dropped/changed item. ``staged``: Calico's staged policies are analysed as
    if applied (each replaces the live policy of its kind, namespace and name).

    ``each`` turns one policy into what is enforced of it (default: ``view_policy``); a caller
    that keeps policies across revisions passes a memoised one that also prepares them.
    Kept rules keep their index so that answers still cite the user's numbering.
    """
    out: list[Policy] = []
    warnings: list[Diagnostic] = []
    if staged:
        policies = _applied(policies, warnings)
    if profile.policy_mode == "never":
        return (), [
            not_enforced(profile, p.source, "enable-policy=never: no policy is enforced") for p in policies
        ]
    if each is None:

        def each(policy: Policy, warnings: list[Diagnostic]) -> Sequence[Policy]:
            return view_policies(profile, policy, warnings)

    for policy in without_node_rules(profile, policies, warnings):
        out += each(policy, warnings)
    if profile.policy_mode == "always":
        out.append(always_deny(profile))
    return tuple(sorted(out, key=lambda p: p.order_key)), warnings


def _applied(policies: Sequence[Policy], notes: list[Diagnostic]) -> list[Policy]:
    """Staged policies as their live kinds, replacing the live policies they would update. A
    staged Delete (no directions, dialects/calico.py) removes the live policy and is dropped
    (libcalico-go .../updateprocessors/stagednetworkpolicyprocessor.go sends no policy for it)."""
    live = []
    for p in policies:
        if p.kind.startswith("Staged"):
            kind = p.kind.removeprefix("Staged")
            if kind == "KubernetesNetworkPolicy":
                source = replace(p.source, dialect="networkpolicy")
                live.append(replace(p, kind=NP, source=source))
            else:
                live.append(replace(p, kind=kind))
    replaced = {(q.dialect, q.kind, q.namespace, q.name) for q in live}
    kept = [p for p in policies if not p.kind.startswith("Staged")]
    notes += [_deleted(q, kept) for q in live if not q.directions]
    out = [p for p in kept if (p.dialect, p.kind, p.namespace, p.name) not in replaced]
    return out + [q for q in live if q.directions]


def _deleted(staged: Policy, live: Sequence[Policy]) -> Diagnostic:
    """The note for a staged Delete: which live policy it removes (or that there is none)."""
    key = (staged.dialect, staged.kind, staged.namespace, staged.name)
    gone = next((p for p in live if (p.dialect, p.kind, p.namespace, p.name) == key), None)
    what = f"removes {gone.key}" if gone is not None else f"would remove {staged.key}, which is not given"
    return Diagnostic.at(Severity.INFO, "staged", f"--staged: stagedAction Delete {what}", staged.source)


def _staged(policy: Policy) -> Diagnostic:
    return Diagnostic.at(
        Severity.WARNING,
        "staged",
        f"{policy.kind} is a preview: Calico never enforces it, so it is not part of the answers "
        "(--staged analyses it as if applied)",
        policy.source,
    )


def _strip_l7(profile: Profile, policy: Policy, warnings: list[Diagnostic]) -> Policy:
    """Calico without application-layer policy: HTTP criteria are not enforced (§3.5, §6)."""
    if policy.dialect != "calico" or not any(r.l7 for r in policy.rules):
        return policy
    rules = []
    for rule in policy.rules:
        if rule.l7 is not None:
            what = (
                f"{rule.label}: HTTP criteria ({rule.l7}) need application-layer policy; "
                "the rule acts as an L4 allow"
            )
            warnings.append(not_enforced(profile, rule.source, what))
            rule = replace(rule, l7=None)
        rules.append(rule)
    return replace(policy, rules=tuple(rules))


def place(profile: Profile, policy: Policy) -> Policy:
    """The policy in the tier where ``profile``'s CNI evaluates it (§7.2–§7.4)."""
    if policy.dialect == "calico" and profile.calico_minor is not None and profile.calico_minor < 32:
        # ≤ 3.31 breaks order ties on Felix's policy name alone (§3.2).
        ns = policy.namespace
        return replace(policy, tiebreak=f"{ns}/{policy.name}" if ns else policy.name)
    if policy.dialect not in UPSTREAM_DIALECTS:
        return cilium_options(profile, policy)
    if profile.calico_minor is not None:
        return _calico_place(profile.calico_minor, policy)
    if profile.name == "cilium" and policy.kind == NP:
        return replace(policy, tier=cilium_tier(profile))
    if profile.name == "antrea":
        return _antrea_place(policy)
    if profile.own_node_egress and policy.kind == NP:
        # weaveworks/weave prog/weave-npc/main.go createBaseRules: WEAVE-NPC-EGRESS returns
        # for "-m addrtype --dst-type LOCAL" before any egress policy.
        return replace(policy, tier=NETWORK_POLICY_OWN_NODE_EGRESS)
    return policy


def _calico_place(minor: int, policy: Policy) -> Policy:
    """Calico: Kubernetes NetworkPolicy in the default tier at order 1000; ANP/CNP in the
    admin tier and BANP/CNP baseline in the baseline tier, ordered by priority (§3.6, §3.7)."""
    ns = policy.namespace or ""
    if policy.kind == NP:
        tiebreak = (
            f"{policy.name}/{ns}/KubernetesNetworkPolicy"
            if minor >= 32
            else f"{ns}/knp.default.{policy.name}"
        )
        return replace(policy, tier=CALICO_DEFAULT, priority=1000.0, tiebreak=tiebreak)
    admin = policy.tier.rank < NETWORK_POLICY.rank
    names = (
        ("kube-admin", "kube-baseline")
        if minor >= 32
        else ("adminnetworkpolicy", "baselineadminnetworkpolicy")
    )
    name = names[0] if admin else names[1]
    order, action = CALICO_BUILTIN_TIERS[name]
    return replace(policy, tier=calico_tier(name, order, action))


def _antrea_place(policy: Policy) -> Policy:
    """Antrea: upstream ClusterNetworkPolicy Admin at tier priority 220, v1alpha1
    AdminNetworkPolicy after every regular Antrea tier; both Pass to NetworkPolicy (§5.4)."""
    if policy.kind == CNP and policy.tier.rank < NETWORK_POLICY.rank:
        return replace(policy, tier=antrea_tier("cluster-network-policy-admin", 220))
    if policy.kind == ANP:
        return replace(policy, tier=antrea_tier("adminnetworkpolicy", 251))
    if policy.tier.kind is not TierKind.ISOLATING and not policy.tier.local_allowed:
        # BANP and Baseline CNP: in Antrea's pipeline too, so the node's own traffic bypasses them.
        return replace(policy, tier=replace(policy.tier, local_allowed=True))
    return policy


def _calico_admin(profile: Profile, minor: int, policy: Policy, warnings: list[Diagnostic]) -> Policy:
    """An AdminNetworkPolicy / BaselineAdminNetworkPolicy / ClusterNetworkPolicy as Calico's
    conversion leaves it (projectcalico/calico libcalico-go/lib/backend/k8s/conversion:
    conversion.go ≤ 3.31, clusternetworkpolicy.go 3.32): see ``_calico_admin_rule``."""
    rules: list[Rule] = []
    for rule in policy.rules:
        new = _calico_admin_rule(profile, minor, rule, warnings)
        if new is not None:
            rules.append(new)
    if len(rules) == len(policy.rules) and all(a is b for a, b in zip(rules, policy.rules, strict=True)):
        return policy
    return replace(policy, rules=tuple(rules))


def _calico_admin_rule(profile: Profile, minor: int, rule: Rule, warnings: list[Diagnostic]) -> Rule | None:
    """A peer other than namespaces, pods or networks (``nodes``) fails the rule's conversion
    ("none of supported fields in 'To' is set."); the failed rule is replaced by a deny-all rule
    when its action is Deny or Pass and dropped when Allow (``k8sANPHandleFailedRules``,
    ``k8sBANPHandleFailedRules``, ``k8sClusterNetPolHandleFailedRules``). Up to 3.31 a named port
    converts to no protocol and no port, which makes the whole port list "every port"
    (``k8sAdminPolicyPortToCalicoFields``: "TODO: Add support for NamedPorts";
    ``unpackANPPorts``); 3.32 converts ``destinationNamedPort``."""
    bad = next((p for p in rule.peers if not isinstance(p, PodPeer | IPBlockPeer)), None)
    if bad is not None:
        if rule.action is Action.ALLOW:
            warnings.append(
                not_enforced(
                    profile,
                    rule.source,
                    f"{rule.label}: Calico cannot convert the peer {bad}; the rule is dropped",
                )
            )
            return None
        what = (
            f"{rule.label}: Calico cannot convert the peer {bad} and replaces the rule with one that denies "
            "every peer, port and protocol"
        )
        warnings.append(not_enforced(profile, rule.source, what))
        return replace(rule, action=Action.DENY, peers=(AnyPeer(),), ports=None, except_ports=())
    named = next((m for m in rule.ports or () if isinstance(m, NamedPort)), None)
    if named is not None and minor <= 31:
        what = f"{rule.label}: Calico 3.{minor} ignores {named}, so the rule matches every port and protocol"
        warnings.append(not_enforced(profile, rule.source, what))
        return replace(rule, ports=None)
    return rule


def _network_policy(profile: Profile, policy: Policy, warnings: list[Diagnostic]) -> Policy | None:
    if not profile.named_ports:
        named = [(r, m) for r in policy.rules for m in r.ports or () if isinstance(m, NamedPort)]
        if named:
            rule, match = named[0]
            warnings.append(
                not_enforced(
                    profile,
                    rule.source,
                    f"{rule.label} uses {match}: the CNI rejects the whole policy, which is ignored "
                    "(its pods are not isolated by it)",
                )
            )
            return None
    policy = _rules_beyond_types(profile, policy, warnings)
    rules: list[Rule] = []
    changed = False
    for rule in policy.rules:
        new = _rule(
            profile, cidr_peers(profile, rule_wide_excepts(profile, rule, warnings), warnings), warnings
        )
        changed = changed or new is not rule
        if new is not None:
            rules.append(new)
    return replace(policy, rules=tuple(rules)) if changed else policy


def _rules_beyond_types(profile: Profile, policy: Policy, warnings: list[Diagnostic]) -> Policy:
    """Weave Net builds rules from ``spec.ingress`` and ``spec.egress`` whatever ``policyTypes``
    says (weaveworks/weave npc/analyser.go ``analysePolicy``); ``policyTypes`` only decides
    which pods lose default-allow. Such rules then allow traffic for pods that another policy
    isolates: the policy takes part in both directions and isolates only those it lists."""
    if not profile.rules_beyond_types or not policy.dormant:
        return policy
    extra = frozenset(r.direction for r in policy.dormant)
    names = " and ".join(sorted(d.value for d in extra))
    what = (
        f"its {names} rules are installed although policyTypes leaves {names} out: they allow "
        f"{names} traffic of pods that another policy isolates (this one does not isolate {names})"
    )
    warnings.append(not_enforced(profile, policy.source, what))
    return replace(
        policy,
        directions=policy.directions | extra,
        rules=policy.rules + policy.dormant,
        isolates=policy.directions,
        dormant=(),
    )


def _rule(profile: Profile, rule: Rule, warnings: list[Diagnostic]) -> Rule | None:
    if rule.ports is None:
        return rule
    ports: list[PortMatch] = []
    for match in rule.ports:
        new = _port(profile, rule, match, warnings)
        if new is not None:
            ports.append(new)
    if not ports:
        warnings.append(
            not_enforced(profile, rule.source, f"{rule.label} has no port left: the rule is dropped")
        )
        return None
    if tuple(ports) == rule.ports:
        return rule
    return replace(rule, ports=tuple(ports))


def _port(profile: Profile, rule: Rule, match: PortMatch, warnings: list[Diagnostic]) -> PortMatch | None:
    if not profile.sctp and match.protocol is Protocol.SCTP:
        warnings.append(not_enforced(profile, rule.source, f"{rule.label}: {match} (SCTP) is dropped"))
        return None
    if isinstance(match, PortRange) and not profile.end_port and _is_range(match):
        first = PortRange(match.protocol, match.start, match.start)
        warnings.append(
            not_enforced(profile, rule.source, f"{rule.label}: endPort is ignored, {match} acts as {first}")
        )
        return first
    return match


def _is_range(match: PortRange) -> bool:
    """A ``port``..``endPort`` range (not a single port, not 'every port')."""
    return match.start != match.end and not (match.start == MIN_PORT and match.end == MAX_PORT)
