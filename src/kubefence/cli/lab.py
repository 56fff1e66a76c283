"""``kubefence lab up|probe|down|run``: the lab on the command line (needs root).

Errors of the lab (not root, a lab with that prefix already up, a namespace missing, …) exit 2
with one message; ``lab run`` exits 0 without discrepancies and 1 with some.
"""

from __future__ import annotations

import ipaddress
import json
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from kubefence.cli.consoles import stdout
from kubefence.cli.exitcodes import ExitCode
from kubefence.cli.inputs import fail, load_for
from kubefence.engine.probes import Probe, default_probes, parse_probe
from kubefence.engine.profiles import GENERIC
from kubefence.errors import KubefenceError
from kubefence.lab.names import DEFAULT_PREFIX

if TYPE_CHECKING:
    from rich.table import Table

    from kubefence.engine.matrix import Verdicts
    from kubefence.lab.enforce import EnforcerFactory
    from kubefence.lab.run import LabReport
    from kubefence.workspace.load import Workspace

__all__ = ["lab_app"]

lab_app = typer.Typer(
    name="lab",
    help="Build a small cluster's data plane from network namespaces, enforce policies on real "
    "packets and compare with the engine (needs root).",
    no_args_is_help=True,
    rich_markup_mode="rich",
)


class LabMode(StrEnum):
    host_gw = "host-gw"
    vxlan = "vxlan"


class LabOutput(StrEnum):
    table = "table"
    json = "json"


Paths = Annotated[list[str], typer.Argument(help="Manifest files or folders (recursive), or '-' for stdin.")]
Prefix = Annotated[
    str,
    typer.Option("--prefix", help="Prefix of every name the lab creates (1-8 lowercase letters or digits)."),
]
Ports = Annotated[
    list[str] | None,
    typer.Option(
        "--port", help="Probe PORT/PROTOCOL (repeatable). Default: every port a policy or container names."
    ),
]
Nodes = Annotated[
    int, typer.Option("--nodes", min=1, help="Nodes to create when the input declares no Node.")
]
ModeOption = Annotated[LabMode, typer.Option("--mode", help="Routing between nodes: host-gw or vxlan.")]
Outside = Annotated[
    list[str] | None,
    typer.Option("--outside", help="An IPv4 address outside the cluster to probe from and to (repeatable)."),
]
Output = Annotated[LabOutput, typer.Option("--output", "-o", help="table or json.")]
Timeout = Annotated[float, typer.Option("--timeout", min=0.05, max=30, help="Seconds a probe waits.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Also list skipped objects and notes.")]


@contextmanager
def _lab_errors() -> Iterator[None]:
    """KubefenceError → one message and exit 2; SIGTERM unwinds like Ctrl-C (teardown runs)."""

    def on_term(signum: int, frame: object) -> NoReturn:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    except KubefenceError as e:
        raise fail(str(e)) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def _probes(ports: Sequence[str]) -> list[Probe]:
    try:
        probes = [parse_probe(p) for p in ports]
    except ValueError as e:
        raise fail(f"--port: {e}") from None
    icmp = [str(p) for p in probes if not p.protocol.has_ports]
    if icmp:
        raise fail(f"--port: the lab sends TCP, UDP and SCTP probes only, not {', '.join(icmp)}")
    return probes


def _outside(texts: Sequence[str]) -> list[ipaddress.IPv4Address]:
    try:
        return [ipaddress.IPv4Address(t) for t in texts]
    except ValueError as e:
        raise fail(f"--outside: {e} (expected an IPv4 address)") from None


def enforcer_factory(workspace: Workspace) -> EnforcerFactory:
    """The node agent's enforcer (``AgentEnforcer(snapshot, policies)``) when it is installed;
    NoEnforcer when it is not and there is nothing to enforce; exit 2 when policies would go
    unenforced."""
    from kubefence.lab.enforce import NoEnforcer

    try:
        from kubefence.agent.lab_enforcer import AgentEnforcer
    except Exception as e:  # any failure to import the optional agent means "not available"
        if workspace.policies:
            raise fail(
                f"enforcement not available: cannot import kubefence.agent.lab_enforcer ({e})"
            ) from None
        return NoEnforcer
    return AgentEnforcer


