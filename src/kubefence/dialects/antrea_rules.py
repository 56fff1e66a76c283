"""One Antrea policy rule → an IR Rule (§5.2, §5.3 of the semantics reference;
antrea-io/antrea pkg/apis/crd/v1beta1/types.go Rule, NetworkPolicyPort, NetworkPolicyProtocol,
L7Protocol; pkg/controller/networkpolicy/validate.go; the L7 engine's pattern conversion in
pkg/agent/controller/networkpolicy/l7engine/reconciler.go convertContent).

Actions: Allow, Drop (DENY), Reject, Pass; there is no "Deny". ``from``/``to`` absent or empty
match every address. ``ports`` and ``protocols`` both absent or empty match every protocol;
otherwise the rule matches the union of their entries (an entry kubefence cannot model adds
nothing, so a rule of IGMP entries only matches nothing here).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from kubefence.dialects.antrea_peers import PeerParser, Scope
from kubefence.ir.l7 import HTTPMatch, HTTPRule, MatchKind, TextMatch
from kubefence.ir.model import Action, AnyPeer, Direction, Peer, Rule
from kubefence.ir.ports import MAX_PORT, MIN_PORT, NamedPort, PortMatch, PortRange, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping

    from kubefence.dialects.fields import FieldReader

__all__ = ["ACTIONS", "RuleParser", "l7_text"]

ACTIONS = {"Allow": Action.ALLOW, "Drop": Action.DENY, "Reject": Action.REJECT, "Pass": Action.PASS}
_PEER_KEY = {Direction.INGRESS: "from", Direction.EGRESS: "to"}
_RULE_FIELDS = (
    "appliedTo",
    "action",
    "ports",
    "protocols",
    "l7Protocols",
    "name",
    "enableLogging",
    "logLabel",
)


def l7_text(value: str, ignore_case: bool = False) -> TextMatch:
    """An Antrea L7 pattern: a leading ``*`` drops the "starts with" anchor, a trailing one the
    "ends with" anchor; any other ``*`` is a literal character (Suricata ``content``)."""
    lead = value.startswith("*")
    core = value[1:] if lead else value
    trail = core.endswith("*")
    core = core[:-1] if trail else core
    if not lead and not trail:
        return TextMatch(MatchKind.EXACT, value, ignore_case)
    if "*" not in core:
        return TextMatch(MatchKind.GLOB, value, ignore_case)
    regex = (".*" if lead else "") + re.escape(core) + (".*" if trail else "")
    return TextMatch(MatchKind.REGEX, regex, ignore_case)


class RuleParser:
    """Reads the rules of one Antrea policy (ACNP or ANNP)."""

    def __init__(self, reader: FieldReader, scope: Scope, tier: str) -> None:
        self.r = reader
        self.scope = scope
        self.tier = tier
        self.peers_of = PeerParser(reader, scope)

    def rule(
        self, item: Mapping[str, Any], path: str, index: int, direction: Direction, line: int
    ) -> Rule | None:
        peer_key = _PEER_KEY[direction]
        extra = (peer_key, "toServices") if direction is Direction.EGRESS else (peer_key,)
        self.r.known(item, (*_RULE_FIELDS, *extra), path)
        name = self.r.string(item, "name", f"{path}.name")
        action = self.action(item, path)
        peers = self.peers(item, path, direction)
        ports = self.ports(item, path)
        l7 = self.l7(item, path, action)
        if action is None:
            return None
        return Rule(direction, action, peers, ports, index, self.r.source(line), name or None, l7=l7)

    def action(self, item: Mapping[str, Any], path: str) -> Action | None:
        text = self.r.string(item, "action", f"{path}.action", required=True)
        line = self.r.line(item, "action")
        if text is None:
            return None
        if text not in ACTIONS:
            hint = "; Antrea has no Deny action, use Drop or Reject" if text.lower() == "deny" else ""
            self.r.error(
                f"{path}.action",
                f"unsupported action {text!r} (expected Allow, Drop, Reject or Pass{hint})",
                line,
                "unsupported-value",
            )
            return None
        action = ACTIONS[text]
        if action is Action.PASS and self.tier.lower() == "baseline":
            self.r.error(
                f"{path}.action",
                "Pass is not allowed in baseline tier policies (rejected by Antrea's admission webhook)",
                line,
                "pass-in-baseline",
            )
            return None
        return action

    # -- peers -----------------------------------------------------------------------------
    def peers(self, item: Mapping[str, Any], path: str, direction: Direction) -> tuple[Peer, ...]:
        key = _PEER_KEY[direction]
        seq = self.r.sequence(item, key, f"{path}.{key}")
        if direction is Direction.EGRESS and item.get("toServices") is not None:
            return self.to_services(item, path, bool(seq))
        if not seq:
            return (AnyPeer(),)
        found: list[Peer] = []
        for i, p_path, p_item in self.r.items(seq, f"{path}.{key}"):
            found.extend(self.peers_of.peer(p_item, p_path, self.r.line(seq, i), direction))
        return tuple(found)

    def to_services(self, item: Mapping[str, Any], path: str, has_to: bool) -> tuple[Peer, ...]:
        line = self.r.line(item, "toServices")
        self.r.sequence(item, "toServices", f"{path}.toServices")
        if has_to or item.get("ports") or item.get("protocols"):
            self.r.error(f"{path}.toServices", "toServices cannot be used with to, ports or protocols", line)
        self.r.warn(
            f"{path}.toServices",
            "toServices (traffic to a Service's ClusterIP, before load balancing) is not modelled: "
            "kubefence evaluates traffic after load balancing, so this rule matches nothing",
            line,
            "not-modelled",
        )
        return ()

    # -- ports and protocols ---------------------------------------------------------------
    def ports(self, item: Mapping[str, Any], path: str) -> tuple[PortMatch, ...] | None:
        ports = self.r.sequence(item, "ports", f"{path}.ports")
        protocols = self.r.sequence(item, "protocols", f"{path}.protocols")
        if not ports and not protocols:
            return None
        found: list[PortMatch] = []
        for i, p_path, p_item in self.r.items(ports, f"{path}.ports"):
            match = self.port(p_item, p_path, self.r.line(ports, i))
            found.extend([match] if match is not None else [])
        for _, p_path, p_item in self.r.items(protocols, f"{path}.protocols"):
            found.extend(self.protocol(p_item, p_path))
        return tuple(found)

    def port(self, item: Mapping[str, Any], path: str, line: int) -> PortMatch | None:
        self.r.known(item, ("protocol", "port", "endPort", "sourcePort", "sourceEndPort"), path)
        protocol = self.r.protocol(item, path)
        self.source_port(item, path, line)
        port = item.get("port")
        end = self.r.integer(item, "endPort", f"{path}.endPort", 1, MAX_PORT)
        if protocol is None:
            return None
        if port is None:
            if end is not None:
                self.r.error(f"{path}.endPort", "endPort requires port", self.r.line(item, "endPort"))
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
            self.r.error(f"{path}.endPort", "endPort cannot be set when port is a name", line)
            return None
        if not name:
            self.r.error(f"{path}.port", "must not be empty", line)
            return None
        if name.strip().isdigit():
            self.r.warn(
                f"{path}.port",
                f"{name!r} is quoted, so it is a port name, not a number: it matches only a container "
                "port of that name",
                line,
                "quoted-port",
            )
        return NamedPort(name, protocol)

    def source_port(self, item: Mapping[str, Any], path: str, line: int) -> None:
        start = self.r.integer(item, "sourcePort", f"{path}.sourcePort", 1, MAX_PORT)
        end = self.r.integer(item, "sourceEndPort", f"{path}.sourceEndPort", 1, MAX_PORT)
        if end is not None and (start is None or end < start):
            self.r.error(
                f"{path}.sourceEndPort",
                "sourceEndPort requires sourcePort and must be greater than or equal to it",
                self.r.line(item, "sourceEndPort"),
            )
        if start is not None:
            self.r.warn(
                f"{path}.sourcePort",
                "source ports are not modelled: the entry is evaluated as matching every source port",
                self.r.line(item, "sourcePort"),
                "not-modelled",
            )

    def protocol(self, item: Mapping[str, Any], path: str) -> list[PortMatch]:
        """``{icmp: {...}}`` → ICMP and ICMPv6 messages (of a type); ``{igmp: ...}`` → nothing."""
        self.r.known(item, ("icmp", "igmp"), path)
        present = [k for k in ("icmp", "igmp") if item.get(k) is not None]
        if len(present) != 1:
            self.r.error(path, "exactly one of icmp and igmp must be set", self.r.line(item, "icmp"))
            return []
        value = self.r.mapping(item, present[0], f"{path}.{present[0]}")
        if value is None:
            return []
        if present[0] == "igmp":
            self.r.known(value, ("igmpType", "groupAddress"), f"{path}.igmp")
            self.r.warn(
                f"{path}.igmp",
                "IGMP is not modelled: this entry matches no traffic kubefence evaluates",
                self.r.line(item, "igmp"),
                "not-modelled",
            )
            return []
        return self.icmp(value, f"{path}.icmp", self.r.line(item, "icmp"))

    def icmp(self, value: Mapping[str, Any], path: str, line: int) -> list[PortMatch]:
        """``icmpType`` of ICMP and ICMPv6 (Antrea matches the type in both families); every
        type without it. Codes are not modelled: every code of the type matches."""
        self.r.known(value, ("icmpType", "icmpCode"), path)
        icmp_type = self.r.integer(value, "icmpType", f"{path}.icmpType", 0, 255)
        icmp_code = self.r.integer(value, "icmpCode", f"{path}.icmpCode", 0, 255)
        if icmp_code is not None:
            what = f"every code of type {icmp_type}" if icmp_type is not None else "every ICMP message"
            self.r.warn(
                f"{path}.icmpCode",
                f"ICMP codes are not modelled: the entry matches {what}",
                line,
                "not-modelled",
            )
        if icmp_type is None:
            return [PortRange(Protocol.ICMP), PortRange(Protocol.ICMPV6)]
        return [
            PortRange(Protocol.ICMP, icmp_type, icmp_type),
            PortRange(Protocol.ICMPV6, icmp_type, icmp_type),
        ]

    # -- layer 7 ---------------------------------------------------------------------------
    def l7(self, item: Mapping[str, Any], path: str, action: Action | None) -> HTTPRule | None:
        where = f"{path}.l7Protocols"
        seq = self.r.sequence(item, "l7Protocols", where)
        if not seq:
            return None
        line = self.r.line(item, "l7Protocols")
        if action is not None and action is not Action.ALLOW:
            self.r.error(where, "layer 7 protocols are only allowed in Allow rules", line)
        if item.get("toServices") is not None:
            self.r.error(where, "layer 7 protocols cannot be used with toServices", line)
        matches: list[HTTPMatch] = []
        for i, l_path, l_item in self.r.items(seq, where):
            match = self.l7_entry(l_item, l_path, self.r.line(seq, i))
            matches.extend([match] if match is not None else [])
        if matches:
            self.check_http_transport(item, where, line)
        return HTTPRule(tuple(matches))

    def l7_entry(self, item: Mapping[str, Any], path: str, line: int) -> HTTPMatch | None:
        self.r.known(item, ("http", "tls"), path)
        present = [k for k in ("http", "tls") if item.get(k) is not None]
        if len(present) != 1:
            self.r.error(path, "exactly one of http and tls must be set", line)
            return None
        value = self.r.mapping(item, present[0], f"{path}.{present[0]}")
        if value is None:
            return None
        if present[0] == "tls":
            self.r.known(value, ("sni",), f"{path}.tls")
            self.r.warn(
                f"{path}.tls",
                "TLS SNI matching is not modelled: kubefence treats the traffic this rule hands to the "
                "L7 engine as matching no TLS entry (so it is dropped unless an http entry allows it)",
                line,
                "not-modelled",
            )
            return None
        return self.http(value, f"{path}.http")

    def http(self, value: Mapping[str, Any], path: str) -> HTTPMatch:
        self.r.known(value, ("host", "method", "path"), path)
        host = self.r.string(value, "host", f"{path}.host")
        method = self.r.string(value, "method", f"{path}.method")
        url = self.r.string(value, "path", f"{path}.path")
        return HTTPMatch(
            method=TextMatch(MatchKind.EXACT, method) if method else None,
            path=l7_text(url) if url else None,
            host=l7_text(host.lower(), ignore_case=True) if host else None,
        )

    def check_http_transport(self, item: Mapping[str, Any], path: str, line: int) -> None:
        ports = item.get("ports")
        if isinstance(ports, list) and any(
            isinstance(p, dict) and p.get("protocol", "TCP") not in ("TCP", None) for p in ports
        ):
            self.r.error(path, "HTTP can only be used when the ports' protocol is TCP or unset", line)
        if item.get("protocols"):
            self.r.error(path, "HTTP cannot be used with ICMP or IGMP protocols", line)
