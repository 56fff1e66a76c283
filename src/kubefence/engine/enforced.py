"""The policies a CNI enforces, kept across revisions: ``link``, ``apply_profile``, ``prepare``.

``Enforcement`` is how loaded policies become enforced ones (``--cni``, ``--dns``, ``--staged``).
``EnforcedPolicies`` applies it to a set of policies that changes by events, linking each
policy object once to the definitions (again when those change), and viewing and preparing
each linked object once, again only when what it read changed: the snapshot's namespaces
(relative peers split per namespace, gated network sets), its pods (kube-router's named ports
without destinations) or what Cilium learned of DNS (toFQDNs). Antrea policies whose appliedTo
Group reaches into other namespaces are judged against the pods at every revision
(``link.realized``). The enforced objects of an unchanged policy are therefore the very same
objects from one revision to the next, which is what lets ``Resolution`` and the pipeline memo
carry their answers over.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kubefence.cluster.snapshot import Namespace, Pod
from kubefence.dialects.base import Definition
from kubefence.engine.link import AppliedToGuard, Linker, ObjectId, object_id, realized
from kubefence.engine.prepare import (
    DnsMap,
    has_fqdn,
    learned,
    needs_namespaces,
    prepare_policy,
    proxied_names,
)
from kubefence.engine.profiles import (
    GENERIC,
    Profile,
    apply_profile,
    bind_to_snapshot,
    reads_pods,
    view_policies,
)
from kubefence.engine.services import has_services
from kubefence.ir.diagnostics import Diagnostic
from kubefence.ir.model import Policy

if TYPE_CHECKING:
    from kubefence.cluster.snapshot import ClusterSnapshot

__all__ = ["EnforcedPolicies", "Enforcement"]


@dataclass(frozen=True, eq=False)
class Enforcement:
    """The CNI profile the policies are read under, what DNS answers for FQDN rules, and
    whether Calico's staged policies count as applied."""

    profile: Profile = GENERIC
    dns: DnsMap | None = None
    staged: bool = False


@dataclass(frozen=True, slots=True)
class _Entry:
    """What one policy object became, and the namespaces that was computed for (None: it
    does not depend on them)."""

    policy: Policy
    parts: tuple[Policy, ...]
    warnings: tuple[Diagnostic, ...]
    namespaces: Mapping[str, Namespace] | None
    cilium_dns: DnsMap | None = None  # what Cilium learned of DNS, when a Cilium FQDN peer read it
    pods: tuple[Pod, ...] | None = None  # the pods, when the profile bound a rule to them


@dataclass(frozen=True, slots=True)
class _Linked:
    """What one policy object became once linked to one revision's definitions."""

    policy: Policy
    parts: tuple[Policy, ...]
    notes: tuple[Diagnostic, ...]
    definitions: Sequence[Definition]
    guard: AppliedToGuard | None  # realized only while it holds (``link.realized``)


