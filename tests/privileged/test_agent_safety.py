"""Safety on real packets: a prober keeps trying a denied flow while the agent (a real
``kubefence agent`` process in the lab node's namespace) applies 100 policy updates, is killed
with SIGKILL and restarted, and while its table is deleted by hand. Not one denied connection
may get through, and the allowed flow keeps (or gets back) its connectivity within the resync
period. Every loop is bounded in count and time."""

from __future__ import annotations

import secrets
import signal
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
        ports: [{port: 8080}, {port: %d}]
    """)

PROBER = textwrap.dedent("""\
    import socket, sys, time
    host, port, seconds, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    start, tries, hits, last = time.monotonic(), 0, 0, []
    while time.monotonic() - start < seconds and tries < limit:
        tries += 1
        s = socket.socket(); s.settimeout(0.15)
        try:
            s.connect((host, port)); hits += 1; last.append(round(time.monotonic() - start, 2))
        except OSError:
            pass
        finally:
            s.close()
        time.sleep(0.01)
    print(tries, hits, ",".join(map(str, last[-50:])))
    """)


def _prober(netns: str, seconds: float) -> subprocess.Popen[str]:
    cmd = [
        "ip",
        "netns",
        "exec",
        netns,
        sys.executable,
        "-c",
        PROBER,
        "10.77.0.1",
        "8080",
        str(seconds),
        "5000",
    ]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)


def _agent(netns: str, source: Path) -> subprocess.Popen[str]:
    cmd = agent_command(netns, source, "--resync", "0.5")
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)


def _wait_table(netns: str, present: bool = True, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = subprocess.run(
            ["ip", "netns", "exec", netns, "nft", "list", "table", "inet", "kubefence"],
            capture_output=True,
            check=False,
        )
        if (listed.returncode == 0) == present:
            return
        time.sleep(0.05)
    raise AssertionError("the agent's table did not show up")


def test_no_denied_packet_through_updates_kill_and_deletion(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "cluster.yaml").write_text(CLUSTER)
    (source / "policy.yaml").write_text(POLICY % 9000)
    workspace = load_workspace([str(source)])
    with Lab.up(
        workspace.snapshot,
        prefix=f"kfs{secrets.token_hex(2)}",
        node_count=1,
        probes=[Probe(8080, Protocol.TCP)],
    ) as lab:
        node_ns = lab.plan.nodes[0].netns
        pod_ns = {p.key: p.netns for p in lab.plan.pods}
        agent = _agent(node_ns, source)
        try:
            _wait_table(node_ns)
            bad, good = _prober(pod_ns["x/bad"], 16.0), _prober(pod_ns["x/good"], 16.0)
            started = time.monotonic()
            for i in range(100):  # 100 policy updates, each a full atomic replace
                (source / "policy.yaml").write_text(POLICY % (9001 + i))
                time.sleep(0.06)
            agent.send_signal(signal.SIGKILL)  # the kernel keeps enforcing
            agent.wait(timeout=10)
            time.sleep(1.0)
            agent = _agent(node_ns, source)  # the restart replaces the tables atomically
            time.sleep(2.0)
            subprocess.run(
                ["ip", "netns", "exec", node_ns, "nft", "delete", "table", "inet", "kubefence"], check=True
            )  # by hand: the guard twin keeps enforcing until the resync
            _wait_table(node_ns, present=True)
            recovered_at = time.monotonic() - started
            bad_out, _ = bad.communicate(timeout=60)
            good_out, _ = good.communicate(timeout=60)
        finally:
            agent.terminate()
            agent.wait(timeout=10)
    bad_tries, bad_hits, _ = bad_out.split(" ", 2)
    _, good_hits, good_times = (good_out.strip() + " ").split(" ", 2)
    assert int(bad_tries) > 50 and int(bad_hits) == 0, bad_out
    assert int(good_hits) > 0, good_out
    late = [float(t) for t in good_times.split(",") if t]
    assert late and max(late) > recovered_at + 0.5, (good_out, recovered_at)
