"""CNI profiles: parse_profile and apply_profile, table-driven (semantics reference §6, §2.5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import invoke
from kubefence.engine.endpoints import Universe
from kubefence.engine.probes import Probe
from kubefence.engine.profiles import (
    CNI_NAMES,
    NOT_ENFORCED,
    ProfileError,
    all_profiles,
    apply_profile,
    parse_profile,
)
from kubefence.engine.resolve import Resolution
from kubefence.engine.verdict import evaluate
from kubefence.ir.diagnostics import Severity
from kubefence.ir.model import (
    ADMIN,
    BASELINE,
    NETWORK_POLICY,
    Action,
    Direction,
    PodSelection,
    Policy,
    Rule,
    Tier,
)
from kubefence.ir.ports import MAX_PORT, MIN_PORT, NamedPort, PortMatch, PortRange, Protocol
from kubefence.ir.provenance import Source
from kubefence.ir.selectors import LabelSelector
from kubefence.workspace.load import load_workspace

TCP, SCTP = Protocol.TCP, Protocol.SCTP


@pytest.mark.parametrize(
    ("text", "spec", "ignored"),
    [
        ("generic", "generic", set()),
        ("calico", "calico", {"AdminNetworkPolicy", "BaselineAdminNetworkPolicy"}),
        ("calico@3.32", "calico@3.32", {"AdminNetworkPolicy", "BaselineAdminNetworkPolicy"}),
        ("calico@3.31", "calico@3.31", {"ClusterNetworkPolicy"}),
        ("calico@v3.30.1", "calico@3.30.1", {"ClusterNetworkPolicy"}),
        ("calico@3.29", "calico@3.29", {"BaselineAdminNetworkPolicy", "ClusterNetworkPolicy"}),
        (
            "calico@3.28",
            "calico@3.28",
            {"AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy"},
        ),
        ("Canal@3.31", "canal@3.31", {"ClusterNetworkPolicy"}),
        ("cilium", "cilium", {"AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy"}),
        (
            "cilium@1.16",
            "cilium@1.16",
            {"AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy"},
        ),
        ("antrea", "antrea", set()),
        ("weave", "weave", {"AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy"}),
        (
            "kube-router",
            "kube-router",
            {"AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy"},
        ),
        (
            "flannel",
            "flannel",
            {"NetworkPolicy", "AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy"},
        ),
    ],
)
def test_parse_profile(text: str, spec: str, ignored: set[str]) -> None:
    profile = parse_profile(text)
    assert profile.spec == spec
    assert {kind for kind, _ in profile.ignored_kinds} == ignored


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("ovn", "unknown CNI 'ovn'"),
        ("", "unknown CNI"),
        ("calico@", "empty version"),
        ("calico@x.y", "bad version 'x.y'"),
        ("calico@3", "unknown calico version '3'"),
        ("calico@3.33", "unknown calico version '3.33'"),
        ("canal@4.0", "unknown canal version '4.0'"),
        ("cilium@latest", "bad version 'latest'"),
    ],
)
def test_parse_profile_errors(text: str, fragment: str) -> None:
    with pytest.raises(ProfileError, match=fragment):
        parse_profile(text)


def test_flags_per_cni() -> None:
    """§6: Weave drops named-port policies and endPort; Cilium SCTP and ipBlock-on-pods."""
    by_name = {p.name: p for p in all_profiles()}
    assert list(by_name) == list(CNI_NAMES)
    assert (by_name["weave"].named_ports, by_name["weave"].end_port) == (False, False)
    assert (by_name["cilium"].sctp, by_name["cilium"].ipblock_matches_pods) == (False, False)
    for name in ("generic", "calico", "antrea", "kube-router"):
        p = by_name[name]
        assert (p.named_ports, p.end_port, p.sctp, p.ipblock_matches_pods) == (True, True, True, True)


def _rule(ports: tuple[PortMatch, ...] | None, index: int = 0) -> Rule:
    src = Source("p.yaml", 10 + index, "networkpolicy", "NetworkPolicy n/p")
    return Rule(Direction.INGRESS, Action.ALLOW, (), ports, index, src)


def _policy(kind: str, tier: Tier, *rules: Rule) -> Policy:
    sel = PodSelection(LabelSelector(), namespace="n")
    dialect = "networkpolicy" if kind == "NetworkPolicy" else "adminnetworkpolicy"
    src = Source("p.yaml", 1, dialect, f"{kind} n/p")
    return Policy(kind, "p", "n", tier, 0, sel, frozenset({Direction.INGRESS}), rules, src)


NP_ALL = _policy("NetworkPolicy", NETWORK_POLICY, _rule(None))
NP_NAMED = _policy("NetworkPolicy", NETWORK_POLICY, _rule((PortRange(TCP, 80, 80), NamedPort("web", TCP))))
NP_RANGE = _policy(
    "NetworkPolicy", NETWORK_POLICY, _rule((PortRange(TCP, 8000, 8080), PortRange(TCP, 0, 65535)))
)
NP_SCTP = _policy(
    "NetworkPolicy",
    NETWORK_POLICY,
    _rule((PortRange(SCTP, 5000, 5000),)),
    _rule((PortRange(SCTP, 6000, 6000), PortRange(TCP, 6000, 6000)), 1),
)
ANP = _policy("AdminNetworkPolicy", ADMIN, _rule(None))
BANP = _policy("BaselineAdminNetworkPolicy", BASELINE, _rule(None))


@pytest.mark.parametrize(
    ("cni", "policy", "expected_ports", "warnings"),
    [
        ("generic", NP_NAMED, [(PortRange(TCP, 80, 80), NamedPort("web", TCP))], 0),
        ("weave", NP_ALL, [None], 0),
        ("weave", NP_NAMED, None, 1),
        ("kube-router", NP_NAMED, [(PortRange(TCP, 80, 80), NamedPort("web", TCP))], 0),
        ("weave", NP_RANGE, [(PortRange(TCP, 8000, 8000), PortRange(TCP, MIN_PORT, MAX_PORT))], 1),
        ("calico", NP_RANGE, [(PortRange(TCP, 8000, 8080), PortRange(TCP, MIN_PORT, MAX_PORT))], 0),
        ("cilium", NP_SCTP, [(PortRange(TCP, 6000, 6000),)], 3),
        (
            "antrea",
            NP_SCTP,
            [(PortRange(SCTP, 5000, 5000),), (PortRange(SCTP, 6000, 6000), PortRange(TCP, 6000, 6000))],
            0,
        ),
        ("flannel", NP_ALL, None, 1),
        ("cilium", ANP, None, 1),
        ("calico@3.31", ANP, [None], 0),
        ("calico@3.32", ANP, None, 1),
        ("calico@3.29", BANP, None, 1),
        ("calico@3.30", BANP, [None], 0),
        ("antrea", BANP, [None], 0),
    ],
)
def test_apply_profile(
    cni: str, policy: Policy, expected_ports: list[tuple[PortMatch, ...] | None] | None, warnings: int
) -> None:
    """``expected_ports``: the ports of each kept rule, or None when the policy is dropped."""
    kept, diags = apply_profile(parse_profile(cni), [policy])
    if expected_ports is None:
        assert kept == ()
    else:
        assert len(kept) == 1
        assert [r.ports for r in kept[0].rules] == expected_ports
    assert len(diags) == warnings
    for d in diags:
        assert d.severity is Severity.WARNING and d.code == NOT_ENFORCED
        assert d.message.startswith(
            f"accepted by the API server but not enforced by {parse_profile(cni).spec}: "
        )
        assert d.file == "p.yaml" and d.line is not None and d.object == policy.source.object


def test_kept_rules_keep_their_index() -> None:
    kept, _ = apply_profile(parse_profile("cilium"), [NP_SCTP])
    assert [r.index for r in kept[0].rules] == [1]


def test_unchanged_policies_are_the_same_objects() -> None:
    kept, diags = apply_profile(parse_profile("kube-router"), [NP_ALL, NP_NAMED, NP_RANGE])
    assert diags == [] and all(a is b for a, b in zip(kept, (NP_ALL, NP_NAMED, NP_RANGE), strict=True))


MANIFESTS = """\
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: n}
status: {podIP: 10.7.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: n}
status: {podIP: 10.7.0.2}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: n}
spec: {podSelector: {}, policyTypes: [Ingress]}
"""


def test_cli_cni_warning_and_strict(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(MANIFESTS)
    args = ("check", str(path), "--from", "n/a", "--to", "n/b", "--port", "80")
    result = invoke(runner, *args, "-o", "json", "--cni", "flannel")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["verdict"] == "allow"
    assert any("not enforced by flannel" in w for w in doc["warnings"])
    strict = invoke(runner, *args, "--cni", "flannel", "--strict")
    assert strict.exit_code == 2
    assert "NetworkPolicy n/deny" in strict.stderr
    assert invoke(runner, *args, "--cni", "calico", "--strict").exit_code == 1
    assert invoke(runner, *args, "--cni", "nope").exit_code == 2
    matrix = invoke(
        runner, "matrix", str(path), "--port", "80", "-o", "counts", "--cni", "flannel", "--strict"
    )
    assert matrix.exit_code == 2
    assert invoke(runner, "explain", str(path), "n/b", "--cni", "weave").exit_code == 0


def test_cli_profiles(runner: CliRunner) -> None:
    doc = json.loads(invoke(runner, "profiles", "-o", "json").stdout)
    assert [p["name"] for p in doc["profiles"]] == list(CNI_NAMES)
    text = invoke(runner, "profiles").stdout
    assert "flannel" in text and "weave" in text
    # Every Cilium option is listed with its values, Cilium's default first, and each parses.
    assert doc["cilium_options"]["allow-localhost"][0] == "auto"
    assert doc["cilium_options"]["enable-node-selector-labels"][0] == "false"
    for key, values in doc["cilium_options"].items():
        assert f"  {key}: " in text
        for value in values:
            parse_profile(f"cilium,{key}={value}")


CILIUM_MANIFESTS = """\
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: n, labels: {app: a}}
status: {podIP: 10.7.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: n, labels: {app: b}}
status: {podIP: 10.7.0.2}
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: deny-from-a, namespace: n}
spec:
  endpointSelector: {matchLabels: {app: b}}
  enableDefaultDeny: {ingress: false}
  ingressDeny: [{fromEndpoints: [{matchLabels: {app: c}}]}]
