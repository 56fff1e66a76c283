"""Traffic for the data-plane benchmark: one server and three bounded client loads (stdlib only).

Run inside a network namespace (``ip netns exec``):

* ``traffic.py serve IP BULK CONN RR DENIED``: a bulk sink (replies with the byte count at EOF),
  an accept-and-close listener, a 1-byte echo and a second accept-and-close listener on a port
  no policy allows, one thread each; prints ``ready``.
* ``traffic.py probe IP PORT``: can a connection be opened (within 1 s)?
* ``traffic.py bulk IP PORT SECONDS``: one TCP stream for SECONDS → Gbit/s (bytes the server got).
* ``traffic.py conn IP PORT COUNT SECONDS``: sequential connect/close → connections/s.
* ``traffic.py rr IP PORT COUNT SECONDS``: 1-byte request/response → latency percentiles (µs).

``--cpu N`` first pins the process (and its threads) to CPU N. Each client prints one JSON
object. Every loop stops at its count or its time, whichever first.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

CHUNK = 4 << 20
CONNECT_TIMEOUT = 1.0
WARMUP = 200


def _listen(ip: str, port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, port))
    s.listen(4096)
    return s


def _sink(conn: socket.socket, buf: bytearray) -> None:
    total = 0
    while n := conn.recv_into(buf):
        total += n
    conn.sendall(struct.pack("!Q", total))


def _echo(conn: socket.socket, buf: bytearray) -> None:
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while data := conn.recv(1):
        conn.sendall(data)


def _close(conn: socket.socket, buf: bytearray) -> None:
    pass


def _loop(listener: socket.socket, handle: Callable[[socket.socket, bytearray], None]) -> None:
    """Serve connections one after the other; a client that goes away does not stop the loop."""
    buf = bytearray(CHUNK)
    while True:
        conn, _ = listener.accept()
        with conn:
            try:
                handle(conn, buf)
            except OSError:
                continue


def serve(ip: str, bulk: int, conn: int, rr: int, denied: int) -> None:
    workers = ((_sink, bulk), (_close, conn), (_echo, rr), (_close, denied))
    for handle, port in workers:
        threading.Thread(target=_loop, args=(_listen(ip, port), handle), daemon=True).start()
    print("ready", flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin (or kills us)


def _connect(ip: str, port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(CONNECT_TIMEOUT)
    try:
        s.connect((ip, port))
    except OSError:
        s.close()
        raise
    return s


def bulk(ip: str, port: int, seconds: float) -> dict[str, float]:
    payload = memoryview(bytearray(CHUNK))
    with _connect(ip, port) as s:
        s.settimeout(max(10.0, seconds * 3))
        start = time.perf_counter()
        deadline = start + seconds
        while time.perf_counter() < deadline:
            s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        (total,) = struct.unpack("!Q", s.recv(8, socket.MSG_WAITALL))
        elapsed = time.perf_counter() - start
    return {"gbit_s": total * 8 / elapsed / 1e9, "bytes": total, "seconds": elapsed}


def conn(ip: str, port: int, count: int, seconds: float) -> dict[str, float]:
    done = failed = 0
    start = time.perf_counter()
    deadline = start + seconds
    while done + failed < count and time.perf_counter() < deadline:
        try:
            _connect(ip, port).close()
            done += 1
        except OSError:
            failed += 1
    elapsed = time.perf_counter() - start
    return {"conn_s": done / elapsed, "connections": done, "failed": failed, "seconds": elapsed}


def probe(ip: str, port: int) -> dict[str, bool]:
    try:
        _connect(ip, port).close()
    except OSError:
        return {"open": False}
    return {"open": True}


def _percentile(sorted_values: list[int], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))] / 1000


def rr(ip: str, port: int, count: int, seconds: float) -> dict[str, float]:
    samples: list[int] = []
    with _connect(ip, port) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        deadline = time.perf_counter() + seconds
        for k in range(count + WARMUP):
            if time.perf_counter() > deadline:
                break
            t0 = time.perf_counter_ns()
            s.sendall(b"x")
            if s.recv(1) != b"x":
                raise OSError("echo broke off")
            if k >= WARMUP:
                samples.append(time.perf_counter_ns() - t0)
    samples.sort()
    if not samples:
        raise OSError("no request/response completed in time")
    return {
        "p50_us": _percentile(samples, 0.50),
        "p90_us": _percentile(samples, 0.90),
        "p99_us": _percentile(samples, 0.99),
        "count": len(samples),
    }


def main(argv: list[str]) -> int:
    if argv[0] == "--cpu":
        os.sched_setaffinity(0, {int(argv[1])})
        argv = argv[2:]
    cmd, ip, *rest = argv
    if cmd == "serve":
        serve(ip, *(int(p) for p in rest))
        return 0
    port = int(rest[0])
    result: dict[str, Any]
    if cmd == "probe":
        result = probe(ip, port)
    elif cmd == "bulk":
        result = bulk(ip, port, float(rest[1]))
    elif cmd == "conn":
        result = conn(ip, port, int(rest[1]), float(rest[2]))
    else:
        result = rr(ip, port, int(rest[1]), float(rest[2]))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
