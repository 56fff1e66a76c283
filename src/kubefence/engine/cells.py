"""One direction of the matrix, per subject class: the remote classes cut into *cells*.

What one direction lets through at a subject depends only on the rules of the policies
selecting it (in that direction) and, for a remote, on which of those rules' peers match it
(and, for egress rules with named ports, on the ports the remote declares). The remote classes
that agree on all of that form a cell, and the tier pipeline runs once per cell, never per
class pair nor per pod pair. Cells come from refining the set of all classes by the class
bitsets of the relevant peers, so the work per subject grows with its own rules, not with the
size of the cluster.

Invariants: the cells of one subject key partition ``range(class_count)`` (as bitsets over
class ids) and each carries the connections of any of its classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kubefence.engine.connset import ConnectionSet
from kubefence.engine.pipeline import DirectionQuery, allowed_connections
from kubefence.engine.resolve import Resolution, ports_of_rule, rule_names_ports
from kubefence.ir.model import Direction, Peer, Policy, Rule

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Sequence

    from kubefence.ir.ports import ContainerPort

__all__ = ["Cell", "ClassModel", "DirectionCells", "PipelineMemo", "refine"]


def refine(everything: int, splitters: Sequence[int]) -> list[int]:
    """The coarsest partition of ``everything`` that no splitter cuts (non-empty cells)."""
    cells = [everything] if everything else []
    for split in splitters:
        out: list[int] = []
        for cell in cells:
            inside = cell & split
            if inside and inside != cell:
                out += (inside, cell ^ inside)
            else:
                out.append(cell)
        cells = out
    return cells


@dataclass(frozen=True, slots=True)
class Cell:
    """Remote classes (a bitset) and what the direction lets through toward any of them."""

    classes: int
    allowed: ConnectionSet


class ClassModel:
    """Equivalence classes of a Resolution's endpoints and what the cells need of them.

    Two endpoints are in one class when the policies cannot tell them apart: the same selecting
    policies, the same matching peers and, when a rule names a port, the same declared ports.
    ``class_of[i]`` is endpoint i's class, ``representative[c]`` its first endpoint, ``sizes[c]``
    its member count; ``peer_classes[k]`` is the bitset of the classes peer k matches;
    ``content[c]`` is what defines class c in terms that outlive the Resolution: the selecting
    policy objects and the matching peers (as the memo's idents) and, when they
    matter, the declared ports; equal contents mean equal answers in any two Resolutions.
    """

    def __init__(self, resolution: Resolution, memo: PipelineMemo | None = None) -> None:
        self.resolution = resolution
        memo = self.memo = memo if memo is not None else PipelineMemo()
        r, endpoints = resolution, resolution.universe.endpoints
        keys: dict[tuple[int, int, int], int] = {}
        self.class_of: list[int] = []
        for i, e in enumerate(endpoints):
            ports = memo.ports_ident(e.pod.ports) if r.uses_named_ports and e.managed and e.pod else -1
            key = (id(r.subject_sigs[i]), id(r.peer_sigs[i]), ports)
            self.class_of.append(keys.setdefault(key, len(keys)))
        self.count = len(keys)
        self.representative: dict[int, int] = {}
        self.sizes = [0] * self.count
        for i, c in enumerate(self.class_of):
            self.representative.setdefault(c, i)
            self.sizes[c] += 1
        reps = [self.representative[c] for c in range(self.count)]
        self.subject_sig = [r.subject_sigs[i] for i in reps]
        self.peer_sig = [r.peer_sigs[i] for i in reps]
        self.ports = [self.dst_ports(i) for i in reps]
        self.port_ident = [memo.ports_ident(ports) for ports in self.ports]
        self._port_key = [key[2] for key in keys]
        self._content: list[tuple[frozenset[int], frozenset[int], int]] | None = None
        self.peer_classes = [0] * len(r.peers)
        for c, sig in enumerate(self.peer_sig):
            for k in sig:
                self.peer_classes[k] |= 1 << c
        groups: dict[int, int] = {}
        for c, ident in enumerate(self.port_ident):
            groups[ident] = groups.get(ident, 0) | (1 << c)
        self.port_groups = list(groups.values())
        self._rule_ports: dict[tuple[int, tuple[ContainerPort, ...]], ConnectionSet] = {}

    @property
    def everything(self) -> int:
        return (1 << self.count) - 1

    @property
    def peer_idents(self) -> list[int]:
        """``peer_idents[k]``: the memo's ident of peer k (by value)."""
        return [self.memo.peer_ident(peer) for peer in self.resolution.peers]

    @property
    def content(self) -> list[tuple[frozenset[int], frozenset[int], int]]:
        """``content[c]``: (selecting policies, matching peers, ports ident or -1) of class c,
        as the memo's idents: policies by object, peers by value (made on first use)."""
        if self._content is None:
            r, ident, peers = self.resolution, self.memo.ident, self.peer_idents
            subjects: dict[int, frozenset[int]] = {}
            remotes: dict[int, frozenset[int]] = {}
            content = []
            for s, p, ports in zip(self.subject_sig, self.peer_sig, self._port_key, strict=True):
                if id(s) not in subjects:
                    subjects[id(s)] = frozenset(ident(policy) for policy in r.policies_of(s))
                if id(p) not in remotes:
                    remotes[id(p)] = frozenset(peers[k] for k in p)
                content.append((subjects[id(s)], remotes[id(p)], ports))
            self._content = content
        return self._content

    def dst_ports(self, i: int) -> tuple[ContainerPort, ...]:
        endpoint = self.resolution.universe.endpoints[i]
        return endpoint.pod.ports if endpoint.managed and endpoint.pod else ()

    def rule_ports(self, rule: Rule, ports: tuple[ContainerPort, ...]) -> ConnectionSet:
        key = (id(rule), ports if rule_names_ports(rule) else ())
        found = self._rule_ports.get(key)
        if found is None:
            found = self._rule_ports[key] = ports_of_rule(rule, ports)
        return found


class PipelineMemo:
    """Tier-pipeline answers kept across Resolutions (of successive revisions of one cluster).

    Keys name policies and peers by object identity; each entry keeps those objects alive, so
    an identity can never be reused by another object while its entry exists. Bounded: cleared
    when it grows past ``limit`` entries.
    """

    def __init__(self, limit: int = 500_000) -> None:
        self.limit = limit
        self._answers: dict[Hashable, ConnectionSet] = {}
        self._keep: dict[Hashable, object] = {}
        self._canonical: dict[ConnectionSet, ConnectionSet] = {}
        self._values: dict[Hashable, int] = {}
        self._by_object: dict[int, tuple[int, Hashable]] = {}
        self._idents: dict[int, tuple[int, object]] = {}
        self._next_ident = 0
        self.hits = self.misses = 0

    def ident(self, obj: object) -> int:
        """A number for one object (a policy, a peer), kept alive here. Numbers are never
        reused, even after the table is cleared: equal idents always mean the same object."""
        found = self._idents.get(id(obj))
        if found is not None and found[1] is obj:
            return found[0]
        if len(self._idents) >= self.limit:
            self._idents.clear()
        number, self._next_ident = self._next_ident, self._next_ident + 1
        self._idents[id(obj)] = (number, obj)
        return number

    def canonical(self, conns: ConnectionSet) -> ConnectionSet:
        """The one object kept for sets equal to ``conns``."""
        return self._canonical.setdefault(conns, conns)

    def ports_ident(self, ports: tuple[ContainerPort, ...]) -> int:
        """A number for a tuple of declared ports, the same for equal tuples (kept alive here).
        Looked up by object first: pods keep their tuple from revision to revision."""
        return self._value_ident(ports)

    def peer_ident(self, peer: Peer) -> int:
        """A number for a peer, the same for equal peers (Resolutions keep one object per
        value, not always the same one)."""
        return self._value_ident(peer)

    def _value_ident(self, value: Hashable) -> int:
        seen = self._by_object.get(id(value))
        if seen is not None and seen[1] is value:
            return seen[0]
        found = self._values.get(value)
        if found is None:
            found = self._values[value] = len(self._values)
        if len(self._by_object) >= self.limit:
            self._by_object.clear()  # only a shortcut: idents stay those of ``_values``
        self._by_object[id(value)] = (found, value)
        return found

    def get(self, key: Hashable, compute: Callable[[], ConnectionSet]) -> ConnectionSet:
        """``key`` is ``(*identity, keep_alive, keep_alive_list)``: the last two are held, not hashed."""
        assert isinstance(key, tuple)
        ident = key[:-2]
        found = self._answers.get(ident)
        if found is not None:
            self.hits += 1
            return found
        self.misses += 1
        if len(self._answers) >= self.limit:
            self._answers.clear()
            self._keep.clear()
        # Equal answers become one object, so that callers can intern them by identity.
        answer = compute()
        found = self._answers[ident] = self._canonical.setdefault(answer, answer)
        self._keep[ident] = key[-2:]
        return found


@dataclass(frozen=True, slots=True)
class _Context:
    """What the memo keys of one subject key share: its relevant peers (ids in this
    Resolution, and their objects' identities), whether a rule names a port, the identities of
    its policies, and the objects the memo must keep alive."""

    relevant: frozenset[int]
    named: bool
    policy_ids: tuple[int, ...]
    peer_ids: dict[int, int]
    keep: tuple[object, object]
    selecting: bool  # a policy selects the subject in this direction


class DirectionCells:
    """For one direction: subject class → cells of remote classes, memoised per subject key.

    The subject key is the subject's policy signature (and, for ingress, its declared ports,
    which named ports resolve against). Whether the remote is the subject's own node (``local``)
    is not part of any class: ``local`` answers are computed on demand.
    """

    def __init__(self, model: ClassModel, direction: Direction, memo: PipelineMemo | None = None) -> None:
        self.model = model
        self.direction = direction
        self.memo = memo if memo is not None else PipelineMemo()
        self._cells: dict[Hashable, tuple[Cell, ...]] = {}
        self._context: dict[Hashable, _Context] = {}
        self._egress = direction is Direction.EGRESS

    def adopt_contexts(self, other: DirectionCells) -> None:
        """Take ``other``'s subject-key contexts: valid here when both models' Resolutions
        bind the very same policies (contexts name policies and peers, never classes)."""
        self._context = dict(other._context)

    def key(self, subject: int) -> Hashable:
        m = self.model
        if not self._egress and m.resolution.uses_named_ports:
            return (m.subject_sig[subject], m.port_ident[subject])
        return m.subject_sig[subject]

    def cells(self, subject: int) -> tuple[Cell, ...]:
        key = self.key(subject)
        found = self._cells.get(key)
        if found is None:
            found = self._cells[key] = self._compute(subject)
        return found

    def value(self, subject: int, remote: int, local: bool = False) -> ConnectionSet:
        """What the direction lets through at class ``subject`` toward/from class ``remote``:
        from the subject's cells when they are known, else by one memoised look-up."""
        if local:
            key = self._memo_key(self._context_of(subject), subject, remote, True)
            return self.memo.get(key, lambda: self._run(subject, remote, True))
        found = self._cells.get(self.key(subject))
        if found is None:
            context = self._context_of(subject)
            if not context.selecting:
                return ConnectionSet.all()
            return self.memo.get(
                self._memo_key(context, subject, remote, False), self._runner(subject, remote)
            )
        bit = 1 << remote
        for cell in found:
            if cell.classes & bit:
                return cell.allowed
        raise AssertionError("cells partition every class")

    def _policies(self, subject: int) -> tuple[list[Policy], list[Rule]]:
        r = self.model.resolution
        policies = r.policies_of(self.model.subject_sig[subject])
        direction = self.direction
        mine = [p for p in policies if direction in p.directions]
        return mine, [rule for p in mine for rule in r.rules_for(p, self.direction)]

    def _context_of(self, subject: int) -> _Context:
        """The subject key's context: its relevant peers, whether a rule names a port."""
        key = self.key(subject)
        found = self._context.get(key)
        if found is None:
            policies, rules = self._policies(subject)
            if not policies:
                found = self._make_context(subject, frozenset(), False, selecting=False)
            else:
                peers = frozenset(k for rule in rules for k in self.model.resolution.peers_of_rule(rule))
                found = self._make_context(subject, peers, any(rule_names_ports(rule) for rule in rules))
            self._context[key] = found
        return found

    def _compute(self, subject: int) -> tuple[Cell, ...]:
        m = self.model
        context = self._context_of(subject)
        if not context.selecting:
            return (Cell(m.everything, ConnectionSet.all()),)
        splitters = [m.peer_classes[k] for k in sorted(context.relevant)]
        if self.direction is Direction.EGRESS and context.named:
            splitters += m.port_groups
        cells = []
        for cell in refine(m.everything, splitters):
            remote = (cell & -cell).bit_length() - 1
            key = self._memo_key(context, subject, remote, False)
            cells.append(Cell(cell, self.memo.get(key, self._runner(subject, remote))))
        return tuple(cells)

    def _make_context(
        self, subject: int, relevant: frozenset[int], named: bool, selecting: bool = True
    ) -> _Context:
        r = self.model.resolution
        policies = r.policies_of(self.model.subject_sig[subject])
        keep = (policies, [r.peers[k] for k in relevant])
        peer_ids = {k: id(r.peers[k]) for k in relevant}
        return _Context(relevant, named, tuple(map(id, policies)), peer_ids, keep, selecting)

    def _runner(self, subject: int, remote: int) -> Callable[[], ConnectionSet]:
        return lambda: self._run(subject, remote, False)

    def _memo_key(self, context: _Context, subject: int, remote: int, local: bool) -> tuple[object, ...]:
        """What the answer depends on, in terms that outlive this Resolution: the selecting
        policies and the matching relevant peers (as objects, kept alive by the memo), and the
        destination's ports when a rule names one."""
        m, ids = self.model, context.peer_ids
        matched = frozenset([ids[k] for k in context.relevant & m.peer_sig[remote]])
        ports = m.port_ident[remote if self._egress else subject] if context.named else -1
        return (self._egress, local, context.policy_ids, matched, ports, *context.keep)

    def _run(self, subject: int, remote: int, local: bool) -> ConnectionSet:
        m, r = self.model, self.model.resolution
        remote_sig = r.seen_sig(m.peer_sig[remote], local)
        ports = m.ports[remote] if self.direction is Direction.EGRESS else m.ports[subject]
        query = DirectionQuery(
            direction=self.direction,
            policies=r.policies_of(m.subject_sig[subject]),
            peer_matches=lambda rule: not r.peers_of_rule(rule).isdisjoint(remote_sig),
            ports=lambda rule: m.rule_ports(rule, ports),
            own_node=local,
        )
        return allowed_connections(query)
