"""Whole-input checks that no single object can make: duplicates, ambiguous priorities, and
workloads whose pods were given as well."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubefence.cluster.objects import Workload
from kubefence.cluster.snapshot import EndpointSlice, Namespace, Node, Pod, Service, ServiceAccount
from kubefence.dialects.base import GroupDef, NetworkSetDef, TierDef
from kubefence.ir.diagnostics import Diagnostic, Severity
from kubefence.ir.model import ORDERED_TIER_KINDS, Policy

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from kubefence.dialects.loader import Document

__all__ = ["check_duplicates", "check_priorities", "drop_owned_workloads"]

_UPSTREAM = ("networkpolicy", "adminnetworkpolicy")
_TIES = ("adminnetworkpolicy", "antrea")  # Calico breaks order ties itself (§3.2)


def _identity(value: object) -> tuple[str, str, str]:
    if isinstance(value, Policy):
        # Calico's and Antrea's NetworkPolicy are other kinds than Kubernetes' one.
        kind = value.kind if value.dialect in _UPSTREAM else f"{value.dialect.capitalize()} {value.kind}"
        return (kind, value.namespace or "", value.name)
    if isinstance(value, Workload):
        return (value.pod.workload or "", value.pod.namespace, value.pod.name)
    if isinstance(value, TierDef):
        return (f"{value.dialect.capitalize()} Tier", "", value.name)
    if isinstance(value, GroupDef):
        return (f"Antrea {value.kind}", value.namespace or "", value.name)
    if isinstance(value, NetworkSetDef):
        kind = "NetworkSet" if value.namespace is not None else "GlobalNetworkSet"
        return (f"Calico {kind}", value.namespace or "", value.name)
    if isinstance(value, Pod | Service | ServiceAccount | EndpointSlice):
        return (type(value).__name__, value.namespace, value.name)
    assert isinstance(value, Namespace | Node)
    return (type(value).__name__, "", value.name)


def check_duplicates(objects: Iterable[tuple[Document, object]]) -> list[Diagnostic]:
    """An object given twice (same kind, namespace and name) is an error naming both places."""
    seen: dict[tuple[str, str, str], Document] = {}
    out = []
    for doc, value in objects:
        key = _identity(value)
        if key in seen and seen[key] is not doc:  # one object may give several policy parts
            first = seen[key]
            out.append(
                Diagnostic(
                    Severity.ERROR,
                    "duplicate-object",
                    f"defined twice (first at {first.file}:{first.line})",
                    doc.file,
                    doc.line,
                    None,
                    f"{key[0]} {'/'.join(k for k in key[1:] if k)}",
                )
            )
        else:
            seen[key] = doc
    return out


def check_priorities(policies: Sequence[Policy]) -> list[Diagnostic]:
    """Two policies of one ordered tier with one priority: the API leaves the order undefined."""
    by_slot: dict[tuple[str, float], dict[str, Policy]] = {}
    for p in policies:
        if (
            p.tier.kind in ORDERED_TIER_KINDS
            and p.kind != "BaselineAdminNetworkPolicy"
            and p.dialect in _TIES
        ):
            by_slot.setdefault((p.tier.name, p.priority), {}).setdefault(p.key, p)
    out = []
    for (tier, priority), found in by_slot.items():
        group = list(found.values())
        if len(group) > 1:
            names = ", ".join(p.key for p in group)
            how = (
                "Antrea takes their rules by rule index (rule 1 of each before rule 2 of any), "
                "and rules of one index in an order it does not define; kubefence orders those "
                "by name"
                if group[0].dialect == "antrea"
                else "the API leaves their order undefined where they overlap; kubefence orders "
                "them by name, as kube-network-policies does"
            )
            out.append(
                Diagnostic(
                    Severity.WARNING,
                    "priority-tie",
                    f"{names} share priority {priority} in the {tier} tier: {how}",
                    group[1].source.file,
                    group[1].source.line,
                )
            )
    return out


def drop_owned_workloads(
    workloads: Sequence[Workload], pods: Sequence[Pod]
) -> tuple[list[Pod], list[Diagnostic]]:
    """A workload whose own pods are in the input needs no representative pod."""
    kept, notes = [], []
    for w in workloads:
        owned = w.selector is not None and any(
            p.namespace == w.pod.namespace and w.selector.matches(p.labels) for p in pods
        )
        if owned:
            notes.append(
                Diagnostic(
                    Severity.INFO,
                    "workload-has-pods",
                    "its pods are in the input: no representative pod is made",
                    None,
                    None,
                    None,
                    f"{w.pod.workload} {w.pod.key}",
                )
            )
        else:
            kept.append(w.pod)
    return kept, notes
