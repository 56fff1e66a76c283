"""check / matrix / explain: load, resolve, answer, print.

Matrix outputs go to stdout as they are produced (``-o json`` and ``-o csv`` stream one source
endpoint at a time); a progress bar, when shown, goes to stderr only.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from kubefence.cli.consoles import stdout
from kubefence.cli.endpoints import outside_ips, pick
from kubefence.cli.inputs import fail, load_for, resolve, warn, warning_texts
from kubefence.cli.progress import matrix_rows
from kubefence.engine.prepare import DnsMap
from kubefence.engine.probes import Probe, default_probes, icmp_caveat, parse_probe
from kubefence.engine.profiles import GENERIC, Profile

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.table import Table

    from kubefence.engine.explain import Explanation
    from kubefence.engine.matrix import ReachabilityMatrix
    from kubefence.ir.l7 import HTTPRequest
    from kubefence.workspace.load import Workspace

__all__ = ["TABLE_MAX", "Cni", "check", "explain", "matrix", "print_explanation"]

TABLE_MAX = 40  # rows (pods, else classes) of the matrix table


@dataclass(frozen=True)
class Cni:
    """``--cni``, ``--strict`` and ``--dns`` of check, matrix and explain."""

    profile: Profile = GENERIC
    strict: bool = False
    dns: DnsMap | None = None
    staged: bool = False


def _probe(text: str) -> Probe:
    try:
        return parse_probe(text)
    except ValueError as e:
        raise fail(f"--port: {e}") from None


def check(
    paths: Sequence[str],
    src: str,
    dst: str,
    port: str,
    verbose: bool,
    quiet: bool,
    cni: Cni = Cni(),
    request: HTTPRequest | None = None,
) -> tuple[Explanation, list[str]]:
    from kubefence.engine.verdict import evaluate

    probe = _probe(port)
    workspace = load_for(
        paths, verbose, cni.profile, cni.strict, quiet_warnings=quiet, dns=cni.dns, staged=cni.staged
    )
    resolution = resolve(workspace, outside_ips(workspace, [src, dst]), cni.profile)
    a, b = pick(resolution.universe, src, "--from"), pick(resolution.universe, dst, "--to")
    explanation = evaluate(resolution, a, b, probe, request)
    caveats = icmp_caveat([probe], cni.profile.name == GENERIC.name)
    if not quiet:  # text output: warnings go to stderr as the input's do
        for caveat in caveats:
            warn(caveat)
    return _dns_caveat(explanation, workspace, resolution.universe.endpoints[b].pod is None), [
        *warning_texts(workspace),
        *caveats,
    ]


def _dns_caveat(explanation: Explanation, workspace: Workspace, to_outside: bool) -> Explanation:
    """Toward an outside address, FQDN rules without a DNS map make the answer depend on DNS."""
    pending = [d for d in workspace.diagnostics if d.code == "depends-on-dns"]
    if not (pending and to_outside):
        return explanation
    objects = ", ".join(sorted({d.object or "?" for d in pending}))
    reason = f"{explanation.reason} (depends on DNS: FQDN rules of {objects} were not evaluated; give --dns)"
    return replace(explanation, reason=reason)


def print_explanation(explanation: Explanation) -> None:
    from kubefence.cli.render import explanation_text

    stdout().print(explanation_text(explanation))


def matrix(paths: Sequence[str], ports: Sequence[str], output: str, verbose: bool, cni: Cni = Cni()) -> None:
    from kubefence.engine import export
    from kubefence.engine.matrix import ReachabilityMatrix

    probes = [_probe(p) for p in ports]
    workspace = load_for(
        paths,
        verbose,
        cni.profile,
        cni.strict,
        quiet_warnings=output != "table",
        dns=cni.dns,
        staged=cni.staged,
    )
    m = ReachabilityMatrix(resolve(workspace, profile=cni.profile))
    probes = probes or list(default_probes(workspace.policies, workspace.snapshot))
    for caveat in icmp_caveat(probes, cni.profile.name == GENERIC.name):
        warn(caveat)
    if output == "table":
        _table(m, probes)
    elif output == "counts":
        print(json.dumps(export.counts_doc(m, probes)))
    elif output == "classes":
        # dumps, not dump: only the one-shot encoder is the C one (json.dump is pure Python).
        sys.stdout.write(json.dumps(export.classes_doc(m, warning_texts(workspace)), separators=(",", ":")))
        sys.stdout.write("\n")
    elif output == "csv":
        with _progress(m, probes, passes=1) as tick:
            _write(export.csv_chunks(m, probes, tick))
    else:
        with _progress(m, probes, passes=2) as tick:
            _write(export.json_chunks(m, probes, warning_texts(workspace), tick))


def _progress(
    m: ReachabilityMatrix, probes: Sequence[Probe], passes: int
) -> AbstractContextManager[Callable[[], None] | None]:
    """A bar over the rows written (``passes`` times each source endpoint), for large runs."""
    n = len(m.universe)
    return matrix_rows(n * passes, n * (n - 1) * len(probes))


def _table(m: ReachabilityMatrix, probes: Sequence[Probe]) -> None:
    """Pod by pod for small clusters, class by class when that fits, else the totals and
    where to find the rest: a table of thousands of columns helps nobody."""
    from kubefence.cli.render import class_table, matrix_table
    from kubefence.engine.export import counts_doc

    n = len(m.universe)
    if n <= TABLE_MAX and _print_whole(matrix_table(m, probes, list(range(n)))):
        return
    if n > TABLE_MAX and m.class_count <= TABLE_MAX and _print_whole(class_table(m, probes)):
        return
    counts = counts_doc(m, probes)
    stdout().print(
        f"{n} endpoints in {m.class_count} classes, {len(probes)} probes: {counts['allowed']:,} "
        f"allowed and {counts['denied']:,} denied over every ordered pair.\n"
        f"Too many for a table here (at most {TABLE_MAX} pods or classes, as wide as the "
        "terminal): use -o classes for the class-level matrix, -o json or -o csv for every "
        "pair, or check / explain for one pod."
    )


def _print_whole(table: Table) -> bool:
    """Print ``table`` at its natural width, unless that is wider than the terminal (False).
    Off a terminal (a pipe, a file) any width goes, 80 columns at least."""
    from rich.measure import Measurement

    console = stdout()
    natural = Measurement.get(console, console.options.update_width(100_000), table).maximum
    if console.is_terminal:
        if natural > console.width:
            return False
        console.print(table)
        return True
    from rich.console import Console

    Console(width=max(natural, 80), highlight=False, soft_wrap=False).print(table)
    return True


def _write(chunks: Iterator[str]) -> None:
    out = sys.stdout
    for chunk in chunks:
        out.write(chunk)
    out.flush()


def explain(paths: Sequence[str], pod: str, verbose: bool, cni: Cni = Cni()) -> None:
    from kubefence.cli.render import report_text
    from kubefence.engine.describe import describe_endpoint
    from kubefence.engine.matrix import ReachabilityMatrix

    workspace = load_for(paths, verbose, cni.profile, cni.strict, dns=cni.dns, staged=cni.staged)
    m = ReachabilityMatrix(resolve(workspace, profile=cni.profile))
    stdout().print(report_text(describe_endpoint(m, pick(m.universe, pod, "POD"))))
