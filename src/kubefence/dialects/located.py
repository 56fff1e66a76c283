"""Located YAML values: mappings and sequences that remember the source lines they came from.

A ``LocatedMap`` is one YAML mapping as a ``dict`` (keys are always strings). ``line`` is the
1-based line of its first key and ``key_lines`` the line of each key, so that a parser can
report ``file:line`` for the exact field that is wrong. A ``LocatedList`` is one YAML sequence
as a ``list``; ``line`` is where the sequence starts and ``item_lines`` the line of each item.
Scalars stay plain Python values (str, int, float, bool, None); their line is the line of
the key or item that holds them.

Both compare equal to plain dicts and lists with the same content; the lines are metadata.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["LocatedList", "LocatedMap"]


class LocatedMap(dict[str, Any]):
    """A YAML mapping with the 1-based line of itself (its first key) and of each key."""

    __slots__ = ("key_lines", "line")

    line: int
    key_lines: dict[str, int]

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        line: int = 0,
        key_lines: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__(data or {})
        self.line = line
        self.key_lines = dict(key_lines) if key_lines else {}

    def line_of(self, key: str) -> int:
        """The line of ``key``, or the mapping's own line when the key is absent."""
        return self.key_lines.get(key, self.line)


class LocatedList(list[Any]):
    """A YAML sequence with the 1-based line where it starts and the line of each item."""

    __slots__ = ("item_lines", "line")

    line: int
    item_lines: list[int]

    def __init__(
        self,
        data: Iterable[Any] = (),
        *,
        line: int = 0,
        item_lines: Iterable[int] = (),
    ) -> None:
        super().__init__(data)
        self.line = line
        self.item_lines = list(item_lines)

    def line_of(self, index: int) -> int:
        """The line of item ``index`` (negative indexes count from the end), else the list's line."""
        try:
            return self.item_lines[index]
        except IndexError:
            return self.line
