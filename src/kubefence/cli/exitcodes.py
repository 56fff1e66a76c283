"""Exit codes of every kubefence command (design.md §5)."""

from __future__ import annotations

import enum

__all__ = ["ExitCode"]


class ExitCode(enum.IntEnum):
    """0 allowed / success, 1 denied / discrepancies, 2 usage or input error."""

    OK = 0
    DENIED = 1
    INPUT_ERROR = 2
