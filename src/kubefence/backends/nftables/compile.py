"""Resolved IR for one node → nft AST (pure; see shared/reference/dataplane.md §2).

Layout: base chains ``forward`` and ``input`` accept established traffic first (conntrack fast
path), then dispatch by local pod address through verdict maps into one chain per
*policy-set class* and tier stage. Stages chain with ``goto``; an allow is ``return`` (back to
the base chain, where the other direction is checked), a deny is ``drop``, a Pass or a tier
without a match goes to the next stage, an isolating (NetworkPolicy) stage ends in ``drop``,
and the last stage ends in ``return`` (default allow). Pods selected by no policy in a
direction are not in its map: one failed look-up, then the base chain's ``policy accept``.
Per packet, the cost is a look-up plus the rules of the policies that select that pod, never
the rules of the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kubefence.backends.nftables.ast import (
    AddrInSet,
    Chain,
    CtState,
    Family,
    Hook,
    Icmpv6Type,
    L4Ports,
    MarkBit,
    MarkSet,
    Match,
    NamedPortsInSet,
    NftMap,
    NftRule,
    NftSet,
    SetKind,
    Table,
    Verdict,
    VerdictKind,
    Vmap,
)
from kubefence.backends.nftables.sets import block_elements, host_elements, ip_text
from kubefence.backends.support import ensure_compilable
from kubefence.cluster.snapshot import Pod
from kubefence.engine.connset import ConnectionSet
from kubefence.engine.resolve import Resolution, iter_bits
from kubefence.ir.model import (
    Action,
    AnyPeer,
    Direction,
    IPBlockPeer,
    NodePeer,
    Peer,
    PodPeer,
    Policy,
    Rule,
    TierKind,
)
from kubefence.ir.ports import ContainerPort, NamedPort, PortRange

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

__all__ = ["CHECKED_MARK", "DEFAULT_TABLE", "compile_node", "guard_chains", "local_pods"]

DEFAULT_TABLE = "kubefence"
_DIR = {Direction.EGRESS: "egr", Direction.INGRESS: "ing"}
_FIELD = {Direction.EGRESS: "daddr", Direction.INGRESS: "saddr"}  # the remote's address
_LOCAL = {Direction.EGRESS: "saddr", Direction.INGRESS: "daddr"}
_FAMILIES = {4: Family.V4, 6: Family.V6}
RETURN = Verdict(VerdictKind.RETURN)
DROP = Verdict(VerdictKind.DROP)


def local_pods(resolution: Resolution, node: str) -> list[str]:
    """Keys of the policy-managed pods scheduled on ``node``."""
    return [e.key for e in resolution.universe.endpoints if e.managed and e.pod and e.pod.node == node]


@dataclass
class _Builder:
    resolution: Resolution
    sets: dict[str, NftSet] = field(default_factory=dict)
    chains: list[Chain] = field(default_factory=list)
    peer_names: dict[Peer, str] = field(default_factory=dict)
    named_names: dict[NamedPort, str] = field(default_factory=dict)
    by_port_name: dict[str, list[tuple[Pod, ContainerPort]]] | None = None

    # -- sets ------------------------------------------------------------------------------
    def _add_set(
        self, name: str, family: Family, kind: SetKind, elements: Sequence[str], comment: str
    ) -> None:
        self.sets[name] = NftSet(name, family, kind, tuple(elements), comment)

    def peer_sets(self, peer: Peer) -> dict[Family, str]:
        """The sets (per family) of a pod/node/ipBlock peer, created on first use."""
        if peer not in self.peer_names:
            base = f"peer{len(self.peer_names)}"
            self.peer_names[peer] = base
            for version, family in _FAMILIES.items():
                elements = self._peer_elements(peer, version)
                if elements is not None:
                    kind = SetKind.ADDR if isinstance(peer, IPBlockPeer) else SetKind.HOSTS
                    self._add_set(f"{base}_v{version}", family, kind, elements, str(peer)[:120])
        base = self.peer_names[peer]
        return {f: f"{base}_v{v}" for v, f in _FAMILIES.items() if f"{base}_v{v}" in self.sets}

    def _peer_elements(self, peer: Peer, version: int) -> tuple[str, ...] | None:
        r = self.resolution
        if isinstance(peer, IPBlockPeer):
            return block_elements(peer.block) if peer.block.cidr.version == version else None
        if isinstance(peer, NodePeer):
            nodes = r.index.nodes_matching(peer.selector)
            ips = [ip for name in nodes for ip in r.universe.snapshot.nodes[name].addresses]
            return host_elements(ips, version)
        assert isinstance(peer, PodPeer)
        pods = (r.universe.endpoints[i].pod for i in iter_bits(r.index.selection(peer.selection)))
        return host_elements([ip for p in pods if p is not None for ip in p.ips], version)

    def named_sets(self, port: NamedPort) -> dict[Family, str]:
        """``pod address . protocol . port`` of every pod declaring the name (and protocol)."""
        if port not in self.named_names:
            base = f"named{len(self.named_names)}"
            self.named_names[port] = base
            for version, family in _FAMILIES.items():
                self._add_set(
                    f"{base}_v{version}",
                    family,
                    SetKind.ADDR_PROTO_PORT,
                    self._named_elements(port, version),
                    str(port),
                )
        base = self.named_names[port]
        return {f: f"{base}_v{v}" for v, f in _FAMILIES.items()}

    def _declarations(self) -> dict[str, list[tuple[Pod, ContainerPort]]]:
        """Container-port declarations of pod-network pods by name (an index built once;
        elements are formatted only for the names policies use)."""
        if self.by_port_name is None:
            self.by_port_name = {}
            for e in self.resolution.universe.endpoints:
                if e.managed and e.pod:
                    for cp in e.pod.ports:
                        if cp.name:
                            self.by_port_name.setdefault(cp.name, []).append((e.pod, cp))
        return self.by_port_name

    def _named_elements(self, port: NamedPort, version: int) -> list[str]:
        out: set[str] = set()
        for pod, cp in self._declarations().get(port.name, ()):
            if port.protocol is None or cp.protocol is port.protocol:
                tail = f" . {cp.protocol.value.lower()} . {cp.port}"
                out.update(ip_text(ip) + tail for ip in pod.ips if ip.version == version)
        return sorted(out)

    # -- rules -----------------------------------------------------------------------------
    def peer_matches(self, rule: Rule) -> list[tuple[Family | None, Match | None]]:
        """One alternative per peer and family; (None, None) = any remote."""
        out: list[tuple[Family | None, Match | None]] = []
        for peer in rule.peers:
            if isinstance(peer, AnyPeer):
                return [(None, None)]
            for family, name in self.peer_sets(peer).items():
                out.append((family, AddrInSet(family, _FIELD[rule.direction], name)))
        return out

    def port_matches(self, rule: Rule) -> list[tuple[Family | None, Match | None]]:
        """One alternative for the numeric ports, one per named port and family."""
        if rule.ports is None:
            return [(None, None)]
        # merged first: overlapping elements of one anonymous interval set are an nft error
        numeric = ConnectionSet.from_ranges(p for p in rule.ports if isinstance(p, PortRange)).ranges()
        out: list[tuple[Family | None, Match | None]] = []
        if numeric:
            out.append((None, L4Ports(tuple((p.protocol.value.lower(), p.start, p.end) for p in numeric))))
        for port in rule.ports:
            if isinstance(port, NamedPort):
                out += [(f, NamedPortsInSet(f, name)) for f, name in self.named_sets(port).items()]
        return out

    def expand(self, policy: Policy, rule: Rule, verdict: Verdict) -> list[NftRule]:
        """The nft rules of one policy rule: peers × port groups, skipping family clashes."""
        comment = f"{policy.key} {rule.label}"[:120]
        out = []
        for peer_family, peer_match in self.peer_matches(rule):
            for port_family, port_match in self.port_matches(rule):
                if peer_family and port_family and peer_family is not port_family:
                    continue
                matches = tuple(m for m in (peer_match, port_match) if m is not None)
                out.append(NftRule(matches, verdict, comment))
        return out


_ACTION = {Action.ALLOW: RETURN, Action.DENY: DROP}


def _stage_chain(
    b: _Builder,
    name: str,
    tier_kind: TierKind,
    policies: list[Policy],
    direction: Direction,
    next_stage: Verdict,
) -> Chain:
    rules: list[NftRule] = []
    for policy in policies:
        for rule in policy.rules_for(direction):
            verdict = next_stage if rule.action is Action.PASS else _ACTION[rule.action]
            rules += b.expand(policy, rule, verdict)
    if tier_kind is TierKind.ISOLATING:
        if direction is Direction.INGRESS:  # NetworkPolicy always lets the pod's own node in
            rules[:0] = [
                NftRule((AddrInSet(f, "saddr", f"node_v{v}"),), RETURN, "from this node")
                for v, f in _FAMILIES.items()
            ]
        names = ",".join(p.key for p in policies)[:100]
        rules.append(NftRule((), DROP, f"isolated by {names}"))
    else:
        rules.append(NftRule((), next_stage, "no rule of this tier matched"))
    return Chain(name, tuple(rules))


def _class_chains(b: _Builder, direction: Direction, index: int, policies: list[Policy]) -> str:
    """Stage chains for one policy-set class; returns the name of the first."""
    tiers = sorted({p.tier for p in policies})
    names = [f"{_DIR[direction]}_c{index}_{t.name.lower()}" for t in tiers]
    for k, tier in enumerate(tiers):
        next_stage = Verdict(VerdictKind.GOTO, names[k + 1]) if k + 1 < len(names) else RETURN
        in_tier = [p for p in policies if p.tier == tier]
        b.chains.append(_stage_chain(b, names[k], tier.kind, in_tier, direction, next_stage))
    return names[0]


def _dispatch(b: _Builder, direction: Direction, local: Collection[str]) -> list[NftMap]:
    r = b.resolution
    classes: dict[tuple[int, ...], list[int]] = {}
    for key in sorted(local):
        i = r.universe.index(key)
        if i is None:
            continue
        ids = tuple(sorted(j for j in r.subject_sigs[i] if direction in r.policies[j].directions))
        if ids:
            classes.setdefault(ids, []).append(i)
    entries: dict[int, list[tuple[str, str]]] = {4: [], 6: []}
    for index, (ids, members) in enumerate(sorted(classes.items())):
        first = _class_chains(b, direction, index, [r.policies[j] for j in ids])
        for i in members:
            pod = r.universe.endpoints[i].pod
            assert pod is not None
            for ip in pod.ips:
                entries[ip.version].append((str(ip), first))
    return [NftMap(f"{_DIR[direction]}_v{v}", _FAMILIES[v], tuple(sorted(entries[v]))) for v in (4, 6)]


_ND = ("nd-neighbor-solicit", "nd-neighbor-advert", "nd-router-solicit", "nd-router-advert")
_PREAMBLE = (
    NftRule((CtState(("established", "related")),), Verdict(VerdictKind.ACCEPT), "conntrack fast path"),
    NftRule((CtState(("invalid",)),), DROP, "invalid packets"),
    NftRule((Icmpv6Type(_ND),), Verdict(VerdictKind.ACCEPT), "IPv6 neighbour discovery"),
)


def _dispatch_rules(direction: Direction) -> list[NftRule]:
    return [
        NftRule((), Vmap(f, _LOCAL[direction], f"{_DIR[direction]}_v{v}"), f"{direction.value} dispatch")
        for v, f in _FAMILIES.items()
    ]


CHECKED_MARK = 0x00100000  # set on packets the agent's table let through; the guard twin skips them
_CHECKED = NftRule((), MarkSet(CHECKED_MARK), "let through by this table")


def guard_chains(chains: Sequence[Chain]) -> tuple[Chain, ...]:
    """The guard twin's chains: the same, but its base chains run after the agent's table
    (priority filter + 1) and accept at once what that table already let through, so the
    second table costs one mark test per new connection unless the first one is gone."""
    skip = NftRule((MarkBit(CHECKED_MARK),), Verdict(VerdictKind.ACCEPT), "checked by the agent's table")
    out = []
    for c in chains:
        if c.hook is None:
            out.append(c)
        else:
            body = tuple(r for r in c.rules if not isinstance(r.verdict, MarkSet))
            out.append(Chain(c.name, (skip, *body), c.hook, priority=1))
    return tuple(out)


def _base_chains() -> list[Chain]:
    """``forward`` checks the source's egress then the destination's ingress; ``input`` (traffic
    to the node itself, e.g. a host-network pod) checks the source's egress; ``output`` (from
    the node or its host-network pods to a local pod) checks the destination's ingress."""
    forward = [*_PREAMBLE, *_dispatch_rules(Direction.EGRESS), *_dispatch_rules(Direction.INGRESS), _CHECKED]
    return [
        Chain("forward", tuple(forward), Hook.FORWARD),
        Chain("input", (*_PREAMBLE, *_dispatch_rules(Direction.EGRESS), _CHECKED), Hook.INPUT),
        Chain("output", (*_PREAMBLE, *_dispatch_rules(Direction.INGRESS), _CHECKED), Hook.OUTPUT),
    ]


def _node_sets(resolution: Resolution, node: str | None) -> list[NftSet]:
    known = resolution.universe.snapshot.nodes.get(node or "")
    addresses = known.addresses if known else ()
    return [
        NftSet(f"node_v{v}", f, SetKind.HOSTS, host_elements(addresses, v), f"addresses of node {node}")
        for v, f in _FAMILIES.items()
    ]


def compile_node(
    resolution: Resolution, local: Collection[str], table: str = DEFAULT_TABLE, node: str | None = None
) -> Table:
    """The table enforcing ``resolution``'s policies for the pods ``local`` (``ns/name`` keys) on
    ``node`` (whose addresses NetworkPolicy always lets in)."""
    ensure_compilable(resolution.policies)
    b = _Builder(resolution)
    for s in _node_sets(resolution, node):
        b.sets[s.name] = s
    maps = _dispatch(b, Direction.EGRESS, local) + _dispatch(b, Direction.INGRESS, local)
    chains = _base_chains() + b.chains
    return Table(table, tuple(sorted(b.sets.values(), key=lambda s: s.name)), tuple(maps), tuple(chains))
