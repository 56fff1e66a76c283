"""Layer-7 (HTTP) rule predicates and the request they are checked against.

A ``HTTPRule`` allows a request when any of its ``HTTPMatch``es matches; a match holds when
every field it sets matches (semantics reference §4.9 Cilium ``rules.http``, §5.3 Antrea
``l7Protocols.http``, §3.5 Calico ``http``). Each dialect writes its text patterns its own way,
kept as ``TextMatch.kind``: Cilium regular expressions (matched against the whole text),
Antrea ``*`` globs, Calico exact strings and prefixes.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

__all__ = ["HTTPMatch", "HTTPRequest", "HTTPRule", "MatchKind", "TextMatch"]


class MatchKind(enum.Enum):
    EXACT = "exact"
    PREFIX = "prefix"
    REGEX = "regex"
    GLOB = "glob"


@dataclass(frozen=True, slots=True)
class TextMatch:
    """One text pattern; REGEX is anchored at both ends, GLOB knows only ``*``."""

    kind: MatchKind
    value: str
    ignore_case: bool = False

    def matches(self, text: str) -> bool:
        value, text = (self.value.lower(), text.lower()) if self.ignore_case else (self.value, text)
        if self.kind is MatchKind.EXACT:
            return text == value
        if self.kind is MatchKind.PREFIX:
            return text.startswith(value)
        if self.kind is MatchKind.GLOB:
            return re.fullmatch(".*".join(map(re.escape, value.split("*"))), text, re.DOTALL) is not None
        try:
            return re.fullmatch(value, text) is not None
        except re.error:
            return False

    def __str__(self) -> str:
        return f"{self.kind.value} {self.value!r}"


@dataclass(frozen=True, slots=True)
class HTTPRequest:
    """The request a ``check --http-method/--http-path/--http-host`` asks about."""

    method: str
    path: str
    host: str | None = None
    headers: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        host = f" (Host {self.host})" if self.host else ""
        return f"HTTP {self.method} {self.path}{host}"


@dataclass(frozen=True, slots=True)
class HTTPMatch:
    """Fields left None match anything; ``headers`` are (name, value or None) that must be present."""

    method: TextMatch | None = None
    path: TextMatch | None = None
    host: TextMatch | None = None
    headers: tuple[tuple[str, str | None], ...] = ()

    def matches(self, request: HTTPRequest) -> bool:
        if self.method is not None and not self.method.matches(request.method):
            return False
        if self.path is not None and not self.path.matches(request.path):
            return False
        if self.host is not None and not (request.host is not None and self.host.matches(request.host)):
            return False
        given = {k.lower(): v for k, v in request.headers}
        return all(
            name.lower() in given and (value is None or given[name.lower()] == value)
            for name, value in self.headers
        )

    def __str__(self) -> str:
        fields = (("method", self.method), ("path", self.path), ("host", self.host))
        parts = [f"{n} {m}" for n, m in fields if m]
        parts += [f"header {n}" + (f"={v}" if v is not None else "") for n, v in self.headers]
        return ", ".join(parts) or "any request"


@dataclass(frozen=True, slots=True)
class HTTPRule:
    """An L7 HTTP predicate: any match allows the request."""

    matches: tuple[HTTPMatch, ...]

    def allows(self, request: HTTPRequest) -> bool:
        return any(m.matches(request) for m in self.matches)

    def __str__(self) -> str:
        return "HTTP " + " | ".join(f"[{m}]" for m in self.matches)
