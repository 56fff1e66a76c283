"""A crashed ``lab run`` does not block the next one: its leftovers (namespaces whose servers
are gone) are removed first, while a live lab with the same prefix is left alone."""

from __future__ import annotations

import os
import secrets
import signal
import time
from pathlib import Path

from kubefence.engine.probes import Probe
from kubefence.ir.ports import Protocol
from kubefence.lab import netns
from kubefence.lab.run import Lab, reclaim_crashed
from kubefence.workspace.load import load_workspace

MODEL = Path(__file__).parents[1] / "conformance" / "model-xyz.yaml"


def test_reclaim_only_crashed_labs() -> None:
    prefix = f"kfy{secrets.token_hex(2)}"
    snapshot = load_workspace([str(MODEL)]).snapshot
    lab = Lab.up(snapshot, prefix=prefix, probes=[Probe(80, Protocol.TCP)], detached=True, lifetime=60)
    try:
        assert reclaim_crashed(prefix) is False  # alive: left alone
        assert netns.lab_namespaces(prefix)
        os.kill(lab.state.server_pid, signal.SIGKILL)  # what a crash leaves: servers gone
        deadline = time.monotonic() + 5
        while netns.alive(lab.state.server_pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert reclaim_crashed(prefix) is True
        assert netns.lab_namespaces(prefix) == []
    finally:
        netns.destroy(prefix)
