"""kubefence: Kubernetes network policies, exactly.

The curated library API: load manifests into a ``Workspace``, resolve its policies against
its snapshot, and ask questions (``evaluate`` one flow with an explanation, or build a
``ReachabilityMatrix``)::

    from kubefence import Resolution, Universe, ReachabilityMatrix, load_workspace

    ws = load_workspace(["cluster/"])
    matrix = ReachabilityMatrix(Resolution(ws.policies, Universe(ws.snapshot)))
"""

from __future__ import annotations

from kubefence.cluster.snapshot import ClusterSnapshot
from kubefence.engine.connset import ConnectionSet
from kubefence.engine.endpoints import Universe
from kubefence.engine.explain import Explanation
from kubefence.engine.matrix import ReachabilityMatrix
from kubefence.engine.probes import Probe, parse_probe
from kubefence.engine.resolve import Resolution
from kubefence.engine.verdict import evaluate
from kubefence.errors import KubefenceError
from kubefence.ir.diagnostics import Diagnostic, Severity
from kubefence.ir.model import Policy
from kubefence.workspace.load import Workspace, load_workspace

__all__ = [
    "ClusterSnapshot",
    "ConnectionSet",
    "Diagnostic",
    "Explanation",
    "KubefenceError",
    "Policy",
    "Probe",
    "ReachabilityMatrix",
    "Resolution",
    "Severity",
    "Universe",
    "Workspace",
    "evaluate",
    "load_workspace",
    "parse_probe",
]
