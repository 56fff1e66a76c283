"""The compact and streamed matrix outputs say the same as the pair-by-pair matrix: counts
from class sizes, the class matrix, and the streamed JSON / CSV text."""

from __future__ import annotations

import csv
import io
import ipaddress
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubefence.engine import export
from kubefence.engine.endpoints import Universe
from kubefence.engine.matrix import ClassTable, ReachabilityMatrix
from kubefence.engine.resolve import Resolution
from strategies import PROBES, policies, snapshots

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _matrix(snapshot, pols, outside: str | None = None) -> ReachabilityMatrix:
    extra = [ipaddress.ip_address(outside)] if outside else []
    return ReachabilityMatrix(Resolution(pols, Universe(snapshot, extra)))


@SETTINGS
@given(snapshots(), policies(), st.sampled_from([None, "203.0.113.9", "172.18.0.2"]))
def test_counts_from_classes_equal_pair_counts(snapshot, pols, outside) -> None:
    m = _matrix(snapshot, pols, outside)
    allowed = sum(m.connections(s, d).contains(p.protocol, p.port) for s, d in m.pairs() for p in PROBES)
    n = len(m.universe)
    assert m.counts(PROBES) == (allowed, n * (n - 1) * len(PROBES) - allowed)


@SETTINGS
@given(snapshots(), policies())
def test_streamed_json_is_the_document(snapshot, pols) -> None:
    m = _matrix(snapshot, pols)
    verdicts = m.verdicts(PROBES)
    doc = {
        "endpoints": [e.key for e in m.universe.endpoints],
        "probes": [p.to_json() for p in PROBES],
        "allowed": [list(t) for t in verdicts.allowed],
        "denied": [list(t) for t in verdicts.denied],
        "warnings": ["w"],
    }
    expected = json.dumps(doc, separators=(",", ":")) + "\n"
    assert "".join(export.json_chunks(m, PROBES, ["w"])) == expected


@SETTINGS
@given(snapshots(), policies())
def test_streamed_csv_lists_every_verdict(snapshot, pols) -> None:
    m = _matrix(snapshot, pols)
    rows = list(csv.reader(io.StringIO("".join(export.csv_chunks(m, PROBES)))))
    assert rows[0] == ["from", "to", "port", "protocol", "verdict"]
    keys = [e.key for e in m.universe.endpoints]
    expected = [
        [
            keys[s],
            keys[d],
            str(p.port),
            p.protocol.value,
            "allow" if m.connections(s, d).contains(p.protocol, p.port) else "deny",
        ]
        for s, d in m.pairs()
        for p in PROBES
    ]
    assert rows[1:] == expected


@SETTINGS
@given(snapshots(), policies(), st.sampled_from([None, "172.18.0.2"]))
def test_class_matrix_gives_every_pair(snapshot, pols, outside) -> None:
    m = _matrix(snapshot, pols, outside)
    doc = json.loads(json.dumps(export.classes_doc(m)))
    class_of = {key: c["id"] for c in doc["classes"] for key in c["members"]}
    between = {(a, b): k for a, b, k in doc["allowed"]}
    local = {(a, b): k for a, b, k in doc["node_local"]}
    keys = [e.key for e in m.universe.endpoints]
    assert sorted(class_of) == sorted(keys)
    for s, d in m.pairs():
        pair = (keys[s], keys[d])
        k = local.get(pair, between.get((class_of[pair[0]], class_of[pair[1]])))
        expected = m.connections(s, d).to_json()
        assert (doc["connection_sets"][k] if k is not None else []) == expected


@SETTINGS
@given(snapshots(), policies(), st.sampled_from([None, "203.0.113.9", "172.18.0.2"]))
def test_list_and_array_tables_agree(snapshot, pols, outside) -> None:
    """A table of few classes is built with lists (no numpy import in a short run); forcing
    the array form on the same matrix gives the same entries, counts, verdicts and export."""
    listed, arrayed = _matrix(snapshot, pols, outside), _matrix(snapshot, pols, outside)
    arrayed._table = ClassTable(arrayed.model, arrayed._egress, arrayed._ingress, small=0)
    assert isinstance(listed.table._ids, list) and not isinstance(arrayed.table._ids, list)
    assert listed.counts(PROBES) == arrayed.counts(PROBES)
    assert listed.table.sets == arrayed.table.sets
    assert export.classes_doc(listed) == export.classes_doc(arrayed)
    assert listed.verdicts(PROBES) == arrayed.verdicts(PROBES)  # lists turned into arrays here
    assert (listed.table.ids == arrayed.table.ids).all()
