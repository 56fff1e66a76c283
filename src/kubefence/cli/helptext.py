"""Command help as the terminal shows it: prose paragraphs written across several source lines
are joined into one line each, so that the help wraps at the terminal's width instead of at
the source's line breaks (typer keeps single line breaks in its rich mode)."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer

__all__ = ["reflow", "reflow_commands"]

_KEEP = ("-", "*", "$", "\b", "|")  # lists, commands, typer's no-rewrap mark, tables


def reflow(text: str) -> str:
    """``text`` with each prose paragraph on one line. A paragraph stays as written when one
    of its lines is indented or starts like a list item, a command or a table row."""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(p if _laid_out(p) else " ".join(p.split("\n")) for p in paragraphs)


def _laid_out(paragraph: str) -> bool:
    lines = paragraph.split("\n")
    return len(lines) > 1 and any(line[:1].isspace() or line.startswith(_KEEP) for line in lines)


def reflow_commands(app: typer.Typer) -> None:
    """Reflow the help of every command of ``app`` and of its sub-apps (before it runs)."""
    for command in app.registered_commands:
        doc = command.help if isinstance(command.help, str) else inspect.getdoc(command.callback)
        if doc:
            command.help = reflow(doc)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            reflow_commands(group.typer_instance)
