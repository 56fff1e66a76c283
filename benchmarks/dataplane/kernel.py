"""Kernel-side helper, run inside the node netns (``ip netns exec <node> python kernel.py ...``):
libnftables in process through ``kubefence.agent.apply`` (``Nft``, ``NftTable``).

* ``load SCRIPT``: full atomic replace → ``{"seconds"}``;
* ``flush``: empty this namespace's ruleset (the benchmark's own namespace only);
* ``resync SCRIPT REPEAT``: load, then time REPEAT full atomic replaces of the existing table;
* ``pod CLUSTER_DIR REPEAT``: one pod add / remove as element patches (``element_patch``);
* ``policy CLUSTER_DIR REPEAT``: one policy change, compile time and kernel time apart.

Every command prints one JSON object; times are in seconds, lists hold every repetition.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import sys
import time
from pathlib import Path
from typing import Any

import cluster

from kubefence.agent.apply import Nft, NftTable
from kubefence.agent.reconcile import Desired, element_patch
from kubefence.cluster.snapshot import ClusterSnapshot, Pod
from kubefence.ir.model import Policy, TierKind
from kubefence.ir.ports import PortRange
from kubefence.workspace.load import Workspace


def _timed(fn: Any, *args: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def _table() -> NftTable:
    return NftTable(Nft(), cluster.TABLE)


def load(script: str) -> dict[str, Any]:
    seconds, _ = _timed(_table().replace, script)
    return {"seconds": seconds}


def flush() -> dict[str, Any]:
    Nft().run("flush ruleset")
    return {}


def resync(script: str, repeat: int) -> dict[str, Any]:
    table = _table()
    first, _ = _timed(table.replace, script)
    times = [_timed(table.replace, script)[0] for _ in range(repeat)]
    return {"first_load": first, "replace": times, "bytes": len(script)}


# -- one pod ---------------------------------------------------------------------------------
def _compile(snapshot: ClusterSnapshot, policies: tuple[Policy, ...]) -> Desired:
    """What the agent does for a new revision: resolve, compile and render for the node."""
    return cluster.agent_state(Workspace(snapshot, policies, ()))


def _with_pod(snapshot: ClusterSnapshot, pod: Pod) -> ClusterSnapshot:
    return ClusterSnapshot.build(snapshot.namespaces.values(), (*snapshot.pods, pod), snapshot.nodes.values())


def _twin(template: Pod, ip: str) -> Pod:
    return dataclasses.replace(template, name=f"{template.name}-twin", ips=(ipaddress.ip_address(ip),))


def _pod_case(snapshot: ClusterSnapshot, policies: tuple[Policy, ...], node: str, ip: str) -> dict[str, Any]:
    """A copy of a pod of ``node`` (same labels, so only set/map elements change)."""
    old = _compile(snapshot, policies)
    for template in (p for p in snapshot.pods if p.node == node and not p.host_network):
        compile_s, new = _timed(_compile, _with_pod(snapshot, _twin(template, ip)), policies)
        add, remove = element_patch(old.table, new.table), element_patch(new.table, old.table)
        if add and remove:
            return {"old": old, "add": list(add), "remove": list(remove), "compile_s": compile_s}
    raise SystemExit(f"no pod of {node} gives an element patch")


def pod(path: Path, repeat: int) -> dict[str, Any]:
    workspace = cluster.load(path)
    snapshot, policies = workspace.snapshot, workspace.policies
    out: dict[str, Any] = {}
    table = _table()
    for label, node, ip in (("remote", "node-1", "10.128.1.250"), ("local", cluster.NODE, "10.128.0.249")):
        case = _pod_case(snapshot, policies, node, ip)
        table.replace(case["old"].script)
        adds, removes = [], []
        for _ in range(repeat):
            adds.append(_timed(table.patch, case["add"])[0])
            removes.append(_timed(table.patch, case["remove"])[0])
        out[label] = {"add": adds, "remove": removes, "compile_s": case["compile_s"], "commands": case["add"]}
    return out


# -- one policy ------------------------------------------------------------------------------
def _shift_ports(policy: Policy) -> Policy | None:
    """The policy with its first numeric port moved by one (None: it has none)."""
    for k, rule in enumerate(policy.rules):
        ports = list(rule.ports or ())
        for i, p in enumerate(ports):
            if isinstance(p, PortRange) and p.end < 65535 and p.start > 0:
                ports[i] = dataclasses.replace(p, start=p.start + 1, end=p.end + 1)
                rules = list(policy.rules)
                rules[k] = dataclasses.replace(rule, ports=tuple(ports))
                return dataclasses.replace(policy, rules=tuple(rules))
    return None


def _enforced_here(desired: Desired) -> set[int]:
    """Indices of the policies selecting a pod of the benchmark's node."""
    r = desired.resolution
    endpoints = r.universe.endpoints
    local = [i for i, e in enumerate(endpoints) if e.pod is not None and e.pod.node == cluster.NODE]
    return {j for i in local for j in r.subject_sigs[i]}


def _changed_policies(workspace: Workspace, old: Desired) -> tuple[Policy, ...]:
    """The policies with one NetworkPolicy that the node enforces changed (a chain changes)."""
    policies, here = workspace.policies, _enforced_here(old)
    for j, policy in enumerate(policies):
        isolating = j in here and policy.tier.kind is TierKind.ISOLATING
        changed = _shift_ports(policy) if isolating else None
        if changed is None:
            continue
        candidate = (*policies[:j], changed, *policies[j + 1 :])
        if _compile(workspace.snapshot, candidate).table.chains != old.table.chains:
            return candidate
    raise SystemExit("no policy change reaches this node's chains")


def _revision(
    snapshot: ClusterSnapshot, policies: tuple[Policy, ...], applied: Desired
) -> tuple[Desired, Any]:
    """compile + render + diff against the applied table, as the agent does."""
    new = _compile(snapshot, policies)
    return new, element_patch(applied.table, new.table)


def policy(path: Path, repeat: int) -> dict[str, Any]:
    workspace = cluster.load(path)
    snapshot = workspace.snapshot
    versions = [workspace.policies]
    start = _compile(snapshot, versions[0])
    versions.append(_changed_policies(workspace, start))
    table = _table()
    first, _ = _timed(table.replace, start.script)
    applied, compiles, kernels, modes = start, [], [], []
    for k in range(repeat * 2):  # change, change back, ...
        compile_s, (new, patch) = _timed(_revision, snapshot, versions[(k + 1) % 2], applied)
        kernel_s, _ = _timed(table.patch if patch else table.replace, patch or new.script)
        compiles.append(compile_s)
        kernels.append(kernel_s)
        modes.append("patch" if patch else "replace")
        applied = new
    entries = cluster.entry_count(start.table)
    return {
        "compile": compiles,
        "kernel": kernels,
        "modes": sorted(set(modes)),
        "first_load": first,
        "entries": entries,
        "pods": len(snapshot.pods),
        "policies": len(workspace.policies),
        "tables": cluster.table_count(start.script),
    }


def main(argv: list[str]) -> int:
    cmd, *args = argv
    if cmd == "load":
        result = load(Path(args[0]).read_text())
    elif cmd == "flush":
        result = flush()
    elif cmd == "resync":
        result = resync(Path(args[0]).read_text(), int(args[1]))
    elif cmd == "pod":
        result = pod(Path(args[0]), int(args[1]))
    else:
        result = policy(Path(args[0]), int(args[1]))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
