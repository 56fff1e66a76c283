"""A seeded, reproducible synthetic cluster: namespaces, nodes, pods and network policies as YAML.

The cluster looks like a multi-team platform: namespaces labelled by team and environment,
Deployments' pods (labels ``app``, ``tier``, ``team``, ``version``, ``pod-template-hash``) with
container ports, named ports included, spread over nodes with one pod CIDR each, a host-network
``kube-proxy`` per node, and CoreDNS in ``kube-system``. The policies mix what real clusters
have: default-deny, DNS egress, per-app ingress from pod and namespace selectors (matchLabels
and matchExpressions), ipBlocks with ``except``, numeric, range (``endPort``) and named ports,
and optionally AdminNetworkPolicy / BaselineAdminNetworkPolicy.

The same ``(pods, policies, seed, ...)`` always writes the same bytes. The number of
equivalence classes is governed by ``apps`` (one Deployment = one label set), not by ``pods``:
``--apps 200 --namespaces 20`` with 1,000, 5,000 or 20,000 pods keeps the classes fixed.

``nca_safe`` avoids what Network Config Analyzer 2.1 reads differently (see the issue): no
ipBlock contains a pod IP, no ``Exists``/``DoesNotExist`` in a peer's podSelector next to a
namespaceSelector, no host-network pods and no AdminNetworkPolicy.

Usage: ``python benchmarks/generate.py OUT_DIR --pods 5000 --policies 1000 [--seed 1]``.
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

try:
    from yaml import CSafeDumper as Dumper
except ImportError:  # pragma: no cover
    from yaml import SafeDumper as Dumper  # type: ignore[assignment]

Obj = dict[str, Any]

TEAMS = ("payments", "search", "identity", "catalog", "checkout", "platform", "data", "ml", "ads", "infra")
ENVS = ("prod", "staging", "dev")
TIERS = ("frontend", "backend", "db", "cache", "worker")
ZONES = ("zone-a", "zone-b", "zone-c")
# tier → container ports (number, protocol, name)
PORTS: dict[str, tuple[tuple[int, str, str | None], ...]] = {
    "frontend": ((8080, "TCP", "http"), (8443, "TCP", "https"), (9090, "TCP", "metrics")),
    "backend": ((8080, "TCP", "http"), (50051, "TCP", "grpc"), (9090, "TCP", "metrics")),
    "db": ((5432, "TCP", "postgres"), (9187, "TCP", "metrics")),
    "cache": ((6379, "TCP", "redis"), (6379, "UDP", None)),
    "worker": ((9090, "TCP", "metrics"), (7000, "TCP", None)),
}
EXTERNAL = ("0.0.0.0/0", "0.0.0.0/0", "203.0.113.0/24", "198.51.100.0/24", "192.168.0.0/16")
# How much of the cluster the namespace-level policies isolate.
ISOLATION = {
    "mixed": "namespaces locked down, guarded, partly isolated and open in turn (most pairs denied)",
    "light": "namespaces partly isolated and open in turn, no namespace-wide default deny "
    "(most pairs connected)",
    "segmented": "every namespace denies ingress by default and opens app ports to selected peers "
    "(most pairs connected on some ports only)",
}
PRIVATE_EXCEPTS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


@dataclass(frozen=True)
class Spec:
    """What to generate; ``apps`` and ``namespaces`` default from ``pods``."""

    pods: int
    policies: int
    seed: int = 1
    apps: int | None = None
    namespaces: int | None = None
    nca_safe: bool = False
    admin: bool = True
    isolation: str = "mixed"  # "mixed" or "light" (see ISOLATION)

    @property
    def app_count(self) -> int:
        return self.apps or max(4, min(self.pods // 10, 1000))

    @property
    def namespace_count(self) -> int:
        return self.namespaces or max(2, self.app_count // 10)


@dataclass(frozen=True)
class App:
    namespace: str
    name: str
    tier: str
    team: str
    version: str
    env: str

    @property
    def labels(self) -> dict[str, str]:
        return {"app": self.name, "tier": self.tier, "team": self.team, "version": self.version}


@dataclass(frozen=True)
class NodeInfo:
    name: str
    ip: str
    pod_cidr: str  # 10.128.0.0/9 cut into /24s: (10.128 + n // 256).(n % 256).0/24

    def pod_ip(self, k: int) -> str:
        base = self.pod_cidr.rsplit(".", 1)[0]
        return f"{base}.{k + 2}"


class Generator:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.namespaces = self._namespaces()
        self.apps = self._apps()
        self.nodes = self._nodes()

    # cluster ------------------------------------------------------------------------------

    def _namespaces(self) -> list[tuple[str, str, str]]:
        out = []
        for i in range(self.spec.namespace_count):
            team, env = TEAMS[i % len(TEAMS)], ENVS[(i // len(TEAMS)) % len(ENVS)]
            out.append((f"{team}-{env}-{i}", team, env))
        return out

    def _apps(self) -> list[App]:
        apps = []
        for i in range(self.spec.app_count):
            ns, team, env = self.namespaces[i % len(self.namespaces)]
            tier = TIERS[(i // len(self.namespaces)) % len(TIERS)]
            apps.append(App(ns, f"{tier}-{i}", tier, team, self.rng.choice(("v1", "v1", "v2")), env))
        return apps

    def _nodes(self) -> list[NodeInfo]:
        count = max(2, -(-self.spec.pods // 100))
        return [
            NodeInfo(f"node-{n}", f"172.18.{n // 250}.{n % 250 + 2}", f"10.{128 + n // 256}.{n % 256}.0/24")
            for n in range(count)
        ]

    def cluster(self) -> tuple[list[Obj], list[Obj], list[Obj]]:
        """(namespaces, nodes, pods)."""
        namespaces = [_namespace("kube-system", {"team": "infra", "env": "prod"})]
        namespaces += [_namespace(n, {"team": t, "env": e}) for n, t, e in self.namespaces]
        nodes = [_node(n, ZONES[i % len(ZONES)]) for i, n in enumerate(self.nodes)]
        return namespaces, nodes, self._pods()

    def _pods(self) -> list[Obj]:
        pods: list[Obj] = []
        used = [0] * len(self.nodes)
        per_node = -(-self.spec.pods // len(self.nodes))

        def place(name: str, ns: str, labels: dict[str, str], ports: tuple[Any, ...]) -> None:
            n = len(pods) % len(self.nodes)
            while used[n] >= per_node:
                n = (n + 1) % len(self.nodes)
            node = self.nodes[n]
            pods.append(_pod(name, ns, labels, ports, node.name, node.pod_ip(used[n])))
            used[n] += 1

        dns_ports = ((53, "UDP", "dns"), (53, "TCP", "dns-tcp"), (9153, "TCP", "metrics"))
        for k in range(2):
            place(f"coredns-5d78c9869d-{k}", "kube-system", {"k8s-app": "kube-dns"}, dns_ports)
        rest = self.spec.pods - 2 - (0 if self.spec.nca_safe else len(self.nodes))
        for k in range(max(rest, 0)):
            app = self.apps[k % len(self.apps)]
            suffix = "".join(self.rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
            labels = {**app.labels, "pod-template-hash": _hash(app.name)}
            place(
                f"{app.name}-{labels['pod-template-hash']}-{suffix}", app.namespace, labels, PORTS[app.tier]
            )
        if not self.spec.nca_safe:
            for node in self.nodes:
                pods.append(_host_pod(node))
        return pods

    # policies -----------------------------------------------------------------------------

    def policies(self) -> list[Obj]:
        out: list[Obj] = []
        admin = 0 if self.spec.nca_safe or not self.spec.admin else max(1, self.spec.policies // 100)
        out += self._admin(admin)
        budget = self.spec.policies - len(out)
        by_ns: dict[str, list[App]] = {}
        for app in self.apps:
            by_ns.setdefault(app.namespace, []).append(app)
        locked = [self._default_deny, self._dns, self._app_ingress, self._app_egress, self._monitoring]
        locked += [self._app_ingress, self._egress_out, self._cross_ns, self._app_ingress]
        guarded = [self._default_deny, self._app_ingress, self._cross_ns, self._app_ingress, self._monitoring]
        guarded += [self._app_ingress, self._egress_out, self._app_ingress, self._cross_ns]
        partial = [self._app_ingress, self._cross_ns, self._monitoring, self._app_egress, self._app_ingress]
        open_ = [self._app_ingress, self._cross_ns, self._app_ingress, self._egress_out]
        # Namespaces differ as in real clusters: locked down (default deny both ways), guarded
        # (default deny ingress), partial (some apps isolated) and open (only data stores isolated).
        profiles = {
            "mixed": (locked, guarded, partial, open_),
            "light": (partial, open_),
            "segmented": (guarded,),
        }[self.spec.isolation]
        k = 0
        while budget > 0:
            i = k % len(self.namespaces)
            ns, team, env = self.namespaces[i]
            makers = profiles[i % len(profiles)]
            apps = by_ns.get(ns, [])
            if makers is open_:
                apps = [a for a in apps if a.tier in ("db", "cache")] or apps[:1]
            maker = makers[(k // len(self.namespaces)) % len(makers)]
            out.append(maker(ns, team, env, apps, k, makers is locked))
            budget -= 1
            k += 1
        return out

    def _pick(self, apps: list[App], k: int) -> App | None:
        """The app a namespace's k-th policy is about: apps in turn, round after round."""
        r = k // len(self.namespaces)
        return apps[r % len(apps)] if apps else None

    def _default_deny(self, ns: str, team: str, env: str, apps: list[App], k: int, locked: bool) -> Obj:
        types = ["Ingress", "Egress"] if locked else ["Ingress"]
        return _np(f"default-deny-{k}", ns, {}, types, [], [] if "Egress" in types else None)

    def _dns(self, ns: str, team: str, env: str, apps: list[App], k: int, locked: bool) -> Obj:
        peer = {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
        ports = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
        return _np(f"allow-dns-{k}", ns, {}, ["Egress"], None, [{"to": [peer], "ports": ports}])

    def _subject(self, app: App | None) -> Obj:
        return {"matchLabels": {"app": app.name}} if app else {"matchLabels": {"tier": "backend"}}

    def _app_ingress(self, ns: str, team: str, env: str, apps: list[App], k: int, locked: bool) -> Obj:
        app = self._pick(apps, k)
        tier = app.tier if app else "backend"
        rng = self.rng
        peers: list[Obj] = [{"podSelector": {"matchLabels": {"tier": "frontend"}}}]
        if rng.random() < 0.5:
            peers.append(
                {
                    "podSelector": {
                        "matchExpressions": [
                            {"key": "tier", "operator": "In", "values": ["backend", "worker"]},
                            {"key": "version", "operator": "NotIn", "values": ["v0"]},
                        ]
                    }
                }
            )
        if rng.random() < 0.5:
            expr = {"key": "env", "operator": "In", "values": [env, "staging"]}
            peers.append(
                {
                    "namespaceSelector": {"matchExpressions": [expr]},
                    "podSelector": {"matchLabels": {"team": team}},
                }
            )
        rules: list[Obj] = []
        for n in range(rng.choice((1, 1, 2, 3))):  # real policies often carry a few rules
            rule: Obj = {"from": peers if n == 0 else [self._extra_peer(team, env, n)]}
            ports = self._ports(tier)
            if ports:
                rule["ports"] = ports
            rules.append(rule)
        return _np(f"allow-{tier}-ingress-{k}", ns, self._subject(app), ["Ingress"], rules, None)

    def _extra_peer(self, team: str, env: str, n: int) -> Obj:
        if n == 1:
            return {
                "namespaceSelector": {"matchLabels": {"team": team}},
                "podSelector": {"matchLabels": {"tier": self.rng.choice(TIERS)}},
            }
        other = self.rng.choice(TEAMS)
        return {
            "namespaceSelector": {
                "matchExpressions": [{"key": "team", "operator": "In", "values": [team, other]}]
            }
        }

    def _ports(self, tier: str) -> list[Obj]:
        choice = self.rng.random()
        named = [p for p in PORTS[tier] if p[2] is not None]
        if choice < 0.3 and named:
            return [{"protocol": named[0][1], "port": named[0][2]}]
        if choice < 0.5:
            return [{"protocol": "TCP", "port": 9000, "endPort": 9100}, {"protocol": "TCP", "port": 8080}]
        if choice < 0.9:
            return [{"protocol": proto, "port": number} for number, proto, _ in PORTS[tier][:2]]
        return []

    def _egress_out(self, ns: str, team: str, env: str, apps: list[App], k: int, locked: bool) -> Obj:
        app = self._pick(apps, k)
        cidr = EXTERNAL[k % len(EXTERNAL)]
        block: Obj = {"cidr": cidr}
        if cidr == "0.0.0.0/0":
            block["except"] = list(PRIVATE_EXCEPTS)
        elif cidr == "192.168.0.0/16":
            block["except"] = ["192.168.1.0/24"]
        ports = [{"protocol": "TCP", "port": 443}]
        rule = {"to": [{"ipBlock": block}], "ports": ports}
        return _np(f"allow-egress-external-{k}", ns, self._subject(app), ["Egress"], None, [rule])

    def _monitoring(self, ns: str, team: str, env: str, apps: list[App], k: int, locked: bool) -> Obj:
        peers: list[Obj] = [
            {
                "namespaceSelector": {"matchLabels": {"team": "infra"}},
                "podSelector": {
                    "matchExpressions": [{"key": "k8s-app", "operator": "In", "values": ["kube-dns"]}]
                },
            }
        ]
        if not self.spec.nca_safe:
            node = self.nodes[k % len(self.nodes)]
            peers.append(
                {"ipBlock": {"cidr": node.pod_cidr, "except": [node.pod_cidr.replace(".0/24", ".0/28")]}}
            )
            peers.append(
                {
                    "namespaceSelector": {"matchLabels": {"env": "prod"}},
                    "podSelector": {"matchExpressions": [{"key": "release", "operator": "DoesNotExist"}]},
                }
            )
        rule = {"from": peers, "ports": [{"protocol": "TCP", "port": "metrics"}]}
        subject = {} if locked else self._subject(self._pick(apps, k))
        return _np(f"allow-metrics-{k}", ns, subject, ["Ingress"], [rule], None)

    def _cross_ns(self, ns: str, team: str, env: str, apps: list[App], k: int, locked: bool) -> Obj:
        app = self._pick(apps, k)
        other = self.namespaces[(k * 7 + 3) % len(self.namespaces)]
        peer = {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": other[0]}},
            "podSelector": {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]},
        }
        rule = {
            "from": [peer],
            "ports": [{"protocol": "TCP", "port": 8080}, {"protocol": "TCP", "port": 50051}],
        }
        return _np(f"allow-from-{other[0]}-{k}", ns, self._subject(app), ["Ingress"], [rule], None)

    def _app_egress(self, ns: str, team: str, env: str, apps: list[App], k: int, locked: bool) -> Obj:
        app = self._pick(apps, k)
        to_db = {"podSelector": {"matchLabels": {"tier": "db"}}}
        to_cache = {
            "podSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["cache"]}]}
        }
        rules = [
            {"to": [to_db], "ports": [{"protocol": "TCP", "port": "postgres"}]},
            {
                "to": [to_cache],
                "ports": [{"protocol": "TCP", "port": 6379}, {"protocol": "UDP", "port": 6379}],
            },
        ]
        return _np(
            f"allow-{app.name if app else 'all'}-egress-{k}", ns, self._subject(app), ["Egress"], None, rules
        )

    def _admin(self, count: int) -> list[Obj]:
        out: list[Obj] = []
        for i in range(count):
            kind = i % 3
            if kind == 0:
                out.append(_anp_isolate_dev(i))
            elif kind == 1:
                out.append(_anp_allow_monitoring(i))
            else:
                out.append(_anp_deny_db(i))
        if count:
            out.append(_banp())
        return out

    def namespace_of(self) -> list[str]:
        return [n for n, _, _ in self.namespaces]


