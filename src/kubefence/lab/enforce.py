"""The seam between the lab and whatever enforces policies on its nodes.

An ``EnforcerFactory`` is called once per policy set with the lab's snapshot (every pod on its
lab node, see ``topology.lab_snapshot``) and the policies, and returns an ``Enforcer``; the lab
then calls ``enforce(node, netns)`` for every node, probes, and calls ``stop()`` before the next
policy set or teardown. The node agent provides the real one
(``kubefence.agent.lab_enforcer.AgentEnforcer``); ``NoEnforcer`` is the in-tree fake.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from kubefence.cluster.snapshot import ClusterSnapshot
from kubefence.ir.model import Policy

__all__ = ["Enforcer", "EnforcerFactory", "NoEnforcer"]


class Enforcer(Protocol):
    """Applies one policy set to lab nodes."""

    def enforce(self, node: str, netns: str) -> None:
        """Make node ``node`` (network namespace ``netns``) enforce the policies; return once
        the kernel enforces them."""

    def stop(self) -> None:
        """Stop enforcing (release agents, threads or tables); called once, after probing."""


EnforcerFactory = Callable[[ClusterSnapshot, Sequence[Policy]], Enforcer]


class NoEnforcer:
    """Enforces nothing: with it, every probe must be observed allowed."""

    def __init__(self, snapshot: ClusterSnapshot | None = None, policies: Sequence[Policy] = ()) -> None:
        self.nodes: list[str] = []

    def enforce(self, node: str, netns: str) -> None:
        self.nodes.append(node)

    def stop(self) -> None:
        self.nodes.clear()
