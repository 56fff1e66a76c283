"""Calico policy rules → IR rules (semantics reference §3.5).

``RuleReader.rules`` reads ``spec.ingress``/``spec.egress``. Each rule keeps its position in
the user's list as ``index``; ``Log`` rules are checked and then left out (they never decide).
A rule becomes one IR ``Rule`` whose single peer is the remote side (ingress: ``source``,
egress: ``destination``), plus the restriction its local side puts on the policy's subject
(``CalicoRule.local``), which the dialect turns into policy parts. Checks are those of
libcalico-go's validator (validateRule, validateEntityRule, validateICMPFields).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from kubefence.dialects.calico_entity import Entity, PortSpec, local_restriction, read_entity, remote_peer
from kubefence.ir.expressions import Expr
from kubefence.ir.l7 import HTTPMatch, HTTPRule, MatchKind, TextMatch
from kubefence.ir.model import Action, Direction, Rule, ServicePeer
from kubefence.ir.ports import NamedPort, PortMatch, PortRange, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping

    from kubefence.dialects.fields import FieldReader
    from kubefence.ir.addresses import IPNetwork

__all__ = ["CalicoRule", "RuleReader"]

NOT_MODELLED: Final = "not-modelled"
_RULE_FIELDS: Final = (
    "action",
    "ipVersion",
    "protocol",
    "notProtocol",
    "icmp",
    "notICMP",
    "source",
    "destination",
    "http",
    "metadata",
)
_ACTIONS: Final = {"Allow": Action.ALLOW, "Deny": Action.DENY, "Pass": Action.PASS, "Log": None}
_NAMES: Final = {
    "TCP": (Protocol.TCP, 6),
    "UDP": (Protocol.UDP, 17),
    "SCTP": (Protocol.SCTP, 132),
    "ICMP": (Protocol.ICMP, 1),
    "ICMPv6": (Protocol.ICMPV6, 58),
    "UDPLite": (Protocol.OTHER, 136),
    "tcp": (Protocol.TCP, 6),
    "udp": (Protocol.UDP, 17),
    "sctp": (Protocol.SCTP, 132),
}
_NUMBERS: Final = {
    6: Protocol.TCP,
    17: Protocol.UDP,
    132: Protocol.SCTP,
    1: Protocol.ICMP,
    58: Protocol.ICMPV6,
}
_WHOLE: Final = {4: ipaddress.ip_network("0.0.0.0/0"), 6: ipaddress.ip_network("::/0")}
_REMOTE: Final = {Direction.INGRESS: "source", Direction.EGRESS: "destination"}
_LOCAL: Final = {Direction.INGRESS: "destination", Direction.EGRESS: "source"}


@dataclass(frozen=True, slots=True)
class CalicoRule:
    """A rule and the restriction its local side puts on the policy's subject (None: it
    applies to every endpoint the policy selects)."""

    rule: Rule
    local: Expr | None


@dataclass(frozen=True, slots=True)
class _Proto:
    """A rule's ``protocol``/``notProtocol``: the IR protocol, the text written, its number."""

    protocol: Protocol
    text: str
    number: int

    @property
    def has_ports(self) -> bool:
        return self.number in (6, 17, 132)


@dataclass(frozen=True, slots=True)
class _Sides:
    """What the two EntityRules of one rule say, seen from the rule's direction."""

    remote: Entity
    local: Entity
    source: Entity
    destination: Entity


