"""The L4 part of a Cilium rule: ``toPorts`` and ``icmps`` → IR ports (semantics reference §4.7).

``protocol`` absent or ``ANY`` is TCP, UDP and SCTP; ``port`` ``"0"`` is every port and an
absent ``port`` is an error (the agent rejects it: "port must be specified", pkg/policy/api
rule_validation.go ``PortProtocol.Validate``); a port name takes the protocol of the container
port when the protocol is ``ANY``. ICMP is matched by ``icmps`` only, by message type (a number
or a name); ``icmps`` and ``toPorts`` may not share a rule.

What the agent's validation rejects in L7 rules is reported as an error too: HTTP, Kafka and
generic L7 rules on a port whose protocol is not TCP (``ANY`` or absent included) or on port 0,
DNS rules on ingress and DNS rules on a port range (``PortRule.Validate``).

A rule's ``toPorts`` entries are unioned, but an entry with HTTP rules restricts requests on
its own ports only; the reader therefore returns *groups*: the entries without L7 rules (and
the ICMP fields) together, and one group per entry with HTTP rules. Each group becomes one
IR Rule with the same rule index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kubefence.dialects.cilium_l7 import dns_names, read_l7
from kubefence.dialects.fields import valid_port_name
from kubefence.ir.l7 import HTTPRule
from kubefence.ir.ports import MAX_PORT, MIN_PORT, PORT_PROTOCOLS, NamedPort, PortMatch, PortRange, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping

    from kubefence.dialects.fields import FieldReader

__all__ = ["PortGroup", "PortReader"]

_ALLOW_ENTRY = ("ports", "rules", "serverNames", "terminatingTLS", "originatingTLS", "listener")
_PROXY_FIELDS = {
    "serverNames": "TLS server names (SNI)",
    "terminatingTLS": "TLS termination by the proxy",
    "originatingTLS": "TLS origination by the proxy",
    "listener": "redirection to a custom Envoy listener",
}
_TRANSPORT = {p.value: p for p in PORT_PROTOCOLS}
_EXTENDED = ("VRRP", "IGMP")
_FAMILIES = {"IPv4": Protocol.ICMP, "IPv6": Protocol.ICMPV6}
# ICMP and ICMPv6 message types by name (IANA "ICMP Type Numbers" / "ICMPv6 Parameters").
_ICMP_NAMES: dict[Protocol, dict[str, int]] = {
    Protocol.ICMP: {
        "EchoReply": 0,
        "DestinationUnreachable": 3,
        "SourceQuench": 4,
        "Redirect": 5,
        "Echo": 8,
        "EchoRequest": 8,
        "RouterAdvertisement": 9,
        "RouterSelection": 10,
        "RouterSolicitation": 10,
        "TimeExceeded": 11,
        "ParameterProblem": 12,
        "Timestamp": 13,
        "TimestampReply": 14,
        "Photuris": 40,
        "ExtendedEchoRequest": 42,
        "ExtendedEchoReply": 43,
    },
    Protocol.ICMPV6: {
        "DestinationUnreachable": 1,
        "PacketTooBig": 2,
        "TimeExceeded": 3,
        "ParameterProblem": 4,
        "EchoRequest": 128,
        "EchoReply": 129,
        "MulticastListenerQuery": 130,
        "MulticastListenerReport": 131,
        "MulticastListenerDone": 132,
        "RouterSolicitation": 133,
        "RouterAdvertisement": 134,
        "NeighborSolicitation": 135,
        "NeighborAdvertisement": 136,
        "RedirectMessage": 137,
        "RouterRenumbering": 138,
        "ICMPNodeInformationQuery": 139,
        "ICMPNodeInformationResponse": 140,
        "InverseNeighborDiscoverySolicitation": 141,
        "InverseNeighborDiscoveryAdvertisement": 142,
        "HomeAgentAddressDiscoveryRequest": 144,
        "HomeAgentAddressDiscoveryReply": 145,
        "MobilePrefixSolicitation": 146,
        "MobilePrefixAdvertisement": 147,
        "DuplicateAddressRequestCodeSuffix": 157,
        "DuplicateAddressConfirmationCodeSuffix": 158,
        "ExtendedEchoRequest": 160,
        "ExtendedEchoReply": 161,
    },
}
_REJECTED = " Cilium rejects the policy and enforces none of it"


@dataclass(frozen=True, slots=True)
class PortGroup:
    """Ports that share one L7 predicate (None: plain L4); one IR Rule each."""

    ports: tuple[PortMatch, ...]
    l7: HTTPRule | None = None
    dns: tuple[str, ...] = ()  # query names the DNS proxy admits (``cilium_l7.dns_names``)


def _number(raw: Any) -> int:
    """A port or endPort as a number for the L7 checks (0 when absent or a name)."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    return int(raw) if isinstance(raw, str) and raw.isdigit() else 0


