#!/usr/bin/env python3
"""Well-formedness checker for the network-policy conformance corpus.

Usage:  python3 check_corpus.py [CORPUS_DIR]     (default: the directory of this script)

It does NOT evaluate policies.  It checks that:
  * every model file and every policies*.yaml parses as YAML and contains sane objects;
  * every cases/<name>/expected.json follows the corpus schema (see README.md);
  * every pod named in "deny", "extra_probes" and "upstream_checks" exists in the case's model;
  * ports are 1..65535, protocols are TCP/UDP/SCTP, deny tuples use a listed probe, never a self pair,
    never a host-network pod, and are not duplicated;
  * "poke" upstream checks agree with the deny list / extra_probes of the same case;
  * no written file contains an absolute path of the machine that produced it.
Exit status 0 when everything is fine, 1 otherwise.
"""

import ipaddress
import json
import re
import sys
from pathlib import Path

try:
    import yaml
except ImportError:  # pragma: no cover
    sys.exit("check_corpus.py needs PyYAML (pip install pyyaml)")

PROTOCOLS = {"TCP", "UDP", "SCTP"}
NP_API = "networking.k8s.io/v1"
ANP_API = "policy.networking.k8s.io/v1alpha1"
CNP_API = "policy.networking.k8s.io/v1alpha2"
REQUIRED_KEYS = [
    "description",
    "source",
    "basis",
    "model",
    "apis",
    "self_traffic",
    "probes",
    "deny",
    "upstream_checks",
]
OPTIONAL_KEYS = {"also_sources", "extra_probes", "notes"}
SOURCE_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+:[^#\s]+(#.+)?$")
ABS_PATH_RE = re.compile(r"(?<![\w.])/(?:work|tmp|root|home|Users|var/folders)/")


class Checker:
    def __init__(self, root: Path):
        self.root = root
        self.errors = []
        self.models = {}

    def err(self, where, msg):
        self.errors.append(f"{where}: {msg}")

    # ------------------------------------------------------------------ helpers
    def load_yaml_docs(self, path):
        try:
            with open(path) as f:
                return [d for d in yaml.safe_load_all(f) if d is not None]
        except Exception as e:
            self.err(path.relative_to(self.root), f"YAML does not parse: {e}")
            return None

    def check_selector(self, where, sel):
        if not isinstance(sel, dict):
            self.err(where, f"label selector must be a mapping, got {sel!r}")
            return
        extra = set(sel) - {"matchLabels", "matchExpressions"}
        if extra:
            self.err(where, f"unknown selector fields {sorted(extra)}")
        ml = sel.get("matchLabels") or {}
        if not isinstance(ml, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in ml.items()
        ):
            self.err(where, "matchLabels must map strings to strings")
        for e in sel.get("matchExpressions") or []:
            op = e.get("operator")
            if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
                self.err(where, f"bad matchExpressions operator {op!r}")
            vals = e.get("values")
            if op in ("In", "NotIn") and not vals:
                self.err(where, f"operator {op} needs values")
            if op in ("Exists", "DoesNotExist") and vals:
                self.err(where, f"operator {op} must not have values")

    def check_cidr(self, where, c):
        try:
            return ipaddress.ip_network(c, strict=False)
        except ValueError:
            self.err(where, f"bad CIDR {c!r}")
            return None

    @staticmethod
    def valid_port(p):
        return isinstance(p, int) and not isinstance(p, bool) and 1 <= p <= 65535

    # ------------------------------------------------------------------ models
    def load_model(self, name):
        if name in self.models:
            return self.models[name]
        path = self.root / name
        if "/" in name or not path.is_file():
            self.err(name, "model file missing (models must live next to this script)")
            self.models[name] = None
            return None
        docs = self.load_yaml_docs(path)
        model = {"namespaces": {}, "pods": {}, "nodes": {}}
        if docs is None:
            self.models[name] = None
            return None
        ips = {}
        for d in docs:
            kind = d.get("kind")
            md = d.get("metadata") or {}
            if kind == "Namespace":
                labels = md.get("labels") or {}
                if labels.get("kubernetes.io/metadata.name") != md.get("name"):
                    self.err(
                        name, f"namespace {md.get('name')} lacks a matching kubernetes.io/metadata.name label"
                    )
                model["namespaces"][md["name"]] = labels
            elif kind == "Node":
                model["nodes"][md["name"]] = d
            elif kind == "Pod":
                key = f"{md.get('namespace')}/{md.get('name')}"
                st = d.get("status") or {}
                spec = d.get("spec") or {}
                ip = st.get("podIP")
                try:
                    ipaddress.ip_address(ip)
                except (ValueError, TypeError):
                    self.err(name, f"pod {key} has no valid status.podIP")
                host = bool(spec.get("hostNetwork"))
                if ip in ips and not host:
                    self.err(name, f"pod {key} reuses IP {ip} of {ips[ip]}")
                ips.setdefault(ip, key)
                for c in spec.get("containers") or []:
                    for p in c.get("ports") or []:
                        if not self.valid_port(p.get("containerPort")) or p.get("protocol") not in PROTOCOLS:
                            self.err(name, f"pod {key} container {c.get('name')} has a bad port {p}")
                model["pods"][key] = {"ip": ip, "host": host, "labels": md.get("labels") or {}}
            else:
                self.err(name, f"unexpected kind {kind!r} in model")
        for key in model["pods"]:
            if key.split("/")[0] not in model["namespaces"]:
                self.err(name, f"pod {key} is in an undeclared namespace")
        self.models[name] = model
        return model

    # ------------------------------------------------------------------ policies
    def check_np_ports(self, where, ports):
        for p in ports or []:
            proto = p.get("protocol", "TCP")
            if proto not in PROTOCOLS:
                self.err(where, f"bad protocol {proto!r}")
            if "port" in p:
                v = p["port"]
                if isinstance(v, str):
                    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", v) or len(v) > 15:
                        self.err(where, f"named port {v!r} is not a valid IANA_SVC_NAME")
                    if "endPort" in p:
                        self.err(where, "endPort is not allowed with a named port")
                elif not self.valid_port(v):
                    self.err(where, f"bad port {v!r}")
                elif "endPort" in p and (not self.valid_port(p["endPort"]) or p["endPort"] < v):
                    self.err(where, f"endPort {p['endPort']!r} must be a port >= {v}")
            elif "endPort" in p:
                self.err(where, "endPort requires port")

    def check_np_peer(self, where, peer, model):
        keys = set(peer)
        if not keys or keys - {"podSelector", "namespaceSelector", "ipBlock"}:
            self.err(where, f"bad NetworkPolicy peer {peer}")
            return
        if "ipBlock" in keys:
            if len(keys) != 1:
                self.err(where, "ipBlock cannot be combined with selectors")
            ib = peer["ipBlock"]
            net = self.check_cidr(where, ib.get("cidr"))
            for ex in ib.get("except") or []:
                en = self.check_cidr(where, ex)
                if (
                    net is not None
                    and en is not None
                    and (en.version != net.version or not en.subnet_of(net))
                ):
                    self.err(where, f"except {ex} is not inside {ib.get('cidr')}")
        for k in ("podSelector", "namespaceSelector"):
            if k in peer:
                self.check_selector(where, peer[k])

    def check_networkpolicy(self, where, d, model):
        md = d.get("metadata") or {}
        if md.get("namespace") not in model["namespaces"]:
            self.err(where, f"NetworkPolicy {md.get('name')} is in unknown namespace {md.get('namespace')!r}")
        spec = d.get("spec") or {}
        if "podSelector" not in spec:
            self.err(where, "spec.podSelector is required")
        else:
            self.check_selector(where, spec["podSelector"])
        for t in spec.get("policyTypes") or []:
            if t not in ("Ingress", "Egress"):
                self.err(where, f"bad policyType {t!r}")
        for key, peers_key in (("ingress", "from"), ("egress", "to")):
            rules = spec.get(key)
            if rules is None:
                continue
            if not isinstance(rules, list):
                self.err(where, f"spec.{key} must be a list")
                continue
            for r in rules:
                if set(r) - {peers_key, "ports"}:
                    self.err(where, f"unknown fields in {key} rule: {sorted(set(r) - {peers_key, 'ports'})}")
                for peer in r.get(peers_key) or []:
                    self.check_np_peer(where, peer, model)
                self.check_np_ports(where, r.get("ports"))

    def check_anp_peer(self, where, peer, direction):
        allowed = {"namespaces", "pods"} | ({"nodes", "networks"} if direction == "egress" else set())
        if len(peer) != 1 or not set(peer) <= allowed:
            self.err(where, f"peer must set exactly one of {sorted(allowed)}: {peer}")
            return
        ((k, v),) = peer.items()
        if k in ("namespaces", "nodes"):
            self.check_selector(where, v)
        elif k == "pods":
            if set(v) != {"namespaceSelector", "podSelector"}:
                self.err(where, "pods peer needs namespaceSelector and podSelector")
            for s in v.values():
                self.check_selector(where, s)
        elif k == "networks":
            if not v:
                self.err(where, "networks must not be empty")
            for c in v:
                self.check_cidr(where, c)

    def check_subject(self, where, subj):
        if not isinstance(subj, dict) or len(subj) != 1 or not set(subj) <= {"namespaces", "pods"}:
            self.err(where, f"subject must set exactly one of namespaces/pods: {subj}")
            return
        ((k, v),) = subj.items()
        if k == "namespaces":
            self.check_selector(where, v)
        else:
            for s in (v.get("namespaceSelector"), v.get("podSelector")):
                self.check_selector(where, s)

    def check_admin(self, where, d):
        kind = d["kind"]
        spec = d.get("spec") or {}
        if kind == "AdminNetworkPolicy":
            pr = spec.get("priority")
            if not isinstance(pr, int) or not 0 <= pr <= 1000:
                self.err(where, f"priority must be 0..1000, got {pr!r}")
            actions = {"Allow", "Deny", "Pass"}
        elif kind == "BaselineAdminNetworkPolicy":
            if (d.get("metadata") or {}).get("name") != "default":
                self.err(where, "a BaselineAdminNetworkPolicy must be named 'default'")
            actions = {"Allow", "Deny"}
        else:  # ClusterNetworkPolicy
            if spec.get("tier") not in ("Admin", "Baseline"):
                self.err(where, f"bad tier {spec.get('tier')!r}")
            pr = spec.get("priority")
            if not isinstance(pr, int) or not 0 <= pr <= 1000:
                self.err(where, f"priority must be 0..1000, got {pr!r}")
            actions = {"Accept", "Deny", "Pass"}
        self.check_subject(where, spec.get("subject"))
        for direction, peers_key in (("ingress", "from"), ("egress", "to")):
            for r in spec.get(direction) or []:
                if r.get("action") not in actions:
                    self.err(where, f"bad {direction} action {r.get('action')!r} for {kind}")
                peers = r.get(peers_key)
                if not peers:
                    self.err(where, f"{direction} rule {r.get('name')!r} needs '{peers_key}'")
                for p in peers or []:
                    self.check_anp_peer(where, p, direction)
                if kind == "ClusterNetworkPolicy":
                    for p in r.get("protocols") or []:
                        if set(p) == {"destinationNamedPort"}:
                            continue
                        if len(p) != 1 or next(iter(p)) not in ("tcp", "udp", "sctp"):
                            self.err(where, f"bad protocols entry {p}")
                            continue
                        dp = (next(iter(p.values())) or {}).get("destinationPort")
                        if dp is None:
                            continue
                        if "number" in dp and not self.valid_port(dp["number"]):
                            self.err(where, f"bad port {dp}")
                        if "range" in dp and not (
                            self.valid_port(dp["range"].get("start"))
                            and self.valid_port(dp["range"].get("end"))
                            and dp["range"]["start"] <= dp["range"]["end"]
                        ):
                            self.err(where, f"bad port range {dp}")
                else:
                    for p in r.get("ports") or []:
                        if len(p) != 1:
                            self.err(where, f"port entry must set exactly one field: {p}")
                            continue
                        ((k, v),) = p.items()
                        if k == "portNumber":
                            if v.get("protocol", "TCP") not in PROTOCOLS or not self.valid_port(
                                v.get("port")
                            ):
                                self.err(where, f"bad portNumber {v}")
                        elif k == "portRange":
                            if (
                                v.get("protocol", "TCP") not in PROTOCOLS
                                or not self.valid_port(v.get("start"))
                                or not self.valid_port(v.get("end"))
                                or v["start"] > v["end"]
                            ):
                                self.err(where, f"bad portRange {v}")
                        elif k == "namedPort":
                            if not isinstance(v, str) or not v:
                                self.err(where, f"bad namedPort {v!r}")
                        else:
                            self.err(where, f"unknown port field {k}")

    def check_policies_file(self, path, model, v2):
        docs = self.load_yaml_docs(path)
        if docs is None:
            return
        where = path.relative_to(self.root)
        seen = set()
        for d in docs:
            for k in ("apiVersion", "kind", "metadata"):
                if k not in d:
                    self.err(where, f"object without {k}")
            kind, api = d.get("kind"), d.get("apiVersion")
            md = d.get("metadata") or {}
            ident = (kind, md.get("namespace"), md.get("name"))
            if ident in seen:
                self.err(where, f"duplicate object {ident}")
            seen.add(ident)
            if kind == "NetworkPolicy" and api == NP_API:
                self.check_networkpolicy(where, d, model)
            elif kind in ("AdminNetworkPolicy", "BaselineAdminNetworkPolicy") and api == ANP_API and not v2:
                self.check_admin(where, d)
            elif kind == "ClusterNetworkPolicy" and api == CNP_API and v2:
                self.check_admin(where, d)
            else:
                self.err(where, f"unexpected object {api}/{kind} in this file")

    # ------------------------------------------------------------------ cases
    def check_case(self, cdir):
        where = cdir.relative_to(self.root)
        ef = cdir / "expected.json"
        pf = cdir / "policies.yaml"
        if not ef.is_file() or not pf.is_file():
            self.err(where, "needs policies.yaml and expected.json")
            return None
        try:
            exp = json.loads(ef.read_text())
        except json.JSONDecodeError as e:
            self.err(where, f"expected.json does not parse: {e}")
            return None
        for k in REQUIRED_KEYS:
            if k not in exp:
                self.err(where, f"expected.json lacks '{k}'")
        unknown = set(exp) - set(REQUIRED_KEYS) - OPTIONAL_KEYS
        if unknown:
            self.err(where, f"unknown keys {sorted(unknown)}")
        if any(k not in exp for k in REQUIRED_KEYS):
            return None
        for s in [exp["source"], *list(exp.get("also_sources") or [])]:
            if not SOURCE_RE.match(s):
                self.err(where, f"source {s!r} is not owner/repo:path#Name")
        if exp["basis"] not in ("upstream", "derived"):
            self.err(where, f"basis must be upstream or derived, got {exp['basis']!r}")
        if exp["self_traffic"] != "excluded":
            self.err(where, "self_traffic must be 'excluded'")
        model = self.load_model(exp["model"])
        if model is None:
            return None
        self.check_policies_file(pf, model, v2=False)
        v2f = cdir / "policies-v1alpha2.yaml"
        if v2f.exists():
            self.check_policies_file(v2f, model, v2=True)
        probes = set()
        for p in exp["probes"]:
            if not self.valid_port(p.get("port")) or p.get("protocol") not in PROTOCOLS:
                self.err(where, f"bad probe {p}")
            probes.add((p.get("port"), p.get("protocol")))
        if len(probes) != len(exp["probes"]):
            self.err(where, "duplicate probes")
        pods = model["pods"]
        deny = set()
        for t in exp["deny"]:
            if not (isinstance(t, list) and len(t) == 4):
                self.err(where, f"deny entry must be [src, dst, port, protocol]: {t}")
                continue
            src, dst, port, proto = t
            for p in (src, dst):
                if p not in pods:
                    self.err(where, f"deny names unknown pod {p!r}")
                elif pods[p]["host"]:
                    self.err(where, f"deny names host-network pod {p!r} (use extra_probes)")
            if src == dst:
                self.err(where, f"deny contains a self pair {t}")
            if (port, proto) not in probes:
                self.err(where, f"deny uses unlisted probe {port}/{proto}")
            key = tuple(t)
            if key in deny:
                self.err(where, f"duplicate deny entry {t}")
            deny.add(key)
        extra = {}
        for x in exp.get("extra_probes") or []:
            if x.get("from") not in pods or x.get("to") not in pods:
                self.err(where, f"extra probe names unknown pod: {x}")
                continue
            if x.get("to_ip") != pods[x["to"]]["ip"]:
                self.err(where, f"extra probe to_ip does not match the model: {x}")
            if (
                not self.valid_port(x.get("port"))
                or x.get("protocol") not in PROTOCOLS
                or x.get("expect") not in ("allow", "deny")
            ):
                self.err(where, f"bad extra probe {x}")
            extra[(x["from"], x["to"], x["port"], x["protocol"])] = x["expect"]
        for ch in exp["upstream_checks"]:
            typ = ch.get("type")
            if typ not in ("matrix", "poke", "per-direction"):
                self.err(where, f"bad upstream check type {typ!r}")
                continue
            if not SOURCE_RE.match(ch.get("test", "")):
                self.err(where, f"upstream check test {ch.get('test')!r} is not owner/repo:path#Name")
            if typ == "poke":
                a, b, port, proto, ex = (
                    ch.get("from"),
                    ch.get("to"),
                    ch.get("port"),
                    ch.get("protocol"),
                    ch.get("expect"),
                )
                if a not in pods or b not in pods:
                    self.err(where, f"upstream poke names unknown pod: {ch}")
                    continue
                if ex not in ("allow", "deny"):
                    self.err(where, f"bad expect in {ch}")
                if pods[b]["host"]:
                    got = extra.get((a, b, port, proto))
                    if got is None:
                        self.err(
                            where, f"upstream poke to host-network pod not covered by extra_probes: {ch}"
                        )
                    elif got != ex:
                        self.err(where, f"upstream poke disagrees with extra_probes: {ch}")
                elif (port, proto) in probes:
                    got = "deny" if (a, b, port, proto) in deny else "allow"
                    if got != ex:
                        self.err(where, f"upstream poke disagrees with deny list: {ch}")
                else:
                    self.err(where, f"upstream poke uses unlisted probe: {ch}")
            else:
                for p in ch.get("pods") or []:
                    if p not in pods:
                        self.err(where, f"upstream check names unknown pod {p!r}")
                for p in ch.get("probes") or []:
                    if (p.get("port"), p.get("protocol")) not in probes:
                        self.err(where, f"upstream check probe {p} is not among the case probes")
        return exp

    def check_text_files(self):
        for path in self.root.rglob("*"):
            if path.is_file() and path.suffix in (".yaml", ".json", ".md", ".py"):
                text = path.read_text()
                m = ABS_PATH_RE.search(text)
                if m and path.name != "check_corpus.py":
                    self.err(
                        path.relative_to(self.root),
                        f"contains what looks like an absolute local path: {m.group(0)!r}",
                    )

    def run(self):
        cases_dir = self.root / "cases"
        if not cases_dir.is_dir():
            self.err(".", "no cases/ directory")
            return 1
        stats = {}
        for cdir in sorted(p for p in cases_dir.iterdir() if p.is_dir()):
            exp = self.check_case(cdir)
            if exp is None:
                continue
            cat = "anp-banp" if any(a.startswith(ANP_API) for a in exp["apis"]) else "networkpolicy"
            stats.setdefault((cat, exp["basis"], exp["model"]), 0)
            stats[(cat, exp["basis"], exp["model"])] += 1
        self.check_text_files()
        for (cat, basis, model), n in sorted(stats.items()):
            print(f"{n:4d}  {cat:14s} {basis:9s} {model}")
        print(f"{sum(stats.values()):4d}  cases in total")
        if self.errors:
            print(f"\n{len(self.errors)} problem(s):")
            for e in self.errors:
                print("  -", e)
            return 1
        print("corpus OK")
        return 0


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    sys.exit(Checker(root.resolve()).run())
