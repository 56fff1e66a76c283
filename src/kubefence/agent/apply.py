"""The only module that talks to the kernel: libnftables in process (through ctypes, since
Debian's python3-nftables binds the system Python only) and conntrack through pyroute2.

Every ruleset change is one libnftables command buffer, i.e. one netlink transaction: the
kernel applies all of it or none of it, so there is never a window with half a ruleset.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import ipaddress
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kubefence.errors import ApplyError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

__all__ = ["ConntrackEntry", "Nft", "NftTable", "conntrack_entries", "delete_conntrack", "in_netns"]

_NFT_CTX_OUTPUT_JSON = 1 << 4
_LIB_NAMES = ("libnftables.so.1", "libnftables.so")


def _load() -> ctypes.CDLL:
    found = ctypes.util.find_library("nftables")
    for name in (found, *_LIB_NAMES):
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        _declare(lib)
        return lib
    raise ApplyError("libnftables is not installed (Debian: apt-get install libnftables1 nftables)")


def _declare(lib: ctypes.CDLL) -> None:
    lib.nft_ctx_new.restype = ctypes.c_void_p
    lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
    lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
    lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
    lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
    lib.nft_ctx_output_get_flags.restype = ctypes.c_uint
    lib.nft_ctx_output_get_flags.argtypes = [ctypes.c_void_p]
    lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.nft_run_cmd_from_buffer.restype = ctypes.c_int


_CLONE_NEWNET = 0x40000000


@contextlib.contextmanager
def in_netns(name: str | None) -> Iterator[None]:
    """Run the block with this thread in network namespace ``name`` (``ip netns`` name); netlink
    sockets opened inside stay bound to it afterwards."""
    if name is None:
        yield
        return
    libc = ctypes.CDLL(None, use_errno=True)
    original = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    except OSError as e:
        os.close(original)
        raise ApplyError(f"no network namespace {name!r}: {e.strerror}") from None
    try:
        if libc.setns(target, _CLONE_NEWNET) != 0:
            raise ApplyError(f"cannot enter network namespace {name!r}: {os.strerror(ctypes.get_errno())}")
        yield
    finally:
        libc.setns(original, _CLONE_NEWNET)
        os.close(target)
        os.close(original)


class Nft:
    """One libnftables context, bound to the network namespace it was created in (``netns``:
    an ``ip netns`` name, default the current one)."""

    def __init__(self, netns: str | None = None) -> None:
        self._lib = _load()
        with in_netns(netns):
            ctx = self._lib.nft_ctx_new(0)
        if not ctx:
            raise ApplyError("nft_ctx_new failed")
        self._ctx = ctypes.c_void_p(ctx)
        self._lib.nft_ctx_buffer_output(self._ctx)
        self._lib.nft_ctx_buffer_error(self._ctx)

    def run(self, commands: str, *, json_output: bool = False) -> str:
        """Run a command buffer (text or JSON) as one transaction; ApplyError with nft's message."""
        flags = self._lib.nft_ctx_output_get_flags(self._ctx)
        wanted = flags | _NFT_CTX_OUTPUT_JSON if json_output else flags & ~_NFT_CTX_OUTPUT_JSON
        self._lib.nft_ctx_output_set_flags(self._ctx, wanted)
        rc = self._lib.nft_run_cmd_from_buffer(self._ctx, commands.encode())
        out = (self._lib.nft_ctx_get_output_buffer(self._ctx) or b"").decode()
        err = (self._lib.nft_ctx_get_error_buffer(self._ctx) or b"").decode()
        if rc != 0:
            raise ApplyError(f"nftables refused the change: {err.strip() or 'error ' + str(rc)}")
        return out

    def close(self) -> None:
        if self._ctx:
            self._lib.nft_ctx_free(self._ctx)
            self._ctx = ctypes.c_void_p()


@dataclass
class NftTable:
    """The agent's own ``inet`` table (and the extra tables ``names``, kept in step with it):
    replace them, patch their elements, read them back, delete them."""

    nft: Nft
    name: str

    def replace(self, script: str) -> None:
        """Load a full-replace script (``table``; ``delete table``; ``table {...}``) atomically."""
        self.nft.run(script)

    def patch(self, commands: Iterable[str]) -> None:
        """Element adds/deletes, all in one transaction."""
        batch = "\n".join(commands)
        if batch:
            self.nft.run(batch)

    names: tuple[str, ...] = ()

    def listing(self) -> str | None:
        """The tables as the kernel has them (text), or None when one does not exist."""
        out = []
        for name in (self.name, *self.names):
            try:
                out.append(self.nft.run(f"list table inet {name}"))
            except ApplyError:
                return None
        return "".join(out)

    def delete(self) -> None:
        for name in (self.name, *self.names):
            with contextlib.suppress(ApplyError):
                self.nft.run(f"delete table inet {name}")


@dataclass(frozen=True, slots=True)
class ConntrackEntry:
    """The original direction of a tracked connection."""

    src: ipaddress.IPv4Address | ipaddress.IPv6Address
    dst: ipaddress.IPv4Address | ipaddress.IPv6Address
    protocol: str  # "TCP" | "UDP" | "SCTP"
    dport: int


_PROTO_NUMBERS = {6: "TCP", 17: "UDP", 132: "SCTP"}


def _entry(raw: Any) -> tuple[ConntrackEntry, Any] | None:
    tup = raw.tuple_orig
    name = _PROTO_NUMBERS.get(tup.proto)
    if name is None or tup.saddr is None or tup.daddr is None or tup.dport is None:
        return None
    entry = ConntrackEntry(
        ipaddress.ip_address(tup.saddr), ipaddress.ip_address(tup.daddr), name, int(tup.dport)
    )
    return entry, tup


def _conntrack() -> Any:
    try:
        from pyroute2 import Conntrack
    except ImportError as e:  # pragma: no cover - the agent extra installs it
        raise ApplyError(
            "pyroute2 is needed to cut revoked connections (pip install 'kubefence[agent]')"
        ) from e
    return Conntrack()


def conntrack_entries() -> list[ConntrackEntry]:
    """The tracked TCP/UDP/SCTP connections of this network namespace."""
    with _conntrack() as ct:
        return [found[0] for raw in ct.dump_entries() if (found := _entry(raw)) is not None]


def delete_conntrack(revoked: Callable[[ConntrackEntry], bool]) -> int:
    """Delete the tracked connections (of this network namespace) that ``revoked`` says a new
    ruleset no longer allows; returns how many were cut."""
    cut = 0
    with _conntrack() as ct:
        for raw in list(ct.dump_entries()):
            found = _entry(raw)
            if found is not None and revoked(found[0]):
                try:
                    ct.entry("del", tuple_orig=found[1])
                    cut += 1
                except Exception:
                    continue
    return cut
