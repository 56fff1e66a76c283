"""Calico selector expressions as values (semantics reference §3.4), and the ``Selector`` union.

An expression is a tree of the nodes below; ``matches`` evaluates it against a label map with
Calico's semantics: ``!=`` and ``not in`` match a label set without the key, ``==``, ``in``,
``contains``, ``starts with`` and ``ends with`` do not. ``str()`` renders valid Calico syntax.
The text → tree parser lives with the Calico dialect (``dialects/calico_selector.py``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kubefence.ir.selectors import LabelSelector

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "All",
    "And",
    "Compare",
    "Expr",
    "Global",
    "Has",
    "InSet",
    "Not",
    "Op",
    "Or",
    "Selector",
]


class Op(enum.Enum):
    """Binary label operators with a string operand."""

    EQ = "=="
    NE = "!="
    CONTAINS = "contains"
    STARTS_WITH = "starts with"
    ENDS_WITH = "ends with"


def _quote(text: str) -> str:
    return f"'{text}'" if '"' in text else f'"{text}"'


@dataclass(frozen=True, slots=True)
class All:
    """``all()``: every label set."""

    def matches(self, labels: Mapping[str, str]) -> bool:
        return True

    def __str__(self) -> str:
        return "all()"


@dataclass(frozen=True, slots=True)
class Global:
    """``global()``: matches every label set; as a rule's whole namespaceSelector it scopes the
    rule to non-namespaced entities (the dialect handles that scoping)."""

    def matches(self, labels: Mapping[str, str]) -> bool:
        return True

    def __str__(self) -> str:
        return "global()"


@dataclass(frozen=True, slots=True)
class Has:
    """``has(key)``."""

    key: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        return self.key in labels

    def __str__(self) -> str:
        return f"has({self.key})"


@dataclass(frozen=True, slots=True)
class Compare:
    """``key OP "value"``."""

    key: str
    op: Op
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        got = labels.get(self.key)
        if got is None:
            return self.op is Op.NE
        if self.op is Op.EQ:
            return got == self.value
        if self.op is Op.NE:
            return got != self.value
        if self.op is Op.CONTAINS:
            return self.value in got
        if self.op is Op.STARTS_WITH:
            return got.startswith(self.value)
        return got.endswith(self.value)

    def __str__(self) -> str:
        return f"{self.key} {self.op.value} {_quote(self.value)}"


@dataclass(frozen=True, slots=True)
class InSet:
    """``key in {...}`` or (``negated``) ``key not in {...}``."""

    key: str
    values: frozenset[str]
    negated: bool = False

    def matches(self, labels: Mapping[str, str]) -> bool:
        got = labels.get(self.key)
        if got is None:
            return self.negated
        return (got in self.values) != self.negated

    def __str__(self) -> str:
        word = "not in" if self.negated else "in"
        return f"{self.key} {word} {{{', '.join(_quote(v) for v in sorted(self.values))}}}"


@dataclass(frozen=True, slots=True)
class Not:
    """``!expr``."""

    item: Expr

    def matches(self, labels: Mapping[str, str]) -> bool:
        return not self.item.matches(labels)

    def __str__(self) -> str:
        return f"!({self.item})"


@dataclass(frozen=True, slots=True)
class And:
    """``a && b && ...``."""

    items: tuple[Expr, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(item.matches(labels) for item in self.items)

    def __str__(self) -> str:
        return " && ".join(f"({i})" if isinstance(i, Or) else str(i) for i in self.items)


@dataclass(frozen=True, slots=True)
class Or:
    """``a || b || ...``."""

    items: tuple[Expr, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return any(item.matches(labels) for item in self.items)

    def __str__(self) -> str:
        return " || ".join(str(i) for i in self.items)


Expr = All | Global | Has | Compare | InSet | Not | And | Or
Selector = LabelSelector | Expr
