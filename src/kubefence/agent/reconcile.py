"""Desired state and how to reach it: sources → table (+ revision), and the cheapest safe
change from the applied table to the desired one.

When only set and map elements differ (pods and namespaces came, went or changed labels),
the change is a list of element adds and deletes; anything else (a policy changed) is a full
atomic replace of the table. Both are a single transaction.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kubefence.backends.nftables.ast import NftMap, NftSet, Table
from kubefence.backends.nftables.compile import compile_node, local_pods
from kubefence.backends.nftables.render import render_text
from kubefence.engine.endpoints import Universe
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
    return dataclasses.replace(table, name=table.name + GUARD_SUFFIX)


def desired_state(
    workspace: Workspace, node: str, table: str, local: Collection[str] | None = None
) -> Desired:
    """Compile the workspace for ``node`` (or for the explicit ``local`` pod keys)."""
    resolution = Resolution(workspace.policies, Universe(workspace.snapshot))
    pods = local if local is not None else local_pods(resolution, node)
    compiled = compile_node(resolution, pods, table, node)
    script = render_text(compiled) + render_text(guard_of(compiled))
    return Desired(compiled, script, hashlib.sha256(script.encode()).hexdigest()[:16], resolution)


def _shape(table: Table) -> tuple[object, ...]:
    sets = tuple((s.name, s.family, s.kind) for s in table.sets)
    maps = tuple((m.name, m.family) for m in table.maps)
    return (table.name, sets, maps, table.chains)


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


def element_patch(old: Table, new: Table) -> Sequence[str] | None:
    """Element commands turning ``old`` into ``new`` (and their guard twins); None when chains
    or sets differ in shape."""
    if _shape(old) != _shape(new):
        return None
    ops: list[str] = []
    for name in (new.name, new.name + GUARD_SUFFIX):
        for a, b in zip(old.sets, new.sets, strict=True):
            ops += _set_ops(name, a, b)
        for m, n in zip(old.maps, new.maps, strict=True):
            ops += _map_ops(name, m, n)
    return ops