def _workspace(paths: Sequence[str], verbose: bool, quiet: bool) -> Workspace:
    """Root and iproute2 first (exit 2 without them), then the input (exit 2 on errors)."""
    from kubefence.lab import netns

    with _lab_errors():
        netns.check_privileges()
    # The lab's agents enforce the upstream APIs: CNI dialects are warned about and left out.
    return load_for(paths, verbose, GENERIC, strict=False, quiet_warnings=quiet)


@lab_app.command(epilog="Example:  kubefence lab up cluster/ --nodes 3 --mode vxlan --prefix kf")
def up(
    paths: Paths,
    nodes: Nodes = 2,
    mode: ModeOption = LabMode.host_gw,
    prefix: Prefix = DEFAULT_PREFIX,
    port: Ports = None,
    outside: Outside = None,
    enforce: Annotated[
        bool, typer.Option("--enforce", help="Also enforce the policies on every node (needs the agent).")
    ] = False,
    lifetime: Annotated[float, typer.Option("--lifetime", min=1, help="Seconds the servers run.")] = 3600,
    verbose: Verbose = False,
) -> None:
    """Build the lab and start its servers; it stays up until 'kubefence lab down'."""
    from kubefence.lab.plan import Mode
    from kubefence.lab.run import Lab

    workspace = _workspace(paths, verbose, quiet=False)
    probes = _probes(port or []) or list(default_probes(workspace.policies, workspace.snapshot))
    make = enforcer_factory(workspace) if enforce else None
    with _lab_errors():
        lab = Lab.up(
            workspace.snapshot,
            prefix=prefix,
            mode=Mode.parse(mode.value),
            node_count=nodes,
            outside=_outside(outside or []),
            probes=probes,
            detached=True,
            lifetime=lifetime,
        )
        if make is not None:
            lab.enforce(make(lab.snapshot(workspace.snapshot), workspace.policies))
    stdout().print(f"lab {prefix!r} is up ({lab.plan.mode.value}), serving {', '.join(map(str, probes))}")
    for node in lab.plan.nodes:
        pods = ", ".join(p.key for p in lab.plan.pods if p.node == node.name) or "no pods"
        stdout().print(f"  node {node.name} ({node.address}): netns {node.netns}: {pods}")
    stdout().print(
        f"probe it with 'kubefence lab probe --prefix {prefix}', remove it with 'kubefence lab down'"
    )


@lab_app.command(epilog="Example:  kubefence lab probe --prefix kf --port 80/TCP -o json")
def probe(
    prefix: Prefix = DEFAULT_PREFIX,
    port: Ports = None,
    output: Output = LabOutput.table,
    ipv6: Annotated[bool, typer.Option("--ipv6", help="Probe the pods' IPv6 addresses instead.")] = False,
    timeout: Timeout = 1.0,
) -> None:
    """Probe every ordered pair of endpoints of a lab built with 'kubefence lab up'."""
    from kubefence.lab.run import Lab

    with _lab_errors():
        lab = Lab.attach(prefix)
        probes = _probes(port or []) or list(lab.state.probes)
        verdicts = lab.probe(probes, ipv6=ipv6, timeout=timeout)
        keys = [e.key for e in lab.endpoints(ipv6)]
    if output is LabOutput.json:
        doc = {
            "endpoints": keys,
            "probes": [p.to_json() for p in probes],
            "allowed": [list(r) for r in verdicts.allowed],
            "denied": [list(r) for r in verdicts.denied],
        }
        json.dump(doc, sys.stdout, separators=(",", ":"))
        sys.stdout.write("\n")
    else:
        stdout().print(_observed_table(keys, probes, verdicts))


