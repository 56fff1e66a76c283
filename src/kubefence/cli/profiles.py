"""``kubefence profiles``: every CNI profile and what it does not enforce."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from kubefence.engine.profiles import CILIUM_OPTIONS, Profile, all_profiles

__all__ = ["print_profiles", "profile_doc"]


def profile_doc(profile: Profile) -> dict[str, object]:
    return {
        "name": profile.name,
        "spec": profile.spec,
        "description": profile.description,
        "not_enforced": profile.gaps(),
        "ignored_kinds": [kind for kind, _ in profile.ignored_kinds],
        "named_ports": profile.named_ports,
        "end_port": profile.end_port,
        "sctp": profile.sctp,
        "ipblock_matches_pods": profile.ipblock_matches_pods,
        "ipblock_as_cidr": profile.ipblock_as_cidr,
        "node_selector_labels": profile.node_selector_labels,
        "rule_wide_excepts": profile.rule_wide_excepts,
        "rules_beyond_types": profile.rules_beyond_types,
        "shared_chain": profile.shared_chain,
        "open_named_ports": profile.open_named_ports,
        "own_node_egress": profile.own_node_egress,
        "localhost_policy": profile.localhost_policy,
        "cidr_match_nodes": profile.cidr_match_nodes,
        "dialects": sorted(profile.dialects),
        "notes": list(profile.notes),
    }


def print_profiles(output: str) -> None:
    profiles = all_profiles()
    if output == "json":
        options = {key: list(values) for key, values in CILIUM_OPTIONS.items()}
        print(
            json.dumps({"profiles": [profile_doc(p) for p in profiles], "cilium_options": options}, indent=2)
        )
        return
    table = Table(
        title="CNI profiles (--cni NAME\\[@VERSION]\\[,OPTION=VALUE]; latest version when none)",
        show_lines=True,
    )
    table.add_column("--cni", style="bold", no_wrap=True)
    table.add_column("what it is")
    table.add_column("not enforced (accepted by the API server)", style="yellow")
    for p in profiles:
        gaps = "\n".join(f"• {g}" for g in p.gaps()) or "—"
        notes = "".join(f"\n[dim]note: {n}[/]" for n in p.notes)
        table.add_row(p.name, p.description + notes, gaps)
    console = Console(highlight=False)
    console.print(table)
    console.print(
        "Cilium agent options (--cni cilium,OPTION=VALUE,...; the first value is Cilium's default):"
    )
    for key, values in CILIUM_OPTIONS.items():
        console.print(f"  {key}: {' | '.join(repr(v) if v == '' else v for v in values)}")
