"""Scenario files (tests/scenarios/*.yaml): manifests plus expected verdicts, each citing its
source. Every expectation is checked through ``kubefence check -o json``; an expectation with a
``cni:`` key (``cilium``, ``calico@3.31`` …) is checked with ``--cni`` that profile, one with
``http: {method, path, host?}`` asks about that HTTP request, and a file-level ``cni:`` is the
default of its expectations. A file-level ``dns: {name: [ip, ...]}`` is passed as ``--dns``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from conftest import invoke

HERE = Path(__file__).parent
FILES = sorted(HERE.glob("*.yaml"))


def _expectations() -> list[Any]:
    out = []
    for path in FILES:
        doc = yaml.safe_load(path.read_text())
        for i, exp in enumerate(doc["expect"]):
            exp = {**({"cni": doc["cni"]} if "cni" in doc else {}), **exp}
            for name, ips in (doc.get("dns") or {}).items():
                exp.setdefault("dns", []).append(f"{name}={','.join(ips)}")
            out.append(pytest.param(path, doc["manifests"], exp, id=f"{path.stem}-{i}"))
    return out


def _extra(exp: dict[str, Any]) -> list[str]:
    args = ["--cni", exp["cni"]] if "cni" in exp else []
    http = exp.get("http") or {}
    for key in ("method", "path", "host"):
        if key in http:
            args += [f"--http-{key}", http[key]]
    for entry in exp.get("dns", []):
        args += ["--dns", entry]
    return args


@pytest.mark.parametrize(("path", "manifests", "exp"), _expectations())
def test_scenario(runner: CliRunner, tmp_path: Path, path: Path, manifests: str, exp: dict[str, Any]) -> None:
    source = tmp_path / f"{path.stem}.yaml"
    source.write_text(manifests)
    result = invoke(
        runner,
        "check",
        str(source),
        "--from",
        exp["from"],
        "--to",
        exp["to"],
        "--port",
        exp["port"],
        "-o",
        "json",
        *_extra(exp),
    )
    assert result.exit_code in (0, 1), result.output
    assert json.loads(result.stdout)["verdict"] == exp["verdict"], json.loads(result.stdout)["reason"]
