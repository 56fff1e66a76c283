"""ReachabilityMatrix: endpoint × endpoint → ConnectionSet, computed per equivalence class.

Two endpoints are in one class when the policies cannot tell them apart (see ``ClassModel``).
Each direction is computed once per subject key and cell of remote classes (``DirectionCells``);
the class × class table of connection sets is assembled from those, so a pair of endpoints is
a look-up and whole-matrix answers (counts, class matrices, streamed verdicts) are operations
over classes, never loops over pod pairs. Large tables are numpy arrays; a table of at most
``SMALL_TABLE`` classes is built and counted with plain lists, because importing numpy costs a
short-lived process more than such a table does (about 75 ms against a few), and becomes an
array only when an array operation (streamed verdicts, the class export, events) asks for one.

The one relation no class carries is "ingress from the subject's own node" (always allowed by
NetworkPolicy): it only concerns remotes at a node's address (host-network pods, node IPs),
which are few, and their pairs with pods of their own node are patched on the fly.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kubefence.engine.cells import ClassModel, DirectionCells, PipelineMemo
from kubefence.ir.model import Direction

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from kubefence.engine.connset import ConnectionSet
    from kubefence.engine.probes import Probe
    from kubefence.engine.resolve import Resolution

__all__ = ["SMALL_TABLE", "ClassTable", "ReachabilityMatrix", "Verdicts"]

# Grow the previous class table while new classes are at most 1/_GROW_LIMIT of all classes:
# each costs a row and a column of look-ups, against every subject's cells for a rebuild.
_GROW_LIMIT = 8

# Up to this many classes the table is built with lists: n² Python steps (a few ms at 128)
# cost less than importing numpy in a fresh process (tens of ms).
SMALL_TABLE = 128


@dataclass(frozen=True, slots=True)
class Verdicts:
    """Allowed and denied ``[src, dst, port, protocol]`` tuples over distinct pairs × probes."""

    allowed: tuple[tuple[str, str, int, str], ...]
    denied: tuple[tuple[str, str, int, str], ...]


def _cell_row(np: Any, cells: Sequence[int], ids: Sequence[int], size: int) -> Any:
    """``row[c]`` = ``ids[k]`` for the cell k (a bitset over ``size`` classes) holding class c;
    the cells partition the classes. One unpacking for all cells of a row."""
    width = (size + 7) // 8 or 1
    raw = np.frombuffer(b"".join(cell.to_bytes(width, "little") for cell in cells), dtype=np.uint8)
    member = np.unpackbits(raw.reshape(len(cells), width), axis=1, bitorder="little")[:, :size]
    return np.asarray(ids, dtype=np.int32)[member.argmax(axis=0)]


class ClassTable:
    """The class × class table: ``ids[cs, cd]`` indexes ``sets``, the connections from any
    member of class cs to any other member of class cd (away from the node-local exception).

    Each entry is the intersection of an egress answer and an ingress answer; the table keeps
    both (``base``, ``egress_of``, ``ingress_of``) so that probe verdicts are two look-ups and an
    AND, and the intersections themselves are only computed when a caller asks for ``sets``.
    """

    def __init__(
        self, model: ClassModel, egress: DirectionCells, ingress: DirectionCells, small: int | None = None
    ) -> None:
        """Assemble the table from both directions' cells (computing those not yet memoised);
        with lists when there are at most ``small`` (default ``SMALL_TABLE``) classes, else
        with numpy."""
        n = model.count
        interned: dict[int, int] = {}
        self.base: list[ConnectionSet] = []
        if n <= (SMALL_TABLE if small is None else small):
            e_lists = self._list_rows(egress, n, interned)
            i_lists = self._list_rows(ingress, n, interned)
            self._number_lists(e_lists, i_lists)
            return
        import numpy as np

        e_rows = self._rows(np, egress, n, interned)
        i_rows = self._rows(np, ingress, n, interned)
        self._number(np, e_rows, i_rows.T)

    def _number(self, np: Any, answers_e: Any, answers_i: Any) -> None:
        """``ids`` from the answer ids of both directions: ``answers_e[cs, cd]`` (egress at cs
        toward cd) and ``answers_i[cs, cd]`` (ingress at cd from cs), indices into ``base``."""
        size = len(self.base)
        code = answers_e.astype(np.int64) * size + answers_i
        # Number the (egress, ingress) combinations that occur, in linear time (no sort).
        present = np.zeros(size * size, dtype=bool)
        present[code.ravel()] = True
        used = np.flatnonzero(present)
        number = np.cumsum(present, dtype=np.int32) - 1
        self._ids: Any = number[code]
        self._egress_of: Any = used // size
        self._ingress_of: Any = used % size
        self._sets: list[ConnectionSet] | None = None

    def _number_lists(self, e_lists: list[list[int]], i_lists: list[list[int]]) -> None:
        """``_number`` with lists: ``e_lists[cs][cd]`` egress at cs toward cd, ``i_lists[cd][cs]``
        ingress at cd from cs. Entries are numbered in the same order (by combination code)."""
        size = len(self.base)
        codes = [
            [e * size + i for e, i in zip(e_row, column, strict=True)]
            for e_row, column in zip(e_lists, zip(*i_lists, strict=True), strict=True)
        ]
        used = sorted({code for row in codes for code in row})
        number = {code: k for k, code in enumerate(used)}
        self._ids = [[number[code] for code in row] for row in codes]
        self._egress_of = [code // size for code in used]
        self._ingress_of = [code % size for code in used]
        self._sets = None

    def _list_rows(self, side: DirectionCells, n: int, interned: dict[int, int]) -> list[list[int]]:
        """``_rows`` with lists."""
        by_key: dict[object, list[int]] = {}
        rows: list[list[int]] = []
        for c in range(n):
            key = side.key(c)
            row = by_key.get(key)
            if row is None:
                row = by_key[key] = [0] * n
                for cell in side.cells(c):
                    k = self._intern(cell.allowed, interned)
                    bits = cell.classes
                    while bits:
                        low = bits & -bits
                        row[low.bit_length() - 1] = k
                        bits ^= low
            rows.append(row)
        return rows

    def _as_arrays(self) -> None:
        """A small table's lists as the numpy arrays of a large one (on first array use)."""
        if isinstance(self._ids, list):
            import numpy as np

            n = len(self._ids)
            self._ids = np.asarray(self._ids, dtype=np.int32).reshape(n, n)
            self._egress_of = np.asarray(self._egress_of, dtype=np.int64)
            self._ingress_of = np.asarray(self._ingress_of, dtype=np.int64)

    @property
    def ids(self) -> Any:
        """``ids[cs, cd]``: the entry of each class pair (numpy)."""
        self._as_arrays()
        return self._ids

    @property
    def egress_of(self) -> Any:
        """``egress_of[entry]``: the entry's egress answer, an index into ``base`` (numpy)."""
        self._as_arrays()
        return self._egress_of

    @property
    def ingress_of(self) -> Any:
        """``ingress_of[entry]``: the entry's ingress answer, an index into ``base`` (numpy)."""
        self._as_arrays()
        return self._ingress_of

    def entry(self, cs: int, cd: int) -> int:
        """The entry of class pair (cs, cd), whichever form the table has."""
        ids = self._ids
        return ids[cs][cd] if isinstance(ids, list) else int(ids[cs, cd])

    @classmethod
    def grown(
        cls,
        previous: ClassTable,
        old: Sequence[int],
        as_remote: Sequence[int],
        egress: DirectionCells,
        ingress: DirectionCells,
    ) -> ClassTable:
        """The table of a model whose class c was ``previous``'s class ``old[c]``, or new
        (``-1``): known pairs are copied, and only the rows and columns of the new classes
        are answered. A new class's row comes from its cells. Its column (what known
        subjects let through toward and from it) is copied from ``previous``'s class
        ``as_remote[c]`` when there is one (a class that known subjects cannot tell from it),
        else answered by one memoised look-up per known subject."""
        import numpy as np

        table = object.__new__(ClassTable)
        table.base = list(previous.base)
        interned = {id(conns): k for k, conns in enumerate(table.base)}
        known = np.asarray(old, dtype=np.int64)
        fresh = np.flatnonzero(known < 0)
        kept = np.maximum(known, 0)
        ids = previous.ids[kept[:, None], kept[None, :]]
        answers_e, answers_i = previous.egress_of[ids], previous.ingress_of[ids]
        rows = np.flatnonzero(known >= 0)
        n = len(old)
        for c in fresh.tolist():
            answers_e[c, :] = table._rows_of(np, egress, c, n, interned)
            answers_i[:, c] = table._rows_of(np, ingress, c, n, interned)
            twin = as_remote[c]
            if twin >= 0:
                answers_e[rows, c] = previous.egress_of[previous.ids[known[rows], twin]]
                answers_i[c, rows] = previous.ingress_of[previous.ids[twin, known[rows]]]
                continue
            for d in rows.tolist():
                answers_e[d, c] = table._intern(egress.value(d, c), interned)
                answers_i[c, d] = table._intern(ingress.value(d, c), interned)
        table._number(np, answers_e, answers_i)
        return table

    def _rows_of(self, np: Any, side: DirectionCells, c: int, n: int, interned: dict[int, int]) -> Any:
        """Subject class c's answer ids toward/from every class, from its cells."""
        cells = side.cells(c)
        ids = [self._intern(cell.allowed, interned) for cell in cells]
        return _cell_row(np, [cell.classes for cell in cells], ids, n)

    def _rows(self, np: Any, side: DirectionCells, n: int, interned: dict[int, int]) -> Any:
        """``rows[subject class]``: the answer id toward/from each remote class."""
        by_key: dict[object, Any] = {}
        index = np.empty(n, dtype=np.int64)
        for c in range(n):
            key = side.key(c)
            if key not in by_key:
                by_key[key] = (len(by_key), self._rows_of(np, side, c, n, interned))
            index[c] = by_key[key][0]
        rows = np.stack([row for _, row in by_key.values()]) if by_key else np.empty((0, n), np.int32)
        return rows[index]

    def _intern(self, conns: ConnectionSet, interned: dict[int, int]) -> int:
        # By identity: memoised answers are shared objects, and hashing a set is not free.
        found = interned.get(id(conns))
        if found is None:
            found = interned[id(conns)] = len(self.base)
            self.base.append(conns)
        return found

    def remapped(self, old_class: Any) -> ClassTable:
        """The same answers for a renumbering of the classes: new class c is ``old_class[c]``."""
        table = object.__new__(ClassTable)
        table.base, table._egress_of, table._ingress_of = self.base, self.egress_of, self.ingress_of
        table._ids = self.ids[old_class[:, None], old_class[None, :]]
        table._sets = self._sets
        return table

    @property
    def sets(self) -> list[ConnectionSet]:
        """``sets[k]``: the connections of table entry k (egress ∩ ingress)."""
        if self._sets is None:
            base = self.base
            pairs = zip(_as_list(self._egress_of), _as_list(self._ingress_of), strict=True)
            self._sets = [base[e] & base[i] for e, i in pairs]
        return self._sets

    def hits(self, probes: Sequence[Probe]) -> Any:
        """``hits[entry]``: how many of ``probes`` the entry's set allows (a list for a small
        table, else a numpy array)."""
        if not isinstance(self._ids, list):
            return self.allowed_table(probes).sum(axis=1)
        masks = [
            sum(1 << p for p, probe in enumerate(probes) if conns.contains(probe.protocol, probe.port))
            for conns in self.base
        ]
        pairs = zip(self._egress_of, self._ingress_of, strict=True)
        return [(masks[e] & masks[i]).bit_count() for e, i in pairs]

    def weighted(self, sizes: Sequence[int], hits: Any) -> int:
        """Σ over class pairs (cs, cd) of hits[entry] × the ordered pairs of distinct members
        (``sizes[cs]·sizes[cd]``, less ``sizes[cs]`` when cs = cd)."""
        ids = self._ids
        if not isinstance(ids, list):
            import numpy as np

            counts = np.array(sizes, dtype=np.int64)
            weights = np.outer(counts, counts)
            weights[np.diag_indices_from(weights)] -= counts
            per_entry = np.bincount(ids.ravel(), weights=weights.ravel(), minlength=len(hits))
            return round(float(per_entry @ hits))
        total = 0
        for cs, row in enumerate(ids):
            across = sum(size * hits[k] for size, k in zip(sizes, row, strict=True))
            total += sizes[cs] * (across - hits[row[cs]])
        return total

    def allowed_table(self, probes: Sequence[Probe]) -> Any:
        """``table[entry, probe index]``: does the entry's set contain the probe."""
        import numpy as np

        per_base = np.zeros((len(self.base), len(probes)), dtype=bool)
        for k, conns in enumerate(self.base):
            per_base[k] = [conns.contains(p.protocol, p.port) for p in probes]
        return per_base[self.egress_of] & per_base[self.ingress_of]


