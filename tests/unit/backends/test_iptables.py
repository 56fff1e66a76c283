"""The iptables-restore baseline: a well-formed script with the expected linear rules, and,
interpreted for every new connection between pods, the engine's verdicts."""

from __future__ import annotations

import dataclasses
import ipaddress
from pathlib import Path

import pytest

from kubefence.backends.iptables import BUILTIN_CHAINS, IptRuleset, compile_iptables, render_restore
from kubefence.backends.nftables.compile import local_pods
from kubefence.engine.endpoints import Universe
from kubefence.engine.matrix import ReachabilityMatrix
from kubefence.engine.probes import Probe, default_probes
from kubefence.engine.profiles import GENERIC, apply_profile
from kubefence.engine.resolve import Resolution
from kubefence.errors import CompileError
from kubefence.ir.ports import PortRange, Protocol
from kubefence.workspace.load import load_workspace

DEMO = Path(__file__).parents[3] / "src" / "kubefence" / "examples" / "demo"

TINY = """
apiVersion: v1
kind: Node
metadata: {name: n1}
status: {addresses: [{type: InternalIP, address: 172.18.0.2}]}
---
apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {team: x}}
---
apiVersion: v1
kind: Namespace
metadata: {name: b, labels: {team: y}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: a, labels: {app: web}}
spec: {nodeName: n1, containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}
status: {podIP: 10.0.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: a, labels: {app: db}}
spec: {nodeName: n1, containers: [{name: c, ports: [{containerPort: 5432}]}]}
status: {podIP: 10.0.0.3}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: b, labels: {app: client}}
spec: {nodeName: n1, containers: [{name: c}]}
status: {podIP: 10.0.0.4}
---
apiVersion: v1
kind: Pod
metadata: {name: other, namespace: b, labels: {app: other}}
spec: {nodeName: n1, containers: [{name: c, ports: [{name: http, containerPort: 8081}]}]}
status: {podIP: 10.0.0.5}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-in, namespace: a}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress: [{from: [{namespaceSelector: {matchLabels: {team: y}}}], ports: [{port: http}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-in, namespace: a}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}], ports: [{protocol: TCP, port: 5432}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: client-out, namespace: b}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 10.0.0.0/29, except: [10.0.0.3/32]}}]
    ports: [{protocol: TCP, port: 8000, endPort: 8100}]
  - to: [{namespaceSelector: {}, podSelector: {matchLabels: {app: other}}}]
    ports: [{port: http}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: no-ssh}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {team: x}}}
  ingress:
  - {name: deny-ssh, action: Deny, from: [{namespaces: {}}], ports: [{portNumber: {protocol: TCP, port: 22}}]}
  - {name: pass-b, action: Pass, from: [{namespaces: {matchLabels: {team: y}}}]}
"""


def _resolution(*paths: Path) -> Resolution:
    workspace = load_workspace([str(p) for p in paths])
    assert not workspace.errors, workspace.errors
    policies, _ = apply_profile(GENERIC, workspace.policies)
    return Resolution(policies, Universe(workspace.snapshot))


@pytest.fixture
def tiny(tmp_path: Path) -> Resolution:
    (tmp_path / "tiny.yaml").write_text(TINY)
    return _resolution(tmp_path)


def _ruleset(r: Resolution, *, conntrack: bool = True) -> IptRuleset:
    return compile_iptables(r, local_pods(r, "n1"), "n1", conntrack=conntrack)


