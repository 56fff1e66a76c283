"""The Dialect seam: one module per policy API turns a Document into IR plus diagnostics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from kubefence.ir.addresses import IPNetwork
from kubefence.ir.diagnostics import Diagnostic
from kubefence.ir.model import Action, Peer, Policy
from kubefence.ir.provenance import Source
from kubefence.ir.selectors import Labels

if TYPE_CHECKING:
    from kubefence.dialects.loader import Document

__all__ = ["GROUP_SUBJECT", "Definition", "Dialect", "GroupDef", "NetworkSetDef", "ParseResult", "TierDef"]


@dataclass(frozen=True, slots=True)
class TierDef:
    """A Tier object. ``dialect``: ``calico`` (``order``: Tier.spec.order, None = last;
    ``default_action``: DENY or PASS) or ``antrea`` (``order``: Tier.spec.priority)."""

    dialect: str
    name: str
    order: float | None
    default_action: Action
    source: Source


@dataclass(frozen=True, slots=True)
class NetworkSetDef:
    """A Calico NetworkSet (``namespace`` set) or GlobalNetworkSet: labels and nets."""

    name: str
    namespace: str | None
    labels: Labels
    nets: tuple[IPNetwork, ...]
    source: Source


@dataclass(frozen=True, slots=True)
class GroupDef:
    """An Antrea ClusterGroup (``namespace`` None) or Group: its members as IR peers (pods,
    ipBlocks...) and the names of its child groups (ClusterGroup ``childGroups``)."""

    kind: str
    name: str
    namespace: str | None
    peers: tuple[Peer, ...]
    children: tuple[str, ...]
    source: Source


Definition = TierDef | NetworkSetDef | GroupDef

# A policy subject that is a group (Antrea appliedTo group): a selection on this label, whose
# value is ``<kind>/<namespace>/<name>``, replaced when the workspace is linked.
GROUP_SUBJECT = "kubefence.io/applied-to-group"


@dataclass(frozen=True, slots=True)
class ParseResult:
    """What a dialect made of one object: policies (a dialect may split one object into parts),
    definitions other objects refer to (tiers, network sets, groups), and the problems found."""

    policies: tuple[Policy, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    definitions: tuple[Definition, ...] = ()


class Dialect(Protocol):
    """A policy API. ``kinds`` lists the ``(apiVersion, kind)`` pairs it reads."""

    @property
    def name(self) -> str: ...

    @property
    def kinds(self) -> tuple[tuple[str, str], ...]: ...

    def parse(self, doc: Document) -> ParseResult: ...
