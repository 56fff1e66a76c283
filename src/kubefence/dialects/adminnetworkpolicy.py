"""``policy.networking.k8s.io`` AdminNetworkPolicy, BaselineAdminNetworkPolicy (v1alpha1) and
ClusterNetworkPolicy (v1alpha2) → IR (§2 of the semantics reference).

All three become ORDERED-tier policies: ANP and ``tier: Admin`` in the Admin tier, BANP and
``tier: Baseline`` in the Baseline tier. Rules keep their list order; ``Allow``/``Accept`` are
ALLOW. Checks that the CRDs leave to comments (protocol names, ``portRange`` start ≤ end,
the BANP singleton name) are made here, since the implementation would fail on them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kubefence.dialects.base import ParseResult
from kubefence.dialects.fields import FieldReader
from kubefence.ir.addresses import IPBlock
from kubefence.ir.model import (
    ADMIN,
    BASELINE,
    Action,
    Direction,
    IPBlockPeer,
    NodePeer,
    Peer,
    PodPeer,
    PodSelection,
    Policy,
    Rule,
    Tier,
)
from kubefence.ir.ports import MAX_PORT, PORT_PROTOCOLS, NamedPort, PortMatch, PortRange, Protocol
from kubefence.ir.selectors import LabelSelector

if TYPE_CHECKING:
    from kubefence.dialects.loader import Document

__all__ = ["AdminNetworkPolicyDialect"]

V1ALPHA1 = "policy.networking.k8s.io/v1alpha1"
V1ALPHA2 = "policy.networking.k8s.io/v1alpha2"
_PROTOCOLS = {p.value: p for p in PORT_PROTOCOLS}
_PEER_KEY = {Direction.INGRESS: "from", Direction.EGRESS: "to"}


@dataclass(frozen=True, slots=True)
class _Shape:
    """What differs between the three kinds."""

    kind: str
    v2: bool
    actions: Mapping[str, Action]
    max_items: int


_ANP_ACTIONS = {"Allow": Action.ALLOW, "Deny": Action.DENY, "Pass": Action.PASS}
_SHAPES = {
    "AdminNetworkPolicy": _Shape("AdminNetworkPolicy", False, _ANP_ACTIONS, 100),
    "BaselineAdminNetworkPolicy": _Shape(
        "BaselineAdminNetworkPolicy", False, {"Allow": Action.ALLOW, "Deny": Action.DENY}, 100
    ),
    "ClusterNetworkPolicy": _Shape(
        "ClusterNetworkPolicy", True, {"Accept": Action.ALLOW, "Deny": Action.DENY, "Pass": Action.PASS}, 25
    ),
}


class AdminNetworkPolicyDialect:
    """Reads ANP/BANP (v1alpha1) and ClusterNetworkPolicy (v1alpha2)."""

    name = "adminnetworkpolicy"
    kinds = (
        (V1ALPHA1, "AdminNetworkPolicy"),
        (V1ALPHA1, "BaselineAdminNetworkPolicy"),
        (V1ALPHA2, "ClusterNetworkPolicy"),
    )

    def parse(self, doc: Document) -> ParseResult:
        reader = FieldReader(doc, self.name)
        policy = _Parser(reader, _SHAPES[str(doc.data.get("kind"))]).policy()
        if reader.failed or policy is None:
            return ParseResult((), tuple(reader.diagnostics))
        return ParseResult((policy,), tuple(reader.diagnostics))


class _Parser:
    def __init__(self, reader: FieldReader, shape: _Shape) -> None:
        self.r = reader
        self.shape = shape

    def policy(self) -> Policy | None:
        data = self.r.doc.data
        meta = self.r.mapping(data, "metadata", "metadata", required=True) or {}
        name = self.r.string(meta, "name", "metadata.name", required=True)
        spec = self.r.mapping(data, "spec", "spec", required=True)
        if spec is None or name is None:
            return None
        self.check_singleton(name, meta)
        tier, priority = self.tier_and_priority(spec)
        self.r.known(spec, self.spec_fields(), "spec")
        subject = self.subject(spec)
        rules = self.rules(spec, Direction.INGRESS) + self.rules(spec, Direction.EGRESS)
        if subject is None or tier is None:
            return None
        return Policy(
            kind=self.shape.kind,
            name=name,
            namespace=None,
            tier=tier,
            priority=priority,
            subject=subject,
            directions=frozenset(r.direction for r in rules),
            rules=tuple(rules),
            source=self.r.source(),
        )

    def spec_fields(self) -> tuple[str, ...]:
        base = ("subject", "ingress", "egress")
        if self.shape.v2:
            return (*base, "tier", "priority")
        return base if self.shape.kind == "BaselineAdminNetworkPolicy" else (*base, "priority")

    def check_singleton(self, name: str, meta: Mapping[str, Any]) -> None:
        if self.shape.kind == "BaselineAdminNetworkPolicy" and name != "default":
            self.r.error(
                "metadata.name",
                f"BaselineAdminNetworkPolicy is a singleton and must be named 'default', not {name!r}",
                self.r.line(meta, "name"),
                "banp-name",
            )

    def tier_and_priority(self, spec: Mapping[str, Any]) -> tuple[Tier | None, int]:
        if self.shape.kind == "BaselineAdminNetworkPolicy":
            return BASELINE, 0
        priority = self.r.integer(spec, "priority", "spec.priority", 0, 1000, required=True)
        if not self.shape.v2:
            return ADMIN, priority or 0
        text = self.r.string(spec, "tier", "spec.tier", required=True)
        tiers = {"Admin": ADMIN, "Baseline": BASELINE}
        if text is not None and text not in tiers:
            self.r.error(
                "spec.tier",
                f"unsupported value {text!r} (expected Admin or Baseline)",
                self.r.line(spec, "tier"),
                "unsupported-value",
            )
        return tiers.get(text or ""), priority or 0

    # -- subject ---------------------------------------------------------------------------
    def subject(self, spec: Mapping[str, Any]) -> PodSelection | None:
        subject = self.r.mapping(spec, "subject", "spec.subject", required=True)
        if subject is None:
            return None
        return self.pods_or_namespaces(subject, "spec.subject", self.r.line(spec, "subject"))

    def pods_or_namespaces(self, item: Mapping[str, Any], path: str, line: int) -> PodSelection | None:
        self.r.known(item, ("namespaces", "pods"), path)
        present = [k for k in ("namespaces", "pods") if item.get(k) is not None]
        if len(present) != 1:
            self.r.error(path, "exactly one of namespaces or pods must be set", line)
            return None
        if present[0] == "namespaces":
            return self.namespaces(item, f"{path}.namespaces")
        return self.pods(item, f"{path}.pods")

    def namespaces(self, item: Mapping[str, Any], path: str) -> PodSelection | None:
        value = item["namespaces"]
        if isinstance(value, Mapping) and {"namespaceSelector", "sameLabels", "notSameLabels"} & set(value):
            self.old_shape(path, self.r.line(item, "namespaces"))
            return None
        selector = self.r.selector(item, "namespaces", path)
        return PodSelection(LabelSelector(), namespace_selector=selector) if selector is not None else None

    def pods(self, item: Mapping[str, Any], path: str) -> PodSelection | None:
        value = self.r.mapping(item, "pods", path)
        if value is None:
            return None
        if "namespaces" in value:
            self.old_shape(path, self.r.line(item, "pods"))
            return None
        self.r.known(value, ("namespaceSelector", "podSelector"), path)
        ns = self.r.selector(value, "namespaceSelector", f"{path}.namespaceSelector")
        if ns is None and not self.shape.v2:
            self.r.error(
                f"{path}.namespaceSelector",
                "required field is missing",
                self.r.line(value, "podSelector"),
                "missing-field",
            )
        pod = self.r.selector(value, "podSelector", f"{path}.podSelector")
        if pod is None:
            self.r.error(
                f"{path}.podSelector", "required field is missing", self.r.line(item, "pods"), "missing-field"
            )
            return None
        return PodSelection(pod, namespace_selector=ns if ns is not None else LabelSelector())

    def old_shape(self, path: str, line: int) -> None:
        self.r.error(
            path,
            "this is the pre-v0.1.3 peer shape (namespaces.namespaceSelector / sameLabels / "
            "pods.namespaces); since network-policy-api v0.1.3 'namespaces' is a label selector and "
            "'pods' is {namespaceSelector, podSelector}",
            line,
            "old-anp-shape",
        )

    # -- rules -----------------------------------------------------------------------------
    def rules(self, spec: Mapping[str, Any], direction: Direction) -> list[Rule]:
        key = direction.value
        seq = self.r.sequence(spec, key, f"spec.{key}")
        self.limit(seq, f"spec.{key}", spec, key)
        return [
            rule
            for i, path, item in self.r.items(seq, f"spec.{key}")
            if (rule := self.rule(item, path, i, direction, self.r.line(seq, i))) is not None
        ]

    def limit(self, seq: list[Any] | None, path: str, parent: Mapping[str, Any], key: str) -> None:
        if seq is not None and len(seq) > self.shape.max_items:
            self.r.error(
                path,
                f"must have at most {self.shape.max_items} items, has {len(seq)}",
                self.r.line(parent, key),
                "too-many-items",
            )

    def rule(
        self, item: Mapping[str, Any], path: str, index: int, direction: Direction, line: int
    ) -> Rule | None:
        peer_key = _PEER_KEY[direction]
        ports_key = "protocols" if self.shape.v2 else "ports"
        self.r.known(item, ("name", "action", peer_key, ports_key), path)
        name = self.r.string(item, "name", f"{path}.name")
        action = self.action(item, path)
        peers = self.peers(item, f"{path}.{peer_key}", peer_key, direction, action)
        ports = self.ports(item, f"{path}.{ports_key}", ports_key)
        if action is None or peers is None:
            return None
        self.check_named_with_addresses(peers, ports, path, line)
        return Rule(direction, action, tuple(peers), ports, index, self.r.source(line), name)

    def action(self, item: Mapping[str, Any], path: str) -> Action | None:
        text = self.r.string(item, "action", f"{path}.action", required=True)
        if text is None:
            return None
        if text not in self.shape.actions:
            allowed = ", ".join(self.shape.actions)
            self.r.error(
                f"{path}.action",
                f"unsupported action {text!r} for {self.shape.kind} (expected {allowed})",
                self.r.line(item, "action"),
                "unsupported-value",
            )
            return None
        return self.shape.actions[text]

    def peers(
        self, item: Mapping[str, Any], path: str, key: str, direction: Direction, action: Action | None
    ) -> list[Peer] | None:
        seq = self.r.sequence(item, key, path, required=True)
        if seq is not None and not seq:
            self.r.error(path, "must have at least 1 item", self.r.line(item, key), "too-few-items")
        self.limit(seq, path, item, key)
        out: list[Peer] = []
        for i, p_path, p_item in self.r.items(seq, path):
            out.extend(self.peer(p_item, p_path, self.r.line(seq, i), direction, action))
        return out if seq else None

    def peer(
        self, item: Mapping[str, Any], path: str, line: int, direction: Direction, action: Action | None
    ) -> list[Peer]:
        egress_only = ("nodes", "networks", "domainNames")
        allowed = ("namespaces", "pods", *(egress_only if direction is Direction.EGRESS else ()))
        present = [k for k in item if item.get(k) is not None]
        unknown = [k for k in present if k not in allowed]
        if unknown:
            self.r.error(
                f"{path}.{unknown[0]}",
                f"not a valid {direction.value} peer (expected one of {', '.join(allowed)})",
                self.r.line(item, unknown[0]),
                "unknown-field",
            )
            return []
        if len(present) != 1:
            self.r.error(path, "exactly one peer field must be set", line)
            return []
        return self.peer_of_kind(present[0], item, path, action)

    def peer_of_kind(
        self, kind: str, item: Mapping[str, Any], path: str, action: Action | None
    ) -> list[Peer]:
        if kind in ("namespaces", "pods"):
            selection = self.pods_or_namespaces(item, path, self.r.line(item, kind))
            return [PodPeer(selection)] if selection is not None else []
        if kind == "nodes":
            selector = self.r.selector(item, "nodes", f"{path}.nodes")
            return [NodePeer(selector)] if selector is not None else []
        if kind == "networks":
            return self.networks(item, f"{path}.networks")
        self.domain_names(item, f"{path}.domainNames", action)
        return []

    def networks(self, item: Mapping[str, Any], path: str) -> list[Peer]:
        seq = self.r.sequence(item, "networks", path) or []
        if not seq:
            self.r.error(path, "must have at least 1 item", self.r.line(item, "networks"), "too-few-items")
        if len(seq) > 25:
            self.r.error(path, f"must have at most 25 items, has {len(seq)}", self.r.line(item, "networks"))
        nets = (self.r.cidr(text, f"{path}[{i}]", self.r.line(seq, i)) for i, text in enumerate(seq))
        return [IPBlockPeer(IPBlock(net)) for net in nets if net is not None]

    def domain_names(self, item: Mapping[str, Any], path: str, action: Action | None) -> None:
        if action is not None and action is not Action.ALLOW:
            self.r.warn(
                path, "domainNames is only supported for Allow/Accept rules", self.r.line(item, "domainNames")
            )
        self.r.warn(
            path,
            "domainNames peers depend on DNS and are not evaluated yet: this peer matches nothing "
            "in kubefence's answers",
            self.r.line(item, "domainNames"),
            "fqdn-not-evaluated",
        )

    def check_named_with_addresses(
        self, peers: list[Peer], ports: tuple[PortMatch, ...] | None, path: str, line: int
    ) -> None:
        named = ports is not None and any(isinstance(p, NamedPort) for p in ports)
        if named and any(isinstance(p, IPBlockPeer | NodePeer) for p in peers):
            self.r.error(
                path,
                "networks/nodes peers cannot be combined with a named port in one rule",
                line,
                "named-port-with-addresses",
            )

    # -- ports -----------------------------------------------------------------------------
    def ports(self, item: Mapping[str, Any], path: str, key: str) -> tuple[PortMatch, ...] | None:
        seq = self.r.sequence(item, key, path)
        if seq is None:
            return None
        if not seq:
            self.r.error(
                path,
                "must have at least 1 item when present (omit it to match all ports)",
                self.r.line(item, key),
                "too-few-items",
            )
        self.limit(seq, path, item, key)
        parse = self.protocol_entry if self.shape.v2 else self.port_entry
        found = [parse(p_item, p_path, self.r.line(seq, i)) for i, p_path, p_item in self.r.items(seq, path)]
        return tuple(p for p in found if p is not None)

    def port_entry(self, item: Mapping[str, Any], path: str, line: int) -> PortMatch | None:
        """v1alpha1: exactly one of portNumber, namedPort, portRange."""
        present = self.one_of(item, ("portNumber", "namedPort", "portRange"), path, line)
        if present == "namedPort":
            name = self.r.string(item, "namedPort", f"{path}.namedPort")
            return NamedPort(name) if name else None
        value = self.r.mapping(item, present or "", f"{path}.{present}") if present else None
        if value is None:
            return None
        protocol = self.r.protocol(value, f"{path}.{present}")
        if present == "portNumber":
            self.r.known(value, ("protocol", "port"), f"{path}.portNumber")
            number = self.r.integer(value, "port", f"{path}.portNumber.port", 1, MAX_PORT, required=True)
            return PortRange(protocol, number, number) if protocol and number else None
        self.r.known(value, ("protocol", "start", "end"), f"{path}.portRange")
        return self.port_range(value, f"{path}.portRange", protocol, allow_equal=True)

    def protocol_entry(self, item: Mapping[str, Any], path: str, line: int) -> PortMatch | None:
        """v1alpha2: exactly one of tcp, udp, sctp, destinationNamedPort."""
        present = self.one_of(item, ("tcp", "udp", "sctp", "destinationNamedPort"), path, line)
        if present is None:
            return None
        if present == "destinationNamedPort":
            name = self.r.string(item, present, f"{path}.{present}")
            return NamedPort(name) if name else None
        protocol = _PROTOCOLS[present.upper()]
        value = self.r.mapping(item, present, f"{path}.{present}")
        if value is None:
            return None
        self.r.known(value, ("destinationPort",), f"{path}.{present}")
        return self.destination_port(value, f"{path}.{present}", protocol, self.r.line(item, present))

    def destination_port(
        self, value: Mapping[str, Any], path: str, protocol: Protocol, line: int
    ) -> PortMatch | None:
        dest = self.r.mapping(value, "destinationPort", f"{path}.destinationPort")
        if dest is None:
            self.r.warn(
                path,
                "rejected by the CRD (minProperties 1): write destinationPort.range 1-65535 for "
                f"all {protocol.value} ports; evaluated here as all {protocol.value} ports",
                line,
            )
            return PortRange(protocol, 1, MAX_PORT)
        key = self.one_of(dest, ("number", "range"), f"{path}.destinationPort", line)
        if key == "number":
            number = self.r.integer(dest, "number", f"{path}.destinationPort.number", 1, MAX_PORT)
            return PortRange(protocol, number, number) if number else None
        ranged = self.r.mapping(dest, "range", f"{path}.destinationPort.range") if key else None
        if ranged is None:
            return None
        self.r.known(ranged, ("start", "end"), f"{path}.destinationPort.range")
        return self.port_range(ranged, f"{path}.destinationPort.range", protocol, allow_equal=False)

    def port_range(
        self, value: Mapping[str, Any], path: str, protocol: Protocol | None, allow_equal: bool
    ) -> PortMatch | None:
        start = self.r.integer(value, "start", f"{path}.start", 1, MAX_PORT, required=True)
        end = self.r.integer(value, "end", f"{path}.end", 1, MAX_PORT, required=True)
        if start is None or end is None or protocol is None:
            return None
        if end < start or (end == start and not allow_equal):
            relation = "less than" if not allow_equal else "less than or equal to"
            self.r.error(
                path,
                f"start ({start}) must be {relation} end ({end})",
                self.r.line(value, "end"),
                "bad-port-range",
            )
            return None
        return PortRange(protocol, start, end)

    def one_of(self, item: Mapping[str, Any], keys: tuple[str, ...], path: str, line: int) -> str | None:
        self.r.known(item, keys, path)
        present = [k for k in keys if item.get(k) is not None]
        if len(present) != 1:
            self.r.error(path, f"exactly one of {', '.join(keys)} must be set", line)
            return None
        return present[0]
