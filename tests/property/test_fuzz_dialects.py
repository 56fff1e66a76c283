"""No input crashes kubefence: the vendor-dialect scenario manifests with random values swapped
in at random places (wrong types, empty values, odd strings) load into diagnostics, never an
exception, and whatever loads without errors can be analysed under every CNI profile."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubefence.dialects.loader import load_text
from kubefence.engine.endpoints import Universe
from kubefence.engine.matrix import ReachabilityMatrix
from kubefence.engine.prepare import prepare
from kubefence.engine.probes import Probe
from kubefence.engine.profiles import apply_profile, parse_profile
from kubefence.engine.resolve import Resolution
from kubefence.engine.verdict import evaluate
from kubefence.ir.l7 import HTTPRequest
from kubefence.ir.ports import Protocol
from kubefence.workspace.load import load_workspace

SCENARIOS = Path(__file__).parents[1] / "scenarios"
DOCS = [
    doc
    for path in sorted(SCENARIOS.glob("*.yaml"))
    if path.stem.split("-")[0] in ("calico", "cilium", "antrea")
    for doc in yaml.safe_load_all(yaml.safe_load(path.read_text())["manifests"])
    if isinstance(doc, dict)
    and ("spec" in doc or doc.get("kind") == "EndpointSlice")
    and doc.get("kind") not in ("Pod", "Namespace")
]
PODS = """\
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: default, labels: {app: a}}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: default, labels: {app: b}}
status: {podIP: 10.0.0.2}
"""
ODD = st.one_of(
    st.none(),
    st.integers(-5, 70000),
    st.sampled_from(["", "*", "x y", "80", "all()", "has(", "TCP", "0.0.0.0/0", "::/0", "10.0.0.1/8"]),
    st.just([]),
    st.just({}),
    st.just([{}]),
    st.booleans(),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _replace(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = dict(node) if isinstance(node, dict) else list(node)
    copy[path[0]] = _replace(node[path[0]], path[1:], value)
    return copy


@st.composite
def mutated(draw: st.DrawFn) -> str:
    doc = draw(st.sampled_from(DOCS))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if len(p) >= 2]
        if not paths:
            break
        doc = _replace(doc, draw(st.sampled_from(paths)), draw(ODD))
    return yaml.safe_dump(doc)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(), st.sampled_from(["generic", "calico", "calico@3.30", "cilium", "antrea"]))
def test_mutated_vendor_manifests_never_crash(tmp_path_factory: Any, text: str, cni: str) -> None:
    assert DOCS, "the vendor scenarios give the fuzzer its seeds"
    path = tmp_path_factory.mktemp("fuzz") / "in.yaml"
    path.write_text(PODS + "---\n" + text)
    load_text(text, "in.yaml")
    workspace = load_workspace([str(path)])
    if workspace.errors:
        assert all(d.file and d.line for d in workspace.errors), workspace.errors
        return
    policies, _ = apply_profile(parse_profile(cni), workspace.policies)
    policies, _ = prepare(
        policies, workspace.snapshot, {"example.com": (ipaddress.ip_address("203.0.113.9"),)}
    )
    universe = Universe(workspace.snapshot, [ipaddress.ip_address("203.0.113.9")])
    resolution = Resolution(policies, universe)
    ReachabilityMatrix(resolution).counts([Probe(80, Protocol.TCP), Probe(53, Protocol.UDP)])
    for src in range(len(universe)):
        evaluate(resolution, src, 0, Probe(80, Protocol.TCP), HTTPRequest("GET", "/"))
