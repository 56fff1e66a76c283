"""The benchmark's clusters and rulesets (pure: no kernel, no root).

A generated cluster (``benchmarks/generate.py``, seed 1) plus a ``kfbench`` namespace holding
the two pods the traffic runs between, both on ``node-0`` (the node netns of the topology):

* ``bench-server`` (10.128.0.250) serves TCP 5201-5203; ``bench-client`` (10.128.0.251);
* ``allow-from-all-pods`` lets every pod of the cluster reach the server on a few ports other
  than the benchmark's: one set of every pod address in nftables, and pods × ports rules
  that every new connection to the server walks in the linear iptables baseline before the
  rule that allows it (the port count is chosen so that this makes ≈ ``IPT_RULES`` rules);
* ``server-in`` / ``client-out`` allow client → server on 5201-5203 (so the client is isolated
  for egress and the server for ingress, and both directions' chains are walked);
* when the compiled table holds fewer set and map elements than the size asks for, synthetic
  pods (namespace ``kfpad``, on ``node-1``, addresses in 10.64.0.0/12) are added: each lands
  in the sets of the peers that select every pod.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/generate.py

import generate

from kubefence.agent.reconcile import Desired, desired_state
from kubefence.backends.iptables import compile_iptables, render_restore
from kubefence.backends.nftables.compile import local_pods
from kubefence.backends.nftables.render import render_text
from kubefence.workspace.load import Workspace, load_workspace

NODE = "node-0"
SERVER_IP = "10.128.0.250"
CLIENT_IP = "10.128.0.251"
PREFIX_LEN = 24
BULK_PORT, CONN_PORT, RR_PORT = 5201, 5202, 5203
TABLE = "kubefence"
IPT_RULES = 10_000  # rules a new connection walks in the iptables baseline, roughly
PAD_ROUNDS = 3

# label → (generated pods, generated policies, set + map elements wanted)
SIZES = {"10k": (2500, 500, 10_000), "100k": (18000, 500, 100_000)}
POLICY_CHANGE_SIZE = (5000, 1000)  # pods, policies: the policy-change figure


def _ns(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def _pod(name: str, ip: str, ports: list[int], ns: str = "kfbench", node: str = NODE) -> dict[str, Any]:
    container = {
        "name": "main",
        "image": "bench",
        "ports": [{"containerPort": p, "protocol": "TCP"} for p in ports],
    }
    labels = {"app": name if ns == "kfbench" else "pad"}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"nodeName": node, "containers": [container]},
        "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]},
    }


def pad_pods(count: int) -> list[dict[str, Any]]:
    """``count`` synthetic pods on node-1 (see module docstring)."""
    if not count:
        return []
    ips = (f"10.{64 + k // 62500}.{k // 250 % 250}.{k % 250 + 1}" for k in range(count))
    pods = [_pod(f"pad-{k}", ip, [], "kfpad", "node-1") for k, ip in enumerate(ips)]
    return [_ns("kfpad", {"team": "pad", "env": "pad"}), *pods]


def _np(name: str, app: str, direction: str, peers: list[dict[str, Any]], ports: list[dict[str, Any]]) -> Any:
    key = "from" if direction == "Ingress" else "to"
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": "kfbench"},
        "spec": {
            "podSelector": {"matchLabels": {"app": app}},
            "policyTypes": [direction],
            direction.lower(): [{key: peers, "ports": ports}],
        },
    }


def bench_objects(wide_ports: int) -> list[dict[str, Any]]:
    """The ``kfbench`` namespace, its two pods and three policies (see module docstring)."""
    bench = [{"protocol": "TCP", "port": BULK_PORT, "endPort": RR_PORT}]
    wide = [{"protocol": "TCP", "port": 8001 + k} for k in range(wide_ports)]
    everyone = [{"namespaceSelector": {}}]
    return [
        _ns("kfbench", {"team": "bench", "env": "bench"}),
        _pod("bench-server", SERVER_IP, [BULK_PORT, CONN_PORT, RR_PORT]),
        _pod("bench-client", CLIENT_IP, []),
        _np("allow-from-all-pods", "bench-server", "Ingress", everyone, wide),
        _np(
            "server-in",
            "bench-server",
            "Ingress",
            [{"podSelector": {"matchLabels": {"app": "bench-client"}}}],
            bench,
        ),
        _np(
            "client-out",
            "bench-client",
            "Egress",
            [{"podSelector": {"matchLabels": {"app": "bench-server"}}}],
            bench,
        ),
    ]


def write_generated(out: Path, pods: int, policies: int) -> Path:
    """A generated cluster (seed 1) in ``out``."""
    generate.write(generate.Spec(pods, policies, seed=1), out)
    return out


def write_bench(out: Path, wide_ports: int, pads: int) -> None:
    with (out / "zz-bench.yaml").open("w") as f:
        yaml.safe_dump_all(bench_objects(wide_ports) + pad_pods(pads), f, sort_keys=False)


def load(path: Path) -> Workspace:
    workspace = load_workspace([str(path)])
    if workspace.errors:
        raise SystemExit(f"{path}: {workspace.errors[0]}")
    return workspace


def _pod_network_pods(workspace: Workspace) -> int:
    return sum(1 for p in workspace.snapshot.pods if not p.host_network)


def sized_cluster(out: Path, label: str) -> tuple[Workspace, int]:
    """The ``label`` cluster in ``out`` with at least its wanted number of set and map
    elements (padded, see module docstring); the workspace and the number of pads."""
    pods, policies, wanted = SIZES[label]
    write_generated(out, pods, policies)
    pads, ports = 0, 1
    write_bench(out, ports, pads)
    workspace = load(out)
    for _ in range(PAD_ROUNDS):
        missing = max(0, wanted - entry_count(agent_state(workspace).table))
        wide = max(1, round(IPT_RULES / (_pod_network_pods(workspace) + missing)))
        if not missing and wide == ports:
            break
        pads, ports = pads + missing, wide  # each pad adds at least one element
        write_bench(out, ports, pads)
        workspace = load(out)
    return workspace, pads


@dataclass(frozen=True)
class Compiled:
    """One cluster compiled for ``node-0``: the agent's nft script (every table it loads) and the
    iptables-restore scripts."""

    name: str
    pods: int
    policies: int
    entries: int  # set and map elements of the agent's table
    nft_tables: int  # tables in the agent's script (a guard twin doubles what the kernel holds)
    nft_rules: int
    nft_script: str
    nft_main_script: str  # the agent's own table only (no guard twin)
    compile_s: float
    ipt_scripts: dict[str, str]  # "ct" / "noct" → script
    ipt_rules: int


def entry_count(table: Any) -> int:
    return sum(len(s.elements) for s in table.sets) + sum(len(m.elements) for m in table.maps)


def agent_state(workspace: Workspace) -> Desired:
    """What the agent computes for ``node-0``: resolve, compile, render (its own code path)."""
    return desired_state(workspace, NODE, TABLE)


def table_count(script: str) -> int:
    return len({line.split()[2] for line in script.splitlines() if line.startswith("table inet ")})


def compile_cluster(name: str, workspace: Workspace, *, iptables: bool) -> Compiled:
    start = time.perf_counter()
    desired = agent_state(workspace)
    elapsed = time.perf_counter() - start
    table, script, resolution = desired.table, desired.script, desired.resolution
    ipt: dict[str, str] = {}
    ipt_rules = 0
    if iptables:  # only the two benchmark pods: their chains are what the traffic walks
        bench = [k for k in local_pods(resolution, NODE) if k.startswith("kfbench/")]
        for variant, ct in (("ct", True), ("noct", False)):
            ruleset = compile_iptables(resolution, bench, NODE, conntrack=ct)
            ipt[variant] = render_restore(ruleset)
            ipt_rules = max(ipt_rules, len(ruleset.rules))
    nft_rules = sum(len(c.rules) for c in table.chains)
    return Compiled(
        name,
        len(workspace.snapshot.pods),
        len(workspace.policies),
        entry_count(table),
        table_count(script),
        nft_rules,
        script,
        render_text(table),
        elapsed,
        ipt,
        ipt_rules,
    )
