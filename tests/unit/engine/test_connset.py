"""Table-driven unit tests of the connection-set algebra (kubefence.engine.connset)."""

from __future__ import annotations

import pytest

from kubefence.engine.connset import ConnectionSet, IntervalSet
from kubefence.ir.ports import MAX_PORT, MIN_PORT, PortRange, Protocol

TCP, UDP, SCTP = Protocol.TCP, Protocol.UDP, Protocol.SCTP
ICMP, ICMPV6, OTHER = Protocol.ICMP, Protocol.ICMPV6, Protocol.OTHER

Pairs = tuple[tuple[int, int], ...]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param((), (), id="empty"),
        pytest.param(((80, 80),), ((80, 80),), id="single-port"),
        pytest.param(((1, 5), (6, 9)), ((1, 9),), id="adjacent-merged"),
        pytest.param(((6, 9), (1, 5)), ((1, 9),), id="adjacent-unsorted-merged"),
        pytest.param(((1, 5), (7, 9)), ((1, 5), (7, 9)), id="gap-of-one-kept"),
        pytest.param(((1, 10), (3, 4)), ((1, 10),), id="contained"),
        pytest.param(((1, 5), (3, 8), (8, 12)), ((1, 12),), id="overlap-chain"),
        pytest.param(((5, 5), (5, 5)), ((5, 5),), id="duplicates"),
        pytest.param(((9, 3),), (), id="inverted-dropped"),
        pytest.param(((-10, 3), (65530, 70000)), ((0, 3), (65530, 65535)), id="clipped"),
        pytest.param(((-10, -1), (65536, 70000)), (), id="outside-dropped"),
        pytest.param(((0, 65534), (65535, 65535)), ((0, 65535),), id="adjacent-to-full"),
    ],
)
def test_of_normalises(given: Pairs, expected: Pairs) -> None:
    assert IntervalSet.of(*given).intervals == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param((), ((0, 65535),), id="empty-to-full"),
        pytest.param(((0, 65535),), (), id="full-to-empty"),
        pytest.param(((0, 0),), ((1, 65535),), id="lowest-port"),
        pytest.param(((65535, 65535),), ((0, 65534),), id="highest-port"),
        pytest.param(((0, 0), (65535, 65535)), ((1, 65534),), id="both-edges"),
        pytest.param(((1, 65534),), ((0, 0), (65535, 65535)), id="all-but-edges"),
        pytest.param(((10, 20), (30, 40)), ((0, 9), (21, 29), (41, 65535)), id="two-holes"),
    ],
)
def test_complement(given: Pairs, expected: Pairs) -> None:
    ports = IntervalSet.of(*given)
    assert (~ports).intervals == expected
    assert ports.complement() == ~ports
    assert ~~ports == ports


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        pytest.param(((1, 100),), ((50, 50),), ((1, 49), (51, 100)), id="split-in-middle"),
        pytest.param(((1, 100),), ((1, 1),), ((2, 100),), id="trim-start"),
        pytest.param(((1, 100),), ((100, 200),), ((1, 99),), id="trim-end"),
        pytest.param(((1, 100),), ((0, 200),), (), id="swallowed"),
        pytest.param(((1, 100),), ((10, 20), (30, 40)), ((1, 9), (21, 29), (41, 100)), id="split-twice"),
        pytest.param(((1, 10), (20, 30)), ((5, 25),), ((1, 4), (26, 30)), id="spans-two"),
        pytest.param(((0, 65535),), ((0, 0), (65535, 65535)), ((1, 65534),), id="full-minus-edges"),
        pytest.param(((1, 5),), ((6, 9),), ((1, 5),), id="disjoint"),
        pytest.param((), ((6, 9),), (), id="empty-left"),
    ],
)
def test_difference(left: Pairs, right: Pairs, expected: Pairs) -> None:
    assert (IntervalSet.of(*left) - IntervalSet.of(*right)).intervals == expected


