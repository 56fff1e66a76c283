"""The CNI enforcement profiles kubefence knows, and ``--cni`` text → Profile.

Semantics reference §6 (the profile table and its notes) and §2.5 (who implements the
AdminNetworkPolicy family). A ``Profile`` says which policy kinds a CNI enforces and which
features it drops or changes; ``engine.profiles.apply_profile`` applies one to the IR.
Decisions where the reference is unsure are recorded in each profile's ``description`` and
``notes``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from kubefence.ir.diagnostics import Diagnostic, Severity

if TYPE_CHECKING:
    from collections.abc import Sequence

    from kubefence.ir.provenance import Source

__all__ = [
    "ANP",
    "BANP",
    "CALICO_LATEST",
    "CILIUM_OPTIONS",
    "CNI_NAMES",
    "CNP",
    "GENERIC",
    "NOT_ENFORCED",
    "NP",
    "POLICY_KINDS",
    "UPSTREAM_ADMIN",
    "UPSTREAM_DIALECTS",
    "VENDORS",
    "Profile",
    "ProfileError",
    "all_profiles",
    "not_enforced",
    "parse_profile",
    "parse_version",
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
UPSTREAM_ADMIN = (ANP, BANP, CNP)
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
    SCTP port entries; ``ipblock_matches_pods`` False keeps ipBlock peers off pod-network pods;
    ``ipblock_as_cidr`` turns ipBlock peers into Cilium CIDR peers (outside addresses only);
    ``rule_wide_excepts``: every ``except`` of a rule's ipBlocks applies to all its ipBlocks
    (kube-router: one ipset per rule, longest prefix wins); ``rules_beyond_types``: rules of a
    direction missing from ``policyTypes`` are installed all the same (Weave Net), though the
    policy isolates only the directions it lists. ``shared_chain``: a policy with both types
    runs its ingress and egress rules on every packet of its pods (kube-router, see
    ``engine.kube_router``); ``open_named_ports``: a named port of an egress rule without
    ``to`` means the numbers the policy's namespace gives the name, toward any destination
    (kube-router); ``own_node_egress``: egress to the pod's own node is never policed (Weave
    Net).
    ``node_selector_labels``: Cilium's ``enable-node-selector-labels``, without which Cilium
    rejects a policy with ``fromNodes``/``toNodes``. ``localhost_policy``: Cilium's
    ``allow-localhost=policy`` (the own node's traffic to its pods is policed);
    ``cidr_match_nodes``: Cilium's ``policy-cidr-match-mode=nodes`` (CIDR rules and ipBlocks
    also match node addresses).
    """

    name: str
    version: str | None
    description: str
    ignored_kinds: tuple[tuple[str, str], ...] = ()
    named_ports: bool = True
    end_port: bool = True
    sctp: bool = True
    ipblock_matches_pods: bool = True
    ipblock_as_cidr: bool = False
    rule_wide_excepts: bool = False
    rules_beyond_types: bool = False
    shared_chain: bool = False
    open_named_ports: bool = False
    own_node_egress: bool = False
    notes: tuple[str, ...] = ()
    dialects: frozenset[str] = frozenset()
    calico_minor: int | None = None
    policy_mode: str = "default"
    default_deny_options: bool = True
    node_selector_labels: bool = False
    localhost_policy: bool = False
    cidr_match_nodes: bool = False

    @property
    def spec(self) -> str:
        """``calico@3.31`` (or the bare name when no version applies), with the options set."""
        out = f"{self.name}@{self.version}" if self.version else self.name
        if self.policy_mode != "default":
            out += f",enable-policy={self.policy_mode}"
        if not self.default_deny_options:
            out += ",enable-non-default-deny-policies=false"
        if self.node_selector_labels:
            out += ",enable-node-selector-labels=true"
        if self.localhost_policy:
            out += ",allow-localhost=policy"
        if self.cidr_match_nodes:
            out += ",policy-cidr-match-mode=nodes"
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
        out += [text for flag, text in self._quirks() if flag]
        return out

    def _quirks(self) -> list[tuple[bool, str]]:
        """(applies, description) of every NetworkPolicy feature a profile may change."""
        return [
            (not self.named_ports, "NetworkPolicy with a named port: the whole policy is rejected (ignored)"),
            (not self.end_port, "NetworkPolicy endPort: ignored, the range is just its first port"),
            (not self.sctp, "NetworkPolicy SCTP ports: not enforced (port entries dropped)"),
            (
                not self.ipblock_matches_pods,
                "NetworkPolicy/ANP ipBlock or networks peers never match pod-network pods",
            ),
            (
                self.ipblock_as_cidr,
                "NetworkPolicy ipBlock never matches node or host-network addresses either",
            ),
            (self.rule_wide_excepts, "NetworkPolicy ipBlock except: applies to every ipBlock of the rule"),
            (
                self.rules_beyond_types,
                "NetworkPolicy rules of a direction missing from policyTypes: installed anyway",
            ),
            (
                self.shared_chain,
                "NetworkPolicy with both policy types: its ingress rules also allow its pods' egress "
                "to its own pods, and its egress rules their ingress from them",
            ),
            (
                self.own_node_egress,
                "NetworkPolicy egress to the pod's own node: always allowed (the node's addresses "
                "skip the egress policies)",
            ),
            (
                self.open_named_ports,
                "NetworkPolicy egress named port without `to`: the numbers the policy's namespace "
                "gives the name, toward every destination",
            ),
            (
                self.name == "cilium" and not self.cidr_match_nodes,
                "Cilium CIDR rules (toCIDR, toCIDRSet) never select node addresses "
                "(policy-cidr-match-mode=nodes changes that)",
            ),
            (
                self.name == "cilium" and not self.node_selector_labels,
                "policies with fromNodes/toNodes: rejected unless enable-node-selector-labels=true",
            ),
        ]


