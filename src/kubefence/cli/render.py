"""Text renderings of engine answers for people (JSON is built by the engine types)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.console import Group
from rich.table import Table
from rich.text import Text

from kubefence.engine.describe import DirectionReport, EndpointReport
from kubefence.engine.explain import DirectionTrace, Explanation
from kubefence.engine.matrix import ReachabilityMatrix
from kubefence.engine.probes import Probe

__all__ = ["class_table", "explanation_text", "matrix_table", "report_text"]

_MARK = {True: Text("allowed", style="bold green"), False: Text("denied", style="bold red")}


def _trace_lines(trace: DirectionTrace) -> list[Text]:
    head = Text(f"{trace.direction.title} at {trace.endpoint}: ", style="bold")
    head.append_text(_MARK[trace.allowed])
    lines = [head]
    if trace.managed:
        names = ", ".join(f"{p.key} [{p.tier}]" for p in trace.selected) or "none"
        lines.append(Text(f"  selected by: {names}"))
    for ref in trace.passed_by:
        lines.append(Text(f"  passed on by {ref.describe()}", style="cyan"))
    lines.append(Text(f"  decision: {trace.reason}"))
    wanted = "allow" if not trace.allowed else "deny"
    misses = [m for m in trace.near_misses if m.action.value == wanted]
    for miss in misses[:5]:
        lines.append(
            Text(f"  near miss: {miss.policy.key} {miss.message} ({miss.rule.source})", style="yellow")
        )
    if len(misses) > 5:
        lines.append(Text(f"  … and {len(misses) - 5} more near misses", style="yellow"))
    return lines


def explanation_text(e: Explanation) -> Group:
    """A verdict line, the reason, then how each direction was decided."""
    request = f" ({e.request})" if e.request is not None else ""
    title = Text(f"{e.src} → {e.dst} on {e.probe}{request}: ", style="bold")
    title.append_text(_MARK[e.allowed])
    parts: list[Text] = [title, Text(e.reason)]
    for trace in (e.egress, e.ingress):
        if trace is not None:
            parts += [Text(""), *_trace_lines(trace)]
    return Group(*parts)


def _cell(allowed: int, total: int) -> Text:
    if allowed == total:
        return Text("✓", style="green")
    if allowed == 0:
        return Text("✗", style="red")
    return Text(f"{allowed}/{total}", style="yellow")


def count_table(
    title: str,
    keys: Sequence[str],
    allowed: Callable[[int, int], int],
    total: int,
    caption: str,
    diagonal: Callable[[int], bool] = lambda i: False,
) -> Table:
    """Rows: sources; narrow numbered columns: destinations; a cell shows how many of the
    ``total`` probes ``allowed(src, dst)`` says got through (✓ all, ✗ none, k/n some). The
    diagonal is ``·`` except where ``diagonal(i)`` says it means something."""
    table = Table(title=title, title_justify="left", caption=caption, min_width=len(title))
    table.add_column("#", justify="right", style="dim")
    table.add_column("from \\ to", style="bold", no_wrap=True)
    for n in range(1, len(keys) + 1):
        table.add_column(str(n), justify="center", no_wrap=True)
    for i, src in enumerate(keys):
        cells = [
            _cell(allowed(i, j), total) if i != j or diagonal(i) else Text("·", style="dim")
            for j in range(len(keys))
        ]
        table.add_row(str(i + 1), src, *cells)
    return table


def matrix_table(matrix: ReachabilityMatrix, probes: Sequence[Probe], endpoints: Sequence[int]) -> Table:
    """The engine's reachability between ``endpoints`` on ``probes`` (see ``count_table``)."""

    def allowed(i: int, j: int) -> int:
        conns = matrix.connections(endpoints[i], endpoints[j])
        return sum(conns.contains(p.protocol, p.port) for p in probes)

    keys = [matrix.universe.endpoints[i].key for i in endpoints]
    title = f"Reachability on {', '.join(str(p) for p in probes)}"
    caption = "columns: destinations, numbered as the rows · ✓ all probes allowed · ✗ none · k/n: k allowed"
    return count_table(title, keys, allowed, len(probes), caption)


def class_table(matrix: ReachabilityMatrix, probes: Sequence[Probe]) -> Table:
    """The reachability between equivalence classes: one row and column per class (its size
    and first member); a class's own cell is from a member to another member."""
    members = matrix.members()
    keys = [_class_name(matrix, group) for group in members]

    def allowed(cs: int, cd: int) -> int:
        conns = matrix.class_connections(cs, cd)
        return sum(conns.contains(p.protocol, p.port) for p in probes)

    title = (
        f"Reachability of {len(matrix.universe)} endpoints in {matrix.class_count} classes "
        f"on {', '.join(str(p) for p in probes)}"
    )
    caption = (
        "a class: endpoints the policies cannot tell apart · columns numbered as the rows · "
        "✓ all probes allowed · ✗ none · k/n: k allowed · members: matrix -o classes"
    )
    return count_table(title, keys, allowed, len(probes), caption, lambda c: len(members[c]) > 1)


def _class_name(matrix: ReachabilityMatrix, group: Sequence[int]) -> str:
    first = matrix.universe.endpoints[group[0]].key
    return f"{first} (+{len(group) - 1})" if len(group) > 1 else first


def _direction_lines(report: DirectionReport) -> list[Text]:
    word = "in from" if report.direction.value == "ingress" else "out to"
    lines = [Text(f"{report.direction.title}", style="bold")]
    if not report.policies:
        lines.append(Text("  selected by no policy in this direction"))
    for p in report.policies:
        rules = p.rules_for(report.direction)
        lines.append(
            Text(f"  {p.key} [{p.tier} tier, {_priority(p.priority)}] ({p.source}): {len(rules)} rule(s)")
        )
        for rule in rules:
            ports = "all ports" if rule.ports is None else ", ".join(str(m) for m in rule.ports) or "no port"
            peers = "; ".join(str(x) for x in rule.peers) or "no peer"
            lines.append(Text(f"    {rule.label}: {rule.action.value} {ports} {word} {peers}", style="dim"))
    lines.append(Text("  effective:"))
    for conns, keys in report.effective:
        shown = ", ".join(keys[:6]) + (f" and {len(keys) - 6} more" if len(keys) > 6 else "")
        style = "red" if not conns else ("green" if conns.is_all else "yellow")
        lines.append(Text(f"    {conns} {word} {shown}", style=style))
    return lines


def report_text(report: EndpointReport) -> Group:
    title = Text(f"{report.endpoint}", style="bold")
    if not report.managed:
        title.append(" (not policy-managed: host-network pod or outside address)", style="dim")
    return Group(title, *_direction_lines(report.ingress), Text(""), *_direction_lines(report.egress))


def _priority(value: float) -> str:
    """``priority 10`` (whole numbers without ``.0``), ``no order`` for Calico's absent order."""
    if value == float("inf"):
        return "no order (last)"
    return f"priority {int(value) if float(value).is_integer() else value}"
