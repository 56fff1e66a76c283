"""The intermediate representation of network policies, shared by every dialect.

A ``Policy`` selects subject pods and carries ordered ``Rule``s. Each rule has a direction,
an action, peers (any one matching is enough) and ports (``None`` = every protocol and port).
A policy sits in a ``Tier``; tiers are evaluated by rank, policies inside a tier by
``priority`` then name, rules by index. How a tier treats the pods it selects is the tier's
``TierKind``:

- ``ISOLATING`` (Kubernetes NetworkPolicy): a pod selected in a direction is isolated; a flow is
  allowed iff some rule of some selecting policy matches, otherwise denied. Final either way.
- ``ORDERED`` (AdminNetworkPolicy, Baseline, Antrea tiers): the first matching rule decides; ALLOW
  and DENY are final, PASS skips the rest of the tier; no matching rule falls through to the next tier.
- ``ORDERED_DENY`` (a Calico tier with ``defaultAction: Deny``): as ORDERED, but a flow of a pod
  the tier selects that no rule matches is denied ("end of tier drop").
- ``UNION`` (Cilium): no order; a matching DENY rule of any selecting policy wins, else a matching
  ALLOW rule allows, else the flow is denied if some selecting policy isolates the direction
  (``Policy.isolating``), and falls through otherwise.

After the last tier the flow is allowed (Kubernetes default; Calico's namespace profile).

A rule with an ``l7`` predicate (HTTP) decides only for requests it matches: in ORDERED tiers
its L3/L4 match hands the flow to the L7 engine, which denies what it does not allow (Antrea);
in UNION tiers it allows only matching requests (Cilium). Traffic that is not an HTTP request is
not a match.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from kubefence.ir.addresses import IPBlock
from kubefence.ir.expressions import Selector
from kubefence.ir.l7 import HTTPRule
from kubefence.ir.ports import PortMatch
from kubefence.ir.provenance import Source
from kubefence.ir.selectors import LabelSelector

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

__all__ = [
    "ADMIN",
    "BASELINE",
    "NETWORK_POLICY",
    "ORDERED_TIER_KINDS",
    "Action",
    "AnyPeer",
    "CompoundPeer",
    "Direction",
    "Entity",
    "EntityPeer",
    "ExternalBlockPeer",
    "FQDNPeer",
    "GroupRefPeer",
    "IPBlockPeer",
    "LabelView",
    "NamespaceGatedPeer",
    "NetworkSetPeer",
    "NodePeer",
    "Peer",
    "PodPeer",
    "PodSelection",
    "Policy",
    "RelativeNamespacePeer",
    "Rule",
    "ServiceBackendsPeer",
    "ServicePeer",
    "Tier",
    "TierKind",
    "leaf_peers",
    "map_peers",
]


class Direction(enum.Enum):
    """Ingress is decided at the destination pod, egress at the source pod."""

    INGRESS = "ingress"
    EGRESS = "egress"

    @property
    def title(self) -> str:
        return self.value.capitalize()


class Action(enum.Enum):
    """What a matching rule does."""

    ALLOW = "allow"
    DENY = "deny"
    PASS = "pass"
    REJECT = "reject"

    @property
    def denies(self) -> bool:
        """DENY and REJECT both stop the flow (REJECT also answers with a RST / ICMP error)."""
        return self is Action.DENY or self is Action.REJECT


class TierKind(enum.Enum):
    """How a tier treats the flows of the pods its policies select (see module docstring)."""

    ISOLATING = "isolating"
    ORDERED = "ordered"
    ORDERED_DENY = "ordered-deny"
    UNION = "union"


@dataclass(frozen=True, slots=True, order=True)
class Tier:
    """A stage of the evaluation pipeline; lower ``rank`` is evaluated first. A PASS in a tier
    with ``pass_to`` skips every tier ranked below it (Antrea: Pass goes to NetworkPolicy).
    ``local_allowed``: ingress from the subject's own node is always allowed while a policy of
    this tier selects it (Antrea lets locally generated packets bypass every policy table).
    ``local_policy``: ingress from the subject's own node is decided by the policies of a UNION
    tier like any other traffic (Cilium ``allow-localhost=policy``); by default an ISOLATING or
    UNION tier always lets it in. ``local_egress``: egress to the subject's own node is always
    allowed while a policy of this tier selects it (Weave Net returns before its egress
    policies for local destinations)."""

    rank: float
    name: str
    kind: TierKind = field(compare=False)
    pass_to: float | None = field(default=None, compare=False)
    local_allowed: bool = field(default=False, compare=False)
    local_policy: bool = field(default=False, compare=False)
    local_egress: bool = field(default=False, compare=False)

    def __str__(self) -> str:
        return self.name


ORDERED_TIER_KINDS = frozenset({TierKind.ORDERED, TierKind.ORDERED_DENY})
ADMIN = Tier(100, "Admin", TierKind.ORDERED)
NETWORK_POLICY = Tier(200, "NetworkPolicy", TierKind.ISOLATING)
BASELINE = Tier(300, "Baseline", TierKind.ORDERED)


class LabelView(enum.Enum):
    """Which labels a selector sees.

    ``PLAIN``: the object's own labels (Kubernetes APIs). ``CNI``: also the labels Calico and
    Cilium attach by themselves (semantics reference §3.4, §4.5): on pods
    ``projectcalico.org/namespace``, ``projectcalico.org/orchestrator=k8s``,
    ``projectcalico.org/serviceaccount``, ``pcns.<namespace label>``, ``pcsa.projectcalico.org/name``,
    ``io.kubernetes.pod.namespace``, ``io.cilium.k8s.policy.serviceaccount``,
    ``io.cilium.k8s.policy.cluster=default`` and ``io.cilium.k8s.namespace.labels.<key>``; on
    namespaces ``projectcalico.org/name``.
    """

    PLAIN = "plain"
    CNI = "cni"


@dataclass(frozen=True, slots=True)
class PodSelection:
    """Pod-network pods chosen by namespace and labels; host-network pods never match.

    Exactly one of ``namespace`` (one fixed namespace, e.g. a NetworkPolicy's own) and
    ``namespace_selector`` (namespaces by label) is set. Selectors are Kubernetes label
    selectors or Calico selector expressions, matched against the labels of ``view``.
    """

    pod_selector: Selector
    namespace: str | None = None
    namespace_selector: Selector | None = None
    view: LabelView = LabelView.PLAIN

    def __str__(self) -> str:
        where = (
            f"namespace {self.namespace}"
            if self.namespace is not None
            else (f"namespaces [{self.namespace_selector}]")
        )
        return f"pods [{self.pod_selector}] in {where}"


@dataclass(frozen=True, slots=True)
class PodPeer:
    """Pods chosen by a PodSelection."""

    selection: PodSelection

    def __str__(self) -> str:
        return str(self.selection)


@dataclass(frozen=True, slots=True)
class IPBlockPeer:
    """Any endpoint whose IP is in the block (pods, nodes and outside addresses alike)."""

    block: IPBlock

    def __str__(self) -> str:
        return f"ipBlock {self.block}"


@dataclass(frozen=True, slots=True)
class NodePeer:
    """The addresses of the nodes a selector picks (host-network pods share them)."""

    selector: LabelSelector

    def __str__(self) -> str:
        return f"nodes [{self.selector}]"


@dataclass(frozen=True, slots=True)
class AnyPeer:
    """Every remote endpoint: pods, nodes and outside addresses."""

    def __str__(self) -> str:
        return "any peer"


class Entity(enum.Enum):
    """Groups of endpoints named by role rather than by label (Cilium entities, §4.6).

    ``HOST`` and ``REMOTE_NODE`` depend on the subject: they split the node addresses into the
    subject's own node and the others. The engine tells them apart for a rule's own peers
    (Cilium writes entities nowhere else), not inside compound peers."""

    WORLD = "world"  # addresses outside the cluster: not a pod, not a node
    CLUSTER = "cluster"  # every pod and every node
    NODES = "nodes"  # every node address (host-network pods too)
    HOST = "host"  # the addresses of the subject's own node (and its host-network pods)
    REMOTE_NODE = "remote-node"  # the addresses of every other node
    KUBE_APISERVER = "kube-apiserver"  # the endpoints of Service default/kubernetes (bound before resolving)
    ALL = "all"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class EntityPeer:
    """The endpoints of an Entity."""

    entity: Entity

    def __str__(self) -> str:
        return f"entity {self.entity.value}"


@dataclass(frozen=True, slots=True)
class ExternalBlockPeer:
    """Addresses in the block that are outside the cluster: never a pod nor a node
    (Cilium CIDR rules, §4.8)."""

    block: IPBlock

    def __str__(self) -> str:
        return f"CIDR {self.block} (outside the cluster)"


@dataclass(frozen=True, slots=True)
class FQDNPeer:
    """Outside addresses that DNS gives for a name. ``pattern`` is a DNS name with ``*``
    wildcards (``*`` alone: every name; ``*`` in a label: any characters but ``.``; a leading
    ``**.``: any number of labels). Matched only against a DNS map the user gives."""

    pattern: str

    def __str__(self) -> str:
        return f"FQDN {self.pattern}"


@dataclass(frozen=True, slots=True)
class GroupRefPeer:
    """A named group of peers (Antrea ClusterGroup/Group), replaced by its members when the
    workspace is linked; one that names no group matches nothing."""

    kind: str
    name: str
    namespace: str | None = None

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}"


@dataclass(frozen=True, slots=True)
class NetworkSetPeer:
    """The nets of the Calico NetworkSets / GlobalNetworkSets whose labels ``selector`` matches,
    replaced by IPBlockPeers when the workspace is linked. ``namespace``: only NetworkSets of
    that namespace; ``namespace_selector``: NetworkSets of matching namespaces; ``global_sets``:
    GlobalNetworkSets too; neither namespace field: NetworkSets of every namespace."""

    selector: Selector
    namespace: str | None = None
    namespace_selector: Selector | None = None
    global_sets: bool = False

    def __str__(self) -> str:
        return f"network sets [{self.selector}]"


@dataclass(frozen=True, slots=True)
class ServicePeer:
    """The endpoints of Service ``namespace/name`` (Calico ``services``): the addresses of its
    EndpointSlices and, with ``ports``, only on the slices' ports (a destination matches an
    endpoint's address *and* port). Bound against the snapshot's Services, EndpointSlices and
    pods before resolving (``engine.services``)."""

    namespace: str
    name: str
    ports: bool = False

    def __str__(self) -> str:
        return f"endpoints of Service {self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class ServiceBackendsPeer:
    """The backend pods of the Services named by ``name`` or by a ``selector`` on the Services'
    own labels, in ``namespace`` (None: every namespace): the pods the Service's selector
    picks in its namespace (Cilium ``toServices``, Antrea ``serviceReference``). A Service
    without a selector gives its endpoint addresses as outside CIDRs when ``outside_endpoints``
    (Cilium, pkg/policy/k8s/service.go), else nothing (Antrea). Bound against the snapshot
    before resolving (``engine.services``)."""

    namespace: str | None
    name: str | None = None
    selector: LabelSelector | None = None
    outside_endpoints: bool = True
    pod_selectors: bool = True  # False: Services with a selector match nothing (Cilium < 1.17)
    cidrs_match_nodes: bool = False  # endpoint CIDRs also match node addresses (Cilium option)

    def __str__(self) -> str:
        where = self.namespace or "any namespace"
        what = f"Service {self.name}" if self.name is not None else f"Services [{self.selector}]"
        return f"backends of {what} in {where}"


@dataclass(frozen=True, slots=True)
class RelativeNamespacePeer:
    """Antrea ``namespaces`` peers (§5.2), relative to the subject pod's namespace N: pods
    matching ``pod_selector`` in N itself (``same_labels`` empty: ``match: Self``) or in every
    namespace whose values for all ``same_labels`` keys equal N's (none if N lacks a key).
    The engine expands it per subject namespace before resolving."""

    pod_selector: LabelSelector
    same_labels: tuple[str, ...] = ()

    def __str__(self) -> str:
        how = f"sameLabels {list(self.same_labels)}" if self.same_labels else "its own namespace"
        return f"pods [{self.pod_selector}] in {how}"


@dataclass(frozen=True, slots=True)
class NamespaceGatedPeer:
    """``peer`` while namespace ``namespace``'s labels (as Calico sees them) match ``selector``,
    else nothing: a Calico NetworkSet of that namespace selected through a rule's
    namespaceSelector (the set inherits its namespace's labels). The engine binds it against
    the snapshot's namespaces before resolving."""

    peer: Peer
    namespace: str
    selector: Selector

    def __str__(self) -> str:
        return f"{self.peer} (while namespace {self.namespace} matches [{self.selector}])"


@dataclass(frozen=True, slots=True)
class CompoundPeer:
    """Matches when some ``any_of`` peer matches (or ``any_of`` is empty), every ``all_of`` peer
    matches and no ``none_of`` peer does (Calico rules AND their criteria: selector, nets,
    notNets, notSelector...). All three empty: everything."""

    any_of: tuple[Peer, ...] = ()
    all_of: tuple[Peer, ...] = ()
    none_of: tuple[Peer, ...] = ()

    def __str__(self) -> str:
        parts = []
        if self.any_of:
            parts.append(" or ".join(str(p) for p in self.any_of))
        parts += [str(p) for p in self.all_of]
        parts += [f"not {p}" for p in self.none_of]
        return " and ".join(f"({p})" if " or " in p else p for p in parts) or "any peer"


Peer = (
    PodPeer
    | IPBlockPeer
    | NodePeer
    | AnyPeer
    | EntityPeer
    | ExternalBlockPeer
    | FQDNPeer
    | GroupRefPeer
    | NetworkSetPeer
    | ServicePeer
    | ServiceBackendsPeer
    | RelativeNamespacePeer
    | NamespaceGatedPeer
    | CompoundPeer
)


def leaf_peers(peers: Iterable[Peer]) -> Iterator[Peer]:
    """Every peer of ``peers`` that is not a CompoundPeer, inside compound peers too."""
    for peer in peers:
        if isinstance(peer, CompoundPeer):
            yield from leaf_peers((*peer.any_of, *peer.all_of, *peer.none_of))
        else:
            yield peer


def _deep(peer: Peer, change: Callable[[Peer], Peer]) -> Peer:
    if isinstance(peer, CompoundPeer):
        return CompoundPeer(
            tuple(_deep(p, change) for p in peer.any_of),
            tuple(_deep(p, change) for p in peer.all_of),
            tuple(_deep(p, change) for p in peer.none_of),
        )
    return change(peer)


def map_peers(rule: Rule, change: Callable[[Peer], Peer]) -> Rule:
    """``rule`` with ``change`` applied to every peer that is not a CompoundPeer (inside compound
    peers too); the same object when nothing changed."""
    peers = tuple(_deep(p, change) for p in rule.peers)
    return rule if peers == rule.peers else replace(rule, peers=peers)


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: it matches a flow when some peer matches and some port of ``ports`` but none of
    ``except_ports`` matches (``ports`` None: every protocol and port). ``l7``: see the module
    docstring. ``dns``: the query names (Cilium ``matchName``/``matchPattern``) whose lookups
    the rule sends through the CNI's DNS proxy; they change nothing the rule matches, but only
    such lookups teach the CNI the addresses of FQDN peers."""

    direction: Direction
    action: Action
    peers: tuple[Peer, ...]
    ports: tuple[PortMatch, ...] | None
    index: int
    source: Source
    name: str | None = None
    except_ports: tuple[PortMatch, ...] = ()
    l7: HTTPRule | None = None
    dns: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """``ingress rule 2 "allow-dns"`` style, 1-based as people count."""
        named = f' "{self.name}"' if self.name else ""
        return f"{self.direction.value} rule {self.index + 1}{named}"


_SHARED_KINDS = ("NetworkPolicy", "ClusterNetworkPolicy")
_SHARED_KIND_OWNERS = {"calico": "Calico", "antrea": "Antrea"}


@dataclass(frozen=True, slots=True)
class Policy:
    """A policy object of any dialect, in its tier. ``directions`` are the directions it
    affects: for ISOLATING tiers, the directions it isolates (NetworkPolicy policyTypes).

    Order inside a tier: ``priority``, then ``tiebreak`` (a dialect's own tie rule, e.g. Calico's
    ``name/namespace/kind`` string), then namespace and name, then ``part``: a dialect whose
    objects apply different rules to different pods (Antrea rule-level appliedTo, Cilium
    ``specs``) emits one Policy per part, in rule order. ``isolates``: the directions in which
    the policy turns on default deny (None: ``directions``). ``dormant``: NetworkPolicy rules of a
    direction missing from ``policyTypes``, which the API ignores (only a CNI profile that
    installs them anyway, Weave Net, moves them into ``rules``).
    """

    kind: str
    name: str
    namespace: str | None
    tier: Tier
    priority: float
    subject: PodSelection
    directions: frozenset[Direction]
    rules: tuple[Rule, ...]
    source: Source
    tiebreak: str = ""
    part: int = 0
    isolates: frozenset[Direction] | None = None
    dormant: tuple[Rule, ...] = ()

    @property
    def key(self) -> str:
        """``Kind ns/name`` (or ``Kind name`` when cluster-scoped); Calico's and Antrea's kinds
        that share a name with an upstream kind say whose they are (``Calico NetworkPolicy``)."""
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        vendor = _SHARED_KIND_OWNERS.get(self.source.dialect) if self.kind in _SHARED_KINDS else None
        return f"{vendor} {self.kind} {where}" if vendor else f"{self.kind} {where}"

    def rules_for(self, direction: Direction) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.direction is direction)

    @property
    def order_key(self) -> tuple[Tier, float, str, str, str, int]:
        return (self.tier, self.priority, self.tiebreak, self.namespace or "", self.name, self.part)

    @property
    def dialect(self) -> str:
        return self.source.dialect

    def isolates_direction(self, direction: Direction) -> bool:
        """Whether the policy turns on default deny for ``direction`` (UNION tiers)."""
        wanted = self.isolates if self.isolates is not None else self.directions
        return direction in wanted