# object builders --------------------------------------------------------------------------


def _hash(name: str) -> str:
    value = 0
    for ch in name:
        value = (value * 131 + ord(ch)) % 10**10
    return "".join("bcdfghjklmnpqrstvwxz2456789"[(value // 27**i) % 27] for i in range(9))[:9]


def _namespace(name: str, labels: dict[str, str]) -> Obj:
    all_labels = {"kubernetes.io/metadata.name": name, **labels}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": all_labels}}


def _node(node: NodeInfo, zone: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": node.name,
            "labels": {
                "kubernetes.io/hostname": node.name,
                "kubernetes.io/os": "linux",
                "topology.kubernetes.io/zone": zone,
            },
        },
        "spec": {"podCIDR": node.pod_cidr},
        "status": {"addresses": [{"type": "InternalIP", "address": node.ip}]},
    }


def _pod(name: str, ns: str, labels: dict[str, str], ports: tuple[Any, ...], node: str, ip: str) -> Obj:
    container_ports = []
    for number, proto, port_name in ports:
        entry: Obj = {"containerPort": number, "protocol": proto}
        if port_name:
            entry["name"] = port_name
        container_ports.append(entry)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {
            "nodeName": node,
            "serviceAccountName": labels.get("app", "default"),
            "containers": [{"name": "main", "image": "registry.example/app:1.0", "ports": container_ports}],
        },
        "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]},
    }


def _host_pod(node: NodeInfo) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"kube-proxy-{node.name}",
            "namespace": "kube-system",
            "labels": {"k8s-app": "kube-proxy"},
        },
        "spec": {
            "nodeName": node.name,
            "hostNetwork": True,
            "containers": [{"name": "kube-proxy", "image": "registry.k8s.io/kube-proxy:v1.30.0"}],
        },
        "status": {"phase": "Running", "podIP": node.ip, "podIPs": [{"ip": node.ip}]},
    }


