"""Data-plane benchmark: kubefence's nftables ruleset against no rules and the linear iptables
baseline, on real packets, plus the agent's update latencies. Needs root.

    python benchmarks/dataplane/run.py [--quick] [--out PATH]
    python benchmarks/dataplane/run.py --cleanup kfdp      # remove leftovers of a killed run

Topology (``topo.py``): namespaces ``kfdp<hex>-node`` (a bridge, br_netfilter on), ``-cli`` and
``-srv`` (veths on the bridge); traffic only between them, client → server through the node's
forward hook. Configurations, loaded in the node namespace one after the other:

* ``none``: no rules; ``ct-only``: one ``ct state established,related accept`` rule (what
  conntrack alone costs);
* ``nft-10k`` / ``nft-100k``: what the agent loads (``agent.reconcile.desired_state``: every
  table of its script) for a generated cluster plus the benchmark's pods and policies
  (``cluster.py``), for the node holding both pods, with ≥ 10k / ≥ 100k set and map elements;
  the same policies, so only set sizes differ; loaded by ``kernel.py`` with libnftables in
  process; ``nft-10k-1t``: the agent's main table alone, when its script has a guard twin;
* ``ipt-10k+ct`` / ``ipt-10k``: ``backends.iptables`` for the two pods of the 10k cluster (≈10k
  rules, every new connection walks them all), with and without the conntrack fast path.

Each round measures, per configuration (in a rotating order): a bounded-time TCP bulk
transfer, a sequential connect/close loop and 1-byte request/response latency; the figures
are medians over rounds and ratios against ``none`` of the same run. Then the update
latencies (``kernel.py``): one pod add/remove, one policy change at 1,000 policies / 5,000
pods, full atomic resyncs. Everything is removed by prefix at the end, also on error or
Ctrl-C; results go to ``results.json`` beside this file.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cluster
import report
from topo import Topology, destroy_prefix, sh

HERE = Path(__file__).resolve().parent
TRAFFIC = str(HERE / "traffic.py")
KERNEL = str(HERE / "kernel.py")
DENIED_PORT = 5299
# Client and server share one CPU: on this VM a wake-up across CPUs costs ~50 µs, which made
# unpinned figures bimodal (RR p50 8 or 58 µs, 15 or 6.5 Gbit/s, depending on placement).
CPU = (os.cpu_count() or 1) - 1
METRICS = ("gbit_s", "conn_s", "p50_us")


@dataclass(frozen=True)
class Plan:
    """How long and how often: every loop is bounded by a count and a time."""

    rounds: int
    bulk_s: float
    conn_count: int
    conn_s: float
    rr_count: int
    rr_s: float
    pod_repeat: int
    policy_repeat: int
    resync_repeat: int


QUICK = Plan(3, 2.0, 20_000, 1.5, 3_000, 2.0, 20, 5, 3)
FULL = Plan(5, 3.0, 40_000, 3.0, 20_000, 5.0, 100, 10, 7)


@dataclass(frozen=True)
class Config:
    name: str
    kind: str  # "none" | "nft" | "iptables"
    script: Path | None
    size: str  # what it holds, for the table
    policies: bool = True  # enforces the benchmark's policies (the denied port is closed)


# -- processes in the namespaces ------------------------------------------------------------
def kernel(topo: Topology, *args: str, timeout: float = 900) -> dict[str, Any]:
    out = topo.ns(topo.node, sys.executable, KERNEL, *args, timeout=timeout)
    result: dict[str, Any] = json.loads(out)
    return result


def client(topo: Topology, *args: object, timeout: float = 120) -> dict[str, Any]:
    out = topo.ns(topo.client, sys.executable, TRAFFIC, "--cpu", str(CPU), *map(str, args), timeout=timeout)
    result: dict[str, Any] = json.loads(out)
    return result


def start_server(topo: Topology) -> subprocess.Popen[str]:
    ports = (cluster.BULK_PORT, cluster.CONN_PORT, cluster.RR_PORT, DENIED_PORT)
    cmd = [
        "ip",
        "netns",
        "exec",
        topo.server,
        sys.executable,
        TRAFFIC,
        "--cpu",
        str(CPU),
        "serve",
        cluster.SERVER_IP,
    ]
    proc = subprocess.Popen(
        [*cmd, *map(str, ports)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 15.0)
    if not ready or proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise RuntimeError("the traffic server did not start")
    return proc


def stop_server(proc: subprocess.Popen[str] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    if proc.stdin:
        proc.stdin.close()
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


# -- configurations -------------------------------------------------------------------------
CT_ONLY = """table inet kfdp_ct
delete table inet kfdp_ct
table inet kfdp_ct {
\tchain forward {
\t\ttype filter hook forward priority filter; policy accept;
\t\tct state established,related accept
\t}
}
"""


def _nft_configs(tmp: Path, label: str, compiled: cluster.Compiled) -> list[Config]:
    size = f"{compiled.entries:,} entries"
    (tmp / f"{label}.nft").write_text(compiled.nft_script)
    configs = [Config(f"nft-{label}", "nft", tmp / f"{label}.nft", size)]
    if compiled.nft_tables > 1 and label == "10k":  # what the guard twin costs
        (tmp / f"{label}-1t.nft").write_text(compiled.nft_main_script)
        configs.append(Config(f"nft-{label}-1t", "nft", tmp / f"{label}-1t.nft", f"{size}, 1 table"))
    return configs


def _ipt_configs(tmp: Path, label: str, compiled: cluster.Compiled) -> list[Config]:
    configs = []
    for variant, text in compiled.ipt_scripts.items():
        path = tmp / f"{label}-{variant}.ipt"
        path.write_text(text)
        name = f"ipt-{label}+ct" if variant == "ct" else f"ipt-{label}"
        configs.append(Config(name, "iptables", path, f"{compiled.ipt_rules:,} rules"))
    return configs


def prepare(tmp: Path, iptables: bool) -> tuple[list[Config], dict[str, Any], Path, Path]:
    """Generate and compile the clusters; the configurations, their facts, and the cluster dirs
    of the 10k and policy-change clusters."""
    (tmp / "ct-only.nft").write_text(CT_ONLY)
    configs = [
        Config("none", "none", None, "no rules", policies=False),
        Config("ct-only", "nft", tmp / "ct-only.nft", "conntrack only", policies=False),
    ]
    facts: dict[str, Any] = {}
    ipt: list[Config] = []
    for label, (pods, policies, wanted) in cluster.SIZES.items():
        log(f"{label} cluster: {pods} pods, {policies} policies, ≥ {wanted:,} set/map elements")
        workspace, pads = cluster.sized_cluster(tmp / label, label)
        compiled = cluster.compile_cluster(label, workspace, iptables=iptables and label == "10k")
        facts[label] = {
            k: v for k, v in asdict(compiled).items() if not k.endswith("script") and k != "ipt_scripts"
        }
        facts[label]["synthetic_pods"] = pads
        configs += _nft_configs(tmp, label, compiled)
        ipt += _ipt_configs(tmp, label, compiled)
    pods, policies = cluster.POLICY_CHANGE_SIZE
    log(f"generating the policy-change cluster ({pods} pods, {policies} policies)")
    change = cluster.write_generated(tmp / "change", pods, policies)
    return configs + ipt, facts, tmp / "10k", change


def load_config(topo: Topology, config: Config) -> float:
    """Empty the node's ruleset and conntrack table, then load ``config``; seconds to load."""
    kernel(topo, "flush")
    sh("ip", "netns", "exec", topo.node, "conntrack", "-F", check=False)
    if config.script is None:
        return 0.0
    if config.kind == "nft":
        return float(kernel(topo, "load", str(config.script))["seconds"])
    start = time.perf_counter()
    topo.ns(topo.node, "iptables-restore", stdin=config.script.read_text(), timeout=600)
    return time.perf_counter() - start


