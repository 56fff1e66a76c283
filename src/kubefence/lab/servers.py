"""Starting and stopping the lab's one server process (``lab/serve.py``).

Every endpoint serves TCP and UDP on *every* probed port, not only on its declared container
ports, so that whether a probe gets through depends on the policies alone (a port nobody
listens on would look denied whatever the policies say). Node namespaces serve on the node's
addresses (that is where host-network pods listen), the outside namespace on its addresses.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubefence.errors import LabError
from kubefence.ir.ports import Protocol
from kubefence.lab.netns import alive

if TYPE_CHECKING:
    from collections.abc import Iterable

    from kubefence.engine.probes import Probe
    from kubefence.lab.plan import LabPlan

__all__ = ["SERVE_SCRIPT", "ServerProcess", "listen_spec", "start_server"]

SERVE_SCRIPT = Path(__file__).with_name("serve.py")
READY_TIMEOUT = 30.0


def _ports(probes: Iterable[Probe], protocol: Protocol) -> list[int]:
    return sorted({p.port for p in probes if p.protocol is protocol})


def listen_spec(plan: LabPlan, probes: Iterable[Probe]) -> list[dict[str, Any]]:
    """Where to listen: each pod, node and the outside, on both address families."""
    probes = list(probes)
    tcp, udp = _ports(probes, Protocol.TCP), _ports(probes, Protocol.UDP)
    places: list[tuple[str, list[str]]] = [
        (p.netns, [str(p.ip), str(p.ip6)]) for p in plan.pods if not p.host_network
    ]
    places += [(n.netns, [str(n.address), str(n.address6)]) for n in plan.nodes]
    out = plan.outside
    places.append((out.netns, [str(a) for a in (*out.addresses, *out.addresses6)]))
    return [{"netns": netns, "addrs": addrs, "tcp": tcp, "udp": udp} for netns, addrs in places]


@dataclass(frozen=True, slots=True)
class ServerProcess:
    """A running server: its pid, and the ports it serves as ``PORT/PROTO`` texts."""

    pid: int
    ports: tuple[str, ...]

    def serves(self, probes: Iterable[Probe]) -> bool:
        wanted = {str(p) for p in probes if p.protocol in (Protocol.TCP, Protocol.UDP)}
        return wanted <= set(self.ports)

    def stop(self) -> None:
        """Terminate it (teardown kills it anyway, by namespace)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5.0
        while alive(self.pid) and time.monotonic() < deadline:
            time.sleep(0.01)


def start_server(
    plan: LabPlan, probes: Iterable[Probe], *, lifetime: float, tied: bool, log: Path
) -> ServerProcess:
    """Start the server; returns once every socket listens (LabError if it cannot)."""
    probes = list(probes)
    spec = {
        "home": plan.underlay_netns,
        "lifetime": lifetime,
        "parent": os.getpid() if tied else None,
        "listen": listen_spec(plan, probes),
    }
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, str(SERVE_SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            start_new_session=True,
        )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(spec).encode())
    proc.stdin.close()
    ready, _, _ = select.select([proc.stdout], [], [], READY_TIMEOUT)
    line = proc.stdout.readline() if ready else b""
    proc.stdout.close()
    word, _, pid = line.decode(errors="replace").strip().partition(" ")
    if word != "ready" or not pid.isdigit():
        proc.kill()
        proc.wait()
        message = log.read_text(errors="replace").strip() or "no message"
        raise LabError(f"the lab's servers did not start: {message}")
    proc.wait(timeout=READY_TIMEOUT)
    ports = tuple(sorted({str(p) for p in probes if p.protocol in (Protocol.TCP, Protocol.UDP)}))
    return ServerProcess(int(pid), ports)
