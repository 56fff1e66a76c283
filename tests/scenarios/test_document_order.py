"""The order of the documents given changes no answer: every scenario file and every
conformance case, its documents shuffled (two seeds), gives the same matrix as in file order.
Precedence comes from the APIs (priority, order, tier, name tie-breaks), never from where an
object sits in the input."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from conftest import conformance_cases, invoke

SCENARIOS = sorted((Path(__file__).parent).glob("*.yaml"))


def _inputs() -> list[Any]:
    out = []
    for path in SCENARIOS:
        doc = yaml.safe_load(path.read_text())
        docs = [d for d in yaml.safe_load_all(doc["manifests"]) if isinstance(d, dict)]
        dns = [
            a for name, ips in (doc.get("dns") or {}).items() for a in ("--dns", f"{name}={','.join(ips)}")
        ]
        out.append(pytest.param(docs, ["--cni", doc.get("cni", "generic"), *dns], id=path.stem))
    for case in conformance_cases():
        files = [case.model, *(f for f in case.policy_files() if "v1alpha2" not in f.name)]
        docs = [d for f in files for d in yaml.safe_load_all(f.read_text())]
        ports = [a for p in case.expected["probes"] for a in ("--port", f"{p['port']}/{p['protocol']}")]
        out.append(pytest.param([d for d in docs if isinstance(d, dict)], ports, id=case.name))
    return out


def _allowed(runner: CliRunner, path: Path, docs: list[dict[str, Any]], args: list[str]) -> Any:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    result = invoke(runner, "matrix", str(path), *args, "-o", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    return sorted(doc["endpoints"]), sorted(map(tuple, doc["allowed"]))


@pytest.mark.parametrize(("docs", "args"), _inputs())
def test_document_order_changes_nothing(
    runner: CliRunner, tmp_path: Path, docs: list[Any], args: list[str]
) -> None:
    expected = _allowed(runner, tmp_path / "given.yaml", docs, args)
    for seed in (1, 2):
        shuffled = list(docs)
        random.Random(seed).shuffle(shuffled)
        assert _allowed(runner, tmp_path / f"shuffled-{seed}.yaml", shuffled, args) == expected, seed
