"""Resolved IR for one node → an ``iptables-restore`` script: the *linear* baseline.

Used only to measure what the nftables layout saves (``benchmarks/dataplane``); the agent never
loads it. It enforces the same semantics as ``backends.nftables.compile.compile_node`` for the
same inputs, the way a naive iptables implementation does, so that the per-packet cost grows
with the number of rules:

* ``FORWARD`` (and ``INPUT`` for egress, ``OUTPUT`` for ingress, as in the nft layout): with
  ``conntrack=True``, ``ESTABLISHED,RELATED`` accept and ``INVALID`` drop first; then one
  ``-s <pod> -j`` rule per local egress-isolated pod and one ``-d <pod> -j`` rule per local
  ingress-isolated pod, walked in order (no verdict map);
* per local pod, direction and tier, a stage chain ``KF-E<n>-<k>`` / ``KF-I<n>-<k>`` holding one
  rule per (policy rule × peer address × port), no ipset: an allow ``RETURN``s (the other
  direction is still checked), a deny ``DROP``s, a Pass ``-g``oes to the next stage, an
  isolating (NetworkPolicy) stage ends in ``DROP`` and an ordered one in the next stage or
  ``RETURN``; NetworkPolicy ingress stages first let the node's own addresses in.

Without ``conntrack`` every packet, replies included, walks the rules and is judged by them: a
stateless variant for measurement only (replies are then subject to policy).

**IPv4 only**: IPv6 addresses, ipBlocks and ICMPv6 ports are left out. The script replaces the
whole ``filter`` table.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kubefence.backends.nftables.sets import block_elements
from kubefence.backends.support import ensure_compilable
from kubefence.engine.resolve import Resolution, iter_bits
from kubefence.errors import CompileError
from kubefence.ir.model import (
    Action,
    AnyPeer,
    Direction,
    IPBlockPeer,
    NodePeer,
    Peer,
    PodPeer,
    Policy,
    TierKind,
)
from kubefence.ir.ports import MAX_PORT, MIN_PORT, NamedPort, PortMatch, PortRange, Protocol

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable

    from kubefence.cluster.snapshot import Pod
    from kubefence.ir.addresses import IPAddress
    from kubefence.ir.model import Rule, Tier

__all__ = ["BUILTIN_CHAINS", "IptRule", "IptRuleset", "compile_iptables", "render_restore"]

BUILTIN_CHAINS = ("INPUT", "FORWARD", "OUTPUT")
Net = ipaddress.IPv4Network
Spec = tuple[str, ...]  # iptables arguments after ``-A CHAIN``
_PREFIX = {Direction.EGRESS: "KF-E", Direction.INGRESS: "KF-I"}
_LOCAL = {Direction.EGRESS: "-s", Direction.INGRESS: "-d"}
_REMOTE = {Direction.EGRESS: "-d", Direction.INGRESS: "-s"}
_PORTED = {Protocol.TCP: "tcp", Protocol.UDP: "udp", Protocol.SCTP: "sctp"}
RETURN: Spec = ("-j", "RETURN")
DROP: Spec = ("-j", "DROP")
_CONNTRACK: tuple[Spec, ...] = (
    ("-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"),
    ("-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP"),
)


@dataclass(frozen=True, slots=True)
class IptRule:
    """``-A chain spec...``."""

    chain: str
    spec: Spec


@dataclass(frozen=True, slots=True)
class IptRuleset:
    """The filter table: user chains (in creation order) and every rule, in order."""

    chains: tuple[str, ...]
    rules: tuple[IptRule, ...]


def _v4(ips: Iterable[IPAddress]) -> list[Net]:
    return [Net(ip) for ip in sorted({ip for ip in ips if ip.version == 4}, key=int)]


def _block_nets(text: str) -> list[Net]:
    """One ``block_elements`` element (prefix, address or ``a-b`` range) as CIDRs."""
    if "-" not in text:
        return [Net(text)]
    a, b = (ipaddress.IPv4Address(x) for x in text.split("-"))
    return list(ipaddress.summarize_address_range(a, b))


def _port_spec(protocol: Protocol, start: int, end: int) -> Spec | None:
    """``-p tcp --dport a:b``; None when the protocol cannot occur in IPv4 (ICMPv6)."""
    if protocol is Protocol.ICMP:
        return ("-p", "icmp")
    if protocol is Protocol.ICMPV6:
        return None
    if protocol not in _PORTED:
        raise CompileError(f"the iptables baseline cannot express protocol {protocol.value}")
    if start == MIN_PORT and end == MAX_PORT:
        return ("-p", _PORTED[protocol])
    return ("-p", _PORTED[protocol], "--dport", str(start) if start == end else f"{start}:{end}")


def _declared(match: NamedPort, pod: Pod) -> list[tuple[Protocol, int]]:
    """A named port resolved against one pod's container ports."""
    return [
        (cp.protocol, cp.port)
        for cp in pod.ports
        if cp.name == match.name and (match.protocol is None or cp.protocol is match.protocol)
    ]


