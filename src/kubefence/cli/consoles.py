"""The rich consoles of the command line, made on first use: most runs print plain JSON or
nothing at all, and importing rich costs every command ~40 ms of start-up."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["stderr", "stdout"]


@cache
def stdout() -> Console:
    """Tables and reports (they follow ``sys.stdout`` as it is at print time)."""
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


@cache
def stderr() -> Console:
    """Errors, warnings and progress."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)
