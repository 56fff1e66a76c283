"""What ``--help`` shows: prose reflowed to the terminal's width, and no text lost to rich
markup (typer renders help in rich mode, where ``[word]`` is a style tag and vanishes)."""

from __future__ import annotations

from collections.abc import Iterator

import typer.main
from rich.markup import render

from kubefence.cli.app import app
from kubefence.cli.helptext import reflow


def _helps() -> Iterator[tuple[str, str]]:
    stack = [("kubefence", typer.main.get_command(app))]
    while stack:
        path, command = stack.pop()
        yield path, command.help or ""
        yield f"{path} (epilog)", command.epilog or ""
        for param in command.params:
            yield f"{path} {param.name}", getattr(param, "help", None) or ""
        stack += [(f"{path} {name}", sub) for name, sub in getattr(command, "commands", {}).items()]


def test_reflow_joins_prose_and_keeps_layout() -> None:
    text = """First line.

    A paragraph written
    over three
    lines.

    - a list
    - stays

    Indented:
      kubefence check x
    """
    assert reflow(text) == (
        "First line.\n\nA paragraph written over three lines.\n\n- a list\n- stays\n\n"
        "Indented:\n  kubefence check x"
    )


def test_every_help_is_reflowed() -> None:
    """Commands' docstrings are hard-wrapped in the source; the help must not be."""
    helps = dict(_helps())
    assert len(helps) > 40
    for where in [w for w in helps if "(epilog)" not in w]:
        assert reflow(helps[where]) == helps[where].strip(), where


def test_no_help_text_is_eaten_by_rich_markup() -> None:
    """``name: [ips]`` once rendered as ``name: .`` in ``--dns``'s help."""
    for where, text in _helps():
        assert render(text).plain == text, where
