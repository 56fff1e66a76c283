"""``kubefence compile`` and ``kubefence agent``: the enforcement commands."""

from __future__ import annotations

import os
import signal
import sys
from enum import StrEnum
from typing import Annotated

import typer

from kubefence.cli.inputs import fail, load_for, resolve
from kubefence.engine.profiles import GENERIC
from kubefence.errors import KubefenceError

__all__ = ["register"]


class CompileOutput(StrEnum):
    nft = "nft"
    json = "json"


def compile_cmd(
    paths: Annotated[list[str], typer.Argument(help="Manifest files or folders, or '-' for stdin.")],
    node: Annotated[str, typer.Option("--node", help="Compile for the pods scheduled on this node.")],
    output: Annotated[CompileOutput, typer.Option("--output", "-o", help="nft (nft -f text) or json.")] = (
        CompileOutput.nft
    ),
    table: Annotated[str, typer.Option("--table", help="Name of the inet table.")] = "kubefence",
) -> None:
    """Print the nftables ruleset that enforces the policies on NODE (one atomic replace).

    Example:  kubefence compile cluster/ --node node-1 | nft -c -f -
    """
    from kubefence.backends.nftables.compile import compile_node, local_pods
    from kubefence.backends.nftables.render import render_json, render_text

    # The nftables backend enforces the upstream APIs: other dialects are warned about and left out.
    workspace = load_for(paths, False, GENERIC, strict=False)
    if node not in workspace.snapshot.nodes and not any(p.node == node for p in workspace.snapshot.pods):
        raise fail(f"--node {node!r}: no such node and no pod scheduled on it")
    resolution = resolve(workspace)
    table_ast = compile_node(resolution, local_pods(resolution, node), table, node)
    sys.stdout.write(render_json(table_ast) if output is CompileOutput.json else render_text(table_ast))


def agent_cmd(
    node: Annotated[str, typer.Option("--node", help="The node this agent enforces for.")],
    source: Annotated[
        list[str], typer.Option("--source", help="Manifest file or folder to watch (repeatable).")
    ],
    table: Annotated[str, typer.Option("--table", help="The inet table the agent owns.")] = "kubefence",
    interval: Annotated[float, typer.Option("--interval", help="Seconds between source checks.")] = 0.5,
    resync: Annotated[float, typer.Option("--resync", help="Seconds between drift checks.")] = 5.0,
    local_pods: Annotated[
        str | None, typer.Option("--local-pods", help="Comma-separated ns/pod keys local to this node.")
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Apply once and exit.")] = False,
) -> None:
    """(root) Keep one nftables table in step with the policy sources.

    Example:  kubefence agent --node node-1 --source cluster/ --source policies/
    """
    from kubefence.agent.run import Agent, AgentConfig, FileSource

    if os.geteuid() != 0:
        raise fail("the agent needs root (CAP_NET_ADMIN) to program nftables")
    local = tuple(p for p in (local_pods or "").split(",") if p) or None
    config = AgentConfig(node, table, local, interval, resync)
    agent = Agent(config, FileSource(tuple(source)), log=lambda m: print(m, flush=True))
    stopping: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    try:
        if once:
            agent.step()
        else:
            agent.run(should_stop=lambda: bool(stopping))
    except KubefenceError as e:
        raise fail(str(e)) from None
    except KeyboardInterrupt:
        pass


def register(app: typer.Typer) -> None:
    app.command("compile")(compile_cmd)
    app.command("agent")(agent_cmd)
