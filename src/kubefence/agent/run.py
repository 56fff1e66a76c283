"""The agent's one composition root: watch sources → reconcile → apply, resync against drift.

Guarantees: the first apply and every policy change are one transaction (full atomic replace);
pod and namespace churn only patch set elements; connections a change revokes are cut from
conntrack; a source that fails to parse keeps the last good ruleset; the table changed or
deleted by someone else is put back within the resync period; a restarted agent replaces the
table atomically (the kernel kept enforcing the old one meanwhile: fail closed).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from kubefence.agent.apply import ConntrackEntry, Nft, NftTable, conntrack_entries, delete_conntrack
from kubefence.agent.reconcile import Desired, desired_state, element_patch
from kubefence.agent.watch import fingerprint
from kubefence.engine.endpoints import Universe
from kubefence.engine.matrix import ReachabilityMatrix
from kubefence.engine.resolve import Resolution
from kubefence.ir.ports import Protocol
from kubefence.workspace.load import load_workspace

__all__ = ["Agent", "AgentConfig"]

Log = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class AgentConfig:
    node: str
    sources: tuple[str, ...]
    table: str = "kubefence"
    local_pods: tuple[str, ...] | None = None
    interval: float = 0.5
    resync: float = 5.0
    cut_revoked: bool = True


@dataclass
class Agent:
    """One node's agent; ``step()`` does one round, ``run()`` loops until stopped."""

    config: AgentConfig
    log: Log = print
    applied: Desired | None = None
    listing: str | None = None
    seen: tuple[tuple[str, int, int], ...] | None = None
    last_resync: float = field(default_factory=time.monotonic)
    _table: NftTable | None = None

    @property
    def table(self) -> NftTable:
        if self._table is None:
            self._table = NftTable(Nft(), self.config.table)
        return self._table

    def load(self) -> Desired | None:
        """The desired state from the sources, or None (errors reported) to keep the last good."""
        workspace = load_workspace(self.config.sources)
        if workspace.errors:
            for d in workspace.errors[:20]:
                self.log(f"source error, keeping the last good ruleset: {d}")
            return None
        return desired_state(workspace, self.config.node, self.config.table, self.config.local_pods)

    def apply(self, desired: Desired) -> None:
        old = self.applied
        patch = (
            element_patch(old.table, desired.table) if old is not None and self.listing is not None else None
        )
        if patch is None:
            self.table.replace(desired.script)
            self.log(f"applied revision {desired.revision} (full atomic replace)")
        else:
            self.table.patch(patch)
            self.log(f"applied revision {desired.revision} ({len(patch)} element change(s))")
        self.applied, self.listing = desired, self.table.listing()
        if old is not None and self.config.cut_revoked:
            self.cut_revoked(desired.resolution)

    def cut_revoked(self, resolution: Resolution) -> None:
        entries = conntrack_entries()
        if not entries:
            return
        known = {ip for e in resolution.universe.endpoints for ip in (e.ip,)}
        extra = sorted({ip for c in entries for ip in (c.src, c.dst) if ip not in known}, key=str)
        matrix = ReachabilityMatrix(
            Resolution(resolution.policies, Universe(resolution.universe.snapshot, extra))
        )
        index = {e.ip: i for i, e in reversed(list(enumerate(matrix.universe.endpoints)))}

        def revoked(c: ConntrackEntry) -> bool:
            src, dst = index.get(c.src), index.get(c.dst)
            if src is None or dst is None or src == dst:
                return False
            return not matrix.connections(src, dst).contains(Protocol(c.protocol), c.dport)

        cut = delete_conntrack(revoked)
        if cut:
            self.log(f"cut {cut} connection(s) the new ruleset no longer allows")

    def check_drift(self) -> None:
        if self.applied is None:
            return
        now = self.table.listing()
        if now != self.listing:
            self.log("drift: the table was changed or deleted outside the agent; restoring it")
            self.table.replace(self.applied.script)
            self.listing = self.table.listing()

    def step(self) -> None:
        current = fingerprint(self.config.sources)
        if current != self.seen:
            self.seen = current
            desired = self.load()
            if desired is not None and (self.applied is None or desired.revision != self.applied.revision):
                self.apply(desired)
        if time.monotonic() - self.last_resync >= self.config.resync:
            self.last_resync = time.monotonic()
            self.check_drift()

    def run(self, should_stop: Callable[[], bool] = lambda: False, max_seconds: float | None = None) -> None:
        start = time.monotonic()
        while not should_stop() and (max_seconds is None or time.monotonic() - start < max_seconds):
            self.step()
            time.sleep(self.config.interval)


def make_agent(node: str, sources: Sequence[str], **options: object) -> Agent:
    return Agent(AgentConfig(node, tuple(sources), **options))  # type: ignore[arg-type]