def not_enforced(profile: Profile, source: Source, what: str) -> Diagnostic:
    """A warning that ``profile``'s CNI does not enforce (all of) what ``source`` says."""
    return Diagnostic.at(
        Severity.WARNING,
        NOT_ENFORCED,
        f"accepted by the API server but not enforced by {profile.spec}: {what}",
        source,
    )


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
        "where a selecting policy turns it on. ipBlock becomes a CIDR rule, which selects only "
        "addresses outside the cluster: no pod, node or host-network pod (default "
        "policy-cidr-match-mode); SCTP in NetworkPolicy is a documented missing feature "
        "(docs.cilium.io network/kubernetes/policy, 'Known missing features'); with the beta "
        "sctp.enabled=true option SCTP is enforced, which this profile does not assume. "
        "fromNodes/toNodes need enable-node-selector-labels=true (default false).",
        ignored_kinds=_ignore(
            UPSTREAM_ADMIN,
            "not implemented by Cilium (an open issue on the network-policy-api implementations list)",
        ),
        sctp=False,
        ipblock_matches_pods=False,
        ipblock_as_cidr=True,
        dialects=frozenset({"cilium"}),
        notes=(
            "Node and host-network IPs are matched only through entities (host, remote-node, "
            "cluster) or fromNodes/toNodes, never by ipBlock or CIDR rules.",
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
        ignored_kinds=_ignore(UPSTREAM_ADMIN, _NOT_IMPLEMENTED),
        named_ports=False,
        end_port=False,
        rules_beyond_types=True,
        own_node_egress=True,
    ),
    "kube-router": Profile(
        "kube-router",
        None,
        "kube-router: Kubernetes NetworkPolicy fully (named ports, endPort, ipBlock except).",
        ignored_kinds=_ignore(UPSTREAM_ADMIN, _NOT_IMPLEMENTED),
        rule_wide_excepts=True,
        shared_chain=True,
        open_named_ports=True,
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


def parse_version(name: str, text: str) -> tuple[int, int | None]:
    """``MAJOR.MINOR[.PATCH]`` (a leading ``v`` allowed) → (major, minor); ProfileError otherwise."""
    match = _VERSION.match(text)
    if match is None:
        raise ProfileError(f"bad version {text!r} for {name}: expected MAJOR.MINOR[.PATCH], e.g. 3.31")
    minor = match.group(2)
    return int(match.group(1)), int(minor) if minor is not None else None


# Cilium agent options that change verdicts (§4.3): name → allowed values.
CILIUM_OPTIONS = {
    "enable-policy": ("default", "always", "never"),
    "enable-non-default-deny-policies": ("true", "false"),
    "enable-node-selector-labels": ("false", "true"),
    "allow-localhost": ("auto", "always", "policy"),
    "policy-cidr-match-mode": ("", "nodes"),
}


def parse_profile(text: str) -> Profile:
    """``NAME[@VERSION][,OPTION=VALUE...]`` → Profile; ProfileError on an unknown CNI, a
    bad/unknown version or an unknown option (options: Cilium's ``enable-policy``,
    ``enable-non-default-deny-policies``, ``enable-node-selector-labels``, ``allow-localhost``
    and ``policy-cidr-match-mode``)."""
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
    if key == "enable-node-selector-labels":
        return replace(profile, node_selector_labels=value == "true")
    if key == "allow-localhost":
        return replace(profile, localhost_policy=value == "policy")
    if key == "policy-cidr-match-mode":
        return replace(profile, cidr_match_nodes=value == "nodes", ipblock_as_cidr=value != "nodes")
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
        major, minor = parse_version(name, version)
        if major != 3 or minor is None or minor > CALICO_LATEST[1]:
            raise ProfileError(
                f"unknown {name} version {version!r}: known versions are 3.0 to 3.{CALICO_LATEST[1]}"
            )
        return _calico(name, minor, version.lstrip("v"))
    profile = _FIXED[name]
    if sep:
        parse_version(name, version)  # well-formed; checked where a behaviour depends on it
        return replace(profile, version=version.lstrip("v"))
    return profile


def all_profiles() -> list[Profile]:
    """One profile per CNI at its latest version (what ``kubefence profiles`` lists)."""
    return [parse_profile(name) for name in CNI_NAMES]
