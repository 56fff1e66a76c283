"""``kubefence lab`` input and usage errors, checked without root: they exit 2 with a message."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kubefence.cli.app import app

POLICY = """
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x, labels: {pod: a}}
status: {podIP: 10.0.1.1}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: x}
spec: {podSelector: {}}
"""


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 0)
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/sbin/{name}")


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["lab", "run", "x.yaml"], id="run"),
        pytest.param(["lab", "up", "x.yaml"], id="up"),
        pytest.param(["lab", "probe"], id="probe"),
        pytest.param(["lab", "down"], id="down"),
    ],
)
def test_not_root_is_a_usage_error(args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    code, output = invoke(*args)
    assert code == 2 and "needs root" in output and "Traceback" not in output


@pytest.mark.usefixtures("as_root")
def test_bad_prefix_is_a_usage_error() -> None:
    code, output = invoke("lab", "down", "--prefix", "Bad-Prefix")
    assert code == 2 and "invalid lab prefix" in output


@pytest.mark.usefixtures("as_root")
def test_policies_without_the_agent_are_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = tmp_path / "in.yaml"
    manifest.write_text(POLICY)
    monkeypatch.setitem(sys.modules, "kubefence.agent.lab_enforcer", None)  # import fails
    code, output = invoke("lab", "run", str(manifest), "--port", "80/TCP")
    assert code == 2 and "enforcement not available" in output


@pytest.mark.usefixtures("as_root")
@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        pytest.param("--port", "80/GRE", "--port", id="bad-port"),
        pytest.param("--port", "8/ICMP", "ICMP", id="icmp-probe"),
        pytest.param("--outside", "fd00::1", "IPv4", id="ipv6-outside"),
    ],
)
def test_bad_options_are_usage_errors(tmp_path: Path, option: str, value: str, message: str) -> None:
    manifest = tmp_path / "in.yaml"
    manifest.write_text(POLICY.split("---")[0])
    code, output = invoke("lab", "run", str(manifest), option, value)
    assert code == 2 and message in output
