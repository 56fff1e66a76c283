"""Command-line endpoint names (``ns/pod``, ``ns/workload``, an IP) → Universe indices."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import typer

from kubefence.cli.inputs import fail
from kubefence.engine.endpoints import Universe
from kubefence.ir.addresses import IPAddress
from kubefence.workspace.load import Workspace

__all__ = ["outside_ips", "pick"]


def outside_ips(workspace: Workspace, names: Sequence[str]) -> list[IPAddress]:
    """The names that are IP addresses of no pod: they join the universe as outside endpoints."""
    pod_ips = {ip for p in workspace.snapshot.pods for ip in p.ips}
    ips = [Universe.parse_ip(n) for n in names]
    return [ip for ip in ips if ip is not None and ip not in pod_ips]


def pick(universe: Universe, name: str, flag: str) -> int:
    """The endpoint index for NAME, or exit 2 with the closest names."""
    found = universe.index(name)
    if found is None:
        ip = Universe.parse_ip(name)
        found = _by_ip(universe, ip) if ip is not None else None
    if found is not None:
        return found
    raise _unknown(universe, name, flag)


def _by_ip(universe: Universe, ip: IPAddress) -> int | None:
    """The pod-network pod with this address, else any endpoint with it (a node's address is
    shared by its host-network pods, which policies cannot tell apart)."""
    matches = [i for i, e in enumerate(universe.endpoints) if e.ip == ip]
    managed = [i for i in matches if universe.endpoints[i].managed]
    chosen = managed or matches
    return chosen[0] if chosen else None


def _unknown(universe: Universe, name: str, flag: str) -> typer.Exit:
    ip = Universe.parse_ip(name)
    if ip is not None:  # a pod's other address (dual-stack): answers use each pod's first one
        owner = next((e for e in universe.endpoints if e.pod is not None and ip in e.pod.ips), None)
        if owner is not None:
            return fail(
                f"{flag} {name!r} is a second address of pod {owner.key}; kubefence answers for a "
                f"pod's first address ({owner.ip}): give {flag} {owner.key}"
            )
    if "/" not in name:
        return fail(f"{flag} {name!r}: expected NAMESPACE/POD, NAMESPACE/WORKLOAD or an IP address")
    close = difflib.get_close_matches(name, list(universe.by_key), n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return fail(f"{flag} {name!r}: no such pod or workload in the input{hint}")
