"""Paths → documents → (ClusterSnapshot, policies, diagnostics): the one place that dispatches
each loaded object to the cluster parser or to its policy dialect."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from kubefence.cluster.addressing import assign_addresses
from kubefence.cluster.objects import CLUSTER_KINDS, Workload, parse_object
from kubefence.cluster.snapshot import (
    ClusterSnapshot,
    EndpointSlice,
    Namespace,
    Node,
    Pod,
    Service,
    ServiceAccount,
)
from kubefence.dialects.base import Definition
from kubefence.dialects.loader import Document, describe, load_paths
from kubefence.dialects.registry import dialect_for, policy_kinds
from kubefence.engine.link import link
from kubefence.ir.diagnostics import Diagnostic, Severity
from kubefence.ir.model import Policy
from kubefence.workspace.checks import check_duplicates, check_priorities, drop_owned_workloads

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from kubefence.dialects.loader import OnProgress

__all__ = ["Workspace", "load_workspace"]

_LATER_GROUPS = {
    "projectcalico.org": "Calico",
    "crd.projectcalico.org": "Calico",
    "cilium.io": "Cilium",
    "crd.antrea.io": "Antrea",
}


@dataclass(frozen=True, slots=True)
class Workspace:
    """Everything the user gave: the snapshot, the policies (in evaluation order, linked to
    the definitions they refer to) and every diagnostic, plus the objects skipped because
    kubefence does not use their kind, the definitions (tiers, groups, network sets), and the
    policies as parsed, before linking (what an ``IncrementalEngine`` links itself)."""

    snapshot: ClusterSnapshot
    policies: tuple[Policy, ...]
    diagnostics: tuple[Diagnostic, ...]
    skipped: tuple[str, ...] = ()
    definitions: tuple[Definition, ...] = ()
    parsed: tuple[Policy, ...] = ()

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.is_error)

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.WARNING)


@dataclass
class _Collector:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    policies: list[Policy] = field(default_factory=list)
    objects: list[tuple[Document, object]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    definitions: list[Definition] = field(default_factory=list)

    def add(self, doc: Document) -> None:
        api, kind = str(doc.data.get("apiVersion", "")), str(doc.data.get("kind", ""))
        dialect = dialect_for(api, kind)
        if dialect is not None:
            result = dialect.parse(doc)
            self.diagnostics += result.diagnostics
            self.policies += list(result.policies)
            self.definitions += list(result.definitions)
            self.objects += [(doc, p) for p in result.policies]
            self.objects += [(doc, d) for d in result.definitions]
        elif kind in CLUSTER_KINDS and api in _CORE_APIS.get(kind, ()):
            obj = parse_object(doc)
            self.diagnostics += obj.diagnostics
            if obj.value is not None:
                self.objects.append((doc, obj.value))
        else:
            self.unknown(doc, api, kind)

    def unknown(self, doc: Document, api: str, kind: str) -> None:
        group = api.split("/")[0]
        where = f"{describe(doc)} ({doc.file}:{doc.line})"
        if kind in policy_kinds() or kind in CLUSTER_KINDS:
            self.diagnostics.append(
                Diagnostic(
                    Severity.ERROR,
                    "unsupported-api-version",
                    f"apiVersion {api!r} is not supported for kind {kind}",
                    doc.file,
                    doc.line,
                    None,
                    describe(doc),
                    "apiVersion",
                )
            )
        elif group in _LATER_GROUPS:
            self.diagnostics.append(
                Diagnostic(
                    Severity.WARNING,
                    "dialect-not-supported",
                    f"kubefence does not read {_LATER_GROUPS[group]} {kind or 'objects'} objects (yet): "
                    "this object is ignored, and the answers do not include it",
                    doc.file,
                    doc.line,
                    None,
                    describe(doc),
                )
            )
        else:
            self.skipped.append(where)


_APPS = ("apps/v1",)
_CORE_APIS: dict[str, tuple[str, ...]] = {
    "Namespace": ("v1",),
    "Pod": ("v1",),
    "Node": ("v1",),
    "Service": ("v1",),
    "ServiceAccount": ("v1",),
    "EndpointSlice": ("discovery.k8s.io/v1",),
    "ReplicationController": ("v1",),
    "Deployment": _APPS,
    "StatefulSet": _APPS,
    "DaemonSet": _APPS,
    "ReplicaSet": _APPS,
    "Job": ("batch/v1",),
    "CronJob": ("batch/v1",),
}


def load_workspace(
    paths: Sequence[str], stdin: TextIO | None = None, progress: OnProgress | None = None
) -> Workspace:
    """Load every path and build the workspace; errors are diagnostics, never exceptions.
    ``progress`` is told how far the YAML parser is in each file.

    The cyclic garbage collector is paused meanwhile: loading makes millions of objects that
    hold no cycles, and the collections it would trigger, each walking every object made so
    far, took a third of the loading time at 5,000 pods."""
    with _gc_paused():
        loaded = load_paths(paths, stdin, progress=progress)
        collector = _Collector(list(loaded.diagnostics))
        for doc in loaded.documents:
            collector.add(doc)
        collector.diagnostics += check_duplicates(collector.objects)
        values = [v for _, v in collector.objects]
        return _assemble(collector, values)


@contextmanager
def _gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _assemble(collector: _Collector, values: list[object]) -> Workspace:
    nodes = {v.name: v for v in values if isinstance(v, Node)}
    given = [v for v in values if isinstance(v, Pod)]
    kept, notes = drop_owned_workloads([v for v in values if isinstance(v, Workload)], given)
    wanted = {id(p) for p in kept} | {id(p) for p in given}
    in_order = [v.pod if isinstance(v, Workload) else v for v in values if isinstance(v, Pod | Workload)]
    pods, ip_notes = assign_addresses([p for p in in_order if id(p) in wanted], nodes)
    snapshot = ClusterSnapshot.build(
        namespaces=[v for v in values if isinstance(v, Namespace)],
        pods=pods,
        nodes=nodes.values(),
        services=[v for v in values if isinstance(v, Service)],
        accounts=[v for v in values if isinstance(v, ServiceAccount)],
        endpoint_slices=[v for v in values if isinstance(v, EndpointSlice)],
    )
    linked, link_notes = link(collector.policies, collector.definitions, snapshot)
    policies = tuple(sorted(linked, key=lambda p: p.order_key))
    diagnostics = [*collector.diagnostics, *link_notes, *notes, *ip_notes, *check_priorities(policies)]
    skipped, definitions = tuple(collector.skipped), tuple(collector.definitions)
    return Workspace(snapshot, policies, tuple(diagnostics), skipped, definitions, tuple(collector.policies))