@pytest.mark.parametrize(
    ("left", "right", "union", "intersection"),
    [
        pytest.param(((1, 5),), ((6, 9),), ((1, 9),), (), id="adjacent"),
        pytest.param(((1, 5),), ((3, 9),), ((1, 9),), ((3, 5),), id="overlapping"),
        pytest.param(((1, 2), (8, 9)), ((3, 7),), ((1, 9),), (), id="fills-gap"),
        pytest.param(((1, 10),), ((2, 3), (5, 6)), ((1, 10),), ((2, 3), (5, 6)), id="contains-both"),
        pytest.param(((1, 4), (6, 9)), ((4, 6),), ((1, 9),), ((4, 4), (6, 6)), id="bridges"),
        pytest.param((), ((0, 65535),), ((0, 65535),), (), id="empty-and-full"),
    ],
)
def test_union_and_intersection(left: Pairs, right: Pairs, union: Pairs, intersection: Pairs) -> None:
    a, b = IntervalSet.of(*left), IntervalSet.of(*right)
    assert (a | b).intervals == union
    assert (b | a).intervals == union
    assert (a & b).intervals == intersection
    assert (b & a).intervals == intersection


@pytest.mark.parametrize(
    ("given", "port", "expected"),
    [
        pytest.param(((1, 5), (10, 20)), 0, False, id="below"),
        pytest.param(((1, 5), (10, 20)), 1, True, id="first-start"),
        pytest.param(((1, 5), (10, 20)), 5, True, id="first-end"),
        pytest.param(((1, 5), (10, 20)), 7, False, id="in-gap"),
        pytest.param(((1, 5), (10, 20)), 20, True, id="last-end"),
        pytest.param(((1, 5), (10, 20)), 21, False, id="above"),
        pytest.param((), 0, False, id="empty"),
        pytest.param(((0, 65535),), 65535, True, id="full-top"),
    ],
)
def test_interval_contains(given: Pairs, port: int, expected: bool) -> None:
    assert (port in IntervalSet.of(*given)) is expected


@pytest.mark.parametrize(
    ("given", "size", "is_full", "truthy"),
    [
        pytest.param((), 0, False, False, id="empty"),
        pytest.param(((80, 80),), 1, False, True, id="one"),
        pytest.param(((1, 5), (10, 19)), 15, False, True, id="two"),
        pytest.param(((0, 65535),), 65536, True, True, id="full"),
    ],
)
def test_interval_measures(given: Pairs, size: int, is_full: bool, truthy: bool) -> None:
    ports = IntervalSet.of(*given)
    assert ports.size == size
    assert ports.is_full is is_full
    assert bool(ports) is truthy
    assert list(ports) == list(given)


def test_interval_singletons() -> None:
    assert IntervalSet.empty() == IntervalSet() == IntervalSet.of()
    assert IntervalSet.full() == IntervalSet.of((MIN_PORT, MAX_PORT))
    assert IntervalSet.full().is_full


@pytest.mark.parametrize(
    "intervals",
    [
        pytest.param(((5, 9), (1, 3)), id="unsorted"),
        pytest.param(((1, 5), (6, 9)), id="adjacent"),
        pytest.param(((1, 5), (4, 9)), id="overlapping"),
        pytest.param(((9, 5),), id="inverted"),
        pytest.param(((-1, 5),), id="negative"),
        pytest.param(((0, 65536),), id="too-high"),
    ],
)
def test_interval_set_rejects_non_canonical(intervals: Pairs) -> None:
    with pytest.raises(ValueError, match="non-canonical"):
        IntervalSet(intervals)


# --- ConnectionSet -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("connections", "expected"),
    [
        pytest.param(ConnectionSet.all(), "all traffic", id="all"),
        pytest.param(ConnectionSet.empty(), "nothing", id="nothing"),
        pytest.param(ConnectionSet.of_port(TCP, 80), "80/TCP", id="one-port"),
        pytest.param(ConnectionSet.of_protocol(UDP), "all UDP", id="whole-protocol"),
        pytest.param(ConnectionSet.of_protocol(ICMP), "ICMP", id="icmp"),
        pytest.param(ConnectionSet.of_port(ICMPV6, 7), "ICMPv6 type 7", id="icmpv6-type"),
        pytest.param(ConnectionSet.of_range(PortRange(OTHER, 7, 7)), "OTHER", id="other-number-ignored"),
        pytest.param(
            ConnectionSet.from_ranges(
                [PortRange(ICMP), PortRange(UDP), PortRange(TCP, 8080, 8090), PortRange(TCP, 80, 80)]
            ),
            "80/TCP, 8080-8090/TCP, all UDP, ICMP",
            id="mixed",
        ),
        pytest.param(
            ConnectionSet.all() - ConnectionSet.of_protocol(OTHER),
            "all TCP, all UDP, all SCTP, ICMP, ICMPv6",
            id="all-but-other",
        ),
        pytest.param(
            ConnectionSet.of_protocol(SCTP) - ConnectionSet.of_port(SCTP, 0),
            "1-65535/SCTP",
            id="full-minus-zero",
        ),
    ],
)
def test_str(connections: ConnectionSet, expected: str) -> None:
    assert str(connections) == expected


