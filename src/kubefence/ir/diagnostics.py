"""Diagnostics: located input problems, collected rather than raised one by one.

A Diagnostic names where a problem is (file, line, column), which object (``Kind ns/name``)
and which field (a dotted path such as ``spec.ingress[0].ports[1].port``), and what is wrong.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubefence.ir.provenance import Source

__all__ = ["Diagnostic", "Severity"]


class Severity(enum.Enum):
    """How bad a diagnostic is: errors stop the run (exit 2), warnings are reported."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One input problem. ``code`` is a short stable identifier such as ``yaml-syntax``."""

    severity: Severity
    code: str
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    object: str | None = None
    field: str | None = None

    @classmethod
    def at(
        cls, severity: Severity, code: str, message: str, source: Source, field: str | None = None
    ) -> Diagnostic:
        """A diagnostic about the object ``source`` names, at its place in the input."""
        return cls(severity, code, message, source.file, source.line, None, source.object, field)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def location(self) -> str:
        """``file:line:column`` with the parts that are known."""
        parts = [p for p in (self.file, self.line, self.column) if p is not None]
        return ":".join(str(p) for p in parts)

    def __str__(self) -> str:
        head = self.location()
        what = ": ".join(p for p in (self.object, self.field) if p)
        pieces = [p for p in (head, self.severity.value, what, self.message) if p]
        return ": ".join(pieces)
