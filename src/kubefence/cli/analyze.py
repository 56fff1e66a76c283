"""check / matrix / explain: load, resolve, answer, print."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence

from rich.console import Console

from kubefence.cli.endpoints import outside_ips, pick
from kubefence.cli.inputs import fail, load, resolve, warning_texts
from kubefence.cli.render import explanation_text, matrix_table, report_text
from kubefence.engine.describe import describe_endpoint
from kubefence.engine.explain import Explanation
from kubefence.engine.matrix import ReachabilityMatrix
from kubefence.engine.probes import Probe, default_probes, parse_probe
from kubefence.engine.verdict import evaluate

__all__ = ["check", "explain", "matrix", "print_explanation"]

stdout = Console(highlight=False, soft_wrap=False)


def _probe(text: str) -> Probe:
    try:
        return parse_probe(text)
    except ValueError as e:
        raise fail(f"--port: {e}") from None


def check(
    paths: Sequence[str], src: str, dst: str, port: str, verbose: bool, quiet: bool
) -> tuple[Explanation, list[str]]:
    probe = _probe(port)
    workspace = load(paths, verbose, quiet_warnings=quiet)
    resolution = resolve(workspace, outside_ips(workspace, [src, dst]))
    a, b = pick(resolution.universe, src, "--from"), pick(resolution.universe, dst, "--to")
    return evaluate(resolution, a, b, probe), warning_texts(workspace)


def print_explanation(explanation: Explanation) -> None:
    stdout.print(explanation_text(explanation))


def matrix(paths: Sequence[str], ports: Sequence[str], output: str, verbose: bool) -> None:
    probes = [_probe(p) for p in ports]
    workspace = load(paths, verbose, quiet_warnings=output != "table")
    m = ReachabilityMatrix(resolve(workspace))
    probes = probes or list(default_probes(workspace.policies, workspace.snapshot))
    endpoints = list(range(len(m.universe)))
    if output == "table":
        stdout.print(matrix_table(m, probes, endpoints))
    elif output == "csv":
        _csv(m, probes)
    elif output == "counts":
        _counts(m, probes)
    else:
        _json(m, probes, warning_texts(workspace))


def _json(m: ReachabilityMatrix, probes: Sequence[Probe], warnings: list[str]) -> None:
    verdicts = m.verdicts(probes)
    doc = {
        "endpoints": [e.key for e in m.universe.endpoints],
        "probes": [p.to_json() for p in probes],
        "allowed": [list(t) for t in verdicts.allowed],
        "denied": [list(t) for t in verdicts.denied],
        "warnings": warnings,
    }
    json.dump(doc, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


def _csv(m: ReachabilityMatrix, probes: Sequence[Probe]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["from", "to", "port", "protocol", "verdict"])
    keys = [e.key for e in m.universe.endpoints]
    for src, dst in m.pairs():
        conns = m.connections(src, dst)
        for p in probes:
            verdict = "allow" if conns.contains(p.protocol, p.port) else "deny"
            writer.writerow([keys[src], keys[dst], p.port, p.protocol.value, verdict])


def _counts(m: ReachabilityMatrix, probes: Sequence[Probe]) -> None:
    allowed = total = 0
    for src, dst in m.pairs():
        conns = m.connections(src, dst)
        allowed += sum(conns.contains(p.protocol, p.port) for p in probes)
        total += len(probes)
    doc = {"endpoints": len(m.universe), "probes": len(probes), "allowed": allowed, "denied": total - allowed}
    print(json.dumps(doc))


def explain(paths: Sequence[str], pod: str, verbose: bool) -> None:
    workspace = load(paths, verbose)
    m = ReachabilityMatrix(resolve(workspace))
    stdout.print(report_text(describe_endpoint(m, pick(m.universe, pod, "POD"))))