class EnforcedPolicies:
    """``Enforcement`` applied to a changing set of policies, memoised per policy object."""

    def __init__(self, enforcement: Enforcement) -> None:
        self.enforcement = enforcement
        self._memo: dict[int, _Entry] = {}
        self._links: dict[int, _Linked] = {}
        self._learned: tuple[frozenset[str], DnsMap | None] = (frozenset(), None)
        self._reads_pods = False
        self._guarded = False  # an appliedTo guard reads the pods (``link.realized``)
        # What the definitions of the last revision are refused for, whether used or not.
        self._definition_notes: tuple[Sequence[Definition] | None, tuple[Diagnostic, ...]] = (None, ())

    def __call__(
        self,
        policies: Sequence[Policy],
        snapshot: ClusterSnapshot,
        definitions: Sequence[Definition] | None = None,
    ) -> tuple[tuple[Policy, ...], list[Diagnostic]]:
        """The enforced policies in evaluation order, and every warning and note about them.
        With ``definitions`` (one object per revision of them), ``policies`` are as parsed and
        are linked first; without, they are linked already."""
        notes: list[Diagnostic] = []
        if definitions is not None:
            policies = self._linked(policies, definitions, snapshot, notes)
        used: dict[int, _Entry] = {}
        cilium_dns = self._cilium_dns(policies)

        def each(policy: Policy, warnings: list[Diagnostic]) -> Sequence[Policy]:
            entry = self._memo.get(id(policy))
            if entry is None or entry.policy is not policy or _stale(entry, snapshot, cilium_dns):
                entry = self._entry(policy, snapshot, cilium_dns)
            used[id(policy)] = entry
            warnings += entry.warnings
            return entry.parts

        enforcement = self.enforcement
        found, warnings = apply_profile(enforcement.profile, policies, staged=enforcement.staged, each=each)
        self._memo = used
        self._reads_pods = self._guarded or any(entry.pods is not None for entry in used.values())
        return found, [*notes, *warnings]

    def _linked(
        self,
        policies: Sequence[Policy],
        definitions: Sequence[Definition],
        snapshot: ClusterSnapshot,
        notes: list[Diagnostic],
    ) -> list[Policy]:
        if self._definition_notes[0] is not definitions:
            checker = Linker(definitions)
            checker.check_definitions()
            self._definition_notes = (definitions, tuple(checker.diagnostics))
        start_notes = len(notes)
        notes += self._definition_notes[1]
        linker: Linker | None = None
        used: dict[int, _Linked] = {}
        out: list[Policy] = []
        guards: dict[ObjectId, AppliedToGuard] = {}
        for policy in policies:
            entry = self._links.get(id(policy))
            if entry is None or entry.policy is not policy or entry.definitions is not definitions:
                linker = linker or Linker(definitions)
                start = len(linker.diagnostics)
                parts = tuple(linker.link(policy))
                guard = linker.guards.get(object_id(policy))
                entry = _Linked(policy, parts, tuple(linker.diagnostics[start:]), definitions, guard)
            used[id(policy)] = entry
            out += entry.parts
            notes += entry.notes
            if entry.guard is not None:
                guards[object_id(policy)] = entry.guard
        self._links = used
        self._guarded = bool(guards)
        kept, guard_notes = realized(out, guards, snapshot)
        notes += guard_notes
        notes[start_notes:] = dict.fromkeys(notes[start_notes:])  # a definition's error once
        return kept

    @property
    def reads_pods(self) -> bool:
        """Whether the enforced policies depend on the cluster's pods (a profile bound a rule to
        them, or an Antrea appliedTo guard reads them): the caller runs again on pod events."""
        return self._reads_pods

    def _cilium_dns(self, policies: Sequence[Policy]) -> DnsMap | None:
        """What Cilium learns of the DNS map under these policies' DNS rules: the same object
        while the rules admit the same names, so that entries stay valid."""
        proxied = proxied_names(policies)
        if self._learned[1] is None or proxied != self._learned[0]:
            self._learned = (proxied, learned(self.enforcement.dns, proxied))
        return self._learned[1]

    def _entry(self, policy: Policy, snapshot: ClusterSnapshot, cilium_dns: DnsMap | None) -> _Entry:
        notes: list[Diagnostic] = []
        profile = self.enforcement.profile
        kept = view_policies(profile, policy, notes)
        pods = any(reads_pods(profile, k) or has_services(k) for k in kept)
        kept = [bind_to_snapshot(profile, k, snapshot, notes) for k in kept]
        dns = self.enforcement.dns
        parts = [p for k in kept for p in prepare_policy(k, snapshot, dns, notes, cilium_dns)]
        reads = any(needs_namespaces(k) for k in kept)
        learns = any(k.dialect == "cilium" and has_fqdn(k) for k in kept)
        return _Entry(
            policy,
            tuple(parts),
            tuple(notes),
            snapshot.namespaces if reads else None,
            cilium_dns if learns else None,
            snapshot.pods if pods else None,
        )


def _stale(entry: _Entry, snapshot: ClusterSnapshot, cilium_dns: DnsMap | None) -> bool:
    if entry.cilium_dns is not None and entry.cilium_dns is not cilium_dns:
        return True
    if entry.pods is not None and entry.pods is not snapshot.pods:
        return True
    return entry.namespaces is not None and entry.namespaces is not snapshot.namespaces
