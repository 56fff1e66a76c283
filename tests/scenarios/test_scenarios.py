"""Scenario files (tests/scenarios/*.yaml): manifests plus expected verdicts, each citing its
source. Every expectation is checked through ``kubefence check -o json``; an expectation with a
``cni:`` key (``cilium``, ``calico@3.31`` …) is checked with ``--cni`` that profile."""

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
            out.append(pytest.param(path, doc["manifests"], exp, id=f"{path.stem}-{i}"))
    return out


@pytest.mark.parametrize(("path", "manifests", "exp"), _expectations())
def test_scenario(runner: CliRunner, tmp_path: Path, path: Path, manifests: str, exp: dict[str, str]) -> None:
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
        *(("--cni", exp["cni"]) if "cni" in exp else ()),
    )
    assert result.exit_code in (0, 1), result.output
    assert json.loads(result.stdout)["verdict"] == exp["verdict"], json.loads(result.stdout)["reason"]
