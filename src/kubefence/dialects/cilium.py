"""Placeholder: the cilium dialect is being written."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubefence.dialects.base import ParseResult

if TYPE_CHECKING:
    from kubefence.dialects.loader import Document

__all__ = ["CiliumDialect"]


class CiliumDialect:
    name = "cilium"
    kinds: tuple[tuple[str, str], ...] = ()

    def parse(self, doc: Document) -> ParseResult:
        return ParseResult()
