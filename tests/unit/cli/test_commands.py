"""The command line end to end: outputs, exit codes, inputs of every shape, and bad input
(exit 2 with file, line, object and field; never a traceback)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import invoke
from kubefence.cli.demo import demo_path

NS = """\
apiVersion: v1
kind: Namespace
metadata: {name: %s, labels: {team: %s}}
"""
POD = """\
apiVersion: v1
kind: Pod
metadata: {name: %s, namespace: %s, labels: {app: %s}}
spec:
  nodeName: n1
  containers:
  - name: c
    ports: [{name: web, containerPort: 8080}]
status: {podIP: %s}
"""
DENY_ALL = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: a}
spec: {podSelector: {}}
"""
ALLOW_WEB = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-web, namespace: a}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {team: blue}}}]
    ports: [{port: web}]
"""


def cluster(tmp_path: Path, *extra: str) -> Path:
    docs = [
        NS % ("a", "red"),
        NS % ("b", "blue"),
        POD % ("server", "a", "server", "10.0.0.1"),
        POD % ("client", "b", "client", "10.0.0.2"),
        POD % ("other", "a", "client", "10.0.0.3"),
        *extra,
    ]
    path = tmp_path / "cluster.yaml"
    path.write_text("---\n".join(docs))
    return path


def test_check_allowed_json(runner: CliRunner, tmp_path: Path) -> None:
    path = cluster(tmp_path, DENY_ALL, ALLOW_WEB)
    result = invoke(
        runner, "check", str(path), "--from", "b/client", "--to", "a/server", "--port", "8080", "-o", "json"
    )
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["allowed"] is True and doc["verdict"] == "allow"
    assert {"policy", "kind", "file", "line", "action"} <= set(doc["rules"][0])
    assert doc["rules"][0]["policy"] == "allow-web" and doc["rules"][0]["line"] > 1


def test_check_denied_text_has_near_miss(runner: CliRunner, tmp_path: Path) -> None:
    path = cluster(tmp_path, DENY_ALL, ALLOW_WEB)
    result = invoke(
        runner, "check", str(path), "--from", "b/client", "--to", "a/server", "--port", "9090/TCP"
    )
    assert result.exit_code == 1
    assert (
        "denied" in result.stdout and "near miss" in result.stdout and "covers only 8080/TCP" in result.stdout
    )
    assert f"{path}:" in result.stdout


def test_check_outside_ip_and_self(runner: CliRunner, tmp_path: Path) -> None:
    path = cluster(tmp_path, DENY_ALL)
    out = invoke(runner, "check", str(path), "--from", "203.0.113.5", "--to", "a/server", "--port", "80")
    assert out.exit_code == 1
    assert (
        invoke(runner, "check", str(path), "--from", "a/server", "--to", "a/server", "--port", "80").exit_code
        == 0
    )


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        pytest.param(
            ["--from", "a/nope", "--to", "a/server", "--port", "80"], "no such pod", id="unknown-pod"
        ),
        pytest.param(
            ["--from", "a/server", "--to", "a/server", "--port", "http"], "invalid port", id="bad-port"
        ),
        pytest.param(
            ["--from", "a/server", "--to", "a/server", "--port", "80/GRE"],
            "TCP, UDP, SCTP, ICMP or ICMPv6",
            id="bad-proto",
        ),
        pytest.param(
            ["--from", "a/server", "--to", "a/server", "--port", "300/ICMP"],
            "out of range 0-255",
            id="bad-icmp-type",
        ),
        pytest.param(
            ["--from", "server", "--to", "a/server", "--port", "80"], "NAMESPACE/POD", id="no-namespace"
        ),
    ],
)
def test_check_usage_errors_exit_2(runner: CliRunner, tmp_path: Path, args: list[str], fragment: str) -> None:
    result = invoke(runner, "check", str(cluster(tmp_path)), *args)
    assert result.exit_code == 2
    assert fragment in result.output


def test_matrix_json_counts_csv_agree(runner: CliRunner, tmp_path: Path) -> None:
    path = str(cluster(tmp_path, DENY_ALL, ALLOW_WEB))
    doc = json.loads(invoke(runner, "matrix", path, "--port", "8080", "-o", "json").stdout)
    assert doc["endpoints"] == ["a/server", "b/client", "a/other"]
    assert doc["probes"] == [{"port": 8080, "protocol": "TCP"}]
    assert ["b/client", "a/server", 8080, "TCP"] in doc["allowed"]
    assert ["a/other", "a/server", 8080, "TCP"] in doc["denied"]
    counts = json.loads(invoke(runner, "matrix", path, "--port", "8080", "-o", "counts").stdout)
    assert counts == {
        "endpoints": 3,
        "probes": 1,
        "allowed": len(doc["allowed"]),
        "denied": len(doc["denied"]),
    }
    rows = invoke(runner, "matrix", path, "--port", "8080", "-o", "csv").stdout.splitlines()
    assert rows[0] == "from,to,port,protocol,verdict" and len(rows) == 1 + 6


def test_matrix_default_probes_and_table(runner: CliRunner, tmp_path: Path) -> None:
    result = invoke(runner, "matrix", str(cluster(tmp_path, ALLOW_WEB)))
    assert result.exit_code == 0 and "8080/TCP" in result.stdout and "a/server" in result.stdout


def test_matrix_table_by_class_then_totals(runner: CliRunner, tmp_path: Path) -> None:
    """Past ``TABLE_MAX`` pods the table is by class (a class's own cell: from one member to
    another); past ``TABLE_MAX`` classes it gives the totals and the outputs that scale."""
    from kubefence.cli.analyze import TABLE_MAX

    many = [POD % (f"replica-{i}", "a", "server", f"10.0.1.{i + 1}") for i in range(TABLE_MAX)]
    by_class = invoke(runner, "matrix", str(cluster(tmp_path, ALLOW_WEB, *many)), "--port", "8080/TCP")
    assert by_class.exit_code == 0, by_class.output
    assert f"{TABLE_MAX + 3} endpoints in 3 classes" in by_class.stdout
    assert f"a/server (+{TABLE_MAX})" in by_class.stdout and "replica-" not in by_class.stdout
    apps = [POD % (f"app-{i}", "a", f"app-{i}", f"10.0.2.{i + 1}") for i in range(TABLE_MAX + 1)]
    selects = [
        ALLOW_WEB.replace("allow-web", f"allow-{i}").replace("server", f"app-{i}")
        for i in range(TABLE_MAX + 1)
    ]
    totals = invoke(runner, "matrix", str(cluster(tmp_path, *apps, *selects)), "--port", "8080/TCP")
    assert totals.exit_code == 0, totals.output
    assert "Too many for a table" in totals.stdout and "-o classes" in totals.stdout
    counts = json.loads(
        invoke(runner, "matrix", str(tmp_path / "cluster.yaml"), "--port", "8080/TCP", "-o", "counts").stdout
    )
    assert f"{counts['allowed']:,} allowed" in totals.stdout


def test_explain(runner: CliRunner, tmp_path: Path) -> None:
    result = invoke(runner, "explain", str(cluster(tmp_path, DENY_ALL, ALLOW_WEB)), "a/server")
    assert result.exit_code == 0
    assert "NetworkPolicy a/allow-web" in result.stdout and "8080/TCP in from b/client" in result.stdout


def test_demo_runs(runner: CliRunner) -> None:
    result = invoke(runner, "demo")
    assert result.exit_code == 0 and "explained denial" in result.stdout and "allowed" in result.stdout


@pytest.mark.parametrize("command", ["check", "matrix", "explain", "demo", "compile", "agent"])
def test_help_has_an_example(runner: CliRunner, command: str) -> None:
    result = invoke(runner, command, "--help")
    assert result.exit_code == 0 and "Example" in result.stdout


def test_stdin_list_and_folder_mix(runner: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "dir" / "nested"
    folder.mkdir(parents=True)
    (folder / "ns.yml").write_text(NS % ("a", "red"))
    listing = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "p", "namespace": "a"},
                "status": {"podIP": "10.1.0.1"},
            },
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "q", "namespace": "a"},
                "status": {"podIP": "10.1.0.2"},
            },
        ],
    }
    result = invoke(
        runner, "matrix", str(tmp_path / "dir"), "-", "--port", "80", "-o", "json", input=json.dumps(listing)
    )
    assert json.loads(result.stdout)["endpoints"] == ["a/p", "a/q"]


def test_workloads_expand_and_host_network(runner: CliRunner, tmp_path: Path) -> None:
    manifest = textwrap.dedent("""\
        apiVersion: v1
        kind: Node
        metadata: {name: n1}
        status: {addresses: [{type: InternalIP, address: 192.168.1.5}]}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: shop}
        spec:
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec: {containers: [{name: c}]}
        ---
        apiVersion: batch/v1
        kind: CronJob
        metadata: {name: nightly, namespace: shop}
        spec:
          jobTemplate:
            spec:
              template:
                metadata: {labels: {app: batch}}
                spec: {containers: [{name: c}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: agent, namespace: kube-system}
        spec: {nodeName: n1, hostNetwork: true}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: settings, namespace: shop}
        """)
    path = tmp_path / "w.yaml"
    path.write_text(manifest)
    result = invoke(
        runner,
        "check",
        str(path),
        "--from",
        "shop/web",
        "--to",
        "192.168.1.5",
        "--port",
        "80",
        "-o",
        "json",
        "--verbose",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["to"] == "kube-system/agent"
    assert "ConfigMap shop/settings" in result.stderr and "10.244.0." in result.stderr
    doc = json.loads(invoke(runner, "matrix", str(path), "--port", "80", "-o", "json").stdout)
    assert doc["endpoints"] == ["shop/web", "shop/nightly", "kube-system/agent"]


BAD_INPUTS = [
    pytest.param(b"kind: [\n", "bad.yaml:2:1", id="invalid-yaml"),
    pytest.param(b'{"kind": "Pod",,}', "bad.yaml", id="invalid-json"),
    pytest.param(b"\x00\x01binary", "binary file", id="binary"),
    pytest.param(b"", "file is empty", id="empty"),
    pytest.param(
        DENY_ALL.replace(
            "{podSelector: {}}", "{podSelector: {}, ingress: [{ports: [{port: 1, protocol: ICMP}]}]}"
        ).encode(),
        "spec.ingress[0].ports[0].protocol",
        id="unknown-protocol",
    ),
    pytest.param(
        DENY_ALL.replace(
            "{podSelector: {}}", "{podSelector: {}, ingress: [{ports: [{port: 99999}]}]}"
        ).encode(),
        "out of range",
        id="port-range",
    ),
    pytest.param(
        DENY_ALL.replace("{podSelector: {}}", "{ingress: [{ports: [{port: 90, endPort: 80}]}]}").encode(),
        "endPort 80 must be greater",
        id="endport",
    ),
    pytest.param(
        DENY_ALL.replace("{podSelector: {}}", "{egress: [{to: [{ipBlock: {cidr: 300.0.0.0/8}}]}]}").encode(),
        "invalid CIDR",
        id="bad-cidr",
    ),
    pytest.param(
        DENY_ALL.replace(
            "{podSelector: {}}", "{egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/8]}}]}]}"
        ).encode(),
        "not a strict subset",
        id="except",
    ),
    pytest.param(
        DENY_ALL.replace(
            "{podSelector: {}}", "{podSelector: {matchExpressions: [{key: a, operator: Has}]}}"
        ).encode(),
        "unknown operator",
        id="operator",
    ),
    pytest.param(
        DENY_ALL.replace("{podSelector: {}}", "{ingress: {from: []}}").encode(),
        "expected a list",
        id="mapping-for-list",
    ),
    pytest.param(DENY_ALL.replace("name: deny-all, ", "").encode(), "metadata.name", id="missing-name"),
    pytest.param((DENY_ALL + "---\n" + DENY_ALL).encode(), "defined twice", id="duplicate"),
    pytest.param(
        b"a: &a [1,2]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
        b"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
        b"f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
        b"h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n",
        "limit",
        id="alias-bomb",
    ),
]


@pytest.mark.parametrize(("content", "fragment"), BAD_INPUTS)
def test_bad_input_exit_2_with_location(
    runner: CliRunner, tmp_path: Path, content: bytes, fragment: str
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(content)
    result = invoke(runner, "matrix", str(cluster(tmp_path)), str(bad), "-o", "json")
    assert result.exit_code == 2
    assert fragment in result.stderr and "bad.yaml" in result.stderr
    assert "Traceback" not in result.output and result.stdout == ""


def test_unknown_fields_warn_and_other_dialects_are_reported(runner: CliRunner, tmp_path: Path) -> None:
    cilium = (
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\n"
        "metadata: {name: c, namespace: x}\nspec: {endpointSelector: {}, ingress: [{}]}\n"
    )
    odd = DENY_ALL.replace("{podSelector: {}}", "{podSelector: {}, podSelectr: {}}")
    result = invoke(runner, "matrix", str(cluster(tmp_path, odd, cilium)), "--port", "80", "-o", "json")
    assert result.exit_code == 0
    warnings = json.loads(result.stdout)["warnings"]
    assert any("spec.podSelectr" in w and "unknown field" in w for w in warnings)
    assert any("not enforced by generic" in w and "enforced only by cilium" in w for w in warnings)


def test_demo_manifests_are_clean() -> None:
    from kubefence.workspace.load import load_workspace

    workspace = load_workspace([demo_path()])
    assert not workspace.errors and not workspace.warnings


def test_serve_on_a_taken_port_exits_2(runner: CliRunner) -> None:
    """A port another process listens on is an error with the address, not a traceback."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = invoke(runner, "serve", str(demo_path()), "--port", str(port))
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_a_pods_second_address_is_named_in_the_error(runner: CliRunner, tmp_path: Path) -> None:
    """A dual-stack pod has one address per family (Pod ``status.podIPs``, the first equal to
    ``podIP``); answers are for its first one, so its second one points the user to the pod
    instead of claiming the value is not an IP address."""
    dual = POD.replace(
        "status: {podIP: %s}", "status: {podIP: %s, podIPs: [{ip: 10.0.0.9}, {ip: 'fd00::9'}]}"
    )
    path = cluster(tmp_path, dual % ("dual", "a", "dual", "10.0.0.9"))
    result = invoke(runner, "check", str(path), "--from", "b/client", "--to", "fd00::9", "--port", "80")
    assert result.exit_code == 2
    assert "second address of pod a/dual" in result.stderr and "--to a/dual" in result.stderr
