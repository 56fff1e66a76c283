"""The lab on real namespaces (root only): connectivity without policies in both routing
modes, observed denials, teardown, and cleanup after a crash."""

from __future__ import annotations

import ipaddress
import json
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
from typer.testing import CliRunner

from kubefence.cli.app import app
from kubefence.cluster.snapshot import ClusterSnapshot, Pod
from kubefence.engine.probes import Probe
from kubefence.ir.ports import Protocol
from kubefence.ir.selectors import Labels
from kubefence.lab import Lab, Mode, NoEnforcer, destroy
from kubefence.lab.netns import NETNS_DIR, alive, run_in
from kubefence.lab.state import state_path

PROBES = [Probe(port, proto) for port in (80, 81) for proto in (Protocol.TCP, Protocol.UDP, Protocol.SCTP)]
MANIFEST = """
apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: {ns}, labels: {{pod: {name}}}}}
spec: {{containers: [{{name: c, image: i, ports: [{{containerPort: 80}}]}}]}}
status: {{podIP: {ip}}}
"""
PODS = [("x", "a", "10.0.1.1"), ("x", "b", "10.0.1.2"), ("y", "a", "10.0.2.1"), ("y", "b", "10.0.2.2")]


def four_pods() -> ClusterSnapshot:
    """Two namespaces, four pods, no Node: the lab spreads them over two synthetic nodes."""
    pods = [Pod(ns, name, Labels({"pod": name}), (ipaddress.ip_address(ip),)) for ns, name, ip in PODS]
    return ClusterSnapshot.build(pods=pods)


def leftovers(prefix: str) -> list[str]:
    """Namespaces, host links and processes of the lab ``prefix`` that still exist."""
    names = [n for n in os.listdir(NETNS_DIR) if n.startswith(f"{prefix}-")] if NETNS_DIR.exists() else []
    links = [n for n in os.listdir("/sys/class/net") if n.startswith(f"{prefix}-")]
    return names + links + ([str(state_path(prefix))] if state_path(prefix).exists() else [])


@pytest.fixture
def prefix() -> Iterator[str]:
    name = "kft" + secrets.token_hex(2)
    yield name
    destroy(name)
    assert leftovers(name) == []


@pytest.mark.parametrize("mode", [Mode.HOST_GW, Mode.VXLAN], ids=["host-gw", "vxlan"])
def test_without_policies_every_probe_is_allowed(prefix: str, mode: Mode) -> None:
    snapshot = four_pods()
    with Lab.up(snapshot, prefix=prefix, mode=mode, probes=PROBES) as lab:
        assert {p.node for p in lab.plan.pods} == {"node-1", "node-2"}
        report = lab.check(snapshot, (), PROBES, NoEnforcer)
        assert report.discrepancies == ()
        assert len(report.observed.allowed) == 4 * 3 * 6 and report.observed.denied == ()
        v6 = lab.probe(PROBES, ipv6=True)
        assert len(v6.allowed) == 4 * 3 * 6 and v6.denied == ()
        if mode is Mode.VXLAN:
            stats = run_in(lab.plan.nodes[0].netns, ["ip", "-j", "-s", "link", "show", f"{prefix}-vx"])
            assert json.loads(stats)[0]["stats64"]["tx"]["packets"] > 0  # pods talk through the overlay
    assert leftovers(prefix) == []


class DropEnforcer:
    """A stand-in for the agent: drops 80/TCP, 81/UDP and 80/SCTP towards one pod address."""

    RULES = """table inet kft {{
  chain forward {{ type filter hook forward priority filter; policy accept;
    ct state established,related accept
    ct state invalid drop
    ip daddr {ip} meta l4proto . th dport {{ tcp . 80, udp . 81, sctp . 80 }} drop
  }}
}}
"""

    def __init__(self, snapshot: ClusterSnapshot, policies: object) -> None:
        self.ip = snapshot.pods[0].ip
        self.netns: list[str] = []

    def enforce(self, node: str, netns: str) -> None:
        rules = Path("/tmp") / f"{netns}.nft"
        rules.write_text(self.RULES.format(ip=self.ip))
        try:
            run_in(netns, ["nft", "-f", str(rules)])
        finally:
            rules.unlink()
        self.netns.append(netns)

    def stop(self) -> None:
        for netns in self.netns:
            run_in(netns, ["nft", "delete", "table", "inet", "kft"])


