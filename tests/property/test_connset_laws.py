"""Algebraic laws of the connection-set algebra, checked against a naive membership model.

Membership of an interval set only changes at interval starts and just after interval ends, so
probing every endpoint ±1 of the operands (plus 0 and 65535) decides membership of the whole
port range exactly.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from kubefence.engine.connset import ConnectionSet, IntervalSet
from kubefence.ir.ports import MAX_PORT, MIN_PORT, PortRange, Protocol

Pair = tuple[int, int]

# Biased toward small numbers and the edges of the port range, so that overlaps, adjacency and
# edge cases happen often.
ports = st.one_of(
    st.sampled_from([0, 1, 2, 65534, 65535]),
    st.integers(0, 24),
    st.integers(MIN_PORT, MAX_PORT),
)
pairs = st.tuples(ports, ports).map(lambda p: (min(p), max(p)))
raw_pairs = st.tuples(st.one_of(ports, st.integers(-10, 70000)), st.one_of(ports, st.integers(-10, 70000)))
interval_sets = st.lists(pairs, max_size=8).map(lambda ps: IntervalSet.of(*ps))
port_ranges = st.builds(PortRange, st.sampled_from(list(Protocol)), ports, ports)
connection_sets = st.lists(port_ranges, max_size=10).map(ConnectionSet.from_ranges)

SetOp = Callable[[Any, Any], Any]  # operator.or_ / and_ / sub, applied to either set type
BoolOp = Callable[[bool, bool], bool]
OPERATIONS: list[tuple[str, SetOp, BoolOp]] = [
    ("union", operator.or_, lambda x, y: x or y),
    ("intersection", operator.and_, lambda x, y: x and y),
    ("difference", operator.sub, lambda x, y: x and not y),
]
operations = st.sampled_from(OPERATIONS)


def probes(*sets: IntervalSet) -> list[int]:
    points = {MIN_PORT, MAX_PORT}
    for ports_set in sets:
        for start, end in ports_set:
            points.update((start - 1, start, end, end + 1))
    return sorted(p for p in points if MIN_PORT <= p <= MAX_PORT)


def connection_probes(*sets: ConnectionSet) -> list[tuple[Protocol, int]]:
    points = probes(*(s.ports(proto) for s in sets for proto in Protocol))
    return [(proto, port) for proto in Protocol for port in points]


def membership(ports_set: IntervalSet, points: Iterable[int]) -> list[bool]:
    return [p in ports_set for p in points]


def assert_canonical(ports_set: IntervalSet) -> None:
    previous_end = MIN_PORT - 2
    for start, end in ports_set.intervals:
        assert MIN_PORT <= start <= end <= MAX_PORT
        assert start > previous_end + 1, "intervals must be sorted, disjoint and non-adjacent"
        previous_end = end


def assert_canonical_connections(connections: ConnectionSet) -> None:
    order = list(Protocol)
    ranks = [order.index(proto) for proto in connections.protocols()]
    assert ranks == sorted(set(ranks)), "protocols must be in enum order, each at most once"
    for proto, ports_set in connections.by_protocol:
        assert ports_set, "no empty entries"
        assert_canonical(ports_set)
        # ICMP and ICMPv6 hold message types (0-255); OTHER is whole or absent
        assert ports_set.intervals[-1][1] <= proto.top if proto.numbered else ports_set.is_full


# --- IntervalSet -------------------------------------------------------------------------------


@given(st.lists(raw_pairs, max_size=8))
def test_of_matches_model(raw: list[Pair]) -> None:
    result = IntervalSet.of(*raw)
    assert_canonical(result)
    clipped = IntervalSet.of(*((max(s, MIN_PORT), min(e, MAX_PORT)) for s, e in raw if s <= e))
    points = probes(result, clipped) + [s for s, _ in raw if MIN_PORT <= s <= MAX_PORT]
    for p in points:
        assert (p in result) == any(s <= p <= e for s, e in raw)


@given(interval_sets, interval_sets, operations)
def test_operations_match_model(a: IntervalSet, b: IntervalSet, op: tuple[str, SetOp, BoolOp]) -> None:
    _, set_op, bool_op = op
    result = set_op(a, b)
    assert_canonical(result)
    for p in probes(a, b):
        assert (p in result) == bool_op(p in a, p in b)


@given(interval_sets)
def test_complement_matches_model(a: IntervalSet) -> None:
    result = ~a
    assert_canonical(result)
    assert membership(result, probes(a)) == [not m for m in membership(a, probes(a))]
    assert a | ~a == IntervalSet.full()
    assert a & ~a == IntervalSet.empty()
    assert ~~a == a
    assert a.size + result.size == MAX_PORT - MIN_PORT + 1


@given(interval_sets, interval_sets)
def test_de_morgan(a: IntervalSet, b: IntervalSet) -> None:
    assert ~(a | b) == ~a & ~b
    assert ~(a & b) == ~a | ~b
    assert a - b == a & ~b


@given(interval_sets, interval_sets)
def test_difference_laws(a: IntervalSet, b: IntervalSet) -> None:
    assert a - (a & b) == a - b
    assert (a | b) - b == a - b
    assert (a - b) & b == IntervalSet.empty()
    assert (a - b) | (a & b) == a


@given(interval_sets, interval_sets, interval_sets)
def test_commutative_and_associative(a: IntervalSet, b: IntervalSet, c: IntervalSet) -> None:
    assert a | b == b | a
    assert a & b == b & a
    assert (a | b) | c == a | (b | c)
    assert (a & b) & c == a & (b & c)
    assert a & (b | c) == (a & b) | (a & c)


@given(interval_sets, interval_sets)
def test_equality_iff_same_membership(a: IntervalSet, b: IntervalSet) -> None:
    points = probes(a, b)
    assert (a == b) == (membership(a, points) == membership(b, points))
    if a == b:
        assert hash(a) == hash(b)


@given(interval_sets, st.data())
def test_equal_when_split_differently(a: IntervalSet, data: st.DataObject) -> None:
    pieces: list[Pair] = []
    for start, end in a:
        cut = data.draw(st.integers(start, end))
        pieces += [(start, cut), (min(cut + 1, end), end)]
    rebuilt = IntervalSet.of(*reversed(pieces))
    assert rebuilt == a
    assert hash(rebuilt) == hash(a)


@given(interval_sets)
def test_measures_match_intervals(a: IntervalSet) -> None:
    assert bool(a) == (a.size > 0)
    assert a.is_full == (a.size == MAX_PORT - MIN_PORT + 1)
    assert a.size == sum(e - s + 1 for s, e in a)


# --- ConnectionSet -----------------------------------------------------------------------------


@given(st.lists(port_ranges, max_size=10))
def test_from_ranges_matches_model(ranges: list[PortRange]) -> None:
    result = ConnectionSet.from_ranges(ranges)
    assert_canonical_connections(result)
    assert result == ConnectionSet.from_ranges(result.ranges())
    edges = probes(*(IntervalSet.of((r.start, r.start), (r.end, r.end)) for r in ranges))
    for proto, port in connection_probes(result) + [(proto, p) for proto in Protocol for p in edges]:
        expected = any(
            r.protocol is proto and (not proto.numbered or r.start <= port <= min(r.end, proto.top))
            for r in ranges
        )
        assert result.contains(proto, port) == expected


@given(connection_sets, connection_sets, operations)
def test_connection_operations_match_model(
    a: ConnectionSet, b: ConnectionSet, op: tuple[str, SetOp, BoolOp]
) -> None:
    _, set_op, bool_op = op
    result: ConnectionSet = set_op(a, b)
    assert_canonical_connections(result)
    for proto, port in connection_probes(a, b):
        assert result.contains(proto, port) == bool_op(a.contains(proto, port), b.contains(proto, port))


@given(connection_sets, connection_sets, connection_sets)
def test_connection_laws(a: ConnectionSet, b: ConnectionSet, c: ConnectionSet) -> None:
    assert a | b == b | a
    assert a & b == b & a
    assert (a | b) | c == a | (b | c)
    assert (a & b) & c == a & (b & c)
    assert a - (a & b) == a - b
    assert (a | b) - b == a - b
    assert a - (b | c) == (a - b) - c
    assert a | (ConnectionSet.all() - a) == ConnectionSet.all()


@given(connection_sets)
def test_connection_de_morgan_within_all(a: ConnectionSet) -> None:
    everything, nothing = ConnectionSet.all(), ConnectionSet.empty()
    complement = everything - a
    assert a & complement == nothing
    assert everything - complement == a
    assert (a | complement).is_all
    assert a | nothing == a == a & everything


@given(connection_sets, connection_sets)
def test_connection_de_morgan(a: ConnectionSet, b: ConnectionSet) -> None:
    everything = ConnectionSet.all()
    assert everything - (a | b) == (everything - a) & (everything - b)
    assert everything - (a & b) == (everything - a) | (everything - b)


@given(connection_sets, connection_sets)
def test_connection_equality_iff_same_membership(a: ConnectionSet, b: ConnectionSet) -> None:
    points = connection_probes(a, b)
    same = [a.contains(*pt) for pt in points] == [b.contains(*pt) for pt in points]
    assert (a == b) == same
    if a == b:
        assert hash(a) == hash(b)


@given(connection_sets)
def test_connection_views_agree(a: ConnectionSet) -> None:
    assert a.protocols() == tuple(proto for proto, _ in a.by_protocol)
    assert [entry["protocol"] for entry in a.to_json()] == [proto.value for proto in a.protocols()]
    assert bool(a) == bool(a.ranges())
    assert (str(a) == "nothing") == (not a)
    for proto in Protocol:
        assert a.ports(proto) == IntervalSet.of(
            *((r.start, r.end) for r in a.ranges() if r.protocol is proto)
        )
