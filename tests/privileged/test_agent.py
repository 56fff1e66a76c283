"""The node agent against the real kernel, in a network namespace the test creates: first
apply, element patches on pod churn, keeping the last good ruleset on a broken source, drift
repair, and surviving SIGKILL (the kernel keeps enforcing; the restart replaces atomically)."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

DEMO = Path(__file__).parents[2] / "src" / "kubefence" / "examples" / "demo"


@pytest.fixture
def netns() -> Iterator[str]:
    name = f"kfa{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def nft(ns: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", ns, "nft", *args], capture_output=True, text=True, check=False
    )


class AgentProcess:
    def __init__(self, ns: str, source: Path) -> None:
        cmd = [
            "ip",
            "netns",
            "exec",
            ns,
            sys.executable,
            "-m",
            "kubefence",
            "agent",
            "--node",
            "node-1",
            "--source",
            str(source),
            "--interval",
            "0.1",
            "--resync",
            "0.5",
        ]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []

    def wait_for(self, fragment: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        os.set_blocking(self.proc.stdout.fileno(), False)
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line:
                self.lines.append(line.rstrip())
                if fragment in line:
                    return line
            else:
                time.sleep(0.05)
        raise AssertionError(f"no {fragment!r} in agent output: {self.lines}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        self.proc.send_signal(sig)
        self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    target = tmp_path / "cluster"
    shutil.copytree(DEMO, target)
    return target


def test_agent_lifecycle(netns: str, source: Path) -> None:
    agent = AgentProcess(netns, source)
    try:
        agent.wait_for("full atomic replace")
        listing = nft(netns, "list", "table", "inet", "kubefence").stdout
        assert "chain ing_c0_admin" in listing and "10.42.0.12" in listing

        # pod churn: a new pod in dev only changes set elements
        pods = source / "cluster.yaml"
        pods.write_text(
            pods.read_text() + "\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: extra, namespace: shop,"
            " labels: {app: frontend}}\nspec: {nodeName: node-1}\nstatus: {podIP: 10.42.0.99}\n"
        )
        line = agent.wait_for("in-place change")
        assert "add element" not in line
        assert "10.42.0.99" in nft(netns, "list", "table", "inet", "kubefence").stdout

        # a broken source keeps the last good ruleset
        (source / "broken.yaml").write_text("kind: [\n")
        agent.wait_for("keeping the last good ruleset")
        assert "10.42.0.99" in nft(netns, "list", "table", "inet", "kubefence").stdout
        (source / "broken.yaml").unlink()

        # drift: someone deletes the table (the guard twin keeps enforcing); the agent restores it
        assert nft(netns, "list", "table", "inet", "kubefence_guard").returncode == 0
        nft(netns, "delete", "table", "inet", "kubefence")
        agent.wait_for("drift")
        assert nft(netns, "list", "table", "inet", "kubefence").returncode == 0

        # SIGKILL: the kernel keeps enforcing; a restart replaces the table atomically
        agent.stop(signal.SIGKILL)
        assert nft(netns, "list", "table", "inet", "kubefence").returncode == 0
        agent = AgentProcess(netns, source)
        agent.wait_for("full atomic replace")
    finally:
        if agent.proc.poll() is None:
            agent.stop()
