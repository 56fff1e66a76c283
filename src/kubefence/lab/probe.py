"""Probes on real packets: for ordered pairs of endpoints × probes, does the packet get through?

* TCP: a non-blocking connect from the source's namespace and address; connected = allowed;
  a timeout, a reset or an ICMP error = denied (servers listen on every probed port, so only
  a policy can stop a connection).
* UDP: a datagram with a random token, resent every ``RESEND`` seconds; the server's echo of the
  token = allowed.
* SCTP: an INIT chunk (correct CRC32c) sent through a raw IP socket (protocol 132) from the
  source; allowed when a raw socket in the destination's namespace, bound to its address, sees
  that INIT (matched by its initiate tag, ports and source address) arrive. Resent like UDP.

Everything runs in one thread and one selector loop; sockets are opened inside the source's
namespace (``Namespaces.inside``) and keep living there. At most ``max_inflight`` probes are
in flight, each is bounded by ``timeout`` and the whole run by ``budget`` seconds.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import resource
import selectors
import socket
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kubefence.engine.matrix import Verdicts
from kubefence.engine.probes import Probe
from kubefence.errors import LabError
from kubefence.ir.ports import Protocol
from kubefence.lab.netns import Namespaces
from kubefence.lab.plan import Endpoint
from kubefence.lab.sctp import IPPROTO_SCTP, Init, build_init, parse_init

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from kubefence.ir.addresses import IPAddress

__all__ = ["DEFAULT_TIMEOUT", "Row", "all_pairs", "probe_pairs", "probe_tuples", "to_verdicts"]

Row = tuple[str, str, int, str]
DEFAULT_TIMEOUT = 1.0
RESEND = 0.25
MAX_INFLIGHT = 2048


def all_pairs(endpoints: Sequence[Endpoint]) -> list[tuple[Endpoint, Endpoint]]:
    """Every ordered pair of distinct endpoints."""
    return [(a, b) for a in endpoints for b in endpoints if a.key != b.key]


def to_verdicts(results: dict[Row, bool]) -> Verdicts:
    """Results in the tuple format of ``matrix -o json`` (in probing order)."""
    allowed = tuple(row for row, ok in results.items() if ok)
    denied = tuple(row for row, ok in results.items() if not ok)
    return Verdicts(allowed, denied)


@dataclass(eq=False, slots=True)
class _Attempt:
    row: Row
    src: Endpoint
    dst: Endpoint
    probe: Probe
    deadline: float = 0.0
    resend_at: float = 0.0
    sock: socket.socket | None = None
    payload: bytes = b""
    init: Init | None = None


@dataclass(slots=True)
class _Run:
    """One probing run: the selector, the raw SCTP sockets and the attempts in flight."""

    spaces: Namespaces
    timeout: float
    sel: selectors.BaseSelector = field(default_factory=selectors.DefaultSelector)
    raw: dict[tuple[str, str], socket.socket] = field(default_factory=dict)
    by_tag: dict[int, _Attempt] = field(default_factory=dict)
    inflight: set[_Attempt] = field(default_factory=set)
    results: dict[Row, bool] = field(default_factory=dict)

    def close(self) -> None:
        for attempt in list(self.inflight):
            self.finish(attempt, False)
        for sock in self.raw.values():
            self.sel.unregister(sock)
            sock.close()
        self.sel.close()

    def finish(self, attempt: _Attempt, allowed: bool) -> None:
        if attempt not in self.inflight:
            return
        self.inflight.discard(attempt)
        self.results[attempt.row] = allowed
        if attempt.sock is not None:
            self.sel.unregister(attempt.sock)
            attempt.sock.close()
            attempt.sock = None
        if attempt.init is not None:
            self.by_tag.pop(attempt.init.tag, None)

    # -- SCTP raw sockets, one per (namespace, address), for sending and receiving ----------
    def raw_socket(self, ep: Endpoint) -> socket.socket:
        key = (ep.netns, str(ep.ip))
        if key not in self.raw:
            family = socket.AF_INET6 if ep.ip.version == 6 else socket.AF_INET
            sock = self._open(ep, family, socket.SOCK_RAW, IPPROTO_SCTP)
            self.raw[key] = sock
            self.sel.register(sock, selectors.EVENT_READ, ep)
        return self.raw[key]

    def _open(self, ep: Endpoint, family: int, kind: int, proto: int = 0) -> socket.socket:
        """A non-blocking socket in ``ep``'s namespace bound to its address. Failing here is
        the lab's fault, never a verdict: LabError."""
        try:
            with self.spaces.inside(ep.netns):
                sock = socket.socket(family, kind, proto)
        except OSError as e:
            raise LabError(f"cannot open a probe socket in {ep.netns}: {e.strerror}") from None
        try:
            sock.setblocking(False)
            sock.bind((str(ep.ip), 0))
        except OSError as e:
            sock.close()
            raise LabError(f"cannot bind a probe socket to {ep.ip} in {ep.netns}: {e.strerror}") from None
        return sock

    # -- starting --------------------------------------------------------------------------
    def start(self, attempt: _Attempt, now: float) -> None:
        attempt.deadline = now + self.timeout
        self.inflight.add(attempt)
        if attempt.probe.protocol is Protocol.SCTP:
            self._start_sctp(attempt)
        else:
            self._start_socket(attempt)

    def _start_socket(self, attempt: _Attempt) -> None:
        src, dst = attempt.src, attempt.dst
        family = socket.AF_INET6 if dst.ip.version == 6 else socket.AF_INET
        tcp = attempt.probe.protocol is Protocol.TCP
        sock = attempt.sock = self._open(src, family, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
        self.sel.register(sock, selectors.EVENT_WRITE if tcp else selectors.EVENT_READ, attempt)
        # An error from connect (unreachable, refused, EPERM from a local drop) is a denial.
        code = sock.connect_ex((str(dst.ip), attempt.probe.port))
        if code not in (0, errno.EINPROGRESS):
            self.finish(attempt, False)
        elif not tcp:
            attempt.payload = os.urandom(12)
            self.resend(attempt, time.monotonic())

    def _start_sctp(self, attempt: _Attempt) -> None:
        self.raw_socket(attempt.dst)
        tag = 0
        while tag == 0 or tag in self.by_tag:
            tag = int.from_bytes(os.urandom(4), "big")
        sport = 32768 + int.from_bytes(os.urandom(2), "big") % 28000
        attempt.init = Init(sport, attempt.probe.port, tag)
        attempt.payload = build_init(attempt.init)
        self.by_tag[tag] = attempt
        self.resend(attempt, time.monotonic())

    def resend(self, attempt: _Attempt, now: float) -> None:
        """(Re)send a UDP datagram or SCTP INIT; losses are not denials."""
        attempt.resend_at = now + RESEND
        try:
            if attempt.init is not None:
                self.raw_socket(attempt.src).sendto(attempt.payload, (str(attempt.dst.ip), 0))
            elif attempt.sock is not None:
                attempt.sock.send(attempt.payload)
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self.finish(attempt, False)

    # -- events ----------------------------------------------------------------------------
    def on_event(self, key: selectors.SelectorKey) -> None:
        data = key.data
        if isinstance(data, _Attempt):
            self._on_socket(data)
        else:
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            self._on_raw(sock, data)

    def _on_socket(self, attempt: _Attempt) -> None:
        sock = attempt.sock
        assert sock is not None
        if attempt.probe.protocol is Protocol.TCP:
            self.finish(attempt, sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0)
            return
        try:
            data = sock.recv(2048)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.finish(attempt, False)
            return
        if data == attempt.payload:
            self.finish(attempt, True)

    def _on_raw(self, sock: socket.socket, dst: Endpoint) -> None:
        for _ in range(256):
            try:
                packet, peer = sock.recvfrom(4096)
            except (BlockingIOError, InterruptedError):
                return
            init = parse_init(packet, dst.ip.version == 4)
            attempt = self.by_tag.get(init.tag) if init is not None else None
            if attempt is not None and attempt.init == init and _source(packet, peer, dst) == attempt.src.ip:
                self.finish(attempt, True)

    def expire(self, now: float) -> None:
        for attempt in list(self.inflight):
            if now >= attempt.deadline:
                self.finish(attempt, False)
            elif attempt.payload and now >= attempt.resend_at:
                self.resend(attempt, now)

    def next_wakeup(self, now: float) -> float:
        times = [a.deadline for a in self.inflight] + [a.resend_at for a in self.inflight if a.payload]
        return max(0.0, min(times, default=now + RESEND) - now)


def _source(packet: bytes, peer: tuple[str, int] | tuple[str, int, int, int], dst: Endpoint) -> IPAddress:
    """The source address of a packet read from a raw socket."""
    if dst.ip.version == 4 and len(packet) >= 20:
        return ipaddress.IPv4Address(packet[12:16])
    return ipaddress.ip_address(peer[0].split("%")[0])


def _raise_fd_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))