"""


@pytest.mark.parametrize(
    ("cni", "a_to_b", "b_to_a"),
    [
        ("cilium", True, True),  # enableDefaultDeny false: the deny-only policy isolates nothing
        ("cilium,enable-non-default-deny-policies=false", False, True),  # then it does (§4.3)
        ("cilium,enable-policy=always", False, False),  # every endpoint default-deny
        ("cilium,enable-policy=never", True, True),
    ],
)
def test_cilium_agent_options(tmp_path: Path, cni: str, a_to_b: bool, b_to_a: bool) -> None:
    """Cilium agent options (semantics reference §4.3; pkg/k8s/apis/cilium.io/utils/utils.go
    evaluateDefaultDenyForRule; docs security/policy/intro "Policy Enforcement Modes")."""
    path = tmp_path / "m.yaml"
    path.write_text(CILIUM_MANIFESTS)
    ws = load_workspace([str(path)])
    policies, _ = apply_profile(parse_profile(cni), ws.policies)
    r = Resolution(policies, Universe(ws.snapshot))
    a, b = r.universe.index("n/a"), r.universe.index("n/b")
    assert a is not None and b is not None
    probe = Probe(80, Protocol.TCP)
    assert (evaluate(r, a, b, probe).allowed, evaluate(r, b, a, probe).allowed) == (a_to_b, b_to_a)


@pytest.mark.parametrize(
    "bad", ["cilium,enable-policy=sometimes", "calico,enable-policy=always", "cilium,x=1"]
)
def test_bad_options_are_profile_errors(bad: str) -> None:
    with pytest.raises(ProfileError):
        parse_profile(bad)
