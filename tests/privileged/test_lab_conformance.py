"""Every conformance case through the lab: the agent enforces the case's policies on every
lab node, real packets probe every ordered pair × probe, and the kernel must do exactly what
the engine predicts (0 discrepancies), over IPv4 and over the lab's IPv6 pod addresses (the
cases' CIDRs are IPv4, so IPv6 traffic never matches their ipBlocks, as the API says). One lab
per pod model is reused across its cases (label variants of a model share its data plane), and
the agents with it: each case reaches the kernel as an in-place policy change."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Case, conformance_cases
from kubefence.agent.lab_enforcer import AgentEnforcer
from kubefence.engine.probes import Probe
from kubefence.ir.ports import Protocol
from kubefence.lab.plan import Mode
from kubefence.lab.run import Lab
from kubefence.workspace.load import load_workspace

CASES = conformance_cases()


def _base(case: Case) -> str:
    name = case.expected["model"]
    return "houses" if "houses" in name else "xyz"


def _probes(case: Case) -> list[Probe]:
    probes = [Probe(p["port"], Protocol.parse(p["protocol"])) for p in case.expected["probes"]]
    extra = [Probe(p["port"], Protocol.parse(p["protocol"])) for p in case.expected.get("extra_probes", [])]
    return sorted({*probes, *extra}, key=lambda p: (p.protocol.value, p.port))


@pytest.fixture(scope="module")
def labs() -> Iterator[dict[str, Lab]]:
    """One lab per base model, built on first use and torn down at the end of the module."""
    built: dict[str, Lab] = {}
    try:
        yield built
    finally:
        for lab in built.values():
            lab.down()


def _lab_for(labs: dict[str, Lab], base: str) -> Lab:
    if base not in labs:
        model = next(c.model for c in CASES if _base(c) == base)
        workspace = load_workspace([str(model)])
        wanted = {p for c in CASES if _base(c) == base for p in _probes(c)}
        probes = sorted(wanted, key=lambda p: (p.protocol.value, p.port))
        mode = Mode.VXLAN if base == "houses" else Mode.HOST_GW
        labs[base] = Lab.up(workspace.snapshot, prefix=f"kfc{secrets.token_hex(2)}", mode=mode, probes=probes)
    return labs[base]


@pytest.mark.parametrize("family", [4, 6])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_in_the_kernel(labs: dict[str, Lab], case: Case, family: int) -> None:
    built = _lab_for(labs, _base(case))
    files = [str(f) for f in case.policy_files() if "v1alpha2" not in f.name]
    workspace = load_workspace([str(case.model), *files])
    assert not workspace.errors
    probes = _probes(case)
    report = built.check(workspace.snapshot, workspace.policies, probes, AgentEnforcer, ipv6=family == 6)
    assert [d.to_json() for d in report.discrepancies] == []


def test_lab_run_command_json(tmp_path: Path) -> None:
    """``kubefence lab run -o json`` end to end on one case, with the documented shape."""
    import json
    import subprocess
    import sys

    case = next(c for c in CASES if c.name == "np-ingress-port-81-from-ns-y")
    files = [str(f) for f in case.policy_files() if "v1alpha2" not in f.name]
    cmd = [
        sys.executable,
        "-m",
        "kubefence",
        "lab",
        "run",
        str(case.model),
        *files,
        "--port",
        "81/TCP",
        "--port",
        "80/UDP",
        "-o",
        "json",
        "--prefix",
        f"kfr{secrets.token_hex(2)}",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert set(doc) == {"predicted", "observed", "discrepancies"} and doc["discrepancies"] == []
    assert ["y/a", "x/a", 81, "TCP"] in doc["observed"]["allowed"]
    assert ["z/a", "x/a", 81, "TCP"] in doc["observed"]["denied"]
