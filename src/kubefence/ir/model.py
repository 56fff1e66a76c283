"""The intermediate representation of network policies, shared by every dialect.

A ``Policy`` selects subject pods and carries ordered ``Rule``s. Each rule has a direction,
an action, peers (any one matching is enough) and ports (``None`` = every protocol and port).
A policy sits in a ``Tier``; tiers are evaluated by rank, policies inside a tier by
``priority`` then name, rules by index. How a tier treats the pods it selects is the tier's
``TierKind``:

- ``ISOLATING`` (Kubernetes NetworkPolicy): a pod selected in a direction is isolated; a flow is
  allowed iff some rule of some selecting policy matches, otherwise denied. Final either way.
- ``ORDERED`` (AdminNetworkPolicy, Baseline): the first matching rule decides; ALLOW and DENY are
  final, PASS skips the rest of the tier; no matching rule falls through to the next tier.

After the last tier the flow is allowed (Kubernetes default).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from kubefence.ir.addresses import IPBlock
from kubefence.ir.ports import PortMatch
from kubefence.ir.provenance import Source
from kubefence.ir.selectors import LabelSelector

__all__ = [
    "ADMIN",
    "BASELINE",
    "NETWORK_POLICY",
    "ORDERED_TIER_KINDS",
    "Action",
    "AnyPeer",
    "Direction",
    "IPBlockPeer",
    "NodePeer",
    "Peer",
    "PodPeer",
    "PodSelection",
    "Policy",
    "Rule",
    "Tier",
    "TierKind",
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


class TierKind(enum.Enum):
    """How a tier treats the flows of the pods its policies select (see module docstring)."""

    ISOLATING = "isolating"
    ORDERED = "ordered"


@dataclass(frozen=True, slots=True, order=True)
class Tier:
    """A stage of the evaluation pipeline; lower ``rank`` is evaluated first."""

    rank: int
    name: str
    kind: TierKind = field(compare=False)

    def __str__(self) -> str:
        return self.name


ORDERED_TIER_KINDS = frozenset({TierKind.ORDERED})
ADMIN = Tier(100, "Admin", TierKind.ORDERED)
NETWORK_POLICY = Tier(200, "NetworkPolicy", TierKind.ISOLATING)
BASELINE = Tier(300, "Baseline", TierKind.ORDERED)


@dataclass(frozen=True, slots=True)
class PodSelection:
    """Pod-network pods chosen by namespace and labels; host-network pods never match.

    Exactly one of ``namespace`` (one fixed namespace, e.g. a NetworkPolicy's own) and
    ``namespace_selector`` (namespaces by label) is set.
    """

    pod_selector: LabelSelector
    namespace: str | None = None
    namespace_selector: LabelSelector | None = None

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


Peer = PodPeer | IPBlockPeer | NodePeer | AnyPeer


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: it matches a flow when some peer matches and some port matches."""

    direction: Direction
    action: Action
    peers: tuple[Peer, ...]
    ports: tuple[PortMatch, ...] | None
    index: int
    source: Source
    name: str | None = None

    @property
    def label(self) -> str:
        """``ingress rule 2 "allow-dns"`` style, 1-based as people count."""
        named = f' "{self.name}"' if self.name else ""
        return f"{self.direction.value} rule {self.index + 1}{named}"


@dataclass(frozen=True, slots=True)
class Policy:
    """A policy object of any dialect, in its tier. ``directions`` are the directions it
    affects: for ISOLATING tiers, the directions it isolates (NetworkPolicy policyTypes)."""

    kind: str
    name: str
    namespace: str | None
    tier: Tier
    priority: int
    subject: PodSelection
    directions: frozenset[Direction]
    rules: tuple[Rule, ...]
    source: Source

    @property
    def key(self) -> str:
        """``Kind ns/name`` (or ``Kind name`` when cluster-scoped)."""
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}"

    def rules_for(self, direction: Direction) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.direction is direction)

    @property
    def order_key(self) -> tuple[Tier, int, str, str]:
        return (self.tier, self.priority, self.namespace or "", self.name)