class ReachabilityMatrix:
    """Connections between every ordered pair of endpoints of a Resolution."""

    def __init__(
        self,
        resolution: Resolution,
        memo: PipelineMemo | None = None,
        previous: ReachabilityMatrix | None = None,
    ) -> None:
        """``memo`` carries pipeline answers over from earlier revisions; ``previous``, a matrix
        of the very same policy objects, lends its class table when every class of this one
        was already a class there (pods and namespaces came and went within known classes)."""
        self.resolution = resolution
        self.universe = resolution.universe
        self.memo = memo if memo is not None else PipelineMemo()
        self.model = ClassModel(resolution, self.memo)
        self.class_of = self.model.class_of
        self.representative = self.model.representative
        self._egress = DirectionCells(self.model, Direction.EGRESS, self.memo)
        self._ingress = DirectionCells(self.model, Direction.INGRESS, self.memo)
        self._deltas: dict[tuple[Probe, ...], dict[tuple[object, ...], int]] = {}
        self._local_hits: dict[tuple[Probe, ...], dict[int, int]] = {}
        self._table: ClassTable | None = self._reuse(previous)
        self._local: dict[tuple[int, int, bool, bool], ConnectionSet] = {}
        ends = self.universe.endpoints
        self._pod_node = [e.pod.node if e.pod is not None else None for e in ends]
        self._at_node = [i for i, e in enumerate(ends) if e.node is not None]
        self._on_node: dict[str, list[int]] | None = None
        # Egress to the pod's own node differs from egress to other nodes: Weave Net lets it
        # through (pipeline.local_bypass), Cilium's host entity matches it alone.
        self._local_egress = resolution.uses_node_entities or any(
            p.tier.local_egress for p in resolution.policies
        )

    @property
    def class_count(self) -> int:
        return self.model.count

    def _reuse(self, previous: ReachabilityMatrix | None) -> ClassTable | None:
        """``previous``'s class table for this model (of the same endpoints' cluster after
        events): remapped when every class is known there, grown by the rows and columns of
        the new classes when they are few (cheaper than rebuilding every subject's cells).

        A class is known when a previous class has the same selecting policy objects, ports
        and, among the peers both Resolutions use, the same matching peer objects: a peer
        only one of them uses is in no rule of a known subject, so it changes no answer
        between known classes (contents are in ``ClassModel.content``)."""
        if previous is None or previous._table is None:
            return None
        self._deltas = previous._deltas  # keyed by content: equal contents, equal answers
        mine, theirs = self.resolution.policies, previous.resolution.policies
        if len(mine) == len(theirs) and all(a is b for a, b in zip(mine, theirs, strict=True)):
            self._egress.adopt_contexts(previous._egress)  # contexts name peers by index
            self._ingress.adopt_contexts(previous._ingress)
        common = frozenset(previous.model.peer_idents).intersection(self.model.peer_idents)

        def known(content: tuple[frozenset[int], frozenset[int], int]) -> object:
            return (content[0], content[1] & common, content[2])

        where = {known(content): c for c, content in enumerate(previous.model.content)}
        old = [where.get(known(content), -1) for content in self.model.content]
        new = old.count(-1)
        if new == 0:
            import numpy as np

            return previous._table.remapped(np.asarray(old, dtype=np.int64))
        if new < len(old) and new * _GROW_LIMIT <= len(old):
            # As a remote, a class is what it matches among the common peers, and its ports.
            remotes = {
                (content[1] & common, content[2]): c for c, content in enumerate(previous.model.content)
            }
            as_remote = [
                remotes.get((content[1] & common, content[2]), -1) if was < 0 else was
                for was, content in zip(old, self.model.content, strict=True)
            ]
            return ClassTable.grown(previous._table, old, as_remote, self._egress, self._ingress)
        return None

    @property
    def table(self) -> ClassTable:
        """The class × class table, built on first use."""
        if self._table is None:
            self._table = ClassTable(self.model, self._egress, self._ingress)
        return self._table

    def members(self) -> list[list[int]]:
        """The endpoints of each class, in endpoint order."""
        out: list[list[int]] = [[] for _ in range(self.class_count)]
        for i, c in enumerate(self.class_of):
            out[c].append(i)
        return out

    def pods_on(self, node: str | None) -> list[int]:
        """The endpoints that are pods scheduled on ``node``."""
        if self._on_node is None:
            self._on_node = {}
            for i, name in enumerate(self._pod_node):
                if name is not None:
                    self._on_node.setdefault(name, []).append(i)
        return self._on_node.get(node, []) if node is not None else []

    def _is_local(self, src: int, dst: int) -> bool:
        """Ingress at dst from src comes from dst's own node."""
        node = self.universe.endpoints[src].node
        return node is not None and self._pod_node[dst] == node

    def one_direction(self, direction: Direction, subject: int, remote: int) -> ConnectionSet:
        """What ``subject``'s policies alone let through toward or from ``remote``."""
        cs, cr = self.class_of[subject], self.class_of[remote]
        if direction is Direction.EGRESS:
            return self._egress.value(cs, cr, self._is_local_egress(subject, remote))
        return self._ingress.value(cs, cr, self._is_local(remote, subject))

    def _is_local_egress(self, src: int, dst: int) -> bool:
        """Egress at src toward dst goes to src's own node, where a profile lets it through."""
        return self._local_egress and self._is_local(dst, src)

    def class_connections(
        self, cs: int, cd: int, local: bool = False, local_out: bool = False
    ) -> ConnectionSet:
        """From a member of class cs to another member of class cd (``local``: cs's member is
        at the address of the node cd's member runs on; ``local_out``: cd's member is at the
        address of the node cs's member runs on)."""
        if not local and not local_out:
            table = self.table
            return table.sets[table.entry(cs, cd)]
        key = (cs, cd, local, local_out)
        if key not in self._local:
            egress = self._egress.value(cs, cd, local_out)
            both = egress & self._ingress.value(cd, cs, local) if egress else egress
            self._local[key] = self.memo.canonical(both)
        return self._local[key]

    def connections(self, src: int, dst: int) -> ConnectionSet:
        """What src may open toward dst: src's egress AND dst's ingress."""
        return self.class_connections(
            self.class_of[src], self.class_of[dst], self._is_local(src, dst), self._is_local_egress(src, dst)
        )

    def pairs(self, endpoints: Sequence[int] | None = None) -> Iterator[tuple[int, int]]:
        """Every ordered pair of distinct endpoints (of ``endpoints``, default all)."""
        chosen = range(len(self.universe)) if endpoints is None else endpoints
        for src in chosen:
            for dst in chosen:
                if src != dst:
                    yield src, dst

    # whole-matrix answers -------------------------------------------------------------------

    def counts(self, probes: Sequence[Probe]) -> tuple[int, int]:
        """(allowed, denied) over every ordered pair of distinct endpoints × probes."""
        table, n = self.table, len(self.universe)
        hits = table.hits(probes)
        allowed = table.weighted(self.model.sizes, hits) + self._local_correction(probes, hits)
        return allowed, n * (n - 1) * len(probes) - allowed

    def _local_correction(self, probes: Sequence[Probe], hits: Any) -> int:
        """Allowed probes gained or lost on pairs from a node's address to pods of that node (and
        from pods to their node's addresses, when egress there skips the policies)."""
        delta = 0
        per_pair = self._deltas.setdefault(tuple(probes), {})
        content = self.model.content
        for src in self._at_node:
            cs = self.class_of[src]
            on_node = Counter(self.class_of[d] for d in self.pods_on(self.universe.endpoints[src].node))
            if self._is_local(src, src):
                on_node[cs] -= 1
            for cd, count in on_node.items():
                key = (content[cs], content[cd])
                if key not in per_pair:
                    away = int(hits[self.table.entry(cs, cd)])
                    per_pair[key] = self._pair_delta(cs, cd, probes, away)
                delta += count * per_pair[key]
        for (src, dst), count in self._to_own_node().items():
            cs, cd = self.class_of[src], self.class_of[dst]
            out_key = (content[cs], content[cd], "out")
            if out_key not in per_pair:
                away = int(hits[self.table.entry(cs, cd)])
                per_pair[out_key] = self._pair_delta(cs, cd, probes, away, out=True)
            delta += count * per_pair[out_key]
        return delta

    def _to_own_node(self) -> Counter[tuple[int, int]]:
        """(a pod, an address of its node) pairs, by class (a pair of each pair of classes
        stands for all), when egress to the own node skips the policies: pod-network pods only,
        since a host-network pod's egress is never policed."""
        found: Counter[tuple[int, int]] = Counter()
        if not self._local_egress:
            return found
        at_node = set(self._at_node)
        first: dict[tuple[int, int], tuple[int, int]] = {}
        for dst in self._at_node:
            for src in self.pods_on(self.universe.endpoints[dst].node):
                if src not in at_node:
                    pair = first.setdefault((self.class_of[src], self.class_of[dst]), (src, dst))
                    found[pair] += 1
        return found

    def _pair_delta(self, cs: int, cd: int, probes: Sequence[Probe], away: int, out: bool = False) -> int:
        """Allowed probes gained (or lost) by class pair (cs, cd) when the source is at the
        address of the destination's node (``out``: the destination at the address of the
        source's node) (``away``: the allowed probes otherwise)."""
        if out:
            if self._egress.value(cs, cd, True) is self._egress.value(cs, cd):
                return 0
            local = self.class_connections(cs, cd, False, True)
        else:
            if self._ingress.value(cd, cs, True) is self._ingress.value(cd, cs):
                return 0  # memoised answers are canonical objects: equal means identical
            local = self.class_connections(cs, cd, True)
        known = self._local_hits.setdefault(tuple(probes), {})
        if id(local) not in known:
            known[id(local)] = _hits(local, probes)  # ``local`` is canonical: kept by the memo
        return known[id(local)] - away

    def node_local_exceptions(self) -> Iterator[tuple[int, int, ConnectionSet]]:
        """(src, dst, connections) for the pairs from a node's address to a pod of that node
        whose connections differ from those of their classes."""
        for src, dst in self._own_node_pairs():
            conns = self.connections(src, dst)
            if conns != self.class_connections(self.class_of[src], self.class_of[dst]):
                yield src, dst, conns

    def _own_node_pairs(self) -> Iterator[tuple[int, int]]:
        """Every pair between an address of a node and a pod of that node whose answer may
        differ from its classes': from the address to the pod, and, when egress to the own node
        skips the policies, from a pod-network pod to the address."""
        at_node = set(self._at_node)
        for address in self._at_node:
            for pod in self.pods_on(self.universe.endpoints[address].node):
                if pod != address:
                    yield address, pod
                    if self._local_egress and pod not in at_node:
                        yield pod, address

    def verdict_rows(
        self, probes: Sequence[Probe], endpoints: Sequence[int] | None = None
    ) -> Iterator[tuple[int, Any]]:
        """Per source endpoint (in order): ``(src, mask)`` with ``mask[j, p]`` the verdict toward
        ``chosen[j]`` on ``probes[p]`` (the src → src entry is False and must be skipped)."""
        import numpy as np

        chosen = np.arange(len(self.universe)) if endpoints is None else np.asarray(endpoints, dtype=np.int64)
        classes = np.asarray(self.class_of, dtype=np.int64)[chosen]
        table = self.table
        allowed = table.allowed_table(probes)
        exceptions: dict[int, list[int]] = {}
        for src, dst in self._own_node_pairs():
            exceptions.setdefault(src, []).append(dst)
        position = {int(e): j for j, e in enumerate(chosen)} if exceptions else {}
        for src in chosen.tolist():
            mask = allowed[table.ids[self.class_of[src], classes]]
            for dst in exceptions.get(src, ()):
                if dst in position:
                    conns = self.connections(src, dst)
                    mask[position[dst]] = [conns.contains(p.protocol, p.port) for p in probes]
            yield src, mask

    def verdicts(self, probes: Sequence[Probe], endpoints: Sequence[int] | None = None) -> Verdicts:
        allowed: list[tuple[str, str, int, str]] = []
        denied: list[tuple[str, str, int, str]] = []
        keys = [e.key for e in self.universe.endpoints]
        chosen = list(range(len(self.universe))) if endpoints is None else list(endpoints)
        for src, mask in self.verdict_rows(probes, chosen):
            for j, dst in enumerate(chosen):
                if src == dst:
                    continue
                for p, probe in enumerate(probes):
                    row = (keys[src], keys[dst], probe.port, probe.protocol.value)
                    (allowed if mask[j, p] else denied).append(row)
        return Verdicts(tuple(allowed), tuple(denied))


def _as_list(values: Any) -> list[int]:
    return values if isinstance(values, list) else values.tolist()


def _hits(conns: ConnectionSet, probes: Sequence[Probe]) -> int:
    return sum(conns.contains(p.protocol, p.port) for p in probes)