@pytest.mark.parametrize(
    ("connections", "protocol", "port", "expected"),
    [
        pytest.param(ConnectionSet.of_protocol(ICMP), ICMP, 0, True, id="icmp-any-port"),
        pytest.param(ConnectionSet.of_protocol(ICMP), ICMP, 255, True, id="icmp-every-type"),
        pytest.param(ConnectionSet.of_protocol(ICMP), ICMP, 256, False, id="icmp-no-type-above-255"),
        pytest.param(ConnectionSet.of_port(ICMPV6, 3), ICMPV6, 3, True, id="icmpv6-type"),
        pytest.param(ConnectionSet.of_port(ICMPV6, 3), ICMPV6, 99, False, id="icmpv6-other-type"),
        pytest.param(ConnectionSet.of_range(PortRange(OTHER, 5, 6)), OTHER, 70000, True, id="other"),
        pytest.param(ConnectionSet.of_protocol(ICMP), ICMPV6, 0, False, id="icmp-not-icmpv6"),
        pytest.param(ConnectionSet.of_port(TCP, 80), ICMP, 80, False, id="tcp-not-icmp"),
        pytest.param(ConnectionSet.of_port(TCP, 80), TCP, 80, True, id="tcp-port"),
        pytest.param(ConnectionSet.of_port(TCP, 80), TCP, 81, False, id="tcp-other-port"),
        pytest.param(ConnectionSet.of_port(TCP, 80), UDP, 80, False, id="udp-same-port"),
        pytest.param(ConnectionSet.all(), SCTP, 65535, True, id="all-sctp"),
        pytest.param(ConnectionSet.empty(), OTHER, 0, False, id="nothing"),
    ],
)
def test_contains(connections: ConnectionSet, protocol: Protocol, port: int, expected: bool) -> None:
    assert connections.contains(protocol, port) is expected


@pytest.mark.parametrize(
    ("left", "right"),
    [
        pytest.param(
            ConnectionSet.from_ranges([PortRange(TCP, 1, 5), PortRange(TCP, 6, 9)]),
            ConnectionSet.of_range(PortRange(TCP, 1, 9)),
            id="adjacent-ranges",
        ),
        pytest.param(
            ConnectionSet.of_port(UDP, 53) | ConnectionSet.of_port(TCP, 53),
            ConnectionSet.from_ranges([PortRange(TCP, 53, 53), PortRange(UDP, 53, 53)]),
            id="protocol-order",
        ),
        pytest.param(
            ConnectionSet.from_ranges(PortRange(proto) for proto in reversed(Protocol)),
            ConnectionSet.all(),
            id="all-from-parts",
        ),
        pytest.param(
            ConnectionSet.of_protocol(TCP) - ConnectionSet.of_protocol(TCP),
            ConnectionSet.empty(),
            id="difference-to-empty",
        ),
        pytest.param(
            ConnectionSet.of_range(PortRange(TCP, 10, 5)),
            ConnectionSet.empty(),
            id="inverted-range-empty",
        ),
        pytest.param(
            ConnectionSet.of_range(PortRange(OTHER, 3, 3)),
            ConnectionSet.of_protocol(OTHER),
            id="portless-range-whole",
        ),
        pytest.param(
            ConnectionSet.of_range(PortRange(ICMP, 0, 9999)),
            ConnectionSet.of_protocol(ICMP),
            id="icmp-types-end-at-255",
        ),
        pytest.param(
            ConnectionSet.all() & ConnectionSet.of_range(PortRange(SCTP, 100, 200)),
            ConnectionSet.from_ranges([PortRange(SCTP, 100, 150), PortRange(SCTP, 151, 200)]),
            id="intersection",
        ),
        pytest.param(
            (ConnectionSet.of_protocol(UDP) - ConnectionSet.of_port(UDP, 0)) | ConnectionSet.of_port(UDP, 0),
            ConnectionSet.of_protocol(UDP),
            id="split-and-rejoin",
        ),
    ],
)
def test_equal_sets_built_differently(left: ConnectionSet, right: ConnectionSet) -> None:
    assert left == right
    assert hash(left) == hash(right)
    assert left.by_protocol == right.by_protocol