# -- measuring ------------------------------------------------------------------------------
def one_round(topo: Topology, config: Config, plan: Plan) -> dict[str, Any]:
    ip = cluster.SERVER_IP
    denied_open = client(topo, "probe", ip, DENIED_PORT)["open"]
    allowed_open = client(topo, "probe", ip, cluster.CONN_PORT)["open"]
    bulk = client(topo, "bulk", ip, cluster.BULK_PORT, plan.bulk_s)
    sh("ip", "netns", "exec", topo.node, "conntrack", "-F", check=False)
    conn = client(topo, "conn", ip, cluster.CONN_PORT, plan.conn_count, plan.conn_s)
    rr = client(topo, "rr", ip, cluster.RR_PORT, plan.rr_count, plan.rr_s)
    enforced = allowed_open and denied_open != config.policies
    return {
        "gbit_s": bulk["gbit_s"],
        "conn_s": conn["conn_s"],
        "conn_failed": conn["failed"],
        "p50_us": rr["p50_us"],
        "p99_us": rr["p99_us"],
        "enforced_as_expected": enforced,
    }


def traffic(topo: Topology, configs: list[Config], plan: Plan) -> dict[str, Any]:
    raw: dict[str, list[dict[str, Any]]] = {c.name: [] for c in configs}
    loads: dict[str, list[float]] = {c.name: [] for c in configs}
    for r in range(plan.rounds):
        order = configs[r % len(configs) :] + configs[: r % len(configs)]
        for config in order:
            log(f"round {r + 1}/{plan.rounds}: {config.name}")
            loads[config.name].append(load_config(topo, config))
            raw[config.name].append(one_round(topo, config, plan))
    kernel(topo, "flush")
    return {c.name: summarize(c, raw[c.name], loads[c.name]) for c in configs}