def _np(name: str, ns: str, selector: Obj, types: list[str], ingress: Any, egress: Any) -> Obj:
    spec: Obj = {"podSelector": selector, "policyTypes": types}
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def _anp(name: str, priority: int, subject: Obj, ingress: list[Obj] | None, egress: list[Obj] | None) -> Obj:
    spec: Obj = {"priority": priority, "subject": subject}
    if ingress:
        spec["ingress"] = ingress
    if egress:
        spec["egress"] = egress
    return {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": "AdminNetworkPolicy",
        "metadata": {"name": name},
        "spec": spec,
    }


def _anp_isolate_dev(i: int) -> Obj:
    subject = {"namespaces": {"matchLabels": {"env": "prod"}}}
    rule = {
        "name": "deny-from-dev",
        "action": "Deny",
        "from": [{"namespaces": {"matchLabels": {"env": "dev"}}}],
    }
    return _anp(f"isolate-prod-from-dev-{i}", 10 + i, subject, [rule], None)


def _anp_allow_monitoring(i: int) -> Obj:
    subject = {"namespaces": {}}
    peer = {"namespaces": {"matchLabels": {"team": "infra"}}}
    rule = {
        "name": "allow-metrics",
        "action": "Allow",
        "from": [peer],
        "ports": [{"portNumber": {"protocol": "TCP", "port": 9090}}, {"namedPort": "metrics"}],
    }
    return _anp(f"allow-monitoring-{i}", 10 + i, subject, [rule], None)


