"""Enforcement for the lab: the agent, in process, for every lab node.

The lab calls ``AgentEnforcer(snapshot, policies)`` once per policy set and ``enforce(node,
netns)`` per node. Each node namespace keeps one ``Agent`` (libnftables context bound to that
namespace) across policy sets, so a new policy set reaches the kernel the way a policy change
reaches a running agent: in place, in one transaction. ``enforce`` returns once the node's
tables are in the kernel. ``stop`` leaves them there: the next policy set patches them, and
``lab down`` removes them with the namespaces.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from kubefence.agent.run import Agent, AgentConfig, StaticSource
from kubefence.cluster.snapshot import ClusterSnapshot
from kubefence.ir.model import Policy

__all__ = ["AgentEnforcer"]


def _identity(netns: str) -> tuple[str, int, int]:
    """A namespace's name and inode: a re-created namespace of the same name is another one."""
    st = os.stat(f"/run/netns/{netns}")
    return (netns, st.st_dev, st.st_ino)


@dataclass
class AgentEnforcer:
    """One in-process agent per lab node namespace (see module docstring)."""

    snapshot: ClusterSnapshot
    policies: Sequence[Policy]
    table: str = "kubefence"

    agents: ClassVar[dict[tuple[str, int, int], Agent]] = {}

    def enforce(self, node: str, netns: str) -> None:
        key = _identity(netns)
        agent = self.agents.get(key)
        if agent is None or agent.config.node != node or agent.config.table != self.table:
            config = AgentConfig(node, self.table, netns=netns, cut_revoked=False)
            agent = Agent(config, StaticSource(self.snapshot, self.policies), log=lambda _m: None)
            self.agents[key] = agent
        else:
            assert isinstance(agent.source, StaticSource)
            agent.source.update(self.snapshot, self.policies)
        agent.step()

    def stop(self) -> None:
        """Nothing to do: the tables stay for the next policy set or ``lab down``."""
