"""Every conformance case (shared/conformance, read its README) through ``matrix -o json``:
the denied tuples must be exactly ``deny`` over the case's connection space, and
``check`` must agree with ``matrix`` on every tuple."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import Case, conformance_cases, invoke
from kubefence.engine.endpoints import Universe
from kubefence.engine.matrix import ReachabilityMatrix
from kubefence.engine.probes import Probe
from kubefence.engine.resolve import Resolution
from kubefence.engine.verdict import evaluate
from kubefence.ir.ports import Protocol
from kubefence.workspace.load import load_workspace

CASES = conformance_cases()
Tuple = tuple[str, str, int, str]


def _space(case: Case, endpoints: list[str], host: set[str]) -> set[Tuple]:
    pods = [e for e in endpoints if e not in host]
    probes = [(p["port"], p["protocol"]) for p in case.expected["probes"]]
    return {(a, b, port, proto) for a in pods for b in pods if a != b for port, proto in probes}


def _host_pods(model: Path) -> set[str]:
    workspace = load_workspace([str(model)])
    return {p.key for p in workspace.snapshot.pods if p.host_network}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@pytest.mark.parametrize("variant", ["v1alpha1", "v1alpha2"])
def test_matrix_matches_expected(runner, case: Case, variant: str) -> None:
    files = [f for f in case.policy_files() if ("v1alpha2" in f.name) == (variant == "v1alpha2")]
    if not files:
        pytest.skip(f"no {variant} rendering")
    ports = [f"{p['port']}/{p['protocol']}" for p in case.expected["probes"]]
    args = ["matrix", str(case.model), *map(str, files), "-o", "json"]
    for p in ports:
        args += ["--port", p]
    result = invoke(runner, *args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    space = _space(case, doc["endpoints"], _host_pods(case.model))
    denied = {tuple(t) for t in doc["denied"]} & space
    allowed = {tuple(t) for t in doc["allowed"]} & space
    assert allowed | denied == space
    expected = {tuple(t) for t in case.expected["deny"]}
    assert sorted(denied - expected) == [], "denied but expected allowed"
    assert sorted(expected - denied) == [], "allowed but expected denied"


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.expected.get("extra_probes")],
    ids=[c.name for c in CASES if c.expected.get("extra_probes")],
)
def test_extra_probes(runner, case: Case) -> None:
    files = [str(f) for f in case.policy_files() if "v1alpha2" not in f.name]
    for probe in case.expected["extra_probes"]:
        result = invoke(
            runner,
            "check",
            str(case.model),
            *files,
            "--from",
            probe["from"],
            "--to",
            probe["to_ip"],
            "--port",
            f"{probe['port']}/{probe['protocol']}",
            "-o",
            "json",
        )
        verdict = json.loads(result.stdout)["verdict"]
        assert verdict == probe["expect"], probe


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_check_agrees_with_matrix(case: Case) -> None:
    files = [str(f) for f in case.policy_files() if "v1alpha2" not in f.name]
    workspace = load_workspace([str(case.model), *files])
    resolution = Resolution(workspace.policies, Universe(workspace.snapshot))
    matrix = ReachabilityMatrix(resolution)
    probes = [Probe(p["port"], Protocol.parse(p["protocol"])) for p in case.expected["probes"]]
    for src, dst in matrix.pairs():
        conns = matrix.connections(src, dst)
        for probe in probes:
            explained = evaluate(resolution, src, dst, probe)
            assert explained.allowed == conns.contains(probe.protocol, probe.port), (src, dst, probe)
