"""Placeholder: the calico dialect is being written."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubefence.dialects.base import ParseResult

if TYPE_CHECKING:
    from kubefence.dialects.loader import Document

__all__ = ["CalicoDialect"]


class CalicoDialect:
    name = "calico"
    kinds: tuple[tuple[str, str], ...] = ()

    def parse(self, doc: Document) -> ParseResult:
        return ParseResult()
