"""Connections a policy change revokes are cut: after the agent applies a change that no longer
allows an established UDP flow, its conntrack entry is gone (so the next packet meets the new
rules), while the entry of a flow that is still allowed stays."""

from __future__ import annotations

import secrets
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from kubefence.engine.probes import Probe
from kubefence.ir.ports import Protocol
from kubefence.lab.run import Lab
from kubefence.workspace.load import load_workspace
from lab_fixtures import CLUSTER, agent_command

POLICY = textwrap.dedent("""\
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: server-in, namespace: x}
    spec:
      podSelector: {matchLabels: {app: server}}
      ingress:
      - from: [{podSelector: {matchLabels: {app: good}}}]
        ports: [{port: 5353, protocol: UDP}]
      - from: [{podSelector: {matchLabels: {app: %s}}}]
        ports: [{port: 5353, protocol: UDP}]
    """)
SEND = (
    "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1); "
    "s.sendto(b'x', ('10.77.0.1', 5353)); print(s.recv(64))"
)


def _udp(netns: str) -> None:
    subprocess.run(
        ["ip", "netns", "exec", netns, sys.executable, "-c", SEND],
        check=True,
        timeout=10,
        capture_output=True,
    )


def _flows(netns: str) -> str:
    return subprocess.run(
        ["ip", "netns", "exec", netns, "conntrack", "-L", "-p", "udp"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout


def test_revoked_flows_are_cut(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "cluster.yaml").write_text(CLUSTER)
    (source / "policy.yaml").write_text(POLICY % "bad")
    workspace = load_workspace([str(source)])
    with Lab.up(
        workspace.snapshot,
        prefix=f"kfv{secrets.token_hex(2)}",
        node_count=1,
        probes=[Probe(5353, Protocol.UDP)],
    ) as lab:
        node_ns = lab.plan.nodes[0].netns
        pods = {p.key: p.netns for p in lab.plan.pods}
        cmd = agent_command(node_ns, source)
        agent = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            assert agent.stdout is not None
            assert "applied revision" in agent.stdout.readline()
            _udp(pods["x/good"])
            _udp(pods["x/bad"])
            before = _flows(node_ns)
            assert "src=10.77.0.2" in before and "src=10.77.0.3" in before
            (source / "policy.yaml").write_text(POLICY % "nobody")  # bad is no longer allowed
            deadline = time.monotonic() + 15
            line = ""
            while "cut" not in line and time.monotonic() < deadline:
                line = agent.stdout.readline()
            assert "cut 1 connection" in line, line
            after = _flows(node_ns)
            assert "src=10.77.0.2" in after and "src=10.77.0.3" not in after
        finally:
            agent.terminate()
            agent.wait(timeout=10)
            if agent.stdout is not None:
                agent.stdout.close()