@dataclass
class _Members:
    """Fast ``ip in any of these networks``."""

    hosts: frozenset[ipaddress.IPv4Address]
    wider: tuple[Net, ...]

    @classmethod
    def of(cls, nets: list[Net]) -> _Members:
        hosts = frozenset(n.network_address for n in nets if n.prefixlen == 32)
        return cls(hosts, tuple(n for n in nets if n.prefixlen < 32))

    def __contains__(self, ip: ipaddress.IPv4Address) -> bool:
        return ip in self.hosts or any(ip in n for n in self.wider)


@dataclass
class _Builder:
    resolution: Resolution
    node_nets: list[Net]
    chains: list[str] = field(default_factory=list)
    rules: list[IptRule] = field(default_factory=list)
    _peers: dict[Peer, list[Net]] = field(default_factory=dict)

    def peer_nets(self, peer: Peer) -> list[Net]:
        """The IPv4 networks of a pod, node or ipBlock peer."""
        if peer not in self._peers:
            self._peers[peer] = self._compute_nets(peer)
        return self._peers[peer]

    def _compute_nets(self, peer: Peer) -> list[Net]:
        r = self.resolution
        if isinstance(peer, IPBlockPeer):
            if peer.block.cidr.version != 4:
                return []
            return [n for e in block_elements(peer.block) for n in _block_nets(e)]
        if isinstance(peer, NodePeer):
            nodes = r.universe.snapshot.nodes
            return _v4(
                ip for name in sorted(r.index.nodes_matching(peer.selector)) for ip in nodes[name].addresses
            )
        assert isinstance(peer, PodPeer)
        pods = (r.universe.endpoints[i].pod for i in iter_bits(r.index.selection(peer.selection)))
        return _v4(ip for p in pods if p is not None for ip in p.ips)

    def named_targets(self, match: NamedPort) -> list[tuple[ipaddress.IPv4Address, Spec]]:
        """(pod address, port match) of every managed pod declaring the name (egress named ports)."""
        out = []
        for e in self.resolution.universe.endpoints:
            if e.managed and e.pod is not None:
                for proto, port in _declared(match, e.pod):
                    spec = _port_spec(proto, port, port)
                    out += [(n.network_address, spec) for n in _v4(e.pod.ips) if spec is not None]
        return out

    def alternatives(self, rule: Rule, pod: Pod) -> list[Spec]:
        """Address and port arguments of one rule's iptables rules: peers × ports."""
        remote = _REMOTE[rule.direction]
        anyone = [p for p in rule.peers if isinstance(p, AnyPeer)]
        out: list[Spec] = []
        for peer in anyone[:1] or rule.peers:
            nets = None if isinstance(peer, AnyPeer) else self.peer_nets(peer)
            for addr, ports in self._port_alternatives(rule, pod, nets):
                out.append(((remote, str(addr)) if addr is not None else ()) + ports)
        return out

    def _port_alternatives(
        self, rule: Rule, pod: Pod, nets: list[Net] | None
    ) -> list[tuple[Net | None, Spec]]:
        addrs: list[Net | None] = [None] if nets is None else list(nets)
        if rule.ports is None:
            return [(a, ()) for a in addrs]
        out: list[tuple[Net | None, Spec]] = []
        for match in rule.ports:
            out += self._one_port(match, rule.direction, pod, addrs, nets)
        return out

    def _one_port(
        self,
        match: PortMatch,
        direction: Direction,
        pod: Pod,
        addrs: list[Net | None],
        nets: list[Net] | None,
    ) -> list[tuple[Net | None, Spec]]:
        if isinstance(match, PortRange):
            spec = _port_spec(match.protocol, match.start, match.end)
            return [] if spec is None else [(a, spec) for a in addrs]
        if direction is Direction.INGRESS:  # resolved against the local (destination) pod
            specs = [s for p, n in _declared(match, pod) if (s := _port_spec(p, n, n)) is not None]
            return [(a, s) for a in addrs for s in specs]
        members = None if nets is None else _Members.of(nets)  # against each destination peer pod
        return [(Net(ip), s) for ip, s in self.named_targets(match) if members is None or ip in members]

    # -- chains ----------------------------------------------------------------------------
    def stage(
        self, name: str, tier: Tier, policies: list[Policy], pod: Pod, direction: Direction, nxt: Spec
    ) -> None:
        self.chains.append(name)
        specs: list[Spec] = []
        if tier.kind is TierKind.ISOLATING and direction is Direction.INGRESS:
            specs += [("-s", str(n), *RETURN) for n in self.node_nets]  # the pod's own node
        for policy in policies:
            for rule in policy.rules_for(direction):
                verdict = (
                    nxt if rule.action is Action.PASS else (RETURN if rule.action is Action.ALLOW else DROP)
                )
                specs += [alt + verdict for alt in self.alternatives(rule, pod)]
        specs.append(DROP if tier.kind is TierKind.ISOLATING else nxt)
        self.rules += [IptRule(name, s) for s in specs]

    def pod_chains(self, n: int, pod: Pod, direction: Direction, policies: list[Policy]) -> str:
        """The stage chains of one local pod in one direction; returns the first one's name."""
        tiers = sorted({p.tier for p in policies})
        names = [f"{_PREFIX[direction]}{n}-{k}" for k in range(len(tiers))]
        for k, tier in enumerate(tiers):
            nxt: Spec = ("-g", names[k + 1]) if k + 1 < len(tiers) else RETURN
            self.stage(names[k], tier, [p for p in policies if p.tier == tier], pod, direction, nxt)
        return names[0]


