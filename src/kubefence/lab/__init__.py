"""The lab: a small cluster's data plane built from network namespaces on one Linux host,
where policies are enforced on real packets and compared with the engine's prediction.

Pipeline: ``topology.plan_lab`` (snapshot → LabPlan, pure) → ``netns.create`` (namespaces,
veths, bridges, routes) → ``servers.start_server`` → an ``Enforcer`` per policy set →
``probe`` (real TCP, UDP and SCTP packets) → ``compare`` (predicted vs observed). ``run.Lab``
ties them together; ``kubefence lab`` is its command line.
"""

from __future__ import annotations

from kubefence.lab.compare import Discrepancy, compare
from kubefence.lab.enforce import Enforcer, EnforcerFactory, NoEnforcer
from kubefence.lab.names import DEFAULT_PREFIX, node_netns
from kubefence.lab.netns import Teardown, destroy
from kubefence.lab.plan import Endpoint, LabPlan, Mode, NodePlan, OutsidePlan, PodPlan
from kubefence.lab.run import Lab, LabReport, run_lab
from kubefence.lab.topology import lab_snapshot, plan_lab

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
