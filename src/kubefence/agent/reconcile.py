"""Desired state and how to reach it: sources → table (+ revision), and the cheapest safe
change from the applied table to the desired one.

When only set and map elements differ (pods and namespaces came, went or changed labels),
the change is a list of element adds and deletes; when policies changed, the class chains that
differ are flushed and refilled in place; only a change of the layout itself (base chains,
set types) is a full atomic replace. Each is a single transaction.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kubefence.backends.nftables.ast import NftMap, NftSet, Table
from kubefence.backends.nftables.compile import compile_node, guard_chains, local_pods
from kubefence.backends.nftables.render import add_set_command, fill_chain_commands, render_text
from kubefence.engine.endpoints import Universe
from kubefence.engine.profiles import GENERIC, apply_profile
from kubefence.engine.resolve import Resolution

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

    from kubefence.workspace.load import Workspace

__all__ = ["GUARD_SUFFIX", "Desired", "desired_state", "element_patch", "guard_of"]


GUARD_SUFFIX = "_guard"


@dataclass(frozen=True, slots=True)
class Desired:
    """The tables one node should have: the agent's table and its guard twin (same rules, so
    that deleting one table by hand opens nothing: a packet must pass both), their
    full-replace script, and a revision hash."""

    table: Table
    script: str
    revision: str
    resolution: Resolution


def guard_of(table: Table) -> Table:
    """The guard twin: same sets, maps and class chains; its base chains skip what the agent's
    table already let through (see ``compile.guard_chains``)."""
    return dataclasses.replace(table, name=table.name + GUARD_SUFFIX, chains=guard_chains(table.chains))


def desired_state(
    workspace: Workspace, node: str, table: str, local: Collection[str] | None = None
) -> Desired:
    """Compile the workspace for ``node`` (or for the explicit ``local`` pod keys). The kernel
    backend enforces the upstream APIs (the generic profile): CNI-specific dialects are left out."""
    policies, _ = apply_profile(GENERIC, workspace.policies)
    resolution = Resolution(policies, Universe(workspace.snapshot))
    pods = local if local is not None else local_pods(resolution, node)
    compiled = compile_node(resolution, pods, table, node)
    script = render_text(compiled) + render_text(guard_of(compiled))
    return Desired(compiled, script, hashlib.sha256(script.encode()).hexdigest()[:16], resolution)


def _set_ops(table: str, old: NftSet, new: NftSet) -> list[str]:
    gone = sorted(set(old.elements) - set(new.elements))
    added = sorted(set(new.elements) - set(old.elements))
    ops = [f"delete element inet {table} {new.name} {{ {', '.join(gone)} }}"] if gone else []
    return ops + ([f"add element inet {table} {new.name} {{ {', '.join(added)} }}"] if added else [])


def _map_ops(table: str, old: NftMap, new: NftMap) -> list[str]:
    before, after = dict(old.elements), dict(new.elements)
    gone = sorted(k for k in before if after.get(k) != before[k])
    added = sorted(k for k in after if before.get(k) != after[k])
    ops = [f"delete element inet {table} {new.name} {{ {', '.join(gone)} }}"] if gone else []
    items = ", ".join(f"{k} : jump {after[k]}" for k in added)
    return ops + ([f"add element inet {table} {new.name} {{ {items} }}"] if added else [])


def _changes(table: str, old: Table, new: Table) -> list[str] | None:
    """One table's changes, ordered so that nothing is referenced before it exists or deleted
    while referenced: new sets and chains, elements, refilled chains, map entries, then
    removals. None when a base chain or a set's type changed (then: full replace)."""
    old_sets, new_sets = {s.name: s for s in old.sets}, {s.name: s for s in new.sets}
    old_chains, new_chains = {c.name: c for c in old.chains}, {c.name: c for c in new.chains}
    if any(c.hook and old_chains.get(c.name) != c for c in new.chains):
        return None
    if any(
        (s.family, s.kind) != (old_sets[s.name].family, old_sets[s.name].kind)
        for s in new.sets
        if s.name in old_sets
    ):
        return None
    ops = [add_set_command(table, s) for name, s in new_sets.items() if name not in old_sets]
    refill = [c for name, c in new_chains.items() if c.hook is None and old_chains.get(name) != c]
    ops += [f"add chain inet {table} {c.name}" for c in refill]  # every jump target exists first
    for name, s in new_sets.items():
        if name in old_sets:
            ops += _set_ops(table, old_sets[name], s)
    for chain in refill:
        ops += fill_chain_commands(table, chain)
    for m, n in zip(old.maps, new.maps, strict=True):
        ops += _map_ops(table, m, n)
    gone = [name for name in old_chains if name not in new_chains]
    ops += [f"flush chain inet {table} {name}" for name in gone]
    ops += [f"delete chain inet {table} {name}" for name in gone]
    return ops + [f"delete set inet {table} {name}" for name in old_sets if name not in new_sets]


def element_patch(old: Table, new: Table) -> Sequence[str] | None:
    """Commands turning ``old`` into ``new`` (and their guard twins) in place: element adds and
    deletes when only pods changed, refilled class chains when policies changed. None when
    the layout itself changed (then: full atomic replace)."""
    if [m.name for m in old.maps] != [m.name for m in new.maps] or old.name != new.name:
        return None
    ops: list[str] = []
    for name in (new.name, new.name + GUARD_SUFFIX):
        changes = _changes(name, old, new)
        if changes is None:
            return None
        ops += changes
    return ops
