"""SCTP INIT packets and the predicted-vs-observed comparison (pure)."""

from __future__ import annotations

import struct

import pytest

from kubefence.engine.matrix import Verdicts
from kubefence.errors import LabError
from kubefence.lab.compare import Discrepancy, compare
from kubefence.lab.sctp import Init, build_init, crc32c, parse_init


def test_crc32c_check_value() -> None:
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(b"") == 0


def test_init_round_trips_and_carries_a_valid_checksum() -> None:
    init = Init(40000, 80, 0xDEADBEEF)
    packet = build_init(init)
    assert len(packet) == 32
    assert parse_init(packet, ipv4_header=False) == init
    (stored,) = struct.unpack_from("<I", packet, 8)
    assert stored == crc32c(packet[:8] + b"\0\0\0\0" + packet[12:])


def test_init_is_found_behind_an_ipv4_header() -> None:
    init = Init(1234, 81, 7)
    ip_header = bytes([0x45]) + bytes(19)
    assert parse_init(ip_header + build_init(init), ipv4_header=True) == init


@pytest.mark.parametrize(
    "packet",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\0" * 31, id="short"),
        pytest.param(
            build_init(Init(1, 2, 3))[:12] + b"\x02" + build_init(Init(1, 2, 3))[13:], id="not-init"
        ),
        pytest.param(
            build_init(Init(1, 2, 3))[:4] + b"\0\0\0\1" + build_init(Init(1, 2, 3))[8:], id="vtag-set"
        ),
    ],
)
def test_other_packets_are_not_inits(packet: bytes) -> None:
    assert parse_init(packet, ipv4_header=False) is None


A, B = ("x/a", "x/b", 80, "TCP"), ("x/b", "x/a", 80, "TCP")


@pytest.mark.parametrize(
    ("predicted", "observed", "expected"),
    [
        pytest.param(Verdicts((A, B), ()), Verdicts((A, B), ()), [], id="agree"),
        pytest.param(
            Verdicts((A, B), ()),
            Verdicts((B,), (A,)),
            [["x/a", "x/b", 80, "TCP", "predicted allow, observed deny"]],
            id="missed-allow",
        ),
        pytest.param(
            Verdicts((), (A, B)),
            Verdicts((B,), (A,)),
            [["x/b", "x/a", 80, "TCP", "predicted deny, observed allow"]],
            id="leak",
        ),
    ],
)
def test_compare(predicted: Verdicts, observed: Verdicts, expected: list[list[object]]) -> None:
    assert [d.to_json() for d in compare(predicted, observed)] == expected


def test_compare_refuses_different_tuple_sets() -> None:
    with pytest.raises(LabError, match="differ"):
        compare(Verdicts((A, B), ()), Verdicts((A,), ()))


def test_discrepancy_message() -> None:
    assert Discrepancy("a/a", "b/b", 1, "UDP", True).message == "predicted allow, observed deny"
