"""CNI enforcement profiles: what a given CNI really enforces of the policies the API server accepts.

Semantics reference §6 (the profile table and its notes) and §2.5 (who implements the
AdminNetworkPolicy family). A ``Profile`` says which policy kinds a CNI enforces and which
Kubernetes NetworkPolicy features it drops or changes; ``apply_profile`` rewrites the IR into
the policies as that CNI enforces them, with one warning per dropped or changed policy or field.
``Profile.ipblock_matches_pods`` is honoured by the engine (``Resolution``), not here.

Only the dialects kubefence reads are covered: Kubernetes NetworkPolicy, AdminNetworkPolicy /
BaselineAdminNetworkPolicy v1alpha1 and ClusterNetworkPolicy v1alpha2. Decisions where the
reference is unsure are recorded in each profile's ``description`` and in ``notes``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from kubefence.engine.tiers import CALICO_BUILTIN_TIERS, CALICO_DEFAULT, CILIUM, antrea_tier, calico_tier
from kubefence.ir.diagnostics import Diagnostic, Severity
from kubefence.ir.model import NETWORK_POLICY, Direction, PodSelection, Policy, TierKind
from kubefence.ir.ports import MAX_PORT, MIN_PORT, NamedPort, PortMatch, PortRange, Protocol
from kubefence.ir.provenance import Source
from kubefence.ir.selectors import LabelSelector

if TYPE_CHECKING:
    from kubefence.ir.model import Rule

__all__ = [
    "CNI_NAMES",
    "GENERIC",
    "NOT_ENFORCED",
    "POLICY_KINDS",
    "Profile",
    "ProfileError",
    "all_profiles",
    "apply_profile",
    "parse_profile",
    "view_policy",
]

NOT_ENFORCED = "not-enforced"
VENDORS = {"calico": "Calico", "cilium": "Cilium", "antrea": "Antrea"}
UPSTREAM_DIALECTS = ("networkpolicy", "adminnetworkpolicy")
NP, ANP, BANP, CNP = (
    "NetworkPolicy",
    "AdminNetworkPolicy",
    "BaselineAdminNetworkPolicy",
    "ClusterNetworkPolicy",
)
POLICY_KINDS = (NP, ANP, BANP, CNP)
_UPSTREAM_ADMIN = (ANP, BANP, CNP)
CALICO_LATEST = (3, 32)
_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?$")


class ProfileError(ValueError):
    """A ``--cni`` value that names no known profile or version."""


@dataclass(frozen=True, slots=True)
class Profile:
    """What one CNI (at one version) enforces.

    ``ignored_kinds`` maps each policy kind the CNI does not enforce to why. The other flags
    concern Kubernetes NetworkPolicy only: ``named_ports`` False rejects a whole policy that uses
    a named port; ``end_port`` False turns a port range into its first port; ``sctp`` False drops
    SCTP port entries; ``ipblock_matches_pods`` False keeps ipBlock peers off pod-network pods.
    """

    name: str
    version: str | None
    description: str
    ignored_kinds: tuple[tuple[str, str], ...] = ()
    named_ports: bool = True
    end_port: bool = True
    sctp: bool = True
    ipblock_matches_pods: bool = True
    notes: tuple[str, ...] = ()
    dialects: frozenset[str] = frozenset()
    calico_minor: int | None = None
    policy_mode: str = "default"
    default_deny_options: bool = True

    @property
    def spec(self) -> str:
        """``calico@3.31`` (or the bare name when no version applies), with the options set."""
        out = f"{self.name}@{self.version}" if self.version else self.name
        if self.policy_mode != "default":
            out += f",enable-policy={self.policy_mode}"
        if not self.default_deny_options:
            out += ",enable-non-default-deny-policies=false"
        return out

    def ignores(self, kind: str) -> str | None:
        """Why the CNI does not enforce policies of ``kind`` (None: it does)."""
        return dict(self.ignored_kinds).get(kind)

    def gaps(self) -> list[str]:
        """Human-readable list of what this profile does not enforce."""
        out = [f"{kind}: {why}" for kind, why in self.ignored_kinds]
        others = sorted(set(VENDORS) - self.dialects)
        if others:
            out.append(f"{', '.join(VENDORS[d] for d in others)} policies (their CNIs' own APIs)")
        if not self.named_ports:
            out.append("NetworkPolicy with a named port: the whole policy is rejected (ignored)")
        if not self.end_port:
            out.append("NetworkPolicy endPort: ignored, the range is just its first port")
        if not self.sctp:
            out.append("NetworkPolicy SCTP ports: not enforced (port entries dropped)")
        if not self.ipblock_matches_pods:
            out.append("NetworkPolicy/ANP ipBlock or networks peers never match pod-network pods")
        return out


def _ignore(kinds: Sequence[str], why: str) -> tuple[tuple[str, str], ...]:
    return tuple((k, why) for k in kinds)


GENERIC = Profile(
    "generic",
    None,
    "Upstream Kubernetes semantics: NetworkPolicy, AdminNetworkPolicy, BaselineAdminNetworkPolicy "
    "and ClusterNetworkPolicy, every field enforced.",
)

_NOT_IMPLEMENTED = "not implemented by this CNI (network-policy-api implementations list)"

_FIXED: dict[str, Profile] = {
    "generic": GENERIC,
    "cilium": Profile(
        "cilium",
        None,
        "Cilium (default options). CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy and Kubernetes "
        "NetworkPolicy form one union: a matching deny rule wins, then any allow, then default deny "
        "where a selecting policy turns it on. ipBlock selects only "
        "addresses outside the cluster's pods; SCTP in NetworkPolicy is a documented missing feature "
        "(docs.cilium.io network/kubernetes/policy, 'Known missing features'); with the beta "
        "sctp.enabled=true option SCTP is enforced, which this profile does not assume.",
        ignored_kinds=_ignore(
            _UPSTREAM_ADMIN,
            "not implemented by Cilium (an open issue on the network-policy-api implementations list)",
        ),
        sctp=False,
        ipblock_matches_pods=False,
        dialects=frozenset({"cilium"}),
        notes=(
            "Node and host-network IPs are still matched by ipBlock (as with "
            "policy-cidr-match-mode=nodes); by default Cilium matches them only through entities.",
            "A NetworkPolicy rule whose only ports are SCTP is dropped (fail closed), not widened.",
        ),
    ),
    "antrea": Profile(
        "antrea",
        None,
        "Antrea: Antrea-native policies in their tiers (emergency 50 ... application 250) before "
        "Kubernetes NetworkPolicy, the Antrea baseline tier after it; Allow is final, Pass goes to "
        "NetworkPolicy. Kubernetes NetworkPolicy fully; AdminNetworkPolicy/BaselineAdminNetworkPolicy with "
        "the AdminNetworkPolicy feature gate (deprecated) and ClusterNetworkPolicy v1alpha2 with the "
        "ClusterNetworkPolicy feature gate (alpha in v2.7); this profile assumes both gates on.",
        notes=("ipBlock matching pod IPs is not documented by Antrea; kubefence assumes it matches by IP.",),
        dialects=frozenset({"antrea"}),
    ),
    "weave": Profile(
        "weave",
        None,
        "Weave Net (weave-npc, unmaintained since 2022): Kubernetes NetworkPolicy only; a policy using "
        "a named port is rejected as a whole (fail open); endPort is not read (fail closed).",
        ignored_kinds=_ignore(_UPSTREAM_ADMIN, _NOT_IMPLEMENTED),
        named_ports=False,
        end_port=False,
    ),
    "kube-router": Profile(
        "kube-router",
        None,
        "kube-router: Kubernetes NetworkPolicy fully (named ports, endPort, ipBlock except).",
        ignored_kinds=_ignore(_UPSTREAM_ADMIN, _NOT_IMPLEMENTED),
    ),
    "flannel": Profile(
        "flannel",
        None,
        "Flannel implements no network policy: every policy is silently ignored.",
        ignored_kinds=_ignore(POLICY_KINDS, "flannel implements no network policy"),
    ),
}

CNI_NAMES = ("generic", "calico", "canal", "cilium", "antrea", "weave", "kube-router", "flannel")


def _calico(name: str, minor: int, version: str | None) -> Profile:
    """Calico OSS 3.<minor>: ANP 3.29–3.31, BANP 3.30–3.31, ClusterNetworkPolicy 3.32+ (§2.5, §6)."""
    ranges = {ANP: (29, 31), BANP: (30, 31), CNP: (32, None)}
    ignored = []
    for kind, (low, high) in ranges.items():
        if minor < low or (high is not None and minor > high):
            span = f"3.{low}–3.{high}" if high is not None else f"3.{low} and later"
            ignored.append((kind, f"Calico enforces {kind} in {span} only"))
    what = "Calico" if name == "calico" else "Canal (Flannel networking, Calico Felix policy)"
    return Profile(
        name,
        version,
        f"{what} {version or f'3.{minor} (latest)'}: Calico policies in tiers by order (first match, "
        "Pass to the next tier, end-of-tier Deny for the endpoints a tier selects), Kubernetes "
        "NetworkPolicy in the default tier at order 1000; "
        "AdminNetworkPolicy 3.29–3.31, BaselineAdminNetworkPolicy 3.30–3.31, ClusterNetworkPolicy 3.32+.",
        ignored_kinds=tuple(ignored),
        dialects=frozenset({"calico"}),
        calico_minor=minor,
        notes=(
            "HTTP match criteria in Calico rules need application-layer policy (Istio / Envoy); "
            "without it they are not enforced and the rule acts as an L4 allow.",
        ),
    )


def _version(name: str, text: str) -> tuple[int, int | None]:
    match = _VERSION.match(text)
    if match is None:
        raise ProfileError(f"bad version {text!r} for {name}: expected MAJOR.MINOR[.PATCH], e.g. 3.31")
    minor = match.group(2)
    return int(match.group(1)), int(minor) if minor is not None else None


# Cilium agent options that change verdicts (§4.3): name → allowed values.
CILIUM_OPTIONS = {
    "enable-policy": ("default", "always", "never"),
    "enable-non-default-deny-policies": ("true", "false"),
}


def parse_profile(text: str) -> Profile:
    """``NAME[@VERSION][,OPTION=VALUE...]`` → Profile; ProfileError on an unknown CNI, a
    bad/unknown version or an unknown option (options: Cilium's ``enable-policy`` and
    ``enable-non-default-deny-policies``)."""
    head, *options = text.strip().split(",")
    profile = _parse_name(head)
    for option in options:
        profile = _with_option(profile, option)
    return profile


def _with_option(profile: Profile, option: str) -> Profile:
    key, _, value = option.strip().partition("=")
    allowed = CILIUM_OPTIONS.get(key)
    if profile.name != "cilium" or allowed is None:
        known = ", ".join(CILIUM_OPTIONS)
        raise ProfileError(f"unknown option {option!r} for {profile.name} (cilium takes {known})")
    if value not in allowed:
        raise ProfileError(f"{key}={value!r}: expected one of {', '.join(allowed)}")
    if key == "enable-policy":
        return replace(profile, policy_mode=value)
    return replace(profile, default_deny_options=value == "true")


def _parse_name(text: str) -> Profile:
    name, sep, version = text.strip().partition("@")
    name = name.lower()
    if name not in CNI_NAMES:
        raise ProfileError(f"unknown CNI {name!r}: expected one of {', '.join(CNI_NAMES)}")
    if sep and not version:
        raise ProfileError(f"empty version after '{name}@'")
    if name in ("calico", "canal"):
        if not sep:
            return _calico(name, CALICO_LATEST[1], None)
        major, minor = _version(name, version)
        if major != 3 or minor is None or minor > CALICO_LATEST[1]:
            raise ProfileError(
                f"unknown {name} version {version!r}: known versions are 3.0 to 3.{CALICO_LATEST[1]}"
            )
        return _calico(name, minor, version.lstrip("v"))
    profile = _FIXED[name]
    if sep:
        _version(name, version)  # well-formed; no behaviour of this profile depends on it
        return replace(profile, version=version.lstrip("v"))
    return profile


def all_profiles() -> list[Profile]:
    """One profile per CNI at its latest version (what ``kubefence profiles`` lists)."""
    return [parse_profile(name) for name in CNI_NAMES]


def _warning(profile: Profile, source: Source, what: str) -> Diagnostic:
    return Diagnostic(
        Severity.WARNING,
        NOT_ENFORCED,
        f"accepted by the API server but not enforced by {profile.spec}: {what}",
        source.file,
        source.line,
        None,
        source.object,
    )


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
        warnings.append(_warning(profile, policy.source, why))
        return None
    if policy.kind.startswith("Staged"):
        warnings.append(_staged(policy))
        return None
    if policy.kind == NP and policy.dialect == "networkpolicy":
        kept = _network_policy(profile, policy, warnings)
        if kept is None:
            return None
        policy = kept
    return place(profile, _strip_l7(profile, policy, warnings))


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
            _warning(profile, p.source, "enable-policy=never: no policy is enforced") for p in policies
        ]
    if each is None:

        def each(policy: Policy, warnings: list[Diagnostic]) -> Sequence[Policy]:
            kept = view_policy(profile, policy, warnings)
            return () if kept is None else (kept,)

    for policy in policies:
        out += each(policy, warnings)
    if profile.policy_mode == "always":
        out.append(ALWAYS_DENY)
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
    source = staged.source
    return Diagnostic(
        Severity.INFO,
        "staged",
        f"--staged: stagedAction Delete {what}",
        source.file,
        source.line,
        None,
        source.object,
    )


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


def _staged(policy: Policy) -> Diagnostic:
    source = policy.source
    return Diagnostic(
        Severity.WARNING,
        "staged",
        f"{policy.kind} is a preview: Calico never enforces it, so it is not part of the answers "
        "(--staged analyses it as if applied)",
        source.file,
        source.line,
        None,
        source.object,
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
            warnings.append(_warning(profile, rule.source, what))
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
        return _cilium_options(profile, policy)
    if profile.calico_minor is not None:
        return _calico_place(profile.calico_minor, policy)
    if profile.name == "cilium" and policy.kind == NP:
        return replace(policy, tier=CILIUM)
    if profile.name == "antrea":
        return _antrea_place(policy)
    return policy


def _cilium_options(profile: Profile, policy: Policy) -> Policy:
    """``enable-non-default-deny-policies=false``: enableDefaultDeny is not honoured (§4.3)."""
    if policy.dialect == "cilium" and not profile.default_deny_options and policy.isolates is not None:
        return replace(policy, isolates=None)
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


def _network_policy(profile: Profile, policy: Policy, warnings: list[Diagnostic]) -> Policy | None:
    if not profile.named_ports:
        named = [(r, m) for r in policy.rules for m in r.ports or () if isinstance(m, NamedPort)]
        if named:
            rule, match = named[0]
            warnings.append(
                _warning(
                    profile,
                    rule.source,
                    f"{rule.label} uses {match}: the CNI rejects the whole policy, which is ignored "
                    "(its pods are not isolated by it)",
                )
            )
            return None
    rules: list[Rule] = []
    changed = False
    for rule in policy.rules:
        new = _rule(profile, rule, warnings)
        changed = changed or new is not rule
        if new is not None:
            rules.append(new)
    return replace(policy, rules=tuple(rules)) if changed else policy


def _rule(profile: Profile, rule: Rule, warnings: list[Diagnostic]) -> Rule | None:
    if rule.ports is None:
        return rule
    ports: list[PortMatch] = []
    for match in rule.ports:
        new = _port(profile, rule, match, warnings)
        if new is not None:
            ports.append(new)
    if not ports:
        warnings.append(_warning(profile, rule.source, f"{rule.label} has no port left: the rule is dropped"))
        return None
    if tuple(ports) == rule.ports:
        return rule
    return replace(rule, ports=tuple(ports))


def _port(profile: Profile, rule: Rule, match: PortMatch, warnings: list[Diagnostic]) -> PortMatch | None:
    if not profile.sctp and match.protocol is Protocol.SCTP:
        warnings.append(_warning(profile, rule.source, f"{rule.label}: {match} (SCTP) is dropped"))
        return None
    if isinstance(match, PortRange) and not profile.end_port and _is_range(match):
        first = PortRange(match.protocol, match.start, match.start)
        warnings.append(
            _warning(profile, rule.source, f"{rule.label}: endPort is ignored, {match} acts as {first}")
        )
        return first
    return match


def _is_range(match: PortRange) -> bool:
    """A ``port``..``endPort`` range (not a single port, not 'every port')."""
    return match.start != match.end and not (match.start == MIN_PORT and match.end == MAX_PORT)
