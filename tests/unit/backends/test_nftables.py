"""The nftables compiler and renderers: layout, tiers, sets, and what nft itself accepts."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from kubefence.backends.nftables.ast import Hook, VerdictKind
from kubefence.backends.nftables.compile import compile_node, local_pods
from kubefence.backends.nftables.render import render_json, render_text
from kubefence.backends.nftables.sets import block_elements
from kubefence.cli.demo import demo_path
from kubefence.engine.endpoints import Universe
from kubefence.engine.profiles import GENERIC, apply_profile
from kubefence.engine.resolve import Resolution
from kubefence.errors import CompileError
from kubefence.ir.addresses import IPBlock
from kubefence.workspace.load import load_workspace


def compiled(*paths: str, node: str = "node-1"):
    ws = load_workspace(list(paths))
    assert not ws.errors, ws.errors
    policies, _ = apply_profile(GENERIC, ws.policies)
    r = Resolution(policies, Universe(ws.snapshot))
    return compile_node(r, local_pods(r, node), "kftest", node)


def test_cni_dialects_are_refused_by_the_backend() -> None:
    """The kernel backends compile the upstream APIs only: a Cilium policy is a CompileError
    naming it, never a silently different ruleset."""
    ws = load_workspace([demo_path()])
    r = Resolution(ws.policies, Universe(ws.snapshot))
    with pytest.raises(CompileError, match="monitoring-scrapes"):
        compile_node(r, local_pods(r, "node-1"), "kftest", "node-1")


def test_cidr_minus_except_as_ranges() -> None:
    """dataplane.md §2: nft interval sets cannot subtract, so cidr − except becomes ranges.
    (shared/reference/skeleton.nft writes 10.252.0.0 as the second range's start for this
    example, which also drops 10.251.1.0-10.251.255.255; the /24 ends at 10.251.0.255.)"""
    block = IPBlock(ipaddress.ip_network("10.0.0.0/8"), (ipaddress.ip_network("10.251.0.0/24"),))
    assert block_elements(block) == ("10.0.0.0-10.250.255.255", "10.251.1.0-10.255.255.255")


def test_layout_of_the_demo() -> None:
    table = compiled(demo_path())
    hooks = {c.name: c.hook for c in table.chains if c.hook}
    assert hooks == {"forward": Hook.FORWARD, "input": Hook.INPUT, "output": Hook.OUTPUT}
    forward = table.chain("forward")
    assert forward is not None and forward.rules[0].comment == "conntrack fast path"
    payments_ingress = dict(next(m for m in table.maps if m.name == "ing_v4").elements)["10.42.0.12"]
    admin = table.chain(payments_ingress)
    assert admin is not None and payments_ingress.endswith("_admin")
    verdicts = [r.verdict for r in admin.rules]
    assert any(getattr(v, "kind", None) is VerdictKind.GOTO for v in verdicts)  # Pass → next tier
    assert any(getattr(v, "kind", None) is VerdictKind.DROP for v in verdicts)  # Deny


def test_rendering_is_deterministic() -> None:
    assert render_text(compiled(demo_path())) == render_text(compiled(demo_path()))
    assert json.loads(render_json(compiled(demo_path())))["nftables"][0] == {
        "add": {"table": {"family": "inet", "name": "kftest"}}
    }


OVERLAP = textwrap.dedent("""\
    apiVersion: v1
    kind: Pod
    metadata: {name: s, namespace: a}
    spec: {nodeName: n1}
    status: {podIP: 10.0.0.1}
    ---
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: p, namespace: a}
    spec:
      podSelector: {}
      ingress:
      - ports: [{port: 80}, {port: 79, endPort: 81}, {port: 53, protocol: UDP}]
        from: [{ipBlock: {cidr: "fd00::/8"}}, {ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/24]}}]
    """)


@pytest.mark.privileged
@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft"), reason="needs root and nft")
@pytest.mark.parametrize("source", ["demo", "overlap"])
def test_nft_accepts_both_renderings(tmp_path: Path, source: str) -> None:
    path = demo_path()
    if source == "overlap":
        (tmp_path / "o.yaml").write_text(OVERLAP)
        path = str(tmp_path / "o.yaml")
    table = compiled(path, node="node-1" if source == "demo" else "n1")
    for text, flags in (
        (render_text(table), ["-c", "-f", "-"]),
        (render_json(table), ["-j", "-c", "-f", "-"]),
    ):
        result = subprocess.run(["nft", *flags], input=text, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
