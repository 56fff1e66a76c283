"""The lab's server process: TCP accept-and-reply and UDP echo on every probed port of every
endpoint, all from one process and one selector loop.

Run as a script (``python serve.py``, standard library only, so it starts fast) with a JSON
spec on stdin::

    {"home": NETNS, "lifetime": SECONDS, "parent": PID | null,
     "listen": [{"netns": NETNS, "addrs": [IP, ...], "tcp": [PORT, ...], "udp": [PORT, ...]}]}

The main thread moves into ``home`` (a lab namespace, so teardown finds this process there),
then opens each listening socket inside its endpoint's namespace (``setns(2)`` switches only
the calling thread; a socket stays in the namespace it was opened in). It prints ``ready``
``ready PID`` once every socket is bound, from a detached child that keeps serving while
the first process exits, and exits after ``lifetime`` seconds, on SIGTERM, or when the
process ``parent`` ends. SCTP is not served here: the prober sees INITs arrive
with raw sockets of its own.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import selectors
import socket
import sys
import time
from typing import Any

__all__ = ["main"]

CLONE_NEWNET = 0x40000000
BACKLOG = 1024


def _setns(path: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {path}")
    finally:
        os.close(fd)


def _open(addr: str, port: int, kind: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    sock = socket.socket(family, kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setblocking(False)
    sock.bind((addr, port))
    if kind == socket.SOCK_STREAM:
        sock.listen(BACKLOG)
    return sock


def _listen(spec: dict[str, Any], sel: selectors.BaseSelector) -> None:
    home = "/proc/thread-self/ns/net"
    home_fd = os.open(home, os.O_RDONLY | os.O_CLOEXEC)
    libc = ctypes.CDLL(None, use_errno=True)
    try:
        for entry in spec["listen"]:
            _setns(f"/run/netns/{entry['netns']}")
            try:
                for addr in entry["addrs"]:
                    for port in entry["tcp"]:
                        sel.register(_open(addr, port, socket.SOCK_STREAM), selectors.EVENT_READ, "tcp")
                    for port in entry["udp"]:
                        sel.register(_open(addr, port, socket.SOCK_DGRAM), selectors.EVENT_READ, "udp")
            finally:
                if libc.setns(home_fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns back")
    finally:
        os.close(home_fd)


def _serve_one(sock: socket.socket, kind: str) -> None:
    with contextlib.suppress(OSError):
        if kind == "udp":
            data, peer = sock.recvfrom(2048)
            sock.sendto(data, peer)
            return
        conn, _ = sock.accept()
        with conn:
            conn.setblocking(False)
            with contextlib.suppress(OSError):
                conn.send(b"kubefence-lab\n")


def _loop(sel: selectors.BaseSelector, deadline: float, parent: int | None) -> None:
    if parent is not None:
        try:
            sel.register(os.pidfd_open(parent), selectors.EVENT_READ, "parent")
        except ProcessLookupError:
            return
    while time.monotonic() < deadline:
        for key, _ in sel.select(timeout=max(0.0, min(5.0, deadline - time.monotonic()))):
            if key.data == "parent":
                return
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            _serve_one(sock, key.data)


def _detach() -> None:
    """Fork: the parent exits at once (so whoever started us can reap it) and the child, in a
    session of its own, keeps the sockets."""
    if os.fork() != 0:
        os._exit(0)
    os.setsid()


def main() -> int:
    spec = json.load(sys.stdin)
    _setns(f"/run/netns/{spec['home']}")
    sel = selectors.DefaultSelector()
    try:
        _listen(spec, sel)
    except OSError as e:
        print(f"kubefence lab server: {e}", file=sys.stderr, flush=True)
        return 1
    _detach()
    print(f"ready {os.getpid()}", flush=True)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(devnull, fd)
    _loop(sel, time.monotonic() + float(spec["lifetime"]), spec.get("parent"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
