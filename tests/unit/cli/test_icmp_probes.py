"""ICMP probes on the command line: ``TYPE/ICMP`` and ``TYPE/ICMPv6`` name a message type
(design.md §5: "Protocols: TCP, UDP, SCTP (and ICMP where a dialect has it)"). The upstream
APIs do not define ICMP (semantics reference §1, "Protocols": "do not claim ICMP verdicts
without a CNI profile"), so under the generic profile the answer carries a caveat."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from typer.testing import CliRunner

from conftest import invoke

if TYPE_CHECKING:
    from pathlib import Path

CLUSTER = """\
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x, labels: {app: a}}
status: {podIP: 10.9.9.1}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: x, labels: {app: b}}
status: {podIP: 10.9.9.2}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: ping, namespace: x}
spec:
  selector: app == 'b'
  types: [Ingress]
  ingress:
  - {action: Allow, protocol: ICMP, icmp: {type: 8}}
"""
CAVEAT = "ICMP is not defined by NetworkPolicy"


def folder(tmp_path: Path) -> str:
    (tmp_path / "c.yaml").write_text(CLUSTER)
    return str(tmp_path)


def check(tmp_path: Path, port: str, *extra: str) -> Any:
    args = ("--from", "x/a", "--to", "x/b", "--port", port, *extra)
    return invoke(CliRunner(), "check", folder(tmp_path), *args)


def matrix(tmp_path: Path, *extra: str) -> Any:
    return invoke(CliRunner(), "matrix", folder(tmp_path), *extra)


def test_icmp_types_are_probes(tmp_path: Path) -> None:
    ping = check(tmp_path, "8/ICMP", "--cni", "calico", "-o", "json")
    assert ping.exit_code == 0 and json.loads(ping.stdout)["verdict"] == "allow"
    other = check(tmp_path, "0/ICMP", "--cni", "calico")
    assert other.exit_code == 1 and CAVEAT not in other.output
    found = matrix(tmp_path, "--port", "8/ICMP", "--port", "0/ICMP", "--cni", "calico", "-o", "json")
    doc = json.loads(found.stdout)
    assert doc["probes"] == [{"port": 8, "protocol": "ICMP"}, {"port": 0, "protocol": "ICMP"}]
    assert ["x/a", "x/b", 8, "ICMP"] in doc["allowed"] and ["x/a", "x/b", 0, "ICMP"] in doc["denied"]


def test_generic_profile_answers_icmp_with_a_caveat(tmp_path: Path) -> None:
    assert CAVEAT in check(tmp_path, "8/ICMP").stderr
    as_json = check(tmp_path, "8/ICMP", "-o", "json")
    assert any(CAVEAT in w for w in json.loads(as_json.stdout)["warnings"])
    assert CAVEAT in matrix(tmp_path, "--port", "8/ICMP", "-o", "counts").stderr
