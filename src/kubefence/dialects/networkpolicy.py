"""Kubernetes ``networking.k8s.io/v1`` NetworkPolicy → IR (§1 of the semantics reference).

Applies the API server's defaulting (policyTypes, protocol TCP) and validation
(pkg/apis/networking/validation) so that raw manifests mean what the cluster would store.
Absent and empty are kept apart exactly as §1.6 says: ``from``/``ports`` absent or ``[]``
match everything; ``podSelector`` absent ≡ ``{}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubefence.dialects.base import ParseResult
from kubefence.dialects.fields import FieldReader
from kubefence.ir.model import (
    NETWORK_POLICY,
    AnyPeer,
    Direction,
    IPBlockPeer,
    Peer,
    PodPeer,
    PodSelection,
    Policy,
    Rule,
)
from kubefence.ir.model import Action as A
from kubefence.ir.ports import MAX_PORT, MIN_PORT, NamedPort, PortMatch, PortRange, Protocol
from kubefence.ir.selectors import LabelSelector

if TYPE_CHECKING:
    from collections.abc import Mapping

    from kubefence.dialects.loader import Document

__all__ = ["NetworkPolicyDialect"]

API = "networking.k8s.io/v1"
_DIRECTIONS = {"Ingress": Direction.INGRESS, "Egress": Direction.EGRESS}
_PEER_KEY = {Direction.INGRESS: "from", Direction.EGRESS: "to"}


class NetworkPolicyDialect:
    """Reads ``networking.k8s.io/v1`` NetworkPolicy."""

    name = "networkpolicy"
    kinds = ((API, "NetworkPolicy"),)

    def parse(self, doc: Document) -> ParseResult:
        reader = FieldReader(doc, self.name)
        policy = _Parser(reader).policy()
        if reader.failed or policy is None:
            return ParseResult((), tuple(reader.diagnostics))
        return ParseResult((policy,), tuple(reader.diagnostics))


class _Parser:
    def __init__(self, reader: FieldReader) -> None:
        self.r = reader
        self.namespace = "default"

    def policy(self) -> Policy | None:
        data = self.r.doc.data
        meta = self.r.mapping(data, "metadata", "metadata", required=True) or {}
        # ValidateNetworkPolicyName is NameIsDNSSubdomain (kubernetes/kubernetes
        # pkg/apis/networking/validation/validation.go).
        name = self.r.dns_subdomain(meta, "name", "metadata.name", required=True)
        self.namespace = self.r.string(meta, "namespace", "metadata.namespace") or "default"
        spec = self.r.mapping(data, "spec", "spec", required=True)
        if spec is None or name is None:
            return None
        self.r.known(spec, ("podSelector", "policyTypes", "ingress", "egress"), "spec")
        subject = self.r.selector(spec, "podSelector", "spec.podSelector") or LabelSelector()
        rules = self.rules(spec, Direction.INGRESS) + self.rules(spec, Direction.EGRESS)
        directions = self.policy_types(spec)
        self.dead_rules(spec, directions)
        return Policy(
            kind="NetworkPolicy",
            name=name,
            namespace=self.namespace,
            tier=NETWORK_POLICY,
            priority=0,
            subject=PodSelection(subject, namespace=self.namespace),
            directions=directions,
            rules=tuple(r for r in rules if r.direction in directions),
            source=self.r.source(),
            dormant=tuple(r for r in rules if r.direction not in directions),
        )

    def policy_types(self, spec: Mapping[str, Any]) -> frozenset[Direction]:
        """Explicit policyTypes, or the API server's default: Ingress, plus Egress iff egress rules."""
        types = self.r.sequence(spec, "policyTypes", "spec.policyTypes")
        if not types:
            has_egress = bool(spec.get("egress")) and isinstance(spec.get("egress"), list)
            return frozenset({Direction.INGRESS, Direction.EGRESS} if has_egress else {Direction.INGRESS})
        if len(types) > 2:
            self.r.error(
                "spec.policyTypes", "may not contain more than 2 entries", self.r.line(spec, "policyTypes")
            )
        found: set[Direction] = set()
        for i, value in enumerate(types):
            if not isinstance(value, str) or value not in _DIRECTIONS:
                self.r.error(
                    f"spec.policyTypes[{i}]",
                    f"unsupported value {value!r} (expected Ingress or Egress)",
                    self.r.line(types, i),
                    "unsupported-value",
                )
                continue
            found.add(_DIRECTIONS[value])
        return frozenset(found)

    def dead_rules(self, spec: Mapping[str, Any], directions: frozenset[Direction]) -> None:
        for direction, key in ((Direction.INGRESS, "ingress"), (Direction.EGRESS, "egress")):
            if spec.get(key) and direction not in directions:
                self.r.warn(
                    f"spec.{key}",
                    f"policyTypes does not include {direction.title}: these rules are "
                    "ignored by the API semantics",
                    self.r.line(spec, key),
                    "dead-rules",
                )

    def rules(self, spec: Mapping[str, Any], direction: Direction) -> list[Rule]:
        key = direction.value
        seq = self.r.sequence(spec, key, f"spec.{key}")
        return [
            self.rule(item, path, i, direction, self.r.line(seq, i))
            for i, path, item in self.r.items(seq, f"spec.{key}")
        ]

    def rule(self, item: Mapping[str, Any], path: str, index: int, direction: Direction, line: int) -> Rule:
        peer_key = _PEER_KEY[direction]
        self.r.known(item, (peer_key, "ports"), path)
        peers_seq = self.r.sequence(item, peer_key, f"{path}.{peer_key}")
        peers: list[Peer] = [
            p
            for i, p_path, p_item in self.r.items(peers_seq, f"{path}.{peer_key}")
            if (p := self.peer(p_item, p_path, self.r.line(peers_seq, i))) is not None
        ]
        ports_seq = self.r.sequence(item, "ports", f"{path}.ports")
        ports = [
            m
            for i, m_path, m_item in self.r.items(ports_seq, f"{path}.ports")
            if (m := self.port(m_item, m_path, self.r.line(ports_seq, i))) is not None
        ]
        return Rule(
            direction=direction,
            action=A.ALLOW,
            peers=tuple(peers) if peers_seq else (AnyPeer(),),
            ports=tuple(ports) if ports_seq else None,
            index=index,
            source=self.r.source(line),
        )

    def peer(self, item: Mapping[str, Any], path: str, line: int) -> Peer | None:
        self.r.known(item, ("podSelector", "namespaceSelector", "ipBlock"), path)
        present = [k for k in ("podSelector", "namespaceSelector", "ipBlock") if item.get(k) is not None]
        if not present:
            self.r.error(path, "must specify a peer (podSelector, namespaceSelector or ipBlock)", line)
            return None
        if "ipBlock" in present and len(present) > 1:
            self.r.error(path, "ipBlock may not be combined with podSelector or namespaceSelector", line)
            return None
        if "ipBlock" in present:
            return self.ip_block(item, f"{path}.ipBlock")
        pods = self.r.selector(item, "podSelector", f"{path}.podSelector")
        namespaces = self.r.selector(item, "namespaceSelector", f"{path}.namespaceSelector")
        pod_selector = pods if pods is not None else LabelSelector()
        if namespaces is None:
            return PodPeer(PodSelection(pod_selector, namespace=self.namespace))
        return PodPeer(PodSelection(pod_selector, namespace_selector=namespaces))

    def ip_block(self, parent: Mapping[str, Any], path: str) -> IPBlockPeer | None:
        block = self.r.mapping(parent, "ipBlock", path)
        if block is None:
            return None
        self.r.known(block, ("cidr", "except"), path)
        line = self.r.line(block, "cidr")
        if block.get("cidr") is None:
            self.r.error(f"{path}.cidr", "required field is missing", line, "missing-field")
            return None
        excepts = self.r.sequence(block, "except", f"{path}.except") or []
        lines = [self.r.line(excepts, i) for i in range(len(excepts))]
        result = self.r.ip_block(block["cidr"], excepts, path, line, lines)
        return IPBlockPeer(result) if result is not None else None

    def port(self, item: Mapping[str, Any], path: str, line: int) -> PortMatch | None:
        self.r.known(item, ("protocol", "port", "endPort"), path)
        protocol = self.r.protocol(item, path, "; names are case-sensitive")
        port = item.get("port")
        end = self.r.integer(item, "endPort", f"{path}.endPort", 1, MAX_PORT)
        if protocol is None:
            return None
        if port is None:
            if "endPort" in item:
                self.r.error(f"{path}.endPort", "may not be specified when port is not specified", line)
                return None
            return PortRange(protocol, MIN_PORT, MAX_PORT)
        return self.r.port_match(
            item, path, protocol, end, lambda name: self.named_port(name, protocol, item, path)
        )

    def named_port(
        self, name: str, protocol: Protocol, item: Mapping[str, Any], path: str
    ) -> PortMatch | None:
        line = self.r.line(item, "port")
        if "endPort" in item:
            self.r.error(f"{path}.endPort", "may not be specified when port is non-numeric", line)
            return None
        if self.r.port_name(name, f"{path}.port", line) is None:
            return None
        return NamedPort(name, protocol)
