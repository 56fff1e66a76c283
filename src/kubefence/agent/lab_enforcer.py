"""Enforcement for the lab: the agent, in process, for every lab node.

The lab calls ``AgentEnforcer(snapshot, policies)`` once per policy set and ``enforce(node,
netns)`` per node; each node gets an ``Agent`` whose libnftables context is bound to that
node's network namespace and whose source is the lab's snapshot and policies. ``enforce``
returns once the node's table is in the kernel; ``stop`` removes the tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kubefence.agent.run import Agent, AgentConfig, StaticSource
from kubefence.cluster.snapshot import ClusterSnapshot
from kubefence.ir.model import Policy

__all__ = ["AgentEnforcer"]


@dataclass
class AgentEnforcer:
    """One in-process agent per lab node (see module docstring)."""

    snapshot: ClusterSnapshot
    policies: Sequence[Policy]
    table: str = "kubefence"
    agents: dict[str, Agent] = field(default_factory=dict)

    def enforce(self, node: str, netns: str) -> None:
        config = AgentConfig(node, self.table, netns=netns, cut_revoked=False)
        agent = Agent(config, StaticSource(self.snapshot, self.policies), log=lambda _m: None)
        agent.step()
        self.agents[node] = agent

    def stop(self) -> None:
        for agent in self.agents.values():
            agent.table.delete()
            agent.table.nft.close()
        self.agents.clear()