def summarize(config: Config, rounds: list[dict[str, Any]], loads: list[float]) -> dict[str, Any]:
    out: dict[str, Any] = {"size": config.size, "kind": config.kind, "rounds": rounds, "spread": {}}
    for metric in (*METRICS, "p99_us"):
        values = [r[metric] for r in rounds]
        out[metric] = statistics.median(values)
        out["spread"][metric] = (max(values) - min(values)) / out[metric]
    out["load_s"] = statistics.median(loads)
    out["enforced_as_expected"] = all(r["enforced_as_expected"] for r in rounds)
    out["conn_failed"] = sum(r["conn_failed"] for r in rounds)
    return out


def add_ratios(results: dict[str, Any]) -> None:
    base = results["none"]
    for entry in results.values():
        entry["ratio"] = {m: entry[m] / base[m] for m in METRICS}


def updates(topo: Topology, tmp: Path, ten_k: Path, change: Path, plan: Plan) -> dict[str, Any]:
    log("update latencies: one pod add/remove")
    out: dict[str, Any] = {"pod": kernel(topo, "pod", str(ten_k), str(plan.pod_repeat))}
    log("update latencies: one policy change at 1,000 policies / 5,000 pods")
    out["policy"] = kernel(topo, "policy", str(change), str(plan.policy_repeat))
    for label in cluster.SIZES:
        log(f"update latencies: full atomic resync at {label}")
        out[f"resync_{label}"] = kernel(topo, "resync", str(tmp / f"{label}.nft"), str(plan.resync_repeat))
    kernel(topo, "flush")
    return out


# -- driver ---------------------------------------------------------------------------------
def log(message: str) -> None:
    print(f"[dataplane] {message}", file=sys.stderr, flush=True)


def preflight() -> bool:
    """Exit unless root and iproute2 are there; whether iptables-restore is."""
    if os.geteuid() != 0:
        raise SystemExit("the data-plane benchmark needs root (network namespaces, nftables)")
    for tool in ("ip", "conntrack"):
        if shutil.which(tool) is None:
            raise SystemExit(
                f"missing {tool!r} (apt-get install -y iproute2 conntrack nftables libnftables1)"
            )
    if shutil.which("iptables-restore") is None:
        log("iptables-restore not found: the iptables baseline is skipped (apt-get install -y iptables)")
        return False
    return True


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(plan: Plan, mode: str) -> dict[str, Any]:
    iptables = preflight()
    machine = report.machine()
    topo = Topology.fresh()
    tmp = Path(tempfile.mkdtemp(prefix=f"{topo.prefix}-"))
    server = None
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    try:
        configs, facts, ten_k, change = prepare(tmp, iptables)
        log(f"creating namespaces {', '.join(topo.names)}")
        topo.create(cluster.CLIENT_IP, cluster.SERVER_IP, cluster.PREFIX_LEN)
        server = start_server(topo)
        results = traffic(topo, configs, plan)
        add_ratios(results)
        update = updates(topo, tmp, ten_k, change, plan)
    finally:
        stop_server(server)
        removed = destroy_prefix(topo.prefix)
        shutil.rmtree(tmp, ignore_errors=True)
        log(f"removed {', '.join(removed) or 'nothing'}")
    return {
        "mode": mode,
        "plan": asdict(plan),
        "machine": {**machine, "loadavg_end": report.machine()["loadavg"], "pinned_cpu": CPU},
        "clusters": facts,
        "traffic": results,
        "updates": report.update_summary(update),
        "updates_raw": update,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, shorter loads (a few minutes)")
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    parser.add_argument("--cleanup", metavar="PREFIX", help="only remove the namespaces of PREFIX (kfdp…)")
    args = parser.parse_args(argv)
    if args.cleanup:
        print("\n".join(destroy_prefix(args.cleanup)) or "nothing to remove")
        return 0
    try:
        result = run(QUICK if args.quick else FULL, "quick" if args.quick else "full")
    except KeyboardInterrupt:
        log("interrupted (everything the run created was removed)")
        return 130
    result["targets"] = report.targets(result)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(report.render(result))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
