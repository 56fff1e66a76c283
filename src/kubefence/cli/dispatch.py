"""Build only the command that runs.

typer turns every registered command into a click command (reading each signature, making
each parameter) before it looks at the command line: about 15 ms for kubefence's commands,
a tenth of a short ``matrix`` run. When the first argument names a command or a sub-app, only
that one is built; anything else (no arguments, ``--help``, an unknown name) gets the whole
app, so that the listing, the errors and their suggestions are unchanged.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import typer.main

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["narrowed", "run"]


def _name(info: typer.models.CommandInfo) -> str | None:
    if info.name:
        return info.name
    return typer.main.get_command_name(info.callback.__name__) if info.callback else None


def narrowed(app: typer.Typer, args: Sequence[str]) -> typer.Typer | None:
    """A copy of ``app`` holding only the command or sub-app ``args[0]`` names, or None when
    it names neither (then the whole app answers)."""
    if not args:
        return None
    commands = [c for c in app.registered_commands if _name(c) == args[0]]
    groups = [g for g in app.registered_groups if g.name == args[0]]
    if not commands and not groups:
        return None
    narrow = copy.copy(app)
    narrow.registered_commands, narrow.registered_groups = commands, groups
    return narrow


def run(app: typer.Typer, args: Sequence[str], prog_name: str) -> None:
    """Run ``args`` with a group of one member when ``args[0]`` names it (kept a group, so that
    the command line reads the same), else with the whole app; exits as click does."""
    narrow = narrowed(app, args)
    command = typer.main.get_group(narrow) if narrow is not None else typer.main.get_command(app)
    command(list(args), prog_name=prog_name)
