"""The lab: a small cluster's data plane built from network namespaces on one Linux host,
where policies are enforced on real packets and compared with the engine's prediction.

Pipeline: ``topology.plan_lab`` (snapshot → LabPlan, pure) → ``netns.create`` (namespaces,
veths, bridges, routes) → ``servers.start_server`` → an ``Enforcer`` per policy set →
``probe`` (real TCP, UDP and SCTP packets) → ``compare`` (predicted vs observed). ``run.Lab``
ties them together; ``kubefence lab`` is its command line.
"""

from __future__ import annotations

import importlib
from typing import Any

# Loaded on first use (PEP 562): ``kubefence lab --help`` and every other command need only the
# small option types, not the whole lab.
_WHERE = {
    "Discrepancy": "compare",
    "compare": "compare",
    "Enforcer": "enforce",
    "EnforcerFactory": "enforce",
    "NoEnforcer": "enforce",
    "DEFAULT_PREFIX": "names",
    "node_netns": "names",
    "Teardown": "netns",
    "destroy": "netns",
    "Endpoint": "plan",
    "LabPlan": "plan",
    "Mode": "plan",
    "NodePlan": "plan",
    "OutsidePlan": "plan",
    "PodPlan": "plan",
    "Lab": "run",
    "LabReport": "run",
    "run_lab": "run",
    "lab_snapshot": "topology",
    "plan_lab": "topology",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'kubefence.lab' has no attribute {name!r}")
    return getattr(importlib.import_module(f"kubefence.lab.{module}"), name)


__all__ = [
    "DEFAULT_PREFIX",
    "Discrepancy",
    "Endpoint",
    "Enforcer",
    "EnforcerFactory",
    "Lab",
    "LabPlan",
    "LabReport",
    "Mode",
    "NoEnforcer",
    "NodePlan",
    "OutsidePlan",
    "PodPlan",
    "Teardown",
    "compare",
    "destroy",
    "lab_snapshot",
    "node_netns",
    "plan_lab",
    "run_lab",
]
