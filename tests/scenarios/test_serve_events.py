"""``serve`` after watch events answers exactly as ``matrix`` on the resulting manifests.

Each scenario file's manifests (every dialect, under the file's ``--cni``) are split at random:
the cluster and some policies and definitions (tiers, groups, network sets) are loaded at
start; the others come as ADDED events, some loaded ones go as DELETED events (with the whole
object or the metadata alone, as watches send them), and a pod is relabelled. The server's
pair-by-pair answer must then equal ``kubefence matrix -o json`` on the final files.
"""

from __future__ import annotations

import ipaddress
import json
import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from conftest import invoke
from kubefence.cli.serve import Service
from kubefence.engine import export
from kubefence.engine.incremental import Enforcement, IncrementalEngine
from kubefence.engine.probes import Probe
from kubefence.engine.profiles import parse_profile
from kubefence.ir.ports import Protocol
from kubefence.workspace.load import load_workspace

HERE = Path(__file__).parent
FILES = sorted(HERE.glob("*.yaml"))
CLUSTER_KINDS = {
    "Namespace",
    "Pod",
    "Node",
    "Service",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
}


def _cases() -> list[Any]:
    out = []
    for path in FILES:
        doc = yaml.safe_load(path.read_text())
        for seed in range(3):
            out.append(pytest.param(doc, seed, id=f"{path.stem}-{seed}"))
    return out


def _dump(path: Path, docs: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def _events(
    rng: random.Random, cluster: list[dict[str, Any]], start: list[Any], later: list[Any]
) -> tuple[list[Any], list[Any]]:
    """Watch events, and the policies there are after them."""
    events = [{"type": "ADDED", "object": p} for p in later]
    kept = []
    for policy in start:
        if rng.random() < 0.35:
            gone = policy if rng.random() < 0.5 else {**policy, "spec": None}
            events.append({"type": "DELETED", "object": gone})
        else:
            kept.append(policy)
    pods = [d for d in cluster if d.get("kind") == "Pod"]
    if len(pods) >= 2:
        pod, other = rng.sample(pods, 2)
        labels = (other.get("metadata") or {}).get("labels") or {}
        pod["metadata"] = {**pod["metadata"], "labels": labels}  # the final files have it too
        events.append({"type": "MODIFIED", "object": pod})
    rng.shuffle(events)
    return events, kept + later


@pytest.mark.parametrize(("scenario", "seed"), _cases())
def test_serve_after_events_equals_matrix(
    runner: CliRunner, tmp_path: Path, scenario: dict[str, Any], seed: int
) -> None:
    rng = random.Random(seed)
    docs = [d for d in yaml.safe_load_all(scenario["manifests"]) if isinstance(d, dict)]
    cluster = [d for d in docs if d.get("kind") in CLUSTER_KINDS]
    objects = [d for d in docs if d not in cluster]  # policies and definitions
    start = [p for p in objects if rng.random() < 0.5]
    later = [p for p in objects if p not in start]
    cni = scenario.get("cni", "generic")
    dns = {name: tuple(map(ipaddress.ip_address, ips)) for name, ips in (scenario.get("dns") or {}).items()}
    dns_args = [
        a for name, ips in (scenario.get("dns") or {}).items() for a in ("--dns", f"{name}={','.join(ips)}")
    ]

    initial = _dump(tmp_path / "start.yaml", [*cluster, *start])
    workspace = load_workspace([str(initial)])
    assert not workspace.errors
    enforcement = Enforcement(parse_profile(cni), dns or None)
    engine = IncrementalEngine(workspace.snapshot, workspace.parsed, enforcement, workspace.definitions)
    service = Service(engine, [])
    events, final = _events(rng, cluster, start, later)
    for event in events:
        answer = service.events(json.dumps(event).encode())
        assert answer["applied"] == 1, answer

    final_file = _dump(tmp_path / "final.yaml", [*cluster, *final])
    result = invoke(runner, "matrix", str(final_file), "--cni", cni, *dns_args, "-o", "json")
    assert result.exit_code == 0, result.output
    expected = json.loads(result.stdout)
    probes = [Probe(p["port"], Protocol(p["protocol"])) for p in expected["probes"]]
    served = json.loads("".join(export.json_chunks(engine.matrix(), probes)))
    assert served["endpoints"] == expected["endpoints"]
    assert sorted(map(tuple, served["allowed"])) == sorted(map(tuple, expected["allowed"]))