def _dispatch(b: _Builder, local: Collection[str]) -> dict[Direction, list[Spec]]:
    r = b.resolution
    out: dict[Direction, list[Spec]] = {Direction.EGRESS: [], Direction.INGRESS: []}
    for n, key in enumerate(sorted(local)):
        i = r.universe.index(key)
        pod = r.universe.endpoints[i].pod if i is not None else None
        if i is None or pod is None or not _v4(pod.ips):
            continue
        for direction, entries in out.items():
            policies = [
                r.policies[j] for j in sorted(r.subject_sigs[i]) if direction in r.policies[j].directions
            ]
            if policies:
                first = b.pod_chains(n, pod, direction, policies)
                entries += [(_LOCAL[direction], str(net), "-j", first) for net in _v4(pod.ips)]
    return out


def compile_iptables(
    resolution: Resolution, local: Collection[str], node: str | None = None, *, conntrack: bool = True
) -> IptRuleset:
    """The linear ruleset enforcing ``resolution``'s policies for the pods ``local`` (``ns/name``
    keys) on ``node``; ``conntrack`` puts the established-connection fast path first."""
    ensure_compilable(resolution.policies)
    known = resolution.universe.snapshot.nodes.get(node or "")
    b = _Builder(resolution, _v4(known.addresses) if known else [])
    dispatch = _dispatch(b, local)
    pre = _CONNTRACK if conntrack else ()
    egress, ingress = dispatch[Direction.EGRESS], dispatch[Direction.INGRESS]
    base = {"INPUT": [*pre, *egress], "FORWARD": [*pre, *egress, *ingress], "OUTPUT": [*pre, *ingress]}
    rules = [IptRule(chain, spec) for chain in BUILTIN_CHAINS for spec in base[chain]]
    return IptRuleset(tuple(b.chains), tuple(rules + b.rules))


def render_restore(ruleset: IptRuleset) -> str:
    """The ``iptables-restore`` script (replaces the filter table)."""
    lines = ["*filter", *(f":{c} ACCEPT [0:0]" for c in BUILTIN_CHAINS)]
    lines += [f":{c} - [0:0]" for c in ruleset.chains]
    lines += [" ".join(("-A", r.chain, *r.spec)) for r in ruleset.rules]
    return "\n".join([*lines, "COMMIT"]) + "\n"
