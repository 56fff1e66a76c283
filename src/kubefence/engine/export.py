"""Whole-matrix answers as documents and text streams: counts, the class matrix, and the
pair-by-pair JSON and CSV of ``kubefence matrix``.

The pair-level formats are generators of text chunks, one source endpoint at a time, so
memory does not grow with the number of pairs written; the bytes are those of
``json.dump(doc, separators=(",", ":"))`` of the whole document (design.md §5). Counts and the
class matrix never list pairs. Nothing here does I/O: callers write the chunks where they want
(stdout, an HTTP response); ``tick`` is called once per source row for progress reporting.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from kubefence.engine.matrix import ReachabilityMatrix
    from kubefence.engine.probes import Probe

__all__ = ["classes_doc", "counts_doc", "csv_chunks", "json_chunks"]


def counts_doc(matrix: ReachabilityMatrix, probes: Sequence[Probe]) -> dict[str, int]:
    """``{"endpoints": N, "probes": P, "allowed": A, "denied": D}``, A + D = N·(N−1)·P."""
    allowed, denied = matrix.counts(probes)
    return {"endpoints": len(matrix.universe), "probes": len(probes), "allowed": allowed, "denied": denied}


def classes_doc(matrix: ReachabilityMatrix, warnings: Sequence[str] = ()) -> dict[str, Any]:
    """The class-level matrix.

    ``classes[c]`` lists the members of class c; ``connection_sets[k]`` is one set of allowed
    connections as protocol and port intervals; ``allowed`` holds ``[from class, to class, k]``
    for every class pair with something allowed (from any member to any *other* member; pairs
    absent allow nothing). ``node_local`` lists the pairs, from an endpoint at a node's address
    to a pod of that node, whose connections differ from their classes' (NetworkPolicy always
    lets a node in to its own pods): ``[from endpoint, to endpoint, k]``.
    """
    import numpy as np

    keys = [e.key for e in matrix.universe.endpoints]
    table = matrix.table
    index: dict[object, int] = {}
    sets: list[Any] = []

    def set_id(conns: Any) -> int:
        if conns not in index:
            index[conns] = len(sets)
            sets.append(conns.to_json())
        return index[conns]

    # Sets are numbered once per table entry, not per class pair, in the order the pairs
    # (row-major: source class, then destination class) first use them.
    nonempty = np.array([bool(conns) for conns in table.sets], dtype=bool)
    cs, cd = np.nonzero(nonempty[table.ids])
    entries = table.ids[cs, cd]
    used, first = np.unique(entries, return_index=True)
    numbered = np.full(len(table.sets), -1, dtype=np.int64)
    for k in used[np.argsort(first)].tolist():
        numbered[k] = set_id(table.sets[k])
    allowed = np.stack([cs, cd, numbered[entries]], axis=1).tolist()
    local = [[keys[s], keys[d], set_id(c)] for s, d, c in matrix.node_local_exceptions()]
    classes = [
        {"id": c, "size": len(members), "members": [keys[i] for i in members]}
        for c, members in enumerate(matrix.members())
    ]
    return {
        "endpoints": len(keys),
        "classes": classes,
        "connection_sets": sets,
        "allowed": allowed,
        "node_local": local,
        "warnings": list(warnings),
    }


def _rows(
    matrix: ReachabilityMatrix, probes: Sequence[Probe], verdict: bool, tick: Callable[[], None] | None
) -> Iterator[tuple[int, list[tuple[int, int]]]]:
    """Per source: the (destination, probe index) pairs whose verdict is ``verdict``."""
    import numpy as np

    for src, mask in matrix.verdict_rows(probes):
        picked = mask if verdict else ~mask
        picked[src] = False
        js, ps = np.nonzero(picked)
        if tick is not None:
            tick()
        yield src, list(zip(js.tolist(), ps.tolist(), strict=True))


def json_chunks(
    matrix: ReachabilityMatrix,
    probes: Sequence[Probe],
    warnings: Sequence[str] = (),
    tick: Callable[[], None] | None = None,
) -> Iterator[str]:
    """``{"endpoints": [...], "probes": [...], "allowed": [[src, dst, port, proto], ...],
    "denied": [...], "warnings": [...]}`` and a newline, streamed."""
    keys = [json.dumps(e.key) for e in matrix.universe.endpoints]
    tails = [f",{p.port},{json.dumps(p.protocol.value)}]" for p in probes]
    head = {"endpoints": [e.key for e in matrix.universe.endpoints], "probes": [p.to_json() for p in probes]}
    yield json.dumps(head, separators=(",", ":"))[:-1]
    for name, verdict in (("allowed", True), ("denied", False)):
        yield f',"{name}":['
        first = True
        for src, hits in _rows(matrix, probes, verdict, tick):
            if not hits:
                continue
            lead = "[" + keys[src] + ","
            text = ",".join([lead + keys[j] + tails[p] for j, p in hits])
            yield text if first else "," + text
            first = False
        yield "]"
    yield ',"warnings":' + json.dumps(list(warnings), separators=(",", ":")) + "}\n"


def csv_chunks(
    matrix: ReachabilityMatrix, probes: Sequence[Probe], tick: Callable[[], None] | None = None
) -> Iterator[str]:
    """``from,to,port,protocol,verdict`` rows, source by source, probes in the given order."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["from", "to", "port", "protocol", "verdict"])
    keys = [e.key for e in matrix.universe.endpoints]
    cells = [[[p.port, p.protocol.value, word] for p in probes] for word in ("deny", "allow")]
    for src, mask in matrix.verdict_rows(probes):
        rows = mask.tolist()
        for dst, verdicts in enumerate(rows):
            if dst != src:
                writer.writerows([keys[src], keys[dst], *cells[v][p]] for p, v in enumerate(verdicts))
        if tick is not None:
            tick()
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
