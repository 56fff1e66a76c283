"""Canonical connection sets: protocol × port-interval sets with an exact algebra.

An :class:`IntervalSet` is a set of ports of ``MIN_PORT..MAX_PORT`` held as inclusive intervals;
a :class:`ConnectionSet` maps each :class:`Protocol` to the ports it admits. Both are immutable
values, and every constructor and operation returns them in canonical form, so ``==`` and
``hash`` are set equality.

Invariants:

* ``IntervalSet.intervals`` is sorted, disjoint and non-adjacent (touching intervals are merged),
  and ``MIN_PORT <= start <= end <= MAX_PORT`` holds for every interval.
* ``ConnectionSet.by_protocol`` is sorted in :class:`Protocol` declaration order, holds at most
  one entry per protocol and no empty entry.
* ICMP and ICMPv6 hold message types, within ``0..255``; OTHER (every other IP protocol) is
  absent or maps to the full range, and numbers given for it are ignored.

Every operation is a linear merge over the intervals; no per-port sets are ever built.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, TypedDict

from kubefence.ir.ports import MAX_ICMP_TYPE, MAX_PORT, MIN_PORT, PortRange, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

__all__ = ["ConnectionSet", "IntervalSet", "JsonConnection"]

_Interval = tuple[int, int]
_Intervals = tuple[_Interval, ...]
_FULL_INTERVALS: _Intervals = ((MIN_PORT, MAX_PORT),)
_PROTOCOLS: tuple[Protocol, ...] = tuple(Protocol)
_RANK = {proto: rank for rank, proto in enumerate(_PROTOCOLS)}


class JsonConnection(TypedDict):
    """One protocol of :meth:`ConnectionSet.to_json`: its port intervals (ICMP and ICMPv6: type
    intervals); ``ports`` is None for OTHER, which has no numbers."""

    protocol: str
    ports: list[list[int]] | None


# --- interval algorithms (inputs canonical unless stated; outputs canonical) ---------------------


def _coalesce(ordered: Iterable[_Interval]) -> _Intervals:
    """Merge overlapping or adjacent intervals of a start-sorted sequence of valid intervals."""
    out: list[_Interval] = []
    cur_start, cur_end = MIN_PORT - 2, MIN_PORT - 2
    for start, end in ordered:
        if start <= cur_end + 1:
            cur_end = max(cur_end, end)
            continue
        if cur_end >= MIN_PORT:
            out.append((cur_start, cur_end))
        cur_start, cur_end = start, end
    if cur_end >= MIN_PORT:
        out.append((cur_start, cur_end))
    return tuple(out)


def _union(a: _Intervals, b: _Intervals) -> _Intervals:
    # Timsort merges the two sorted runs in linear time.
    return _coalesce(sorted(a + b))


def _intersection(a: _Intervals, b: _Intervals) -> _Intervals:
    out: list[_Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        (a_start, a_end), (b_start, b_end) = a[i], b[j]
        low, high = max(a_start, b_start), min(a_end, b_end)
        if low <= high:
            out.append((low, high))
        if a_end < b_end:
            i += 1
        else:
            j += 1
    return tuple(out)


def _difference(a: _Intervals, b: _Intervals) -> _Intervals:
    out: list[_Interval] = []
    j = 0
    for start, end in a:
        while j < len(b) and b[j][1] < start:
            j += 1
        k = j
        while k < len(b) and b[k][0] <= end:
            if b[k][0] > start:
                out.append((start, b[k][0] - 1))
            start = b[k][1] + 1
            k += 1
        if start <= end:
            out.append((start, end))
    return tuple(out)


def _complement(a: _Intervals) -> _Intervals:
    out: list[_Interval] = []
    next_free = MIN_PORT
    for start, end in a:
        if start > next_free:
            out.append((next_free, start - 1))
        next_free = end + 1
    if next_free <= MAX_PORT:
        out.append((next_free, MAX_PORT))
    return tuple(out)


def _is_canonical(intervals: _Intervals) -> bool:
    previous_end = MIN_PORT - 2
    for start, end in intervals:
        if not (previous_end + 1 < start <= end <= MAX_PORT):
            return False
        previous_end = end
    return True


# --- IntervalSet -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IntervalSet:
    """A set of ports as canonical inclusive intervals (sorted, disjoint, non-adjacent)."""

    intervals: _Intervals = ()

    def __post_init__(self) -> None:
        if not _is_canonical(self.intervals):
            raise ValueError(f"non-canonical intervals {self.intervals!r}; use IntervalSet.of()")

    @staticmethod
    def of(*ranges: tuple[int, int]) -> IntervalSet:
        """Normalise arbitrary inclusive pairs: clip to the port range, drop empty ones, merge."""
        clipped = ((max(s, MIN_PORT), min(e, MAX_PORT)) for s, e in ranges)
        return _intervals(_coalesce(sorted(pair for pair in clipped if pair[0] <= pair[1])))

    @staticmethod
    def empty() -> IntervalSet:
        return _EMPTY_PORTS

    @staticmethod
    def full() -> IntervalSet:
        return _FULL_PORTS

    def __or__(self, other: IntervalSet) -> IntervalSet:
        if not other.intervals or self is other:
            return self
        if not self.intervals:
            return other
        return _intervals(_union(self.intervals, other.intervals))

    def __and__(self, other: IntervalSet) -> IntervalSet:
        if self is other:
            return self
        return _intervals(_intersection(self.intervals, other.intervals))

    def __sub__(self, other: IntervalSet) -> IntervalSet:
        if not other.intervals or not self.intervals:
            return self
        return _intervals(_difference(self.intervals, other.intervals))

    def __invert__(self) -> IntervalSet:
        return self.complement()

    def complement(self) -> IntervalSet:
        """The ports of ``MIN_PORT..MAX_PORT`` not in this set."""
        return _intervals(_complement(self.intervals))

    def __bool__(self) -> bool:
        return bool(self.intervals)

    def __contains__(self, port: object) -> bool:
        if not isinstance(port, int):
            return False
        index = bisect_right(self.intervals, (port, MAX_PORT + 1)) - 1
        return index >= 0 and port <= self.intervals[index][1]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(self.intervals)

    @property
    def is_full(self) -> bool:
        return self.intervals == _FULL_INTERVALS

    @property
    def size(self) -> int:
        """The number of ports in the set."""
        return sum(end - start + 1 for start, end in self.intervals)

    def __str__(self) -> str:
        return ", ".join(str(s) if s == e else f"{s}-{e}" for s, e in self.intervals) or "none"


def _intervals(intervals: _Intervals) -> IntervalSet:
    """Wrap intervals already known to be canonical, skipping the validation of ``__init__``."""
    if not intervals:
        return _EMPTY_PORTS
    result = object.__new__(IntervalSet)
    object.__setattr__(result, "intervals", intervals)
    return result


_EMPTY_PORTS = IntervalSet()
_FULL_PORTS = IntervalSet(_FULL_INTERVALS)
_FULL_ICMP = IntervalSet(((MIN_PORT, MAX_ICMP_TYPE),))


# --- ConnectionSet -----------------------------------------------------------------------------

_Entries = tuple[tuple[Protocol, IntervalSet], ...]


def _full(protocol: Protocol) -> IntervalSet:
    """Every number of ``protocol``: its ports, its ICMP types, or the full range for OTHER."""
    return _FULL_ICMP if protocol.is_icmp else _FULL_PORTS


def _fits(protocol: Protocol, ports: IntervalSet) -> bool:
    if not protocol.numbered:
        return ports.is_full
    return ports.intervals[-1][1] <= protocol.top


def _valid_entries(entries: _Entries) -> bool:
    ranks = [_RANK[proto] for proto, _ in entries]
    ordered = all(a < b for a, b in pairwise(ranks))
    return ordered and all(ports and _fits(proto, ports) for proto, ports in entries)


@dataclass(frozen=True, slots=True)
class ConnectionSet:
    """Protocol × port sets, canonical: protocol order, no empty entry, ICMP types within
    0-255, OTHER entries full."""

    by_protocol: _Entries = ()

    def __post_init__(self) -> None:
        if not _valid_entries(self.by_protocol):
            raise ValueError(f"non-canonical connection set {self.by_protocol!r}")

    @staticmethod
    def empty() -> ConnectionSet:
        return _NOTHING

    @staticmethod
    def all() -> ConnectionSet:
        return _EVERYTHING

    @staticmethod
    def of_protocol(protocol: Protocol) -> ConnectionSet:
        """Every port (ICMP type) of ``protocol``; the whole protocol for OTHER."""
        return _connections(((protocol, _full(protocol)),))

    @staticmethod
    def of_port(protocol: Protocol, port: int) -> ConnectionSet:
        """One port (ICMP type) of ``protocol``; the number is ignored for OTHER."""
        if not protocol.numbered:
            return ConnectionSet.of_protocol(protocol)
        if not MIN_PORT <= port <= protocol.top:
            raise ValueError(f"number {port} outside {MIN_PORT}..{protocol.top} for {protocol.value}")
        return _connections(((protocol, _intervals(((port, port),))),))

    @staticmethod
    def of_range(port_range: PortRange) -> ConnectionSet:
        """The ports of one range (empty when ``start > end``); an OTHER range is the whole protocol."""
        return ConnectionSet.from_ranges((port_range,))

    @staticmethod
    def from_ranges(ranges: Iterable[PortRange]) -> ConnectionSet:
        """The union of ``ranges``."""
        grouped: dict[Protocol, list[tuple[int, int]]] = {}
        for r in ranges:
            proto = r.protocol
            pair = (r.start, min(r.end, proto.top)) if proto.numbered else (MIN_PORT, MAX_PORT)
            if pair[0] <= pair[1]:
                grouped.setdefault(proto, []).append(pair)
        return _connections(tuple((p, IntervalSet.of(*grouped[p])) for p in _PROTOCOLS if p in grouped))

    def _combine(
        self, other: ConnectionSet, op: Callable[[IntervalSet, IntervalSet], IntervalSet]
    ) -> ConnectionSet:
        mine, theirs = dict(self.by_protocol), dict(other.by_protocol)
        pairs = ((p, op(mine.get(p, _EMPTY_PORTS), theirs.get(p, _EMPTY_PORTS))) for p in _PROTOCOLS)
        return _connections(tuple(pairs))

    def __or__(self, other: ConnectionSet) -> ConnectionSet:
        if not other.by_protocol or self is other:
            return self
        if not self.by_protocol:
            return other
        return self._combine(other, IntervalSet.__or__)

    def __and__(self, other: ConnectionSet) -> ConnectionSet:
        if self is other:
            return self
        return self._combine(other, IntervalSet.__and__)

    def __sub__(self, other: ConnectionSet) -> ConnectionSet:
        if not other.by_protocol or not self.by_protocol:
            return self
        return self._combine(other, IntervalSet.__sub__)

    def __bool__(self) -> bool:
        return bool(self.by_protocol)

    @property
    def is_all(self) -> bool:
        return self is _EVERYTHING or self.by_protocol == _EVERYTHING.by_protocol

    def ports(self, protocol: Protocol) -> IntervalSet:
        """The ports (ICMP types) admitted for ``protocol`` (full or empty for OTHER)."""
        for proto, ports in self.by_protocol:
            if proto is protocol:
                return ports
        return _EMPTY_PORTS

    def contains(self, protocol: Protocol, port: int) -> bool:
        """Whether ``port``/``protocol`` (an ICMP type for ICMP) is in the set; the number is
        ignored for OTHER."""
        ports = self.ports(protocol)
        return port in ports if protocol.numbered else bool(ports)

    def protocols(self) -> tuple[Protocol, ...]:
        return tuple(proto for proto, _ in self.by_protocol)

    def ranges(self) -> tuple[PortRange, ...]:
        """One :class:`PortRange` per interval, in canonical order."""
        return tuple(PortRange(proto, s, e) for proto, ports in self.by_protocol for s, e in ports)

    def to_json(self) -> list[JsonConnection]:
        return [
            {"protocol": proto.value, "ports": [[s, e] for s, e in ports] if proto.numbered else None}
            for proto, ports in self.by_protocol
        ]

    def __str__(self) -> str:
        if not self.by_protocol:
            return "nothing"
        if self.is_all:
            return "all traffic"
        return ", ".join(_text(r) for r in self.ranges())


def _text(r: PortRange) -> str:
    """A range as text; a whole ICMP/ICMPv6/OTHER entry is just the protocol's name."""
    whole = r.start == MIN_PORT and r.end >= r.protocol.top
    return r.protocol.value if not r.protocol.has_ports and whole else str(r)


def _connections(entries: _Entries) -> ConnectionSet:
    """Wrap protocol-ordered entries, dropping empty ones; skips the validation of ``__init__``."""
    kept = tuple(entry for entry in entries if entry[1].intervals)
    if not kept:
        return _NOTHING
    result = object.__new__(ConnectionSet)
    object.__setattr__(result, "by_protocol", kept)
    return result


_NOTHING = ConnectionSet()
_EVERYTHING = ConnectionSet(tuple((proto, _full(proto)) for proto in _PROTOCOLS))
