"""Where a policy or rule came from, so that every answer can cite it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Source"]


@dataclass(frozen=True, slots=True)
class Source:
    """A place in the user's input: file, line, dialect and object (``Kind ns/name``)."""

    file: str
    line: int
    dialect: str
    object: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"