@lab_app.command(epilog="Example:  kubefence lab down --prefix kf")
def down(prefix: Prefix = DEFAULT_PREFIX) -> None:
    """Remove everything the lab PREFIX created, also after a crash: processes in its namespaces,
    the namespaces with their links, and its saved state."""
    from kubefence.lab import netns
    from kubefence.lab.state import remove_state

    with _lab_errors():
        removed = netns.destroy(prefix)
        remove_state(prefix)
    stdout().print(
        f"lab {prefix!r}: removed {len(removed.namespaces)} namespaces, "
        f"{len(removed.links)} links, {len(removed.processes)} processes"
    )


@lab_app.command(epilog="Example:  kubefence lab run cluster/ policies/ --port 80/TCP -o json")
def run(
    paths: Paths,
    port: Ports = None,
    nodes: Nodes = 2,
    mode: ModeOption = LabMode.host_gw,
    prefix: Prefix = DEFAULT_PREFIX,
    outside: Outside = None,
    output: Output = LabOutput.table,
    timeout: Timeout = 1.0,
    ipv6: Annotated[
        bool, typer.Option("--ipv6", help="Probe and predict over the pods' IPv6 addresses.")
    ] = False,
    verbose: Verbose = False,
) -> None:
    """Build the lab, enforce on every node, probe every ordered pair × probe, compare with the
    engine, tear down. Exit 0 without discrepancies, 1 with some, 2 on input errors."""
    from kubefence.lab.plan import Mode
    from kubefence.lab.run import run_lab

    workspace = _workspace(paths, verbose, quiet=output is LabOutput.json)
    probes = _probes(port or []) or list(default_probes(workspace.policies, workspace.snapshot))
    make = enforcer_factory(workspace)
    extra = _outside(outside or [])
    with _lab_errors():
        report = run_lab(
            workspace.snapshot,
            workspace.policies,
            probes,
            make,
            prefix=prefix,
            mode=Mode.parse(mode.value),
            node_count=nodes,
            outside=extra,
            timeout=timeout,
            ipv6=ipv6,
        )
    if output is LabOutput.json:
        json.dump(report.to_json(), sys.stdout, separators=(",", ":"))
        sys.stdout.write("\n")
    else:
        _print_report(report)
    raise typer.Exit(ExitCode.DENIED if report.discrepancies else ExitCode.OK)


def _print_report(report: LabReport) -> None:
    p, o = report.predicted, report.observed
    stdout().print(f"predicted: {len(p.allowed)} allowed, {len(p.denied)} denied")
    stdout().print(f"observed:  {len(o.allowed)} allowed, {len(o.denied)} denied")
    from rich.table import Table
    from rich.text import Text

    if not report.discrepancies:
        stdout().print(Text("no discrepancies: the kernel did what the engine predicted", style="bold green"))
        return
    table = Table(title=f"{len(report.discrepancies)} discrepancies", title_justify="left")
    for name in ("from", "to", "port", "protocol", "discrepancy"):
        table.add_column(name, no_wrap=True)
    for d in report.discrepancies:
        table.add_row(d.src, d.dst, str(d.port), d.protocol, Text(d.message, style="bold red"))
    stdout().print(table)


def _observed_table(keys: Sequence[str], probes: Sequence[Probe], verdicts: Verdicts) -> Table:
    """What got through, per pair (see ``render.count_table``)."""
    from kubefence.cli.render import count_table

    counts: dict[tuple[str, str], int] = {}
    for src, dst, _, _ in verdicts.allowed:
        counts[src, dst] = counts.get((src, dst), 0) + 1
    title = f"Observed on {', '.join(map(str, probes))}"
    caption = "✓ every probe got through · ✗ none · k/n: k of n"
    return count_table(title, keys, lambda i, j: counts.get((keys[i], keys[j]), 0), len(probes), caption)