# -- the script's structure -----------------------------------------------------------------
def _parse(script: str) -> tuple[list[str], dict[str, list[list[str]]]]:
    """iptables-restore syntax → (declared user chains, rules per chain)."""
    lines = [line for line in script.splitlines() if line and not line.startswith("#")]
    assert lines[0] == "*filter" and lines[-1] == "COMMIT"
    declared = [line[1:].split()[0] for line in lines if line.startswith(":")]
    assert [c for c in declared if c in BUILTIN_CHAINS] == list(BUILTIN_CHAINS)
    rules: dict[str, list[list[str]]] = {c: [] for c in declared}
    for line in lines[1:-1]:
        if line.startswith(":"):
            continue
        words = line.split()
        assert words[0] == "-A" and words[1] in rules, line
        rules[words[1]].append(words[2:])
    return [c for c in declared if c not in BUILTIN_CHAINS], rules


def test_script_is_well_formed(tiny: Resolution) -> None:
    user, rules = _parse(render_restore(_ruleset(tiny)))
    assert len(user) == len(set(user)) and all(len(c) <= 28 for c in user)
    for chain, specs in rules.items():
        for spec in specs:
            target = spec[spec.index("-j") + 1] if "-j" in spec else spec[spec.index("-g") + 1]
            assert target in ("ACCEPT", "DROP", "RETURN") or target in user, (chain, spec)
            assert "-g" not in spec or chain not in BUILTIN_CHAINS  # goto only between stages
    assert all(rules[c] for c in user)  # every stage chain ends with its default


def test_expected_rules(tiny: Resolution) -> None:
    script = render_restore(_ruleset(tiny))
    lines = script.splitlines()
    forward = [line for line in lines if line.startswith("-A FORWARD")]
    assert forward[:2] == [
        "-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        "-A FORWARD -m conntrack --ctstate INVALID -j DROP",
    ]
    # dispatch: one linear rule per isolated local pod and direction (client egress; db, web ingress)
    assert forward[2:] == [
        "-A FORWARD -s 10.0.0.4/32 -j KF-E2-0",
        "-A FORWARD -d 10.0.0.3/32 -j KF-I0-0",
        "-A FORWARD -d 10.0.0.2/32 -j KF-I1-0",
    ]
    expected = [
        # client egress: ipBlock minus except as CIDRs × the port range, then the named port
        # resolved against each destination pod declaring it, then isolation
        "-A KF-E2-0 -d 10.0.0.0/31 -p tcp --dport 8000:8100 -j RETURN",
        "-A KF-E2-0 -d 10.0.0.2/32 -p tcp --dport 8000:8100 -j RETURN",
        "-A KF-E2-0 -d 10.0.0.4/30 -p tcp --dport 8000:8100 -j RETURN",
        "-A KF-E2-0 -d 10.0.0.5/32 -p tcp --dport 8081 -j RETURN",
        "-A KF-E2-0 -j DROP",
        # web ingress: AdminNetworkPolicy stage (deny per peer pod, pass to the next stage)...
        "-A KF-I1-0 -s 10.0.0.4/32 -p tcp --dport 22 -j DROP",
        "-A KF-I1-0 -s 10.0.0.4/32 -g KF-I1-1",
        "-A KF-I1-0 -g KF-I1-1",
        # ... then NetworkPolicy: the node, one rule per peer pod × named port, isolation
        "-A KF-I1-1 -s 172.18.0.2/32 -j RETURN",
        "-A KF-I1-1 -s 10.0.0.4/32 -p tcp --dport 8080 -j RETURN",
        "-A KF-I1-1 -s 10.0.0.5/32 -p tcp --dport 8080 -j RETURN",
        "-A KF-I1-1 -j DROP",
    ]
    for line in expected:
        assert line in lines, line
    chain_of = [line for line in lines if line.startswith("-A KF-E2-0")]
    assert chain_of == expected[:5]


def test_without_conntrack_nothing_is_stateful(tiny: Resolution) -> None:
    script = render_restore(_ruleset(tiny, conntrack=False))
    assert "conntrack" not in script
    assert "-A FORWARD -s 10.0.0.4/32 -j KF-E2-0" in script.splitlines()


