"""Enforcement for the lab: one agent process per node, started inside the node's network
namespace, with the same sources; ``enforce`` returns once the first ruleset is applied."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from kubefence.errors import LabError

__all__ = ["AgentEnforcer"]


@dataclass
class AgentEnforcer:
    """Starts ``kubefence agent`` in each node namespace; ``stop`` ends them all."""

    sources: Sequence[str]
    table: str = "kubefence"
    timeout: float = 30.0
    resync: float = 2.0
    processes: dict[str, subprocess.Popen[str]] = field(default_factory=dict)

    def command(self, node: str, netns: str) -> list[str]:
        cmd = [
            "ip",
            "netns",
            "exec",
            netns,
            sys.executable,
            "-m",
            "kubefence",
            "agent",
            "--node",
            node,
            "--table",
            self.table,
            "--resync",
            str(self.resync),
        ]
        for source in self.sources:
            cmd += ["--source", source]
        return cmd

    def enforce(self, node: str, netns: str) -> None:
        proc = subprocess.Popen(
            self.command(node, netns), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.processes[node] = proc
        deadline = time.monotonic() + self.timeout
        assert proc.stdout is not None
        lines: list[str] = []
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip())
            if line.startswith("applied revision"):
                return
        self.stop()
        raise LabError(f"the agent for node {node} did not apply a ruleset: " + " | ".join(lines[-5:]))

    def stop(self) -> None:
        for proc in self.processes.values():
            proc.terminate()
        for proc in self.processes.values():
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.processes.clear()
