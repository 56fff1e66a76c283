"""Kubernetes label selectors and their matching semantics (§0.2 of the semantics reference).

A ``LabelSelector`` is a value: ``matchLabels`` as sorted pairs plus ``matchExpressions`` as
``Requirement``s. The empty selector matches every label set. "Absent" selectors are not
represented here: each dialect decides what an absent selector means and builds the explicit
value (or ``None`` where the IR field allows it).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

__all__ = ["LabelSelector", "Labels", "Operator", "Requirement"]


class Operator(enum.Enum):
    """Set-based requirement operators (names are case-sensitive in the API)."""

    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


@dataclass(frozen=True, slots=True)
class Requirement:
    """``key operator values``; NotIn and DoesNotExist match label sets without the key."""

    key: str
    operator: Operator
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator is Operator.IN:
            return present and labels[self.key] in self.values
        if self.operator is Operator.NOT_IN:
            return not present or labels[self.key] not in self.values
        if self.operator is Operator.EXISTS:
            return present
        return not present

    def __str__(self) -> str:
        if self.operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST):
            return f"{'!' if self.operator is Operator.DOES_NOT_EXIST else ''}{self.key}"
        values = ",".join(sorted(self.values))
        word = "in" if self.operator is Operator.IN else "notin"
        return f"{self.key} {word} ({values})"


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """matchLabels AND matchExpressions; the empty selector matches everything."""

    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[Requirement, ...] = ()

    @classmethod
    def everything(cls) -> LabelSelector:
        return cls()

    @classmethod
    def of(cls, labels: Mapping[str, str], *requirements: Requirement) -> LabelSelector:
        return cls(tuple(sorted(labels.items())), tuple(requirements))

    @property
    def is_empty(self) -> bool:
        return not self.match_labels and not self.match_expressions

    def matches(self, labels: Mapping[str, str]) -> bool:
        for key, value in self.match_labels:
            if labels.get(key) != value:
                return False
        return all(req.matches(labels) for req in self.match_expressions)

    def __str__(self) -> str:
        if self.is_empty:
            return "{}"
        parts = [f"{k}={v}" for k, v in self.match_labels] + [str(r) for r in self.match_expressions]
        return ",".join(parts)


class Labels(Mapping[str, str]):
    """An immutable, hashable label set (``metadata.labels`` of a pod, namespace or node)."""

    __slots__ = ("_hash", "_items", "_map")

    def __init__(self, labels: Mapping[str, str] | None = None) -> None:
        self._map: dict[str, str] = dict(labels or {})
        self._items = tuple(sorted(self._map.items()))
        self._hash = hash(self._items)

    def __getitem__(self, key: str) -> str:
        return self._map[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Labels):
            return self._items == other._items
        return isinstance(other, Mapping) and dict(other) == self._map

    def __repr__(self) -> str:
        return f"Labels({self._map!r})"

    def __str__(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self._items) or "(no labels)"

    def with_label(self, key: str, value: str) -> Labels:
        return Labels({**self._map, key: value})
