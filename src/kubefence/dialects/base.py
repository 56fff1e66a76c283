"""The Dialect seam: one module per policy API turns a Document into IR plus diagnostics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from kubefence.ir.diagnostics import Diagnostic
from kubefence.ir.model import Policy

if TYPE_CHECKING:
    from kubefence.dialects.loader import Document

__all__ = ["Dialect", "ParseResult"]


@dataclass(frozen=True, slots=True)
class ParseResult:
    """What a dialect made of one object: zero or one policy, and the problems it found."""

    policies: tuple[Policy, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()


class Dialect(Protocol):
    """A policy API. ``kinds`` lists the ``(apiVersion, kind)`` pairs it reads."""

    @property
    def name(self) -> str: ...

    @property
    def kinds(self) -> tuple[tuple[str, str], ...]: ...

    def parse(self, doc: Document) -> ParseResult: ...
