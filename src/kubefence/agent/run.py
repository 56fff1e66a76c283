"""The agent's one composition root: source → reconcile → apply, resync against drift.

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
from typing import Protocol

from kubefence.agent.apply import ConntrackEntry, Nft, NftTable, conntrack_entries, delete_conntrack
from kubefence.agent.reconcile import GUARD_SUFFIX, Desired, desired_state, element_patch
from kubefence.agent.watch import fingerprint
from kubefence.cluster.snapshot import ClusterSnapshot
from kubefence.engine.endpoints import Universe
from kubefence.engine.matrix import ReachabilityMatrix
from kubefence.engine.resolve import Resolution
from kubefence.ir.model import Policy
from kubefence.ir.ports import Protocol as IPProtocol
from kubefence.workspace.load import Workspace, load_workspace

__all__ = ["Agent", "AgentConfig", "FileSource", "Source", "StaticSource"]

Log = Callable[[str], None]


class Source(Protocol):
    """Where the agent's desired state comes from."""

    def changed(self) -> bool:
        """True when the state may have changed since the last call."""

    def workspace(self) -> Workspace:
        """The current state (its ``errors`` say when it cannot be used)."""


@dataclass
class FileSource:
    """Manifest files and folders, watched by fingerprint (size, mtime) on every poll."""

    paths: Sequence[str]
    seen: tuple[tuple[str, int, int], ...] | None = None

    def changed(self) -> bool:
        current = fingerprint(self.paths)
        changed, self.seen = current != self.seen, current
        return changed

    def workspace(self) -> Workspace:
        return load_workspace(self.paths)


@dataclass
class StaticSource:
    """A snapshot and policies given in process (the lab); ``update`` replaces them."""

    snapshot: ClusterSnapshot
    policies: Sequence[Policy]
    dirty: bool = True

    def changed(self) -> bool:
        changed, self.dirty = self.dirty, False
        return changed

    def update(self, snapshot: ClusterSnapshot, policies: Sequence[Policy]) -> None:
        self.snapshot, self.policies, self.dirty = snapshot, policies, True

    def workspace(self) -> Workspace:
        return Workspace(self.snapshot, tuple(self.policies), ())


@dataclass(frozen=True, slots=True)
class AgentConfig:
    node: str
    table: str = "kubefence"
    local_pods: tuple[str, ...] | None = None
    interval: float = 0.5
    resync: float = 5.0
    cut_revoked: bool = True
    netns: str | None = None


@dataclass
class Agent:
    """One node's agent; ``step()`` does one round, ``run()`` loops until stopped."""

    config: AgentConfig
    source: Source
    log: Log = print
    applied: Desired | None = None
    listing: str | None = None
    last_resync: float = field(default_factory=time.monotonic)
    _table: NftTable | None = None

    @property
    def table(self) -> NftTable:
        if self._table is None:
            guard = self.config.table + GUARD_SUFFIX
            self._table = NftTable(Nft(self.config.netns), self.config.table, (guard,))
        return self._table

    def load(self) -> Desired | None:
        """The desired state from the source, or None (errors reported) to keep the last good."""
        workspace = self.source.workspace()
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
            self.log(f"applied revision {desired.revision} ({len(patch)} in-place change(s))")
        self.applied, self.listing = desired, self.table.listing()
        if old is not None and self.config.cut_revoked and self.config.netns is None:
            self.cut_revoked(desired.resolution)

    def cut_revoked(self, resolution: Resolution) -> None:
        """Delete the tracked connections the new ruleset would not let through."""
        entries = conntrack_entries()
        if not entries:
            return
        known = {e.ip for e in resolution.universe.endpoints}
        extra = sorted({ip for c in entries for ip in (c.src, c.dst) if ip not in known}, key=str)
        matrix = ReachabilityMatrix(
            Resolution(resolution.policies, Universe(resolution.universe.snapshot, extra))
        )
        index = {e.ip: i for i, e in reversed(list(enumerate(matrix.universe.endpoints)))}

        def revoked(c: ConntrackEntry) -> bool:
            src, dst = index.get(c.src), index.get(c.dst)
            if src is None or dst is None or src == dst:
                return False
            return not matrix.connections(src, dst).contains(IPProtocol(c.protocol), c.dport)

        cut = delete_conntrack(revoked)
        if cut:
            self.log(f"cut {cut} connection(s) the new ruleset no longer allows")

    def check_drift(self) -> None:
        if self.applied is None:
            return
        if self.table.listing() != self.listing:
            self.log("drift: the table was changed or deleted outside the agent; restoring it")
            self.table.replace(self.applied.script)
            self.listing = self.table.listing()

    def step(self) -> None:
        if self.source.changed():
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
