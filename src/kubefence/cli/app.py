"""The ``kubefence`` command: wiring of the subcommands (design.md §5 is the contract)."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Annotated

import typer

from kubefence.cli import analyze
from kubefence.cli.dispatch import run
from kubefence.cli.enforce import register as register_enforcement
from kubefence.cli.exitcodes import ExitCode
from kubefence.cli.helptext import reflow_commands
from kubefence.cli.inputs import fail, parse_dns, profile_of
from kubefence.cli.lab import lab_app
from kubefence.ir.l7 import HTTPRequest

__all__ = ["app", "main"]

app = typer.Typer(
    name="kubefence",
    help="Kubernetes network policies, exactly: who can reach whom, and which rule decided.\n\n"
    "Reads manifests from files, folders or '-' (stdin): Namespaces, Pods, Nodes, Services, "
    "EndpointSlices and workloads; NetworkPolicy, AdminNetworkPolicy, BaselineAdminNetworkPolicy and "
    "ClusterNetworkPolicy; Calico (projectcalico.org/v3), Cilium (cilium.io/v2) and Antrea "
    "(crd.antrea.io) policies with their tiers, groups and network sets.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)

Paths = Annotated[list[str], typer.Argument(help="Manifest files or folders (recursive), or '-' for stdin.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Also list skipped objects and notes.")]
CniName = Annotated[
    str,
    typer.Option(
        "--cni",
        help="Answer as this CNI enforces the policies: generic (upstream), calico, canal, cilium, antrea, "
        "weave, kube-router or flannel, optionally NAME@VERSION (calico@3.31) and Cilium agent options "
        "as cilium,OPTION=VALUE (e.g. cilium,enable-policy=always). 'kubefence profiles' lists them.",
    ),
]
Strict = Annotated[
    bool,
    typer.Option("--strict", help="Exit 2 when any input is not (fully) enforced under the --cni profile."),
]


Dns = Annotated[
    list[str] | None,
    typer.Option(
        "--dns",
        help="What DNS answers, for FQDN rules: NAME=IP[,IP] (repeatable) or a YAML/JSON file that "
        "maps each name to a list of IPs. Without it, FQDN rules match no address and are reported "
        "as depending on DNS.",
    ),
]


Staged = Annotated[
    bool,
    typer.Option(
        "--staged",
        help="Analyse Calico's staged policies as if applied (each replaces the live policy of its "
        "kind, namespace and name); by default they are previews and only warned about.",
    ),
]


class CheckOutput(StrEnum):
    text = "text"
    json = "json"


class MatrixOutput(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    counts = "counts"
    classes = "classes"


@app.command(
    epilog="Examples:\n\n"
    "kubefence check cluster/ --from x/a --to y/b --port 80/TCP -o json\n\n"
    "kubefence check cluster/ --from x/a --to y/b --port 80 --cni cilium --strict\n\n"
    "kubefence check starwars/ --from default/tiefighter --to default/deathstar --port 80 --cni cilium "
    "--http-method POST --http-path /v1/request-landing\n\n"
    "kubefence check cluster/ --from app/web --to 203.0.113.10 --port 443 --cni cilium "
    "--dns api.example.com=203.0.113.10"
)
def check(
    paths: Paths,
    src: Annotated[str, typer.Option("--from", help="Source: NAMESPACE/POD, NAMESPACE/WORKLOAD or an IP.")],
    dst: Annotated[
        str, typer.Option("--to", help="Destination: NAMESPACE/POD, NAMESPACE/WORKLOAD or an IP.")
    ],
    port: Annotated[
        str,
        typer.Option(
            "--port",
            help="PORT or PORT/PROTOCOL (TCP, UDP, SCTP; TCP by default), or an ICMP message type as "
            "TYPE/ICMP or TYPE/ICMPv6 (8/ICMP: an echo request).",
        ),
    ],
    output: Annotated[CheckOutput, typer.Option("--output", "-o", help="text or json.")] = CheckOutput.text,
    verbose: Verbose = False,
    cni: CniName = "generic",
    strict: Strict = False,
    http_method: Annotated[
        str | None,
        typer.Option("--http-method", help="Ask about one HTTP request: its method (GET, POST...)."),
    ] = None,
    http_path: Annotated[
        str | None, typer.Option("--http-path", help="The HTTP request's path (/v1/x).")
    ] = None,
    http_host: Annotated[
        str | None, typer.Option("--http-host", help="The HTTP request's Host header.")
    ] = None,
    dns: Dns = None,
    staged: Staged = False,
) -> None:
    """Can SRC open a connection to DST on PORT? Exit 0 allowed, 1 denied, 2 input error.

    Prints the verdict, the policies that select each side, the rule that decided (with
    file:line and tier) and the near misses. Where L7 (HTTP) rules govern the port, give the
    request with --http-method and --http-path; without them the answer is the CNI's for
    traffic that is not an HTTP request.
    """
    cnis = analyze.Cni(profile_of(cni), strict, parse_dns(dns or []), staged)
    request = _request(http_method, http_path, http_host)
    explanation, warnings = analyze.check(
        paths, src, dst, port, verbose, output is CheckOutput.json, cnis, request
    )
    if output is CheckOutput.json:
        print(json.dumps(explanation.to_json(warnings), indent=2))
    else:
        analyze.print_explanation(explanation)
    raise typer.Exit(ExitCode.OK if explanation.allowed else ExitCode.DENIED)


def _request(method: str | None, path: str | None, host: str | None) -> HTTPRequest | None:
    if method is None and path is None and host is None:
        return None
    if method is None or path is None:
        raise fail("--http-method and --http-path go together (--http-host is optional)")
    if not path.startswith("/"):
        raise fail(f"--http-path {path!r}: a request path starts with '/'")
    return HTTPRequest(method.upper(), path, host)


@app.command(
    epilog="Examples:\n\n"
    "kubefence matrix cluster/ --port 80/TCP --port 53/UDP -o table\n\n"
    "kubefence matrix cluster/ --port 80/TCP --cni weave"
)
def matrix(
    paths: Paths,
    port: Annotated[
        list[str] | None,
        typer.Option(
            "--port",
            help="Probe PORT/PROTOCOL (repeatable; TYPE/ICMP for an ICMP message type). Default: every "
            "port a policy or a container port names.",
        ),
    ] = None,
    output: Annotated[
        MatrixOutput,
        typer.Option(
            "--output",
            "-o",
            help="table, json, csv (both streamed), counts (totals only) or classes (class-level matrix).",
        ),
    ] = MatrixOutput.table,
    verbose: Verbose = False,
    cni: CniName = "generic",
    strict: Strict = False,
    dns: Dns = None,
    staged: Staged = False,
) -> None:
    """Reachability between every ordered pair of distinct pods, for every probe.

    Pods the policies cannot tell apart form one class; '-o counts' and '-o classes' answer
    per class without listing pod pairs, the compact formats for large clusters. Ports that
    L7 (HTTP) rules govern are answered for traffic that is not an HTTP request.
    """
    cnis = analyze.Cni(profile_of(cni), strict, parse_dns(dns or []), staged)
    analyze.matrix(paths, port or [], output.value, verbose, cnis)


@app.command(
    epilog="Examples:\n\n"
    "kubefence serve cluster/ --port 8181\n\n"
    "kubefence serve cluster/ --cni calico --port 0"
)
def serve(
    paths: Paths,
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="TCP port to listen on (0: any free port).")
    ] = 8181,
    host: Annotated[str, typer.Option("--host", help="Address to bind; loopback by default.")] = "127.0.0.1",
    verbose: Verbose = False,
    cni: CniName = "generic",
    dns: Dns = None,
    staged: Staged = False,
) -> None:
    """Answer check and matrix queries over HTTP/JSON, kept current by watch events.

    GET /check?from=&to=&port=, GET /matrix?format=counts|classes|json, POST /events
    (Kubernetes watch events: {"type": "ADDED|MODIFIED|DELETED", "object": {...}}).
    Answers are for what the --cni profile's CNI enforces, as for check and matrix.
    """
    from kubefence.cli.serve import run_server
    from kubefence.engine.incremental import Enforcement

    run_server(paths, host, port, verbose, Enforcement(profile_of(cni), parse_dns(dns or []), staged))


@app.command(
    epilog="Examples:\n\nkubefence explain cluster/ shop/frontend\n\n"
    "kubefence explain cluster/ shop/frontend --cni calico@3.31"
)
def explain(
    paths: Annotated[
        list[str], typer.Argument(help="Manifest files or folders, then the pod: ... NAMESPACE/POD.")
    ],
    verbose: Verbose = False,
    cni: CniName = "generic",
    strict: Strict = False,
    dns: Dns = None,
    staged: Staged = False,
) -> None:
    """Which policies select POD, per direction and tier, and what they let in and out."""
    if len(paths) < 2:
        raise typer.BadParameter("give the manifests and then NAMESPACE/POD", param_hint="PATHS... POD")
    cnis = analyze.Cni(profile_of(cni), strict, parse_dns(dns or []), staged)
    analyze.explain(paths[:-1], paths[-1], verbose, cnis)


class ProfilesOutput(StrEnum):
    text = "text"
    json = "json"


@app.command(epilog="Examples:\n\nkubefence profiles\n\nkubefence profiles -o json")
def profiles(
    output: Annotated[
        ProfilesOutput, typer.Option("--output", "-o", help="text or json.")
    ] = ProfilesOutput.text,
) -> None:
    """List the CNI profiles --cni accepts and what each does not enforce.

    Policies and fields a CNI does not enforce are dropped or changed under --cni, each with a
    warning "accepted by the API server but not enforced by CNI" (semantics reference §6).
    """
    from kubefence.cli.profiles import print_profiles

    print_profiles(output.value)


@app.command(epilog="Example:  kubefence demo")
def demo() -> None:
    """A tour of a shipped example cluster: a matrix, an explained denial and an explained allow.

    Needs no cluster and no root.
    """
    from rich.console import Console

    from kubefence.cli.demo import run_demo

    run_demo(Console())


register_enforcement(app)
app.add_typer(lab_app, name="lab")
reflow_commands(app)


def main() -> None:
    """Entry point: runs the app; a broken stdout pipe (``| head``) ends quietly."""
    try:
        run(app, sys.argv[1:], "kubefence")
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(ExitCode.OK)
