"""The benchmark's own network namespaces, created and removed by prefix.

``<prefix>-node`` holds a bridge (br_netfilter on, so bridged IPv4 crosses the inet/ip forward
hook) with one veth to ``<prefix>-cli`` (the client pod, CLIENT_IP) and one to ``<prefix>-srv``
(the server pod, SERVER_IP). Every link is created inside a benchmark namespace, so deleting the
namespaces removes everything; ``destroy`` first kills the processes left inside them (found
with ``ip netns pids``, never by name).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

NETNS_DIR = Path("/run/netns")
PREFIX = "kfdp"
TIMEOUT = 60.0


def sh(*args: str, stdin: str | None = None, check: bool = True, timeout: float = TIMEOUT) -> str:
    """Run one command (bounded in time); its stdout."""
    done = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)[:200]}: {done.stderr.strip()[-1500:]}")
    return done.stdout


@dataclass(frozen=True)
class Topology:
    prefix: str

    @classmethod
    def fresh(cls) -> Topology:
        return cls(PREFIX + os.urandom(3).hex())

    @property
    def node(self) -> str:
        return f"{self.prefix}-node"

    @property
    def client(self) -> str:
        return f"{self.prefix}-cli"

    @property
    def server(self) -> str:
        return f"{self.prefix}-srv"

    @property
    def names(self) -> tuple[str, str, str]:
        return (self.node, self.client, self.server)

    def ns(self, netns: str, *args: str, stdin: str | None = None, timeout: float = TIMEOUT) -> str:
        return sh("ip", "netns", "exec", netns, *args, stdin=stdin, timeout=timeout)

    def create(self, client_ip: str, server_ip: str, prefix_len: int) -> None:
        for name in self.names:
            sh("ip", "netns", "add", name)
            sh("ip", "-n", name, "link", "set", "lo", "up")
        sh("ip", "-n", self.node, "link", "add", "br0", "type", "bridge")
        for peer, ip, tag in ((self.client, client_ip, "c"), (self.server, server_ip, "s")):
            port = f"{self.prefix}{tag}"[:15]
            veth = ("type", "veth", "peer", "name", "eth0", "netns", peer)
            sh("ip", "-n", self.node, "link", "add", port, *veth)
            sh("ip", "-n", self.node, "link", "set", port, "master", "br0", "up")
            sh("ip", "-n", peer, "addr", "add", f"{ip}/{prefix_len}", "dev", "eth0")
            sh("ip", "-n", peer, "link", "set", "eth0", "up")
            # a wide port range and TIME_WAIT reuse: the connection loop must not run out of ports
            ports = "net.ipv4.ip_local_port_range=1024 65000"
            self.ns(peer, "sysctl", "-qw", ports, "net.ipv4.tcp_tw_reuse=1")
        sh("ip", "-n", self.node, "link", "set", "br0", "up")
        self.ns(self.node, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1")
        self.ns(self.node, "sysctl", "-qw", "net.bridge.bridge-nf-call-ip6tables=1")

    def destroy(self) -> None:
        destroy_prefix(self.prefix)


def _pids(netns: str) -> list[int]:
    try:
        out = sh("ip", "netns", "pids", netns, check=False, timeout=10)
    except subprocess.TimeoutExpired:
        return []
    return [int(p) for p in out.split() if p.isdigit() and int(p) != os.getpid()]


def _kill(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            continue


def destroy_prefix(prefix: str) -> list[str]:
    """Kill what runs inside, then delete, every namespace whose name starts with ``prefix``
    (one run's ``kfdp<hex>``, or ``kfdp`` for every run's leftovers); their names."""
    if not prefix.startswith(PREFIX):
        raise ValueError(f"refusing to clean up {prefix!r}: benchmark prefixes start with {PREFIX!r}")
    names = sorted(p.name for p in NETNS_DIR.glob(f"{prefix}*")) if NETNS_DIR.is_dir() else []
    for name in names:
        _kill(_pids(name), signal.SIGTERM)
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline and any(_pids(n) for n in names):
        time.sleep(0.1)
    for name in names:
        _kill(_pids(name), signal.SIGKILL)
        sh("ip", "netns", "del", name, check=False, timeout=10)
    return names
