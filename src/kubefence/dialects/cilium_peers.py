"""The L3 part of a Cilium rule → IR peers (semantics reference §4.2, §4.4–§4.6, §4.8, §4.9).

One rule may use only one L3 field with entries: Cilium's agent rejects a rule that combines
two ("combining FromEndpoints and FromEntities is not supported yet", pkg/policy/api
rule_validation.go ``IngressCommonRule.Validate``), so kubefence reports it as an error. A
field that is present with an empty list selects nothing and still counts as "an L3 field"
(§4.4, trap 22); an empty ``Endpoints``/``Nodes``/``Entities``/``CIDR``/``CIDRSet`` list makes
the whole rule select nothing even beside another field's entries (pkg/k8s/apis/cilium.io/utils
``mergeEndpointSelectors``). Only a rule with no L3 field at all falls back to "every peer"
(when it has ports) or "nothing".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kubefence.dialects.cilium_selectors import NODE_SOURCES, EndpointSelector, read_endpoint_selector
from kubefence.dialects.located import LocatedMap
from kubefence.ir.addresses import IPBlock
from kubefence.ir.model import (
    Direction,
    Entity,
    EntityPeer,
    ExternalBlockPeer,
    FQDNPeer,
    LabelView,
    NodePeer,
    Peer,
    PodPeer,
    PodSelection,
    ServiceBackendsPeer,
)
from kubefence.ir.selectors import LabelSelector

if TYPE_CHECKING:
    from collections.abc import Mapping

    from kubefence.dialects.fields import FieldReader

__all__ = ["L3", "PeerReader", "l3_fields"]

NOT_MODELLED = "not-modelled"
_NONE_NOTE = "matches nothing in kubefence's answers"
# entity → (IR entity, what kubefence approximates, or None when exact)
_ENTITIES: dict[str, tuple[Entity, str | None]] = {
    "world": (Entity.WORLD, None),
    "cluster": (Entity.CLUSTER, None),
    "all": (Entity.ALL, None),
    "none": (Entity.NONE, None),
    "host": (Entity.HOST, None),
    "remote-node": (Entity.REMOTE_NODE, None),
    "kube-apiserver": (Entity.KUBE_APISERVER, None),
    "health": (Entity.NONE, f"Cilium health endpoints are not modelled: it {_NONE_NOTE}"),
    "init": (Entity.NONE, f"endpoints without an identity yet are not modelled: it {_NONE_NOTE}"),
    "unmanaged": (Entity.NONE, f"endpoints not managed by Cilium are not modelled: it {_NONE_NOTE}"),
    "ingress": (Entity.NONE, f"Cilium's ingress proxy is not modelled: it {_NONE_NOTE}"),
}
_FAMILY_WORLD = ("world-ipv4", "world-ipv6")
_FQDN_NAME = re.compile(r"^[-a-zA-Z0-9_]+(\.[-a-zA-Z0-9_]+)*\.?$")
_FQDN_PATTERN = re.compile(r"^[-a-zA-Z0-9_*]+(\.[-a-zA-Z0-9_*]+)*\.?$")
# L3 field stems; ``Requires`` only narrows the other fields and is not one of them.
_COMMON = ("Endpoints", "Entities", "CIDR", "CIDRSet", "Nodes", "Groups")
_EGRESS_ONLY = ("Services",)
# Fields whose explicit empty list makes the whole rule select nothing (mergeEndpointSelectors).
_EMPTY_SELECTS_NOTHING = ("Endpoints", "Nodes", "Entities", "CIDR", "CIDRSet")
_WHO = {Direction.INGRESS: "from", Direction.EGRESS: "to"}


def l3_fields(direction: Direction, deny: bool) -> tuple[str, ...]:
    """The peer fields of a rule of this direction and kind, ``fromRequires`` style included."""
    stems = _COMMON + (_EGRESS_ONLY if direction is Direction.EGRESS else ())
    fields = tuple(_WHO[direction] + s for s in (*stems, "Requires"))
    return fields + (("toFQDNs",) if direction is Direction.EGRESS and not deny else ())


@dataclass(frozen=True, slots=True)
class L3:
    """What the L3 fields of one rule gave: ``present`` is False when the rule has none."""

    present: bool
    peers: tuple[Peer, ...]


class PeerReader:
    """Reads L3 fields for a policy of ``namespace`` (None: a clusterwide policy)."""

    def __init__(self, reader: FieldReader, namespace: str | None) -> None:
        self.r = reader
        self.namespace = namespace

    def not_modelled(self, path: str, message: str, line: int) -> None:
        self.r.warn(path, message, line, NOT_MODELLED)

    def read(self, item: Mapping[str, Any], path: str, direction: Direction, deny: bool) -> L3:
        """The union of the peers of every L3 field of ``item``."""
        who = _WHO[direction]
        fields = [f for f in l3_fields(direction, deny) if not f.endswith("Requires")]
        present = [f for f in fields if item.get(f) is not None]
        self.requires(item, f"{who}Requires", path)
        self.one_field(item, present, path)
        peers: list[Peer] = []
        for field in present:
            peers.extend(self.field(item, field, field[len(who) :], f"{path}.{field}"))
        if any(item[f] == [] for f in present if f[len(who) :] in _EMPTY_SELECTS_NOTHING):
            return L3(True, ())
        return L3(bool(present), tuple(peers))

    def field(self, item: Mapping[str, Any], field: str, stem: str, path: str) -> list[Peer]:
        seq = self.r.sequence(item, field, path)
        line = self.r.line(item, field)
        if seq is None:
            return []
        if stem == "Endpoints":
            return self.endpoints(seq, path)
        if stem == "Entities":
            return self.entities(seq, path)
        if stem == "CIDR":
            nets = (self.r.cidr(t, f"{path}[{i}]", self.r.line(seq, i)) for i, t in enumerate(seq))
            return [ExternalBlockPeer(IPBlock(n)) for n in nets if n is not None]
        if stem == "CIDRSet":
            return self.cidr_sets(seq, path)
        if stem == "Nodes":
            return self.nodes(seq, path)
        if stem == "FQDNs":
            return self.fqdns(seq, path)
        if stem == "Services":
            return self.services(seq, path)
        if seq:
            self.not_modelled(path, f"{field} (cloud-provider groups) is not modelled: it {_NONE_NOTE}", line)
        return []

    def services(self, seq: list[Any], path: str) -> list[Peer]:
        """``toServices``: ``k8sServiceSelector`` (labels of the Service) wins over
        ``k8sService`` (name) when an entry has both; an absent namespace is every namespace,
        in a CiliumNetworkPolicy too (pkg/policy/k8s/service.go ``processRule``,
        ``serviceRefMatches``, ``serviceSelectorMatches``)."""
        out = (self.service(item, where) for _, where, item in self.r.items(seq, path))
        return [peer for peer in out if peer is not None]

    def service(self, item: Mapping[str, Any], where: str) -> Peer | None:
        self.r.known(item, ("k8sService", "k8sServiceSelector"), where)
        by_labels = self.r.mapping(item, "k8sServiceSelector", f"{where}.k8sServiceSelector")
        by_name = self.r.mapping(item, "k8sService", f"{where}.k8sService")
        if by_labels is None:
            if by_name is None:
                return None
            at = f"{where}.k8sService"
            self.r.known(by_name, ("serviceName", "namespace"), at)
            name = self.r.string(by_name, "serviceName", f"{at}.serviceName") or ""
            return ServiceBackendsPeer(
                self.r.string(by_name, "namespace", f"{at}.namespace") or None, name=name
            )
        if by_name is not None:
            message = "ignored: Cilium uses k8sServiceSelector when an entry has both"
            self.r.warn(f"{where}.k8sService", message, self.r.line(item, "k8sService"), "ignored-field")
        at = f"{where}.k8sServiceSelector"
        self.r.known(by_labels, ("selector", "namespace"), at)
        if by_labels.get("selector") is None:
            line = self.r.line(item, "k8sServiceSelector")
            self.r.error(f"{at}.selector", "required field is missing", line, "missing-field")
        selector = self.r.selector(by_labels, "selector", f"{at}.selector")
        namespace = self.r.string(by_labels, "namespace", f"{at}.namespace") or None
        return ServiceBackendsPeer(namespace, selector=selector) if selector is not None else None

    def requires(self, item: Mapping[str, Any], field: str, path: str) -> None:
        if item.get(field):
            self.not_modelled(
                f"{path}.{field}",
                f"{field} is not modelled: the extra requirements it puts on the peers of every "
                "rule of this policy are ignored, so kubefence may answer allowed where Cilium drops",
                self.r.line(item, field),
            )

    def one_field(self, item: Mapping[str, Any], present: list[str], path: str) -> None:
        """At most one L3 field with entries per rule: Cilium rejects the policy otherwise."""
        used = [f for f in present if item.get(f)]
        if len(used) > 1:
            second = used[1]
            self.r.error(
                f"{path}.{second}",
                f"{used[0]} and {second} cannot be combined in one rule: Cilium rejects the policy "
                '("combining ... is not supported yet") and enforces none of it; write them as '
                "separate rules",
                self.r.line(item, second),
                "l3-combined",
            )

    # -- selectors -------------------------------------------------------------------------
    def endpoints(self, seq: list[Any], path: str) -> list[Peer]:
        out: list[Peer] = []
        for i in range(len(seq)):
            holder = {str(i): seq[i]}
            line = self.r.line(seq, i)
            sel = read_endpoint_selector(self.r, _at(holder, str(i), line), str(i), f"{path}[{i}]")
            if sel is None:
                if seq[i] is None:
                    self.r.error(f"{path}[{i}]", "expected a mapping, got null", line)
                continue
            peer = self.selector_peer(sel, f"{path}[{i}]", line)
            if peer is not None:
                out.append(peer)
        return out

    def selector_peer(self, sel: EndpointSelector, path: str, line: int) -> Peer | None:
        """A PodPeer, or an EntityPeer for a ``reserved:<entity>`` selector."""
        if sel.only_reserved:
            return self.entity(sel.reserved[0], path, line, from_label=True)
        if sel.reserved or sel.unmodelled:
            keys = ", ".join([f"reserved:{n}" for n in sel.reserved] + list(sel.unmodelled))
            self.not_modelled(
                path,
                f"a selector on non-pod identity labels ({keys}) is not modelled: it {_NONE_NOTE}",
                line,
            )
            return None
        return PodPeer(self.pods(sel))

    def pods(self, sel: EndpointSelector) -> PodSelection:
        """CNP: the policy's namespace unless the selector names namespaces itself; CCNP: all."""
        if self.namespace is None or sel.names_namespace:
            return PodSelection(sel.selector, namespace_selector=LabelSelector(), view=LabelView.CNI)
        return PodSelection(sel.selector, namespace=self.namespace, view=LabelView.CNI)

    def nodes(self, seq: list[Any], path: str) -> list[Peer]:
        out: list[Peer] = []
        for i in range(len(seq)):
            line = self.r.line(seq, i)
            holder = _at({str(i): seq[i]}, str(i), line)
            sel = read_endpoint_selector(self.r, holder, str(i), f"{path}[{i}]", NODE_SOURCES)
            if sel is None:
                continue
            if sel.reserved or sel.unmodelled:
                self.not_modelled(f"{path}[{i}]", f"a node selector on non-node labels {_NONE_NOTE}", line)
                continue
            out.append(NodePeer(sel.selector))
        return out

    # -- entities --------------------------------------------------------------------------
    def entities(self, seq: list[Any], path: str) -> list[Peer]:
        out: list[Peer] = []
        for i, name in enumerate(seq):
            line = self.r.line(seq, i)
            if not isinstance(name, str):
                self.r.error(f"{path}[{i}]", f"expected an entity name, got {name!r}", line)
                continue
            peer = self.entity(name, f"{path}[{i}]", line, from_label=False)
            if peer is not None:
                out.append(peer)
        return out

    def entity(self, name: str, path: str, line: int, *, from_label: bool) -> Peer | None:
        """The EntityPeer of an entity (or ``reserved:`` label) name, noting approximations."""
        if name in _FAMILY_WORLD:
            if not from_label:
                self.r.error(
                    path,
                    f"{name!r} is not an allowed entity (the CRD accepts world, not world-ipv4 or "
                    "world-ipv6)",
                    line,
                    "unsupported-value",
                )
                return None
            self.not_modelled(path, f"reserved:{name} is read as world (both IP families)", line)
            return EntityPeer(Entity.WORLD)
        if name not in _ENTITIES or (from_label and name in ("cluster", "all", "none")):
            if from_label:
                self.not_modelled(path, f"unknown reserved label 'reserved:{name}': it {_NONE_NOTE}", line)
                return None
            allowed = ", ".join(_ENTITIES)
            self.r.error(
                path, f"unknown entity {name!r} (expected one of {allowed})", line, "unsupported-value"
            )
            return None
        entity, note = _ENTITIES[name]
        if note is not None:
            self.not_modelled(path, f"entity {name!r}: {note}", line)
        return EntityPeer(entity)

    # -- CIDRs and names -------------------------------------------------------------------
    def cidr_sets(self, seq: list[Any], path: str) -> list[Peer]:
        out: list[Peer] = []
        for i, p_path, item in self.r.items(seq, path):
            line = self.r.line(seq, i)
            self.r.known(item, ("cidr", "except", "cidrGroupRef", "cidrGroupSelector"), p_path)
            kinds = [k for k in ("cidr", "cidrGroupRef", "cidrGroupSelector") if item.get(k) is not None]
            if len(kinds) != 1:
                self.r.error(
                    p_path, "exactly one of cidr, cidrGroupRef and cidrGroupSelector must be set", line
                )
                continue
            if kinds[0] != "cidr":
                self.not_modelled(
                    f"{p_path}.{kinds[0]}",
                    f"{kinds[0]} (CiliumCIDRGroup) is not modelled: it {_NONE_NOTE}",
                    self.r.line(item, kinds[0]),
                )
                continue
            excepts = self.r.sequence(item, "except", f"{p_path}.except") or []
            lines = [self.r.line(excepts, j) for j in range(len(excepts))]
            # Cilium accepts an except equal to the cidr (CIDRRule.Validate only rejects a
            # shorter prefix or one outside): the entry then matches nothing.
            block = self.r.ip_block(
                item["cidr"], excepts, p_path, self.r.line(item, "cidr"), lines, strict=False
            )
            if block is not None:
                out.append(ExternalBlockPeer(block))
        return out

    def fqdns(self, seq: list[Any], path: str) -> list[Peer]:
        out: list[Peer] = []
        for i, p_path, item in self.r.items(seq, path):
            self.r.known(item, ("matchName", "matchPattern"), p_path)
            keys = [k for k in ("matchName", "matchPattern") if item.get(k) is not None]
            if len(keys) != 1:
                self.r.error(
                    p_path, "exactly one of matchName and matchPattern must be set", self.r.line(seq, i)
                )
                continue
            text = self.r.string(item, keys[0], f"{p_path}.{keys[0]}")
            pattern = _FQDN_NAME if keys[0] == "matchName" else _FQDN_PATTERN
            if text is None:
                continue
            if not pattern.match(text):
                self.r.error(
                    f"{p_path}.{keys[0]}",
                    f"invalid DNS name {text!r}",
                    self.r.line(item, keys[0]),
                    "bad-fqdn",
                )
                continue
            out.append(FQDNPeer(text.lower().rstrip(".")))
        return out


def _at(data: dict[str, Any], key: str, line: int) -> Mapping[str, Any]:
    """A one-key mapping that reports ``line`` for ``key`` (list items read as selectors)."""
    return LocatedMap(data, line=line, key_lines={key: line})
