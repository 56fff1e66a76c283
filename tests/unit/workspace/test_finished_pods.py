"""Finished pods (phase Succeeded or Failed) have no network and are left out with a warning;
the Running pod that now holds the same IP is the one traffic from that IP comes from."""

from __future__ import annotations

from kubefence.engine.endpoints import Universe
from kubefence.engine.probes import Probe
from kubefence.engine.resolve import Resolution
from kubefence.engine.verdict import evaluate
from kubefence.ir.ports import Protocol
from kubefence.workspace.load import load_workspace

MANIFESTS = """\
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x}
status: {phase: Running, podIP: 10.0.1.1}
---
apiVersion: v1
kind: Pod
metadata: {name: done, namespace: y, labels: {app: done}}
status: {phase: Succeeded, podIP: 10.0.2.9}
---
apiVersion: v1
kind: Pod
metadata: {name: live, namespace: y, labels: {app: live}}
status: {phase: Running, podIP: 10.0.2.9}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: only-done, namespace: x}
spec:
  podSelector: {}
  ingress:
  - from: [{namespaceSelector: {}, podSelector: {matchLabels: {app: done}}}]
"""


def test_a_finished_pod_is_left_out_and_its_ip_is_the_running_pods(tmp_path) -> None:
    """kube-router (PR #1090, "Don't process policy for pod statuses that are Completed,
    Succeeded, or Failed", after Calico's conversion.go) and kube-network-policies
    (pkg/podinfo ``LookupPod``: "Prefer a running pod if multiple pods share the same IP")
    leave finished pods out: their IP may already be another pod's."""
    path = tmp_path / "c.yaml"
    path.write_text(MANIFESTS)
    ws = load_workspace([str(path)])
    assert [p.key for p in ws.snapshot.pods] == ["x/a", "y/live"]
    assert [(d.code, d.field) for d in ws.warnings] == [("pod-finished", "status.phase")]
    universe = Universe(ws.snapshot)
    src, dst = universe.index("y/live"), universe.index("x/a")
    assert src is not None and dst is not None
    assert not evaluate(Resolution(ws.policies, universe), src, dst, Probe(80, Protocol.TCP)).allowed