def _anp_deny_db(i: int) -> Obj:
    subject = {
        "pods": {
            "namespaceSelector": {
                "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]
            },
            "podSelector": {"matchLabels": {"tier": "db"}},
        }
    }
    egress = [
        {
            "name": "pass-cluster",
            "action": "Pass",
            "to": [{"namespaces": {}}],
        },
        {
            "name": "deny-external-db",
            "action": "Deny",
            "to": [{"networks": ["0.0.0.0/0"]}],
            "ports": [{"portRange": {"protocol": "TCP", "start": 1024, "end": 65535}}],
        },
    ]
    return _anp(f"db-no-external-{i}", 10 + i, subject, None, egress)


def _banp() -> Obj:
    return {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": "BaselineAdminNetworkPolicy",
        "metadata": {"name": "default"},
        "spec": {
            "subject": {"namespaces": {"matchLabels": {"env": "dev"}}},
            "ingress": [
                {
                    "name": "deny-from-prod",
                    "action": "Deny",
                    "from": [{"namespaces": {"matchLabels": {"env": "prod"}}}],
                }
            ],
        },
    }


# writing ----------------------------------------------------------------------------------


def _dump(path: Path, docs: list[Obj]) -> None:
    with path.open("w") as out:
        yaml.dump_all(
            docs, out, Dumper=Dumper, default_flow_style=False, sort_keys=False, explicit_start=True
        )


