"""Antrea ClusterGroup / Group → GroupDef (§5.1 of the semantics reference; antrea-io/antrea
pkg/apis/crd/v1beta1/types.go GroupSpec, pkg/controller/networkpolicy/validate.go
validateAntreaClusterGroupSpec / validateAntreaGroupSpec; docs/antrea-network-policy.md
"ClusterGroup", "Group").

A group's members become IR peers: pods by selector (a ClusterGroup's bare ``podSelector``
spans every namespace, a Group's stays in its namespace), nodes, IP blocks. Policies refer to
groups by name (GroupRefPeer); linking replaces the reference by these peers and those of
the ``childGroups``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubefence.dialects.antrea_peers import Scope, ip_block_peer
from kubefence.dialects.base import GroupDef
from kubefence.ir.model import NodePeer, Peer, PodPeer, ServiceBackendsPeer
from kubefence.ir.selectors import LabelSelector

if TYPE_CHECKING:
    from collections.abc import Mapping

    from kubefence.dialects.fields import FieldReader

__all__ = ["group_fields", "parse_group"]

_COMMON = (
    "podSelector",
    "namespaceSelector",
    "externalEntitySelector",
    "ipBlocks",
    "serviceReference",
    "childGroups",
)


def group_fields(kind: str, version: str) -> tuple[str, ...]:
    """The spec fields of a group kind in one API version (v1alpha2 ClusterGroup also had
    ``ipBlock``; only the v1beta1 ClusterGroup has ``nodeSelector``)."""
    if kind == "ClusterGroup" and version == "v1beta1":
        return (*_COMMON, "nodeSelector")
    if kind == "ClusterGroup" and version == "v1alpha2":
        return (*_COMMON, "ipBlock")
    return _COMMON


def parse_group(r: FieldReader, kind: str, version: str) -> GroupDef | None:
    """The GroupDef of one ClusterGroup or Group object; None (with errors) when malformed."""
    data = r.doc.data
    meta = r.mapping(data, "metadata", "metadata", required=True) or {}
    name = r.string(meta, "name", "metadata.name", required=True)
    namespace = (
        None if kind == "ClusterGroup" else r.string(meta, "namespace", "metadata.namespace") or "default"
    )
    spec = r.mapping(data, "spec", "spec", required=True)
    if spec is None or name is None:
        return None
    fields = group_fields(kind, version)
    r.known(spec, fields, "spec")
    present = [k for k in fields if spec.get(k) not in (None, [])]
    if not _combination_ok(r, spec, present, kind):
        return None
    scope = Scope(kind, namespace)
    peers = _members(r, spec, present, scope)
    children = _children(r, spec, name)
    return GroupDef(kind, name, namespace, tuple(peers), children, r.source())


def _combination_ok(r: FieldReader, spec: Mapping[str, Any], present: list[str], kind: str) -> bool:
    """At most one way of selecting members; namespaceSelector may accompany podSelector or
    externalEntitySelector."""
    pairs_ok = (
        len(present) == 2
        and "namespaceSelector" in present
        and ("podSelector" in present or "externalEntitySelector" in present)
    )
    if len(present) <= 1 or pairs_ok:
        return True
    r.error(
        "spec",
        f"at most one of {', '.join(present)} can be set for a {kind} (namespaceSelector may "
        "accompany podSelector or externalEntitySelector)",
        r.line(spec, present[1]),
        "group-fields",
    )
    return False


def _members(r: FieldReader, spec: Mapping[str, Any], present: list[str], scope: Scope) -> list[Peer]:
    if "externalEntitySelector" in present:
        r.warn(
            "spec.externalEntitySelector",
            "external entities are not modelled: this group has no members in kubefence's answers",
            r.line(spec, "externalEntitySelector"),
            "not-modelled",
        )
        return []
    if "serviceReference" in present:
        backends = _service_reference(r, spec, scope)
        return [backends] if backends is not None else []
    if "nodeSelector" in present:
        nodes = r.selector(spec, "nodeSelector", "spec.nodeSelector")
        return [NodePeer(nodes)] if nodes is not None else []
    if "ipBlocks" in present or "ipBlock" in present:
        return _ip_blocks(r, spec)
    if "podSelector" in present or "namespaceSelector" in present:
        pods = r.selector(spec, "podSelector", "spec.podSelector")
        namespaces = r.selector(spec, "namespaceSelector", "spec.namespaceSelector")
        return [PodPeer(scope.pods(pods if pods is not None else LabelSelector(), namespaces))]
    return []


def _service_reference(r: FieldReader, spec: Mapping[str, Any], scope: Scope) -> Peer | None:
    """The pods the Service's selector picks in the Service's namespace, ports aside; a Service
    without a selector gives no member (antrea pkg/controller/networkpolicy/clustergroup.go
    ``serviceToGroupSelector``; docs/antrea-network-policy.md "serviceReference")."""
    value = r.mapping(spec, "serviceReference", "spec.serviceReference")
    if value is None:
        return None
    r.known(value, ("name", "namespace"), "spec.serviceReference")
    name = r.string(value, "name", "spec.serviceReference.name", required=True)
    namespace = r.string(value, "namespace", "spec.serviceReference.namespace") or scope.namespace or ""
    return ServiceBackendsPeer(namespace, name=name, outside_endpoints=False) if name else None


def _ip_blocks(r: FieldReader, spec: Mapping[str, Any]) -> list[Peer]:
    found: list[Peer] = []
    if spec.get("ipBlock") is not None:
        block = r.mapping(spec, "ipBlock", "spec.ipBlock")
        peer = ip_block_peer(r, block, "spec.ipBlock") if block is not None else None
        found.extend([peer] if peer is not None else [])
    seq = r.sequence(spec, "ipBlocks", "spec.ipBlocks")
    for _, path, item in r.items(seq, "spec.ipBlocks"):
        peer = ip_block_peer(r, item, path)
        found.extend([peer] if peer is not None else [])
    return found


def _children(r: FieldReader, spec: Mapping[str, Any], name: str) -> tuple[str, ...]:
    seq = r.sequence(spec, "childGroups", "spec.childGroups") or []
    children: list[str] = []
    for i, child in enumerate(seq):
        where, line = f"spec.childGroups[{i}]", r.line(seq, i)
        if not isinstance(child, str) or not child:
            r.error(where, f"expected a group name, got {child!r}", line)
        elif child == name:
            r.error(where, f"a group cannot be its own child group ({name!r})", line, "group-cycle")
        else:
            children.append(child)
    return tuple(children)
