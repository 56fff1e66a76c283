"""``kubefence demo``: the shipped example cluster, analysed, as a short guided tour."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources

from rich.console import Console
from rich.rule import Rule

from kubefence.cli.render import explanation_text, matrix_table
from kubefence.cluster.snapshot import ClusterSnapshot
from kubefence.engine.endpoints import Universe
from kubefence.engine.matrix import ReachabilityMatrix
from kubefence.engine.probes import parse_probe
from kubefence.engine.profiles import GENERIC, apply_profile, parse_profile
from kubefence.engine.resolve import Resolution
from kubefence.engine.verdict import evaluate
from kubefence.ir.model import Policy
from kubefence.workspace.load import load_workspace

__all__ = ["demo_path", "run_demo"]


def demo_path() -> str:
    """The folder of the shipped demo manifests."""
    return str(resources.files("kubefence") / "examples" / "demo")


def run_demo(console: Console) -> None:
    path = demo_path()
    workspace = load_workspace([path])
    snapshot = workspace.snapshot
    console.print(Rule("kubefence demo"))
    console.print(f"Manifests: {path}")
    console.print(
        f"{len(snapshot.namespaces)} namespaces, {len(snapshot.pods)} pods, "
        f"{len(workspace.policies)} policies: " + ", ".join(sorted({p.kind for p in workspace.policies}))
    )
    console.print(
        "Answers under the generic profile (the upstream APIs, as any conformant CNI enforces them):"
    )
    generic, warnings = apply_profile(GENERIC, workspace.policies)
    for warning in warnings:
        console.print(f"warning: {warning.object}: {warning.message}", style="yellow", markup=False)
    resolution = Resolution(generic, Universe(snapshot))
    matrix = ReachabilityMatrix(resolution)
    probes = [parse_probe(p) for p in ("8080/TCP", "8443/TCP", "9090/TCP", "53/UDP")]
    console.print(Rule("1. Who can reach whom"))
    console.print(matrix_table(matrix, probes, list(range(len(matrix.universe)))))
    universe = resolution.universe
    steps = [
        (
            "2. An explained denial: can the frontend call payments directly?",
            "shop/frontend",
            "shop/payments",
            "8443/TCP",
        ),
        (
            "3. An explained allow: can Prometheus scrape payments?",
            "monitoring/prometheus",
            "shop/payments",
            "9090/TCP",
        ),
    ]
    for title, src, dst, port in steps:
        console.print(Rule(title))
        src_i, dst_i = universe.index(src), universe.index(dst)
        assert src_i is not None and dst_i is not None
        console.print(explanation_text(evaluate(resolution, src_i, dst_i, parse_probe(port))))
    _on_cilium(console, workspace.policies, snapshot)
    console.print(Rule())
    console.print(f"Try: kubefence check {path} --from dev/loadtest --to shop/frontend --port 8080/TCP")
    console.print(f"     kubefence matrix {path} --cni flannel      (kubefence profiles lists the CNIs)")


def _on_cilium(console: Console, policies: Sequence[Policy], snapshot: ClusterSnapshot) -> None:
    """The same scrape under the cilium profile: the CNI does not implement AdminNetworkPolicy,
    and the CiliumClusterwideNetworkPolicy (ignored by the generic profile) allows it instead."""
    console.print(Rule("4. The same question on a cluster running Cilium (--cni cilium)"))
    console.print(
        "Under the generic profile the CiliumClusterwideNetworkPolicy is only a warning; on Cilium the "
        "AdminNetworkPolicies are, and the Cilium policy is evaluated with the NetworkPolicies "
        "(deny rules first, then the union of the allows)."
    )
    profile = parse_profile("cilium")
    effective, warnings = apply_profile(profile, policies)
    for warning in warnings[:2]:
        console.print(f"warning: {warning.object}: {warning.message}", style="yellow", markup=False)
    resolution = Resolution(effective, Universe(snapshot), ipblock_matches_pods=profile.ipblock_matches_pods)
    src, dst = resolution.universe.index("monitoring/prometheus"), resolution.universe.index("shop/payments")
    assert src is not None and dst is not None
    console.print(explanation_text(evaluate(resolution, src, dst, parse_probe("9090/TCP"))))