def write(spec: Spec, out: Path) -> Path:
    """Write ``namespaces.yaml``, ``nodes.yaml``, ``pods.yaml`` and ``policies.yaml`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    gen = Generator(spec)
    namespaces, nodes, pods = gen.cluster()
    policies = gen.policies()
    _dump(out / "namespaces.yaml", namespaces)
    _dump(out / "nodes.yaml", nodes)
    _dump(out / "pods.yaml", pods)
    _dump(out / "policies.yaml", policies)
    return out


def _isolation_help() -> str:
    return "; ".join(f"{name}: {text}" for name, text in ISOLATION.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--pods", type=int, default=400)
    parser.add_argument("--policies", type=int, default=80)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--apps", type=int, default=None, help="Deployments (≈ equivalence classes)")
    parser.add_argument("--namespaces", type=int, default=None)
    parser.add_argument("--nca-safe", action="store_true", help="only inputs NCA reads like upstream")
    parser.add_argument("--no-admin", action="store_true", help="no AdminNetworkPolicy / Baseline")
    parser.add_argument("--isolation", choices=tuple(ISOLATION), default="mixed", help=_isolation_help())
    args = parser.parse_args(argv)
    spec = Spec(
        args.pods,
        args.policies,
        args.seed,
        args.apps,
        args.namespaces,
        args.nca_safe,
        not args.no_admin,
        args.isolation,
    )
    write(spec, args.out)
    print(f"wrote {args.out}: {spec.pods} pods, {spec.policies} policies", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
