"""SCTP INIT packets, built and recognised by hand (this kernel has no SCTP sockets).

A probe sends one INIT chunk through a raw IP socket (protocol 132) and the destination's raw
socket sees it arrive. The CRC32c checksum must be right: conntrack marks an SCTP packet with a
bad checksum invalid, and the agent's ruleset drops invalid packets.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["IPPROTO_SCTP", "Init", "build_init", "crc32c", "parse_init"]

IPPROTO_SCTP = 132
_INIT = 1
_POLY = 0x82F63B78  # CRC32c (Castagnoli), reflected


def _table() -> tuple[int, ...]:
    table = []
    for n in range(256):
        crc = n
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _table()


def crc32c(data: bytes) -> int:
    """CRC32c of ``data`` (``crc32c(b"123456789") == 0xE3069283``)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class Init:
    """The fields of an INIT that identify a probe."""

    src_port: int
    dst_port: int
    tag: int


def build_init(init: Init) -> bytes:
    """The SCTP packet (common header + INIT chunk) for ``init``, checksum filled in."""
    chunk = struct.pack("!BBHIIHHI", _INIT, 0, 20, init.tag, 65535, 1, 1, init.tag)
    header = struct.pack("!HHII", init.src_port, init.dst_port, 0, 0)
    packet = header + chunk
    # RFC 9260 appendix A: the CRC goes on the wire least significant byte first.
    return packet[:8] + struct.pack("<I", crc32c(packet)) + packet[12:]


def parse_init(packet: bytes, ipv4_header: bool) -> Init | None:
    """The INIT in a packet read from a raw socket (IPv4 raw sockets include the IP header)."""
    offset = (packet[0] & 0x0F) * 4 if ipv4_header and packet else 0
    sctp = packet[offset:]
    if len(sctp) < 32 or sctp[12] != _INIT:
        return None
    src_port, dst_port, vtag = struct.unpack_from("!HHI", sctp)
    (tag,) = struct.unpack_from("!I", sctp, 16)
    if vtag != 0:
        return None
    return Init(src_port, dst_port, tag)