def _unique(ports: list[PortMatch]) -> tuple[PortMatch, ...]:
    return tuple(dict.fromkeys(ports))


class PortReader:
    """Reads ``toPorts`` and ``icmps`` of allow rules (L7 allowed) and deny rules (L4 only)."""

    def __init__(self, reader: FieldReader) -> None:
        self.r = reader

    def groups(
        self, item: Mapping[str, Any], path: str, *, deny: bool, ingress: bool = True
    ) -> list[PortGroup] | None:
        """None when the rule has no L4 part (every protocol and port)."""
        to_ports = self.r.sequence(item, "toPorts", f"{path}.toPorts")
        icmps = self.r.sequence(item, "icmps", f"{path}.icmps")
        if not to_ports and not icmps:
            return None
        if to_ports and icmps:
            self.r.error(
                f"{path}.icmps",
                'icmps and toPorts cannot be combined in one rule: Cilium rejects the policy ("the '
                'ICMPs block may only be present without ToPorts"); write them as separate rules',
                self.r.line(item, "icmps"),
                "icmps-with-toports",
            )
        plain: list[PortMatch] = []
        has_plain = bool(icmps)
        l7_groups: list[PortGroup] = []
        names: list[str] = []
        for _, e_path, entry in self.r.items(to_ports, f"{path}.toPorts"):
            ports = self.entry_ports(entry, e_path, deny)
            if not deny:
                self.check_l7(entry, e_path, ingress)
            l7 = None if deny else read_l7(self.r, entry, e_path)
            if not deny:
                names += dns_names(entry)
            if l7 is None:
                plain.extend(ports)
                has_plain = True
            else:
                l7_groups.append(PortGroup(_unique(ports), l7))
        plain.extend(self.icmps(icmps, f"{path}.icmps"))
        if has_plain and (plain or not l7_groups):
            return [PortGroup(_unique(plain), dns=tuple(dict.fromkeys(names))), *l7_groups]
        return l7_groups

    def entry_ports(self, entry: Mapping[str, Any], path: str, deny: bool) -> list[PortMatch]:
        self.r.known(entry, ("ports",) if deny else _ALLOW_ENTRY, path)
        for key, what in _PROXY_FIELDS.items():
            if not deny and entry.get(key) is not None:
                self.r.warn(
                    f"{path}.{key}",
                    f"{key} ({what}) is not modelled: the port is read without it",
                    self.r.line(entry, key),
                    "not-modelled",
                )
        seq = self.r.sequence(entry, "ports", f"{path}.ports")
        if not seq:
            self.r.warn(
                f"{path}.ports",
                "this toPorts entry lists no ports: it matches no traffic",
                self.r.line(entry, "ports"),
                "empty-ports",
            )
            return []
        out: list[PortMatch] = []
        for _, p_path, item in self.r.items(seq, f"{path}.ports"):
            out.extend(self.port(item, p_path))
        return out

    def check_l7(self, entry: Mapping[str, Any], path: str, ingress: bool) -> None:
        """What the agent rejects in an entry's L7 rules (errors: the policy is not enforced)."""
        rules, ports = entry.get("rules"), entry.get("ports")
        if not isinstance(rules, dict) or not isinstance(ports, list):
            return
        kinds = [k for k in ("http", "kafka", "dns", "l7") if isinstance(rules.get(k), list) and rules[k]]
        line = self.r.line(entry, "rules")
        items = [(i, p) for i, p in enumerate(ports) if isinstance(p, dict)]
        if "dns" in kinds:
            if ingress:
                self.r.error(f"{path}.rules.dns", f"DNS rules are not allowed on ingress:{_REJECTED}", line)
            for i, port in items:
                if _number(port.get("port")) < _number(port.get("endPort")):
                    where = f"{path}.ports[{i}].endPort"
                    self.r.error(where, f"DNS rules do not support port ranges:{_REJECTED}", line)
        elif kinds:
            for i, port in items:
                self.check_l7_port(port, f"{path}.ports[{i}]", kinds[0], line)

    def check_l7_port(self, port: Mapping[str, Any], path: str, kind: str, line: int) -> None:
        protocol = port.get("protocol", "ANY")
        if protocol != "TCP":
            self.r.error(
                f"{path}.protocol",
                f"{kind} rules can only apply to TCP (not {protocol}; an absent protocol is ANY):{_REJECTED}",
                self.r.line(port, "protocol") if "protocol" in port else line,
                "l7-not-tcp",
            )
        if str(port.get("port")).isdigit() and _number(port.get("port")) == 0:
            self.r.error(f"{path}.port", f"L7 rules cannot be used on port 0:{_REJECTED}", line)

    # -- one port --------------------------------------------------------------------------
    def port(self, item: Mapping[str, Any], path: str) -> list[PortMatch]:
        self.r.known(item, ("port", "endPort", "protocol"), path)
        protocols = self.protocols(item, path)
        end = self.r.integer(item, "endPort", f"{path}.endPort", 0, MAX_PORT)
        raw = item.get("port")
        line = self.r.line(item, "port")
        if protocols is None:
            return []
        if protocols == [Protocol.OTHER]:
            return [PortRange(Protocol.OTHER)]
        if isinstance(raw, str) and raw and not raw.isdigit():
            return self.named(raw, protocols, item, path)
        number = self.number(raw, f"{path}.port", line)
        if number is None:
            return []
        if number == MIN_PORT:
            if end:
                self.r.warn(
                    f"{path}.endPort", "endPort is ignored when port is 0 (all ports)", line, "ignored-field"
                )
            return [PortRange(p, MIN_PORT, MAX_PORT) for p in protocols]
        if end and end < number:
            self.r.error(
                f"{path}.endPort",
                f"endPort {end} must be greater than or equal to port {number}",
                self.r.line(item, "endPort"),
                "endport-below-port",
            )
            return []
        return [PortRange(p, number, end or number) for p in protocols]

    def number(self, raw: Any, path: str, line: int) -> int | None:
        """The port number of ``port``, validated to 0..65535 (an absent port is an error)."""
        if raw is None:
            self.r.error(
                path,
                'port must be specified (write "0" for every port): Cilium rejects the policy and '
                "enforces none of it",
                line,
                "missing-field",
            )
            return None
        if isinstance(raw, int) and not isinstance(raw, bool):
            self.r.warn(
                path,
                f"port {raw} is not quoted: the CRD declares port a string and the API server "
                f'rejects a number; write "{raw}"',
                line,
                "port-not-string",
            )
            value = raw
        elif isinstance(raw, str) and raw.isdigit():
            value = int(raw)
        else:
            self.r.error(path, f"expected a port number or name, got {raw!r}", line, "bad-port")
            return None
        if not MIN_PORT <= value <= MAX_PORT:
            self.r.error(path, f"{value} is out of range {MIN_PORT}-{MAX_PORT}", line, "out-of-range")
            return None
        return value

    def named(
        self, raw: str, protocols: list[Protocol], item: Mapping[str, Any], path: str
    ) -> list[PortMatch]:
        name = raw.lower()
        line = self.r.line(item, "port")
        if not valid_port_name(name):
            self.r.error(
                f"{path}.port",
                f"invalid port {raw!r}: expected a number 0-65535 or an IANA service name",
                line,
                "bad-port-name",
            )
            return []
        if item.get("endPort"):
            self.r.warn(f"{path}.endPort", "endPort is ignored with a named port", line, "ignored-field")
        if len(protocols) > 1:
            return [NamedPort(name, None)]
        return [NamedPort(name, protocols[0])]

    def protocols(self, item: Mapping[str, Any], path: str) -> list[Protocol] | None:
        """TCP+UDP+SCTP for ANY/absent; [OTHER] for VRRP/IGMP; None (error) otherwise."""
        text = item.get("protocol")
        line = self.r.line(item, "protocol")
        if text is None or text == "ANY":
            return list(PORT_PROTOCOLS)
        if isinstance(text, str) and text in _TRANSPORT:
            return [_TRANSPORT[text]]
        if text in _EXTENDED:
            self.r.warn(
                f"{path}.protocol",
                f"protocol {text} is not modelled: it is read as every IP protocol other than "
                "TCP, UDP, SCTP and ICMP",
                line,
                "not-modelled",
            )
            return [Protocol.OTHER]
        hint = "; ICMP is matched with icmps, not toPorts" if str(text).upper().startswith("ICMP") else ""
        self.r.error(
            f"{path}.protocol",
            f"unsupported protocol {text!r} (expected TCP, UDP, SCTP, ANY, VRRP or IGMP{hint})",
            line,
            "unknown-protocol",
        )
        return None

    # -- ICMP ------------------------------------------------------------------------------
    def icmps(self, seq: list[Any] | None, path: str) -> list[PortMatch]:
        out: list[PortMatch] = []
        for _, e_path, entry in self.r.items(seq, path):
            self.r.known(entry, ("fields",), e_path)
            fields = self.r.sequence(entry, "fields", f"{e_path}.fields", required=True)
            for j, f_path, field in self.r.items(fields, f"{e_path}.fields"):
                found = self.icmp_field(field, f_path, self.r.line(fields, j))
                if found is not None:
                    out.append(found)
        return out

    def icmp_field(self, field: Mapping[str, Any], path: str, line: int) -> PortRange | None:
        """One ICMP field: its family's protocol, on the type it names (a number, or a name of
        the IANA registry in CamelCase, as Cilium accepts since 1.16); an unknown name is read
        as every type of the family, with a warning."""
        self.r.known(field, ("family", "type"), path)
        family = field.get("family", "IPv4")
        kind = field.get("type")
        if not isinstance(family, str) or family not in _FAMILIES:
            self.r.error(
                f"{path}.family",
                f"unsupported family {family!r} (expected IPv4 or IPv6)",
                line,
                "unsupported-value",
            )
            return None
        valid = (isinstance(kind, int) and not isinstance(kind, bool) and 0 <= kind <= 255) or (
            isinstance(kind, str) and kind.isalnum()
        )
        if not valid:
            self.r.error(
                f"{path}.type", f"expected an ICMP type 0-255 or name, got {kind!r}", line, "bad-icmp-type"
            )
            return None
        proto = _FAMILIES[family]
        number = kind if isinstance(kind, int) else _ICMP_NAMES[proto].get(str(kind))
        if number is None:
            self.r.warn(
                f"{path}.type",
                f"unknown {proto.value} type name {kind!r}: the rule is read as every {proto.value} type",
                self.r.line(field, "type"),
                "not-modelled",
            )
            return PortRange(proto)
        return PortRange(proto, number, number)
