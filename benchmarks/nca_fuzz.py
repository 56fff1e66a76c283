"""Differential check: kubefence's verdicts against NCA's on many small random clusters.

``generate.py`` makes realistic clusters; this makes small, varied ones, to reach the corners a
realistic cluster rarely has: selectors with every ``matchExpressions`` operator, empty and
absent selectors, ``policyTypes`` given or inferred, empty and absent ``from``/``to`` and
``ports``, numeric, named and range ports over TCP, UDP and SCTP, a named port that means
different numbers (or protocols) on different pods, namespaces without objects, and pods
without ``status.podIP`` (whose addresses kubefence makes up). Every
cluster stays inside what NCA 2.1 reads like upstream (``nca.py``): no ipBlock contains a pod
IP, and no ``Exists``/``DoesNotExist`` in a peer's podSelector next to a namespaceSelector.

With ``--calico`` the policies are Calico ``projectcalico.org/v3`` NetworkPolicies and
GlobalNetworkPolicies in the default tier (selector expressions, ``order``, Allow/Deny/Pass,
``types`` given or inferred, protocols, ports, ``notPorts``, ``notProtocol``, named ports,
namespace selectors, ``notSelector`` next to a namespaceSelector, external ``nets``), answered
with ``--cni calico``. NCA reads one thing differently there: a lone ``notSelector`` in a
namespaced policy's rule, which Calico limits to the policy's namespace (libcalico-go
updateprocessors/rules.go) and NCA does not; it is never generated.

For each seed it writes the cluster, runs ``kubefence matrix -o json`` and NCA's per-pair map,
and compares the allowed (src, dst, port, protocol) tuples at kubefence's probes. Disagreeing
clusters are kept under ``benchmarks/.data/fuzz/`` with the differing tuples.

Usage: ``python benchmarks/nca_fuzz.py [--seeds 1-40] [--pods 12] [--policies 6] [--calico]``.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402
import nca  # noqa: E402
from run import DATA, compare, kubefence  # noqa: E402

Obj = dict[str, Any]

NAMESPACES = ("alpha", "beta", "gamma", "default")
LABELS = {"app": ("web", "api", "db"), "tier": ("front", "back"), "env": ("prod", "dev")}
NS_LABELS = {
    "team": ("red", "blue"),
    "env": ("prod", "dev"),
    "kubernetes.io/metadata.name": NAMESPACES,
}
# Container ports: a name may mean different numbers or protocols on different pods.
PORTS = (
    (80, "TCP", "http"),
    (8080, "TCP", "http"),
    (443, "TCP", "https"),
    (53, "UDP", "dns"),
    (53, "TCP", "dns-tcp"),
    (5432, "TCP", "pg"),
    (3868, "SCTP", "diameter"),
    (9090, "TCP", None),
    (9090, "UDP", "metrics"),
)
EXTERNAL = ("203.0.113.0/24", "198.51.100.0/24", "192.0.2.0/24", "0.0.0.0/0")
CALICO_SELECTORS = (
    "all()",
    "app == 'web'",
    "has(tier)",
    "!has(env)",
    "app in {'web', 'api'}",
    "tier != 'front'",
    "app == 'db' && env == 'prod'",
    "app == 'api' || tier == 'back'",
)
CALICO_NS_SELECTORS = ("all()", "team == 'red'", "env == 'prod'", "has(team)", "!has(env)")


class Cluster:
    """One random cluster from a seed."""

    def __init__(self, seed: int, pods: int, policies: int) -> None:
        self.rng = random.Random(seed)
        self.pod_count, self.policy_count = pods, policies
        # Sometimes a namespace has pods but no Namespace object (no labels at all).
        optional = ("gamma", "default")
        self.with_object = [ns for ns in NAMESPACES if ns not in optional or self.rng.random() < 0.5]

    def _labels(self, vocab: dict[str, tuple[str, ...]], chance: float) -> dict[str, str]:
        return {
            k: self.rng.choice(v)
            for k, v in vocab.items()
            if self.rng.random() < chance and k != "kubernetes.io/metadata.name"
        }

    def namespaces(self) -> list[Obj]:
        out = []
        for ns in self.with_object:
            obj = generate._namespace(ns, self._labels(NS_LABELS, 0.7))
            if self.rng.random() < 0.3:  # the API server would add it: a manifest may not have it
                del obj["metadata"]["labels"]["kubernetes.io/metadata.name"]
            out.append(obj)
        return out

    def pods(self) -> list[Obj]:
        out = []
        for k in range(self.pod_count):
            ns = self.rng.choice(NAMESPACES)
            ports = tuple(self.rng.sample(PORTS, self.rng.randint(0, 3)))
            names = [p[2] for p in ports if p[2]]
            if len(names) != len(set(names)):
                ports = tuple({p[2] or str(p[0]): p for p in ports}.values())
            ip = f"10.244.{k // 200}.{k % 200 + 2}"
            pod = generate._pod(f"pod-{k}", ns, self._labels(LABELS, 0.6), ports, "node-1", ip)
            if ns == "default" and self.rng.random() < 0.5:
                del pod["metadata"]["namespace"]
            if self.rng.random() < 0.3:  # no address: kubefence makes one up (a private one)
                del pod["status"]
            out.append(pod)
        return out

    def _selector(self, vocab: dict[str, tuple[str, ...]], exists_ok: bool = True) -> Obj:
        rng = self.rng
        selector: Obj = {}
        roll = rng.random()
        if roll < 0.25:
            return {}
        if roll < 0.6:
            key = rng.choice(list(vocab))
            selector["matchLabels"] = {key: rng.choice(vocab[key])}
        if roll >= 0.45:
            ops = ["In", "NotIn"] + (["Exists", "DoesNotExist"] if exists_ok else [])
            exprs = []
            for _ in range(rng.randint(1, 2)):
                key, op = rng.choice(list(vocab)), rng.choice(ops)
                expr: Obj = {"key": key, "operator": op}
                if op in ("In", "NotIn"):
                    expr["values"] = rng.sample(vocab[key], rng.randint(1, len(vocab[key])))
                exprs.append(expr)
            selector["matchExpressions"] = exprs
        return selector

    def _peer(self) -> Obj:
        roll = self.rng.random()
        if roll < 0.35:
            return {"podSelector": self._selector(LABELS)}
        if roll < 0.6:
            return {"namespaceSelector": self._selector(NS_LABELS)}
        if roll < 0.85:
            return {
                "namespaceSelector": self._selector(NS_LABELS),
                "podSelector": self._selector(LABELS, exists_ok=False),
            }
        block: Obj = {"cidr": self.rng.choice(EXTERNAL)}
        if block["cidr"] == "0.0.0.0/0":
            block["except"] = ["10.0.0.0/8"]  # so that no pod IP is inside
        elif self.rng.random() < 0.5:
            block["except"] = [block["cidr"].replace(".0/24", ".128/25")]
        return {"ipBlock": block}

    def _port(self) -> Obj:
        rng = self.rng
        entry: Obj = {}
        if rng.random() < 0.8:
            entry["protocol"] = rng.choice(("TCP", "TCP", "UDP", "SCTP"))
        roll = rng.random()
        if roll < 0.35:
            entry["port"] = rng.choice((80, 443, 53, 5432, 9090, 3868, 8080))
        elif roll < 0.7:
            names = ("http", "https", "dns", "dns-tcp", "pg", "diameter", "metrics", "nope")
            entry["port"] = rng.choice(names)
        elif roll < 0.9:
            low = rng.choice((50, 80, 443, 5000, 9000))
            entry["port"], entry["endPort"] = low, low + rng.choice((0, 10, 500, 4000))
        return entry

    def _rule(self, side: str) -> Obj:
        rng = self.rng
        rule: Obj = {}
        roll = rng.random()
        if roll < 0.15:
            pass  # absent: every peer
        elif roll < 0.2:
            rule[side] = []
        else:
            rule[side] = [self._peer() for _ in range(rng.randint(1, 2))]
        roll = rng.random()
        if roll < 0.4:
            rule["ports"] = [self._port() for _ in range(rng.randint(1, 2))]
        elif roll < 0.45:
            rule["ports"] = []
        return rule

    def policies(self) -> list[Obj]:
        out = []
        for k in range(self.policy_count):
            rng = self.rng
            ns = rng.choice(NAMESPACES)
            types = rng.choice((["Ingress"], ["Egress"], ["Ingress", "Egress"], None))
            ingress = egress = None
            if types is None or "Ingress" in types:
                ingress = [self._rule("from") for _ in range(rng.randint(0, 2))] or None
            if (types is not None and "Egress" in types) or (types is None and rng.random() < 0.5):
                egress = [self._rule("to") for _ in range(rng.randint(0, 2))]
                if not egress and types is None:
                    egress = None
            policy = generate._np(f"np-{k}", ns, self._selector(LABELS), types or [], ingress, egress)
            if ns == "default" and rng.random() < 0.5:
                del policy["metadata"]["namespace"]
            if types is None:
                del policy["spec"]["policyTypes"]
            out.append(policy)
        return out

    def write(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        generate._dump(folder / "namespaces.yaml", self.namespaces())
        generate._dump(folder / "pods.yaml", self.pods())
        generate._dump(folder / "policies.yaml", self.policies())


class CalicoCluster(Cluster):
    """The same cluster, every namespace an object, with Calico policies (see the module)."""

    def __init__(self, seed: int, pods: int, policies: int) -> None:
        super().__init__(seed, pods, policies)
        self.with_object = list(NAMESPACES)

    def _entity(self) -> Obj:
        rng = self.rng
        entity: Obj = {}
        roll = rng.random()
        if roll < 0.4:
            entity["selector"] = rng.choice(CALICO_SELECTORS)
        if rng.random() < 0.3:
            entity["namespaceSelector"] = rng.choice(CALICO_NS_SELECTORS)
            if "selector" in entity and rng.random() < 0.25:
                entity["notSelector"] = entity.pop("selector")
        if roll > 0.85:
            entity = {"nets": [rng.choice(EXTERNAL[:2])]}
        return entity

    def _calico_rule(self, egress: bool) -> Obj:
        rng = self.rng
        rule: Obj = {"action": rng.choice(["Allow", "Allow", "Deny", "Pass"])}
        dst: Obj = {}
        if rng.random() < 0.6:
            rule["protocol"] = rng.choice(["TCP", "UDP", "SCTP"])
            if rng.random() < 0.6:
                dst["ports"] = rng.sample([80, 443, 53, "8000:9000", 5432, "http", "dns"], rng.randint(1, 2))
            elif rng.random() < 0.3:
                dst["notPorts"] = [rng.choice([80, 443, 53, "8000:9000"])]
        elif rng.random() < 0.15:
            rule["notProtocol"] = rng.choice(["TCP", "UDP"])
        other = self._entity()
        if egress:
            dst.update(other)
        elif other:
            rule["source"] = other
        if not egress and rng.random() < 0.2:
            dst["selector"] = rng.choice(CALICO_SELECTORS)
        if dst:
            rule["destination"] = dst
        return rule

    def policies(self) -> list[Obj]:
        out = []
        rng = self.rng
        for k in range(self.policy_count):
            glob = rng.random() < 0.3
            spec: Obj = {}
            if rng.random() < 0.85 or glob:
                spec["selector"] = rng.choice(CALICO_SELECTORS)
            if glob and rng.random() < 0.4:
                spec["namespaceSelector"] = rng.choice(CALICO_NS_SELECTORS)
            if rng.random() < 0.7:
                spec["order"] = rng.choice([10, 100, 500, 1000])
            types = rng.choice([None, ["Ingress"], ["Ingress", "Egress"], ["Egress"]])
            ingress = [self._calico_rule(False) for _ in range(rng.randint(0, 2))]
            egress = [self._calico_rule(True) for _ in range(rng.randint(0, 2))]
            if types is not None:
                spec["types"] = types
            if ingress and (types is None or "Ingress" in types):
                spec["ingress"] = ingress
            if egress and (types is None or "Egress" in types):
                spec["egress"] = egress
            meta: Obj = {"name": f"cp-{k}"}
            if not glob:
                meta["namespace"] = rng.choice(NAMESPACES)
            kind = "GlobalNetworkPolicy" if glob else "NetworkPolicy"
            out.append({"apiVersion": "projectcalico.org/v3", "kind": kind, "metadata": meta, "spec": spec})
        return out


def check(seed: int, pods: int, policies: int, keep: Path, calico: bool = False) -> dict[str, Any]:
    folder = keep / f"{'calico-' if calico else ''}seed-{seed}"
    shutil.rmtree(folder, ignore_errors=True)
    cluster = folder / "cluster"
    (CalicoCluster if calico else Cluster)(seed, pods, policies).write(cluster)
    ours = folder / "kubefence.json"
    cmd = [kubefence(), "matrix", str(cluster), "-o", "json", *(["--cni", "calico"] if calico else [])]
    with ours.open("w") as out:
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.DEVNULL, check=False)
    if done.returncode not in (0, 1):
        return {"seed": seed, "error": f"kubefence exited {done.returncode}"}
    theirs = folder / "nca.txt"
    nca_cmd = [c for c in nca.command(cluster, theirs) if "nodes.yaml" not in c]
    run = subprocess.run(nca_cmd, capture_output=True, text=True, check=False)
    if not theirs.exists():
        return {"seed": seed, "error": f"nca exited {run.returncode}: {run.stderr[-300:]}"}
    result = compare(ours, theirs)
    result["seed"] = seed
    if result["equal"]:
        shutil.rmtree(folder)
    return result


def _seeds(text: str) -> list[int]:
    low, _, high = text.partition("-")
    return list(range(int(low), int(high or low) + 1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=_seeds, default=_seeds("1-40"))
    parser.add_argument("--pods", type=int, default=12)
    parser.add_argument("--policies", type=int, default=6)
    parser.add_argument("--calico", action="store_true", help="Calico policies, answered with --cni calico")
    args = parser.parse_args(argv)
    if not nca.ensure_installed(DATA / "nca-install.log"):
        print("network-config-analyzer could not be installed", file=sys.stderr)
        return 2
    keep = DATA / "fuzz"
    bad = 0
    for seed in args.seeds:
        result = check(seed, args.pods, args.policies, keep, args.calico)
        if not result.get("equal"):
            bad += 1
            print(json.dumps(result), flush=True)
    print(f"{len(args.seeds) - bad} of {len(args.seeds)} clusters agree; the others are in {keep}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