class RuleReader:
    """Reads the rules of one policy; ``namespace`` is the NetworkPolicy's (None: global)."""

    def __init__(self, reader: FieldReader, namespace: str | None) -> None:
        self.r = reader
        self.namespace = namespace

    def rules(self, spec: Mapping[str, Any], direction: Direction) -> list[CalicoRule]:
        key = direction.value
        seq = self.r.sequence(spec, key, f"spec.{key}")
        return [
            rule
            for i, path, item in self.r.items(seq, f"spec.{key}")
            if (rule := self.rule(item, path, i, direction, self.r.line(seq, i))) is not None
        ]

    def rule(
        self, item: Mapping[str, Any], path: str, index: int, direction: Direction, line: int
    ) -> CalicoRule | None:
        self.r.known(item, _RULE_FIELDS, path)
        action = self.action(item, path)
        protocol = self.protocol(item, "protocol", path)
        not_protocol = self.protocol(item, "notProtocol", path)
        icmp = self.icmp(item, "icmp", path, protocol)
        not_icmp = self.icmp(item, "notICMP", path, protocol)
        source = read_entity(self.r, item, "source", f"{path}.source")
        destination = read_entity(self.r, item, "destination", f"{path}.destination")
        sides = self.sides(direction, source, destination)
        family = self.family(item, path, sides, protocol, not_protocol)
        l7 = self.http(item, path, action, protocol)
        ports = self.ports(destination.ports, protocol, f"{path}.destination.ports", item)
        except_ports = self.ports(destination.not_ports, protocol, f"{path}.destination.notPorts", item)
        self.ports(source.ports + source.not_ports, protocol, f"{path}.source.ports", item)
        if action is None:
            return None
        self.warn_unmodelled(path, item, direction, sides, action)
        peer = self.service_peer(sides, direction, path, item)
        if sides.local.services is not None:
            return None  # an error was reported
        rule = Rule(
            direction=direction,
            action=action,
            peers=(peer or remote_peer(sides.remote, self.namespace, family),),
            ports=icmp or self.with_protocol(ports, protocol),
            index=index,
            source=self.r.source(line),
            except_ports=(*except_ports, *not_icmp, *(self.with_protocol((), not_protocol) or ())),
            l7=l7,
        )
        return CalicoRule(rule, local_restriction(sides.local))

    @staticmethod
    def with_protocol(ports: tuple[PortMatch, ...], protocol: _Proto | None) -> tuple[PortMatch, ...] | None:
        """``ports``; all ports of ``protocol`` when there are none; None: every protocol."""
        if ports:
            return ports
        return (PortRange(protocol.protocol),) if protocol is not None else None

    @staticmethod
    def sides(direction: Direction, source: Entity, destination: Entity) -> _Sides:
        if direction is Direction.INGRESS:
            return _Sides(source, destination, source, destination)
        return _Sides(destination, source, source, destination)

    # -- action and protocol ---------------------------------------------------------------
    def action(self, item: Mapping[str, Any], path: str) -> Action | None:
        """The action; None for ``Log`` (and for an invalid action, after an error)."""
        text = self.r.string(item, "action", f"{path}.action", required=True)
        if text is not None and text not in _ACTIONS:
            self.r.error(
                f"{path}.action",
                f"unsupported action {text!r} (expected Allow, Deny, Log or Pass)",
                self.r.line(item, "action"),
                "unsupported-value",
            )
        return _ACTIONS.get(text or "")

    def protocol(self, item: Mapping[str, Any], key: str, path: str) -> _Proto | None:
        """TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite (tcp, udp, sctp) or a number 1-255."""
        value = item.get(key)
        if value is None:
            return None
        where, line = f"{path}.{key}", self.r.line(item, key)
        if isinstance(value, str) and value in _NAMES:
            proto, number = _NAMES[value]
        elif isinstance(value, int | str) and not isinstance(value, bool) and str(value).isdigit():
            number = int(value)
            if not 1 <= number <= 255:
                self.r.error(where, f"protocol number {number} is out of range 1-255", line, "out-of-range")
                return None
            proto = _NUMBERS.get(number, Protocol.OTHER)
        else:
            message = (
                f"unsupported protocol {value!r} (expected TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or 1-255)"
            )
            self.r.error(where, message, line, "unknown-protocol")
            return None
        if proto is Protocol.OTHER:
            self.r.warn(
                where,
                f"protocol {value} is not modelled on its own: kubefence reads it as every protocol other "
                "than TCP, UDP, SCTP, ICMP and ICMPv6",
                line,
                NOT_MODELLED,
            )
        return _Proto(proto, str(value), number)

    def icmp(
        self, item: Mapping[str, Any], key: str, path: str, protocol: _Proto | None
    ) -> tuple[PortRange, ...]:
        """``icmp``/``notICMP``: the ICMP (ICMPv6, after the rule's protocol) message type they
        name, as a range of that protocol; a ``notICMP`` of a rule without an ICMP protocol
        names the type of both. The code is not modelled: every code of the type matches."""
        fields = self.r.mapping(item, key, f"{path}.{key}")
        if fields is None:
            return ()
        where, line = f"{path}.{key}", self.r.line(item, key)
        self.r.known(fields, ("type", "code"), where)
        kind = self.r.integer(fields, "type", f"{where}.type", 0, 254)
        code = self.r.integer(fields, "code", f"{where}.code", 0, 255)
        if "code" in fields and "type" not in fields:
            self.r.error(f"{where}.code", "ICMP code specified without an ICMP type", line)
        icmp_protocol = protocol is not None and protocol.protocol.is_icmp
        if key == "icmp" and not icmp_protocol:
            self.r.error(where, "rules that specify ICMP fields must set protocol to ICMP or ICMPv6", line)
        if kind is None:
            return ()
        if code is not None:
            self.r.warn(
                f"{where}.code",
                f"ICMP codes are not modelled: the rule is read as every code of type {kind}",
                line,
                NOT_MODELLED,
            )
        protocols = (
            [protocol.protocol]
            if protocol is not None and icmp_protocol
            else [Protocol.ICMP, Protocol.ICMPV6]
        )
        return tuple(PortRange(p, kind, kind) for p in protocols)

    # -- addresses -------------------------------------------------------------------------
    def family(
        self,
        item: Mapping[str, Any],
        path: str,
        sides: _Sides,
        protocol: _Proto | None,
        not_protocol: _Proto | None,
    ) -> IPNetwork | None:
        """The whole address space of the rule's IP version (ipVersion, else its CIDRs), if any."""
        version = self.r.integer(item, "ipVersion", f"{path}.ipVersion", 4, 6)
        line = self.r.line(item, "ipVersion")
        if version == 5:
            self.r.error(f"{path}.ipVersion", "must be 4 or 6", line, "unsupported-value")
            version = None
        nets = [
            *sides.source.nets,
            *sides.source.not_nets,
            *sides.destination.nets,
            *sides.destination.not_nets,
        ]
        versions = {n.version for n in nets}
        if len(versions) > 1:
            self.r.error(path, "rule contains both IPv4 and IPv6 CIDRs", line)
        elif version is not None and versions and versions != {version}:
            self.r.error(f"{path}.ipVersion", "rule IP version doesn't match CIDR version", line)
        for proto, wanted in ((Protocol.ICMP, 4), (Protocol.ICMPV6, 6)):
            used = any(p is not None and p.protocol is proto for p in (protocol, not_protocol))
            if used and version is not None and version != wanted:
                self.r.error(f"{path}.ipVersion", f"must be {wanted} with protocol {proto.value}", line)
        chosen = version if version is not None else (next(iter(versions)) if len(versions) == 1 else None)
        return _WHOLE[chosen] if chosen is not None else None

    # -- ports -----------------------------------------------------------------------------
    def ports(
        self, specs: tuple[PortSpec, ...], protocol: _Proto | None, path: str, item: Mapping[str, Any]
    ) -> tuple[PortMatch, ...]:
        """Ports with the rule's protocol: numbers need TCP, UDP or SCTP; a list of names only
        is valid without a protocol (then a declared port of any protocol matches)."""
        if not specs:
            return ()
        line = self.r.line(item, "destination" if ".destination." in path else "source")
        if protocol is not None and not protocol.has_ports:
            self.r.error(
                path,
                f"rules that specify ports must set protocol to TCP, UDP or SCTP, not {protocol.text}",
                line,
            )
            return ()
        if protocol is None and any(p.name is None for p in specs):
            self.r.error(
                path, "numeric ports need protocol TCP, UDP or SCTP on the rule", line, "missing-protocol"
            )
            return ()
        proto = protocol.protocol if protocol is not None else None
        return tuple(
            NamedPort(p.name, proto)
            if p.name is not None
            else PortRange(proto or Protocol.TCP, p.start, p.end)
            for p in specs
        )

    # -- HTTP ------------------------------------------------------------------------------
    def http(
        self, item: Mapping[str, Any], path: str, action: Action | None, protocol: _Proto | None
    ) -> HTTPRule | None:
        """``http``: methods (exact, OR-ed) × paths (exact or prefix, OR-ed); Allow rules only."""
        value = self.r.mapping(item, "http", f"{path}.http")
        if value is None:
            return None
        where, line = f"{path}.http", self.r.line(item, "http")
        self.r.known(value, ("methods", "paths"), where)
        if isinstance(item.get("action"), str) and item["action"] in _ACTIONS and action is not Action.ALLOW:
            self.r.error(where, "only valid for Allow rules", line)
        if protocol is not None and protocol.protocol is not Protocol.TCP:
            self.r.error(
                f"{path}.protocol",
                "rules that specify HTTP fields must set protocol to TCP or leave it empty",
                line,
            )
        methods: list[TextMatch | None] = [
            TextMatch(MatchKind.EXACT, m) for m in self.strings(value, "methods", f"{where}.methods")
        ]
        paths: list[TextMatch | None] = list(self.paths(value, f"{where}.paths"))
        matches = tuple(HTTPMatch(method=m, path=p) for m in (methods or [None]) for p in (paths or [None]))
        return HTTPRule(matches)

    def strings(self, parent: Mapping[str, Any], key: str, path: str) -> list[str]:
        seq = self.r.sequence(parent, key, path) or []
        for i, value in enumerate(seq):
            if not isinstance(value, str):
                self.r.error(f"{path}[{i}]", f"expected a string, got {value!r}", self.r.line(seq, i))
        return [v for v in seq if isinstance(v, str)]

    def paths(self, parent: Mapping[str, Any], path: str) -> list[TextMatch]:
        out: list[TextMatch] = []
        seq = self.r.sequence(parent, "paths", path)
        for i, where, entry in self.r.items(seq, path):
            self.r.known(entry, ("exact", "prefix"), where)
            present = [k for k in ("exact", "prefix") if entry.get(k) is not None]
            if len(present) != 1:
                self.r.error(where, "exactly one of exact or prefix must be set", self.r.line(seq, i))
                continue
            text = self.r.string(entry, present[0], f"{where}.{present[0]}")
            if text is not None:
                out.append(TextMatch(MatchKind(present[0]), text))
        return out

    # -- services ------------------------------------------------------------------------------
    def service_peer(
        self, sides: _Sides, direction: Direction, path: str, item: Mapping[str, Any]
    ) -> ServicePeer | None:
        """The remote side's ``services`` as a peer: the Service's endpoint addresses, and in
        an egress rule's destination their ports too (Felix ``rule_scanner.go``: destination
        service IP sets include ports, source ones only addresses). Services on the local
        side, a destination ``ports`` list and a GlobalNetworkPolicy's Service without a
        namespace are refused as the API server refuses them (libcalico-go ``validator.go``,
        api ``policy_common.go`` validation rules)."""
        local = _LOCAL[direction]
        if sides.local.services is not None:
            where = f"{path}.{local}.services"
            message = f"not allowed in {direction.value} rule {local}: services match only the other side"
            self.r.error(where, message, self.r.line(item, local))
        ref = sides.remote.services
        if ref is None:
            return None
        remote = "destination" if direction is Direction.EGRESS else "source"
        if direction is Direction.EGRESS and (sides.remote.ports or sides.remote.not_ports):
            message = "ports and notPorts cannot be specified with services (the Service's ports apply)"
            self.r.error(f"{path}.destination.ports", message, self.r.line(item, remote))
        namespace = ref.namespace or self.namespace
        if namespace is None:
            message = "must specify a namespace: a GlobalNetworkPolicy names Services by namespace and name"
            self.r.error(f"{path}.{remote}.services.namespace", message, self.r.line(item, remote))
            return None
        return ServicePeer(namespace, ref.name, ports=direction is Direction.EGRESS)

    # -- what is not modelled --------------------------------------------------------------
    def warn_unmodelled(
        self, path: str, item: Mapping[str, Any], direction: Direction, sides: _Sides, action: Action | None
    ) -> None:
        local = f"{path}.{_LOCAL[direction]}"
        if sides.source.ports or sides.source.not_ports:
            self.r.warn(
                f"{path}.source.ports",
                "source ports are not modelled: the rule is read as matching every source port",
                self.r.line(item, "source"),
                NOT_MODELLED,
            )
        if sides.local.nets or sides.local.not_nets:
            self.r.warn(
                f"{local}.nets",
                f"nets/notNets on the {_LOCAL[direction]} of an {direction.value} rule (the endpoint the "
                "policy applies to) are not modelled: the rule is read as applying to every selected "
                "endpoint",
                self.r.line(item, _LOCAL[direction]),
                NOT_MODELLED,
            )
