"""Manifests shared by the privileged agent tests: one node, namespace x, three pods
(server 10.77.0.1, good 10.77.0.2, bad 10.77.0.3) labelled app=<name>."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

CLUSTER = textwrap.dedent("""\
    apiVersion: v1
    kind: Node
    metadata: {name: n1}
    status: {addresses: [{type: InternalIP, address: 172.30.0.1}]}
    ---
    apiVersion: v1
    kind: Namespace
    metadata: {name: x}
    """) + "".join(
    f"---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: x, labels: {{app: {name}}}}}\n"
    f"spec: {{nodeName: n1}}\nstatus: {{podIP: 10.77.0.{i}}}\n"
    for i, name in ((1, "server"), (2, "good"), (3, "bad"))
)


def agent_command(netns: str, source: Path, *options: str) -> list[str]:
    """``kubefence agent`` for node n1, run inside ``netns``, watching ``source`` every 50 ms."""
    agent = [sys.executable, "-m", "kubefence", "agent", "--node", "n1", "--source", str(source)]
    return ["ip", "netns", "exec", netns, *agent, "--interval", "0.05", *options]
