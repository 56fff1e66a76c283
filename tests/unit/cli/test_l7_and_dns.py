"""check --http-method/--http-path/--http-host and --dns (issue: L7 and FQDN in analysis)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from conftest import invoke

MANIFESTS = """\
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: app, labels: {app: client}}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: app, labels: {app: api}}
status: {podIP: 10.0.0.2}
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: l7, namespace: app}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports: [{port: "80", protocol: TCP}]
      rules:
        http: [{method: GET, path: "/public/.*"}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: fqdn, namespace: app}
spec:
  endpointSelector: {matchLabels: {app: client}}
  egress:
  - toFQDNs: [{matchPattern: "*.example.com"}]
  - toEndpoints: [{}]
  - toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system, k8s-app: kube-dns}}]
    toPorts:
    - ports: [{port: "53", protocol: ANY}]
      rules:
        dns: [{matchPattern: "*"}]
"""


@pytest.fixture
def path(tmp_path: Path) -> Path:
    out = tmp_path / "m.yaml"
    out.write_text(MANIFESTS)
    return out


def _check(runner: CliRunner, path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    base = ("check", str(path), "--cni", "cilium", "-o", "json", "--port", "80")
    result = invoke(runner, *base, *args)
    return result.exit_code, json.loads(result.stdout) if result.stdout.startswith("{") else {}


@pytest.mark.parametrize(
    ("request_args", "code"),
    [
        (("--http-method", "GET", "--http-path", "/public/index.html"), 0),
        (("--http-method", "get", "--http-path", "/public/x"), 0),  # methods are upper-cased
        (("--http-method", "POST", "--http-path", "/public/x"), 1),
        (("--http-method", "GET", "--http-path", "/private"), 1),
        ((), 1),  # not an HTTP request: Cilium's proxy drops it
    ],
)
def test_http_request_against_cilium_l7_rule(
    runner: CliRunner, path: Path, request_args: tuple[str, ...], code: int
) -> None:
    """docs.cilium.io security/policy/language "Layer 7 Examples" (HTTP): path is a regular
    expression over the whole path, method must match; anything else is refused."""
    exit_code, doc = _check(runner, path, "--from", "app/client", "--to", "app/api", *request_args)
    assert exit_code == code, doc
    if request_args:
        assert doc["http"]["method"] == request_args[1].upper()


def test_http_flags_go_together(runner: CliRunner, path: Path) -> None:
    result = invoke(
        runner,
        "check",
        str(path),
        "--from",
        "app/client",
        "--to",
        "app/api",
        "--port",
        "80",
        "--http-method",
        "GET",
    )
    assert result.exit_code == 2 and "--http-path" in result.output


@pytest.mark.parametrize(
    ("dns", "code"),
    [
        (("--dns", "www.example.com=203.0.113.10"), 0),
        (("--dns", "example.com=203.0.113.10"), 1),  # "*." needs a label before the apex
        (("--dns", "www.example.org=203.0.113.10"), 1),
    ],
)
def test_fqdn_rules_follow_the_dns_map(
    runner: CliRunner, path: Path, dns: tuple[str, ...], code: int
) -> None:
    """Cilium toFQDNs matchPattern (docs security/policy/language "DNS based"): "*" matches
    within one label; the allowed IPs are those DNS gave for matching names."""
    exit_code, doc = _check(runner, path, "--from", "app/client", "--to", "203.0.113.10", *dns)
    assert exit_code == code, doc


@pytest.mark.parametrize(
    ("dns_rule", "code"),
    [
        ("", 1),  # no DNS rule: the proxy sees no lookup
        ('      rules:\n        dns: [{matchName: "www.example.org"}]\n', 1),  # only other names
        ('      rules:\n        dns: [{matchPattern: "*.example.com"}]\n', 0),
    ],
)
def test_fqdn_rules_need_a_dns_rule_that_admits_the_lookup(
    runner: CliRunner, tmp_path: Path, dns_rule: str, code: int
) -> None:
    """cilium/cilium pkg/fqdn (package doc): the DNS proxy "applies L7 DNS rules and populates
    the lookup cache with IPs from allowed/successful DNS lookups", and toFQDNs selectors take
    their IPs from that cache ("DNS data is tracked per-endpoint but collected globally");
    docs.cilium.io security/policy/language "DNS based": a DNS rule must intercept the
    lookups. Without one admitting the name, toFQDNs matches no address, with a warning."""
    policy = (
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: fqdn, namespace: app}\n"
        "spec:\n  endpointSelector: {matchLabels: {app: client}}\n  egress:\n"
        '  - toFQDNs: [{matchName: "www.example.com"}]\n'
        '  - toEndpoints: [{}]\n    toPorts:\n    - ports: [{port: "53", protocol: ANY}]\n' + dns_rule
    )
    path = tmp_path / "m.yaml"
    path.write_text(MANIFESTS.split("---\napiVersion: cilium.io/v2")[0] + "---\n" + policy)
    exit_code, doc = _check(
        runner, path, "--from", "app/client", "--to", "203.0.113.10", "--dns", "www.example.com=203.0.113.10"
    )
    assert exit_code == code, doc
    unlearned = [w for w in doc["warnings"] if "never learns" in w]
    assert bool(unlearned) == (code == 1)


def test_without_dns_the_answer_says_it_depends_on_dns(runner: CliRunner, path: Path) -> None:
    exit_code, doc = _check(runner, path, "--from", "app/client", "--to", "203.0.113.10")
    assert exit_code == 1
    assert "depends on DNS" in str(doc["reason"])
    assert any("depends on DNS" in w for w in doc["warnings"])


def test_bad_dns_entry_is_exit_2(runner: CliRunner, path: Path) -> None:
    result = invoke(
        runner,
        "check",
        str(path),
        "--from",
        "app/client",
        "--to",
        "203.0.113.10",
        "--port",
        "80",
        "--dns",
        "www.example.com=not-an-ip",
    )
    assert result.exit_code == 2 and "not an IP address" in result.output


STAGED = """\
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: prod, labels: {app: web}}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: prod, labels: {app: db}}
status: {podIP: 10.0.0.2}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  selector: app == 'db'
  ingress: [{action: Allow, protocol: TCP, source: {selector: app == 'web'}, destination: {ports: [5432]}}]
---
apiVersion: projectcalico.org/v3
kind: StagedNetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  selector: app == 'db'
  ingress: [{action: Allow, protocol: TCP, source: {selector: app == 'web'}, destination: {ports: [80]}}]
"""


@pytest.mark.parametrize(("port", "staged", "code"), [("80", False, 1), ("80", True, 0), ("5432", True, 1)])
def test_staged_policies_only_with_staged(
    runner: CliRunner, tmp_path: Path, port: str, staged: bool, code: int
) -> None:
    """Calico staged policies are never enforced (docs.tigera.io "Staged network policies");
    --staged analyses one as if applied, in place of the live policy of the same name."""
    path = tmp_path / "s.yaml"
    path.write_text(STAGED)
    args = ["check", str(path), "--cni", "calico", "--from", "prod/web", "--to", "prod/db", "--port", port]
    result = invoke(runner, *args, *(["--staged"] if staged else []))
    assert result.exit_code == code, result.output
