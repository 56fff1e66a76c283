"""The policies a CNI enforces, kept across revisions: ``link``, ``apply_profile``, ``prepare``.

``Enforcement`` is how loaded policies become enforced ones (``--cni``, ``--dns``, ``--staged``).
``EnforcedPolicies`` applies it to a set of policies that changes by events, linking each
policy object once to the definitions (again when those change), and viewing and preparing
each linked object once (again only when it reads the snapshot's namespaces, relative peers
split per namespace, and those changed). The enforced objects of an unchanged
policy are therefore the very same objects from one revision to the next, which is what lets
``Resolution`` and the pipeline memo carry their answers over.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kubefence.cluster.snapshot import Namespace
from kubefence.dialects.base import Definition
from kubefence.engine.link import Linker, ObjectId, object_id, realized
from kubefence.engine.prepare import DnsMap, needs_namespaces, prepare_policy
from kubefence.engine.profiles import GENERIC, Profile, apply_profile, view_policies
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


@dataclass(frozen=True, slots=True)
class _Linked:
    """What one policy object became once linked to one revision's definitions."""

    policy: Policy
    parts: tuple[Policy, ...]
    notes: tuple[Diagnostic, ...]
    definitions: Sequence[Definition]
    unrealizable: bool  # the CNI realizes no part of the object (``link.realized``)


class EnforcedPolicies:
    """``Enforcement`` applied to a changing set of policies, memoised per policy object."""

    def __init__(self, enforcement: Enforcement) -> None:
        self.enforcement = enforcement
        self._memo: dict[int, _Entry] = {}
        self._links: dict[int, _Linked] = {}

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
            policies = self._linked(policies, definitions, notes)
        used: dict[int, _Entry] = {}

        def each(policy: Policy, warnings: list[Diagnostic]) -> Sequence[Policy]:
            entry = self._memo.get(id(policy))
            if entry is None or entry.policy is not policy or _stale(entry, snapshot):
                entry = self._entry(policy, snapshot)
            used[id(policy)] = entry
            warnings += entry.warnings
            return entry.parts

        enforcement = self.enforcement
        found, warnings = apply_profile(enforcement.profile, policies, staged=enforcement.staged, each=each)
        self._memo = used
        return found, [*notes, *warnings]

    def _linked(
        self, policies: Sequence[Policy], definitions: Sequence[Definition], notes: list[Diagnostic]
    ) -> list[Policy]:
        linker: Linker | None = None
        used: dict[int, _Linked] = {}
        out: list[Policy] = []
        unrealizable: set[ObjectId] = set()
        for policy in policies:
            entry = self._links.get(id(policy))
            if entry is None or entry.policy is not policy or entry.definitions is not definitions:
                linker = linker or Linker(definitions)
                start = len(linker.diagnostics)
                parts = tuple(linker.link(policy))
                refused = object_id(policy) in linker.unrealizable
                entry = _Linked(policy, parts, tuple(linker.diagnostics[start:]), definitions, refused)
            used[id(policy)] = entry
            out += entry.parts
            notes += entry.notes
            if entry.unrealizable:
                unrealizable.add(object_id(policy))
        self._links = used
        return realized(out, unrealizable)

    def _entry(self, policy: Policy, snapshot: ClusterSnapshot) -> _Entry:
        notes: list[Diagnostic] = []
        kept = view_policies(self.enforcement.profile, policy, notes)
        parts = [p for k in kept for p in prepare_policy(k, snapshot, self.enforcement.dns, notes)]
        reads = any(needs_namespaces(k) for k in kept)
        return _Entry(policy, tuple(parts), tuple(notes), snapshot.namespaces if reads else None)


def _stale(entry: _Entry, snapshot: ClusterSnapshot) -> bool:
    return entry.namespaces is not None and entry.namespaces is not snapshot.namespaces