def test_rule_count_grows_with_peers(tiny: Resolution) -> None:
    """No ipset: one rule per peer address, so the walk grows with the cluster."""
    rules = _ruleset(tiny).rules
    admin = [r for r in rules if r.chain == "KF-I1-0" and "-s" in r.spec]
    assert len(admin) == 6  # deny: 4 pods of any namespace; pass: the 2 pods of team y


def test_unexpressible_protocol_is_a_compile_error(tiny: Resolution) -> None:
    policies = list(tiny.policies)
    k = next(i for i, p in enumerate(policies) if p.name == "db-in")
    rule = dataclasses.replace(policies[k].rules[0], ports=(PortRange(Protocol.OTHER),))
    policies[k] = dataclasses.replace(policies[k], rules=(rule,))
    changed = Resolution(policies, tiny.universe)
    with pytest.raises(CompileError, match="OTHER"):
        _ruleset(changed)


# -- the ruleset, walked for new connections, agrees with the engine --------------------------
def _matches(spec: list[str], src: str, dst: str, probe: Probe) -> bool:
    conds = dict(zip(spec[0::2], spec[1::2], strict=False))
    if "-m" in conds:
        return False  # conntrack state: a new connection is neither established nor invalid
    for flag, ip in (("-s", src), ("-d", dst)):
        if flag in conds and ipaddress.ip_address(ip) not in ipaddress.ip_network(conds[flag]):
            return False
    if "-p" in conds and conds["-p"] != probe.protocol.value.lower():
        return False
    if "--dport" in conds:
        low, _, high = conds["--dport"].partition(":")
        return int(low) <= probe.port <= int(high or low)
    return True


def _walk(rules: dict[str, list[list[str]]], chain: str, src: str, dst: str, probe: Probe) -> str | None:
    """The verdict of ``chain``: ACCEPT, DROP, or None when it returns (or falls off its end)."""
    steps = 0
    while True:
        for spec in rules[chain]:
            steps += 1
            assert steps < 100_000
            if not _matches(spec, src, dst, probe):
                continue
            kind, target = spec[-2:]
            if target in ("ACCEPT", "DROP"):
                return target
            if target == "RETURN":
                return None
            if kind == "-g":
                chain = target  # goto: the called chain's end returns to our caller
                break
            verdict = _walk(rules, target, src, dst, probe)
            if verdict is not None:
                return verdict
        else:
            return None


def _allows(rules: dict[str, list[list[str]]], src: str, dst: str, probe: Probe) -> bool:
    return _walk(rules, "FORWARD", src, dst, probe) != "DROP"


@pytest.mark.parametrize("conntrack", [True, False], ids=["ct", "no-ct"])
@pytest.mark.parametrize("case", ["tiny", "demo"])
def test_new_connections_match_the_engine(case: str, conntrack: bool, tmp_path: Path) -> None:
    if case == "tiny":
        (tmp_path / "tiny.yaml").write_text(TINY)
        resolution = _resolution(tmp_path)
    else:
        resolution = _resolution(DEMO)
    nodes = {e.pod.node for e in resolution.universe.endpoints if e.pod and e.pod.node}
    local = [k for n in sorted(nodes) for k in local_pods(resolution, n)]  # one node holds all
    _, rules = _parse(render_restore(compile_iptables(resolution, local, conntrack=conntrack)))
    matrix = ReachabilityMatrix(resolution)
    probes = default_probes(resolution.policies, resolution.universe.snapshot)
    pods = [i for i, e in enumerate(resolution.universe.endpoints) if e.managed and e.ip.version == 4]
    checked = 0
    for src in pods:
        for dst in pods:
            if src == dst:
                continue
            s, d = resolution.universe.endpoints[src].ip, resolution.universe.endpoints[dst].ip
            conns = matrix.connections(src, dst)
            for probe in probes:
                expected = conns.contains(probe.protocol, probe.port)
                assert _allows(rules, str(s), str(d), probe) == expected, (src, dst, probe)
                checked += 1
    assert checked > 20