def probe_pairs(
    pairs: Iterable[tuple[Endpoint, Endpoint]],
    probes: Sequence[Probe],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    budget: float | None = None,
    max_inflight: int = MAX_INFLIGHT,
) -> dict[Row, bool]:
    """Probe every pair × probe; ``{(src, dst, port, proto): allowed}`` in pair × probe order."""
    tasks = [(a, b, p) for a, b in pairs for p in probes]
    return probe_tuples(tasks, timeout=timeout, budget=budget, max_inflight=max_inflight)


def probe_tuples(
    tasks: Iterable[tuple[Endpoint, Endpoint, Probe]],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    budget: float | None = None,
    max_inflight: int = MAX_INFLIGHT,
) -> dict[Row, bool]:
    """Probe each (source, destination, probe), all concurrently; results in task order.

    ``budget`` bounds the whole run (default: enough for every wave of ``max_inflight``
    probes); LabError when it is exceeded.
    """
    attempts = [_Attempt((a.key, b.key, p.port, p.protocol.value), a, b, p) for a, b, p in tasks]
    waves = -(-len(attempts) // max(1, max_inflight))
    limit = budget if budget is not None else 10.0 + waves * (timeout + 1.0)
    _raise_fd_limit(min(max_inflight, len(attempts)) + 1024)
    order = {a.row: i for i, a in enumerate(attempts)}
    queue = sorted(attempts, key=lambda a: (a.src.netns, a.probe.protocol.value), reverse=True)
    with Namespaces() as spaces:
        run = _Run(spaces, timeout)
        try:
            _drive(run, queue, max_inflight, time.monotonic() + limit)
        finally:
            run.close()
    return dict(sorted(run.results.items(), key=lambda item: order[item[0]]))


def _drive(run: _Run, queue: list[_Attempt], max_inflight: int, deadline: float) -> None:
    while queue or run.inflight:
        now = time.monotonic()
        if now > deadline:
            raise LabError(f"probing did not finish in time ({len(queue) + len(run.inflight)} probes left)")
        while queue and len(run.inflight) < max_inflight:
            run.start(queue.pop(), now)
        for key, _ in run.sel.select(timeout=run.next_wakeup(time.monotonic())):
            run.on_event(key)
        run.expire(time.monotonic())