@pytest.mark.skipif(shutil.which("nft") is None, reason="needs nft")
def test_denied_packets_show_up_as_discrepancies(prefix: str) -> None:
    snapshot = four_pods()
    with Lab.up(snapshot, prefix=prefix, mode=Mode.HOST_GW, probes=PROBES) as lab:
        started = time.monotonic()
        report = lab.check(snapshot, (), PROBES, DropEnforcer)
        assert time.monotonic() - started < 10
        # Everything was predicted allowed (no policies); the dropped tuples are the discrepancies.
        expected = sorted(
            [src, "x/a", port, proto, "predicted allow, observed deny"]
            for src in ("x/b", "y/a", "y/b")
            for port, proto in ((80, "TCP"), (81, "UDP"), (80, "SCTP"))
        )
        assert sorted(d.to_json() for d in report.discrepancies) == expected
        assert len(report.observed.denied) == 9
        # A new policy set replaces the old one: with nothing enforced, all gets through again.
        assert lab.check(snapshot, (), PROBES, NoEnforcer).discrepancies == ()


def test_cli_run_json_and_exit_code(prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = tmp_path / "cluster.yaml"
    manifest.write_text("---".join(MANIFEST.format(ns=ns, name=n, ip=ip) for ns, n, ip in PODS))
    monkeypatch.setattr("kubefence.cli.lab.enforcer_factory", lambda workspace: NoEnforcer)
    args = ["lab", "run", str(manifest), "--port", "80/TCP", "--port", "80/SCTP", "--mode", "vxlan"]
    result = CliRunner().invoke(app, [*args, "--prefix", prefix, "-o", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert list(doc) == ["predicted", "observed", "discrepancies"]
    assert doc["discrepancies"] == [] and len(doc["observed"]["allowed"]) == 4 * 3 * 2
    assert ["x/a", "x/b", 80, "SCTP"] in doc["observed"]["allowed"]
    assert leftovers(prefix) == []


def test_down_cleans_up_after_a_crashed_run(prefix: str, tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from kubefence.lab import Lab\n"
        "from kubefence.workspace.load import load_workspace\n"
        f"lab = Lab.up(load_workspace([sys.argv[1]]).snapshot, prefix={prefix!r})\n"
        "print('up', flush=True)\n"
        "time.sleep(60)\n"
    )
    manifest = tmp_path / "cluster.yaml"
    manifest.write_text("---".join(MANIFEST.format(ns=ns, name=n, ip=ip) for ns, n, ip in PODS))
    argv = [sys.executable, "-c", script, str(manifest)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
        finally:
            proc.send_signal(signal.SIGKILL)  # no teardown ran
            proc.wait(timeout=10)
    assert len(leftovers(prefix)) >= 6
    server = json.loads(state_path(prefix).read_text())["server"]["pid"]
    result = CliRunner().invoke(app, ["lab", "down", "--prefix", prefix], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert leftovers(prefix) == []
    assert not alive(server)


def test_up_probe_down_through_the_cli(prefix: str, tmp_path: Path) -> None:
    manifest = tmp_path / "cluster.yaml"
    manifest.write_text("---".join(MANIFEST.format(ns=ns, name=n, ip=ip) for ns, n, ip in PODS))
    runner = CliRunner()
    up = runner.invoke(
        app, ["lab", "up", str(manifest), "--prefix", prefix, "--nodes", "3"], catch_exceptions=False
    )
    assert up.exit_code == 0, up.output
    assert "node-3" in up.stdout
    again = runner.invoke(app, ["lab", "up", str(manifest), "--prefix", prefix], catch_exceptions=False)
    assert again.exit_code == 2 and "already exists" in again.output
    probed = runner.invoke(
        app, ["lab", "probe", "--prefix", prefix, "--port", "81/UDP", "-o", "json"], catch_exceptions=False
    )
    assert probed.exit_code == 0, probed.output
    doc = json.loads(probed.stdout)
    assert len(doc["allowed"]) == 4 * 3 and doc["denied"] == []  # 81/UDP was not served at up: restarted
    # A crash of the detached lab's server is cleaned by down as well.
    state = json.loads(state_path(prefix).read_text())
    os.kill(state["server"]["pid"], signal.SIGKILL)
    down = runner.invoke(app, ["lab", "down", "--prefix", prefix], catch_exceptions=False)
    assert down.exit_code == 0, down.output
    assert leftovers(prefix) == []
