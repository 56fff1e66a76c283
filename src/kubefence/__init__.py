"""kubefence: Kubernetes network policies, exactly.

The curated library API: load manifests into a ``Workspace``, resolve its policies against
its snapshot, and ask questions (``evaluate`` one flow with an explanation, or build a
``ReachabilityMatrix``)::

    from kubefence import Resolution, Universe, ReachabilityMatrix, load_workspace

    ws = load_workspace(["cluster/"])
    matrix = ReachabilityMatrix(Resolution(ws.policies, Universe(ws.snapshot)))
"""

from __future__ import annotations

import importlib
import typing

if typing.TYPE_CHECKING:
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

# Loaded on first use (PEP 562): the command line imports only what its command needs.
_WHERE = {
    "ClusterSnapshot": "kubefence.cluster.snapshot",
    "ConnectionSet": "kubefence.engine.connset",
    "Diagnostic": "kubefence.ir.diagnostics",
    "Explanation": "kubefence.engine.explain",
    "KubefenceError": "kubefence.errors",
    "Policy": "kubefence.ir.model",
    "Probe": "kubefence.engine.probes",
    "ReachabilityMatrix": "kubefence.engine.matrix",
    "Resolution": "kubefence.engine.resolve",
    "Severity": "kubefence.ir.diagnostics",
    "Universe": "kubefence.engine.endpoints",
    "Workspace": "kubefence.workspace.load",
    "evaluate": "kubefence.engine.verdict",
    "load_workspace": "kubefence.workspace.load",
    "parse_probe": "kubefence.engine.probes",
}


def __getattr__(name: str) -> typing.Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'kubefence' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


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