@pytest.mark.parametrize(
    ("left", "right", "union", "intersection", "difference"),
    [
        pytest.param(
            ConnectionSet.of_range(PortRange(TCP, 1, 100)),
            ConnectionSet.of_range(PortRange(TCP, 50, 150)),
            "1-150/TCP",
            "50-100/TCP",
            "1-49/TCP",
            id="overlapping-tcp",
        ),
        pytest.param(
            ConnectionSet.of_protocol(TCP),
            ConnectionSet.of_protocol(ICMP),
            "all TCP, ICMP",
            "nothing",
            "all TCP",
            id="disjoint-protocols",
        ),
        pytest.param(
            ConnectionSet.all(),
            ConnectionSet.of_port(UDP, 53) | ConnectionSet.of_protocol(ICMPV6),
            "all traffic",
            "53/UDP, ICMPv6",
            "all TCP, 0-52/UDP, 54-65535/UDP, all SCTP, ICMP, OTHER",
            id="all-versus-some",
        ),
    ],
)
def test_connection_algebra(
    left: ConnectionSet, right: ConnectionSet, union: str, intersection: str, difference: str
) -> None:
    assert str(left | right) == union
    assert str(left & right) == intersection
    assert str(left - right) == difference


def test_accessors() -> None:
    connections = ConnectionSet.from_ranges(
        [PortRange(OTHER), PortRange(TCP, 80, 80), PortRange(TCP, 443, 443), PortRange(UDP)]
    )
    assert connections.protocols() == (TCP, UDP, OTHER)
    assert connections.ports(TCP) == IntervalSet.of((80, 80), (443, 443))
    assert connections.ports(SCTP) == IntervalSet.empty()
    assert connections.ports(OTHER).is_full
    assert connections.ranges() == (
        PortRange(TCP, 80, 80),
        PortRange(TCP, 443, 443),
        PortRange(UDP),
        PortRange(OTHER),
    )
    assert connections.to_json() == [
        {"protocol": "TCP", "ports": [[80, 80], [443, 443]]},
        {"protocol": "UDP", "ports": [[0, 65535]]},
        {"protocol": "OTHER", "ports": None},
    ]
    assert bool(connections) and not connections.is_all


@pytest.mark.parametrize(
    ("connections", "is_all", "truthy"),
    [
        pytest.param(ConnectionSet.all(), True, True, id="all"),
        pytest.param(ConnectionSet.empty(), False, False, id="empty"),
        pytest.param(ConnectionSet.all() - ConnectionSet.of_port(TCP, 65535), False, True, id="almost-all"),
        pytest.param(ConnectionSet.from_ranges(PortRange(p) for p in Protocol), True, True, id="rebuilt-all"),
    ],
)
def test_all_and_empty(connections: ConnectionSet, is_all: bool, truthy: bool) -> None:
    assert connections.is_all is is_all
    assert bool(connections) is truthy


@pytest.mark.parametrize("port", [pytest.param(-1, id="negative"), pytest.param(65536, id="too-high")])
def test_of_port_rejects_out_of_range(port: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        ConnectionSet.of_port(TCP, port)


@pytest.mark.parametrize(
    "entries",
    [
        pytest.param(((UDP, IntervalSet.full()), (TCP, IntervalSet.full())), id="unordered"),
        pytest.param(((TCP, IntervalSet.empty()),), id="empty-entry"),
        pytest.param(((TCP, IntervalSet.full()), (TCP, IntervalSet.full())), id="duplicate"),
        pytest.param(((OTHER, IntervalSet.of((1, 1))),), id="portless-partial"),
        pytest.param(((ICMP, IntervalSet.of((0, 300))),), id="icmp-type-above-255"),
    ],
)
def test_connection_set_rejects_non_canonical(entries: tuple[tuple[Protocol, IntervalSet], ...]) -> None:
    with pytest.raises(ValueError, match="non-canonical"):
        ConnectionSet(entries)
