"""Loading Kubernetes manifests: paths → located documents plus diagnostics.

A ``Document`` is one Kubernetes object (a top-level YAML mapping with ``apiVersion`` and
``kind``) as found in one file: its data as a ``LocatedMap``, the file it came from (the path
as the user spelled it, the file found inside a folder, or ``<stdin>`` for ``-``) and the line
where it starts. ``kind: List`` objects (what ``kubectl get -o yaml`` prints) are expanded into
one Document per item.

A ``LoadResult`` holds every Document that loaded and every problem found, as Diagnostics that
carry ``file:line:column``; bad input never raises. ``Limits`` bound the work of one load
(bytes read, YAML nodes after alias expansion, nesting depth, wall time) so that hostile input
such as a "billion laughs" alias bomb fails fast with an error diagnostic instead of hanging.

Parsing reads the YAML *event* stream of libyaml (``yaml.CSafeLoader`` when PyYAML was built
with it, else the pure-Python ``SafeLoader``) and builds the located values from the events
with an explicit stack: no recursion, so deep nesting cannot crash the interpreter. Scalars get
the YAML 1.1 types PyYAML's safe loader gives them (str, int, float, bool, None), except that
timestamps stay strings. As in PyYAML, an alias shares the value of its anchor.
"""

from __future__ import annotations

import os
import stat
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Final, Protocol, TextIO

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from kubefence.dialects.located import LocatedList, LocatedMap
from kubefence.errors import ParseError
from kubefence.ir.diagnostics import Diagnostic, Severity

if TYPE_CHECKING:
    import re
    from collections.abc import Iterator, Sequence

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

__all__ = [
    "DEFAULT_LIMITS",
    "Document",
    "Limits",
    "LoadResult",
    "LocatedList",
    "LocatedMap",
    "OnProgress",
    "describe",
    "load_paths",
    "load_text",
]

# Told how far the parser is in one file or text: (file, characters done, characters in all).
OnProgress = Callable[[str, int, int], None]

_MANIFEST_SUFFIXES: Final = (".yaml", ".yml", ".json")
_STDIN_NAME: Final = "<stdin>"
_CHECK_EVERY: Final = 10_000  # YAML nodes between two checks of the node count and the clock
_CHUNK: Final = 1 << 20
_EMPTY: Final = "file is empty (no Kubernetes objects)"
_NO_OBJECTS: Final = "file holds only comments or empty documents: no Kubernetes objects"
_NOT_AN_OBJECT: Final = "expected a Kubernetes object (a mapping with apiVersion and kind), got"


# -- public values ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """Bounds on one load; going over one is an error diagnostic, never a hang or a crash.

    ``max_bytes`` is the total size of all input, ``max_nodes`` the number of YAML nodes after
    alias expansion, ``max_depth`` how deep collections may nest, ``max_seconds`` wall time
    plus ``seconds_per_mib`` for every MiB read: a large cluster takes well under a second per
    MiB on a slow machine, while what only hostile input does (alias bombs) is small and slow.
    """

    max_seconds: float = 10.0
    max_bytes: int = 2 * 1024**3
    max_nodes: int = 20_000_000
    max_depth: int = 1_000
    seconds_per_mib: float = 5.0


DEFAULT_LIMITS: Final = Limits()


@dataclass(frozen=True, slots=True)
class Document:
    """One Kubernetes object: its data, the file it was read from and the line it starts on."""

    data: LocatedMap
    file: str
    line: int


@dataclass(frozen=True, slots=True)
class LoadResult:
    """The documents that loaded, in input order, and every problem found while loading."""

    documents: tuple[Document, ...]
    diagnostics: tuple[Diagnostic, ...]

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.diagnostics)


def describe(doc: Document) -> str:
    """The object's name for diagnostics: ``NetworkPolicy x/allow-80``, ``Namespace y``.

    The namespace is shown when the object names one; ``<unnamed>`` stands for a missing
    ``metadata.name`` and ``object`` for a missing kind.
    """
    kind = doc.data.get("kind")
    kind_text = kind if isinstance(kind, str) and kind else "object"
    metadata = doc.data.get("metadata")
    name = namespace = None
    if isinstance(metadata, dict):
        name, namespace = _name_text(metadata.get("name")), _name_text(metadata.get("namespace"))
    name = name or "<unnamed>"
    return f"{kind_text} {namespace}/{name}" if namespace else f"{kind_text} {name}"


def load_paths(
    paths: Sequence[str],
    stdin: TextIO | None = None,
    *,
    limits: Limits = DEFAULT_LIMITS,
    progress: OnProgress | None = None,
) -> LoadResult:
    """Load files, folders (recursively: ``.yaml``, ``.yml`` and ``.json`` files) and ``-``
    (``stdin``, default ``sys.stdin``), in the order given. ``progress`` is told how far the
    parser is, at the start and end of each file and every 10,000 YAML nodes."""
    session = _Session(limits, progress)
    try:
        for path in paths:
            session.load_path(path, stdin)
    except _Abort as stop:
        session.diagnostics.extend(stop.diagnostics)
    return session.result()


def load_text(text: str, file: str, *, limits: Limits = DEFAULT_LIMITS) -> LoadResult:
    """Load YAML or JSON text as if it were read from ``file``."""
    session = _Session(limits)
    try:
        session.load_text(text, file)
    except _Abort as stop:
        session.diagnostics.extend(stop.diagnostics)
    return session.result()


# -- small helpers ---------------------------------------------------------------------------

_TYPE_NAMES: Final[tuple[tuple[type | tuple[type, ...], str], ...]] = (
    (bool, "a boolean"),
    (int, "an integer"),
    (float, "a number"),
    (str, "a string"),
    (list, "a list"),
    (dict, "a mapping"),
)


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    for types, name in _TYPE_NAMES:
        if isinstance(value, types):
            return name
    return type(value).__name__


def _name_text(value: object) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _key_text(value: object) -> str:
    """A mapping key as a string: YAML allows ``80: x`` or ``true: x``; JSON keys are strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


def _format_path(parts: Sequence[str | int]) -> str:
    """``spec.ingress[0].ports``; keys that contain dots or brackets are quoted: ``["a.b/c"]``."""
    out: list[str] = []
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif not part or any(c in part for c in '.[]" '):
            out.append(f'["{part}"]')
        else:
            out.append(f".{part}" if out else part)
    return "".join(out)


def _format_size(size: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size:,} bytes"


def _error(code: str, message: str, file: str | None, line: int | None = None, **where: Any) -> Diagnostic:
    return Diagnostic(Severity.ERROR, code, message, file, line, **where)


class _Located(ParseError):
    """A ParseError whose diagnostics are known to be Diagnostics."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        super().__init__(diagnostics)
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diagnostics)


class _Skip(_Located):
    """The current document cannot be used; its diagnostics are kept and loading goes on."""


class _Abort(_Located):
    """A limit was reached: loading stops, keeping what was loaded so far."""


# -- scalars ---------------------------------------------------------------------------------

_YAML: Final = "tag:yaml.org,2002:"
_STR_TAG: Final = _YAML + "str"
_COLLECTION_TAGS: Final = frozenset({None, "!", _YAML + "map", _YAML + "seq"})
_SAFE: Final = SafeConstructor()


def _keep(value: str) -> str:
    return value


def _null(value: str) -> None:
    return None


def _bool(value: str) -> bool:
    try:
        return SafeConstructor.bool_values[value.lower()]
    except KeyError:
        raise ValueError(value) from None


def _int(value: str) -> int:
    return _SAFE.construct_yaml_int(ScalarNode(_YAML + "int", value))


def _float(value: str) -> float:
    return _SAFE.construct_yaml_float(ScalarNode(_YAML + "float", value))


# What each known tag makes of a scalar. Timestamps and binary stay as their text.
_CONSTRUCT: Final[dict[str, Callable[[str], Any]]] = {
    _STR_TAG: _keep,
    _YAML + "null": _null,
    _YAML + "bool": _bool,
    _YAML + "int": _int,
    _YAML + "float": _float,
    _YAML + "timestamp": _keep,
    _YAML + "binary": _keep,
    _YAML + "merge": _keep,
    _YAML + "value": _keep,
}

# PyYAML's implicit resolvers (YAML 1.1), keyed by the first character of a plain scalar.
_IMPLICIT: Final[dict[str, list[tuple[str, re.Pattern[str]]]]] = {
    first: list(resolvers)
    for first, resolvers in Resolver.yaml_implicit_resolvers.items()
    if first is not None
}


# Plain scalars resolved so far (their text decides the result): manifests repeat the same
# values (protocols, ports, label values) thousands of times. Bounded; values are immutable.
_PLAIN: Final[dict[str, Any]] = {}
_PLAIN_LIMIT: Final = 1 << 16
_UNSET: Final = object()


def _resolve_plain(value: str, candidates: list[tuple[str, re.Pattern[str]]]) -> Any:
    found = _PLAIN.get(value, _UNSET)
    if found is not _UNSET:
        return found
    found = value
    for tag, pattern in candidates:
        if pattern.match(value):
            found = _CONSTRUCT[tag](value)
            break
    if len(_PLAIN) >= _PLAIN_LIMIT:
        _PLAIN.clear()
    _PLAIN[value] = found
    return found


# -- events → located values -----------------------------------------------------------------


class _Mark(Protocol):
    line: int
    column: int
    index: int


class _NodeEvent(Protocol):
    """What the builder reads of a YAML event (libyaml always sets the marks)."""

    anchor: str | None
    tag: str | None
    start_mark: _Mark


class _ScalarEvent(_NodeEvent, Protocol):
    value: str
    implicit: tuple[bool, bool]


class _Slot:
    """Marks the key slot of a mapping frame: no key yet, or the YAML merge key ``<<``."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


_NO_KEY: Final = _Slot("no key")
_MERGE: Final = _Slot("<<")
_MAP: Final = 0
_SEQ: Final = 1
_ROOT: Final = 2


class _Frame:
    """One open collection (or the document root) on the builder's stack."""

    __slots__ = ("anchor", "container", "first_line", "key", "key_line", "kind", "merges", "start")

    def __init__(self, kind: int, container: Any, anchor: str | None, start: int) -> None:
        self.kind = kind
        self.container = container
        self.anchor = anchor
        self.start = start
        self.key: str | _Slot = _NO_KEY
        self.key_line = 0
        self.first_line = 0
        self.merges: list[tuple[Any, int]] | None = None


@dataclass(frozen=True, slots=True)
class _Note:
    """A warning found while building, placed on an object once the document is accepted."""

    code: str
    message: str
    line: int
    parts: tuple[str | int, ...]


class _Builder:
    """Builds the located value of one document at a time from YAML events, without recursion.

    ``count`` is the number of YAML nodes built so far in the whole load, aliases counted with
    the full size of what they refer to; it and the clock are checked every ``_CHECK_EVERY``.
    """

    def __init__(self, limits: Limits, deadline: float, progress: OnProgress | None = None) -> None:
        self.limits = limits
        self.deadline = deadline
        self.allowed = limits.max_seconds  # the wall time the deadline stands for
        self.progress = progress
        self.count = 0
        self.next_check = min(_CHECK_EVERY, limits.max_nodes)
        self.file = ""
        self.size = 0  # characters in the text being parsed
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int] | None] = {}
        self.notes: list[_Note] = []
        self.handlers: dict[type, Callable[[Any], bool]] = {
            ScalarEvent: self._scalar,
            MappingStartEvent: self._mapping_start,
            MappingEndEvent: self._mapping_end,
            SequenceStartEvent: self._sequence_start,
            SequenceEndEvent: self._sequence_end,
            AliasEvent: self._alias,
            DocumentStartEvent: self._unexpected,
            DocumentEndEvent: self._unexpected,
            StreamStartEvent: self._unexpected,
            StreamEndEvent: self._unexpected,
        }

    def build(self, events: Iterator[Any]) -> tuple[Any, int]:
        """Consume the events of one document's root node; return its value and its line."""
        root = _Frame(_ROOT, None, None, 0)
        self.stack = [root]
        self.anchors = {}
        handlers = self.handlers
        for event in events:
            if handlers[event.__class__](event):
                self.stack = []
                self.anchors = {}
                return root.container, root.key_line
            if self.count > self.next_check:
                self._check(event)
        raise self._skip("yaml-syntax", "unexpected end of the YAML stream", None)

    def take_notes(self) -> list[_Note]:
        notes, self.notes = self.notes, []
        return notes

    # limits and problems

    def _check(self, event: _NodeEvent) -> None:
        line = event.start_mark.line + 1
        limits = self.limits
        if self.count > limits.max_nodes:
            message = f"input expands to more than {limits.max_nodes:,} YAML nodes (limit)"
            raise _Abort([_error("too-large", message, self.file, line)])
        if time.monotonic() > self.deadline:
            raise _Abort([_too_slow(limits, self.allowed, self.file, line)])
        self.next_check = min(self.count + _CHECK_EVERY, limits.max_nodes)
        if self.progress is not None:
            self.progress(self.file, event.start_mark.index, self.size)

    def _skip(self, code: str, message: str, event: _NodeEvent | None) -> _Skip:
        mark = event.start_mark if event is not None else None
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        return _Skip([_error(code, message, self.file, line, column=column)])

    def _unexpected(self, event: _NodeEvent) -> bool:
        raise self._skip("yaml-syntax", f"unexpected YAML event {type(event).__name__}", None)

    def _path(self) -> tuple[str | int, ...]:
        """Where the value being built sits in its document, as keys and indexes."""
        parts: list[str | int] = []
        for frame in self.stack[1:]:
            if frame.kind == _SEQ:
                parts.append(len(frame.container))
            elif isinstance(frame.key, str):
                parts.append(frame.key)
            elif frame.key is _MERGE:
                parts.append("<<")
        return tuple(parts)

    def _note_tag(self, tag: str, what: str, line: int) -> None:
        message = f"unknown YAML tag {tag}: the value is read as a plain {what}"
        self.notes.append(_Note("unknown-tag", message, line, self._path()))

    # event handlers: each returns True when the document's root value is complete

    def _scalar(self, event: _ScalarEvent) -> bool:
        # The hot path of every load: the usual cases (a plain scalar, a mapping's value) are
        # inlined here; ``_value`` and ``_add`` take the rest.
        self.count += 1
        frame = self.stack[-1]
        line = event.start_mark.line + 1
        key = frame.key
        if key is _NO_KEY and frame.kind == _MAP:
            value = event.value
            plain = event.tag is None and event.implicit[0]
            frame.key = _MERGE if plain and value == "<<" else value
            frame.key_line = line
            frame.first_line = frame.first_line or line
            if event.anchor is not None:
                self.anchors[event.anchor] = (value, 0)
            return False
        if event.tag is None and event.implicit[0]:
            value = event.value
            candidates = _IMPLICIT.get(value[:1])
            scalar = value if candidates is None else _resolve_plain(value, candidates)
        else:
            scalar = self._value(event, line)
        if event.anchor is not None:
            self.anchors[event.anchor] = (scalar, 0)
        if key.__class__ is str and frame.kind == _MAP:
            self._set(frame, key, scalar)
            frame.key = _NO_KEY
            return False
        return self._add(frame, scalar, line)

    def _value(self, event: _ScalarEvent, line: int) -> Any:
        tag = event.tag
        value = event.value
        if tag is None:
            if event.implicit[0]:
                candidates = _IMPLICIT.get(value[:1])
                if candidates is not None:
                    return _resolve_plain(value, candidates)
            return value
        if tag == _STR_TAG or tag == "!":
            return value
        construct = _CONSTRUCT.get(tag)
        if construct is None:
            self._note_tag(tag, "string", line)
            return value
        try:
            return construct(value)
        except ValueError:
            raise self._skip(
                "invalid-value", f"{value!r} is not a valid {tag.replace(_YAML, '!!')}", event
            ) from None

    def _mapping_start(self, event: _NodeEvent) -> bool:
        return self._open(_MAP, LocatedMap(line=event.start_mark.line + 1), event, "mapping")

    def _sequence_start(self, event: _NodeEvent) -> bool:
        return self._open(_SEQ, LocatedList(line=event.start_mark.line + 1), event, "list")

    def _open(self, kind: int, container: LocatedMap | LocatedList, event: _NodeEvent, what: str) -> bool:
        self.count += 1
        if event.tag not in _COLLECTION_TAGS:
            self._note_tag(str(event.tag), what, container.line)
        anchor = event.anchor
        if anchor is not None:
            self.anchors[anchor] = None  # open: an alias to it from inside would be recursive
        stack = self.stack
        stack.append(_Frame(kind, container, anchor, self.count))
        if len(stack) > self.limits.max_depth:
            message = f"YAML is nested more than {self.limits.max_depth:,} levels deep (limit)"
            raise _Abort([_error("too-deep", message, self.file, container.line)])
        return False

    def _mapping_end(self, event: _NodeEvent) -> bool:
        frame = self.stack.pop()
        container: LocatedMap = frame.container
        if frame.merges is not None:
            self._merge(container, frame.merges)
        if frame.first_line:
            container.line = frame.first_line
        return self._close(frame, container)

    def _sequence_end(self, event: _NodeEvent) -> bool:
        frame = self.stack.pop()
        return self._close(frame, frame.container)

    def _close(self, frame: _Frame, container: LocatedMap | LocatedList) -> bool:
        if frame.anchor is not None:
            self.anchors[frame.anchor] = (container, self.count - frame.start)
        return self._add(self.stack[-1], container, container.line)

    def _alias(self, event: _NodeEvent) -> bool:
        anchor = str(event.anchor)
        if anchor not in self.anchors:
            raise self._skip("yaml-syntax", f"found undefined alias *{anchor}", event)
        entry = self.anchors[anchor]
        if entry is None:
            message = f"recursive alias: *{anchor} is used inside the value of its own anchor &{anchor}"
            raise self._skip("recursive-alias", message, event)
        value, size = entry
        self.count += 1 + size
        return self._add(self.stack[-1], value, event.start_mark.line + 1)

    # assembling

    def _add(self, frame: _Frame, value: Any, line: int) -> bool:
        """Put a finished value into the open collection ``frame``."""
        if frame.kind == _SEQ:
            frame.container.append(value)
            frame.container.item_lines.append(line)
            return False
        if frame.kind == _ROOT:
            frame.container, frame.key_line = value, line
            return True
        key = frame.key
        if key is _NO_KEY:  # a complex key (a collection) or an alias used as a key
            frame.key = value if isinstance(value, str) else _key_text(value)
            frame.key_line = line
            frame.first_line = frame.first_line or line
            return False
        if isinstance(key, str):
            self._set(frame, key, value)
        else:
            frame.merges = [*(frame.merges or ()), (value, line)]
        frame.key = _NO_KEY
        return False

    def _set(self, frame: _Frame, key: str, value: Any) -> None:
        container: LocatedMap = frame.container
        if key in container:
            first = container.key_lines[key]
            message = f"duplicate key {key!r} (first on line {first}): the later value wins"
            self.notes.append(_Note("duplicate-key", message, frame.key_line, self._path()))
        container[key] = value
        container.key_lines[key] = frame.key_line

    def _merge(self, container: LocatedMap, merges: list[tuple[Any, int]]) -> None:
        """Apply YAML merge keys (``<<: *base``): explicit keys win, then earlier sources."""
        for value, line in merges:
            for source in value if isinstance(value, LocatedList) else [value]:
                if not isinstance(source, LocatedMap):
                    message = f"merge key << needs a mapping or a list of mappings, got {_type_name(source)}"
                    raise _Skip([_error("yaml-syntax", message, self.file, line)])
                for key, item in source.items():
                    if key not in container:
                        container[key] = item
                        container.key_lines[key] = source.line_of(key)


def _too_slow(limits: Limits, allowed: float, file: str, line: int | None = None) -> Diagnostic:
    how = f"{limits.max_seconds:g} s plus {limits.seconds_per_mib:g} s per MiB read"
    return _error("too-slow", f"loading took longer than {allowed:.1f} s (limit: {how})", file, line)


def _syntax_error(exc: yaml.YAMLError, file: str, text: str) -> Diagnostic:
    """A YAML error as a diagnostic with the line and column of libyaml's mark."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        message = exc.problem or exc.context or "invalid YAML"
        if exc.problem and exc.context:
            message = f"{exc.problem} ({exc.context})"
        if mark is None:
            return _error("yaml-syntax", message, file)
        return _error("yaml-syntax", message, file, mark.line + 1, column=mark.column + 1)
    message = str(exc).splitlines()[0] if str(exc) else "invalid YAML"
    position = getattr(exc, "position", None)
    line = text.count("\n", 0, position) + 1 if isinstance(position, int) else None
    return _error("yaml-syntax", message, file, line)


# -- checks of loaded objects ----------------------------------------------------------------


def _header_problems(data: LocatedMap) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for name in ("apiVersion", "kind"):
        value = data.get(name)
        if value is None:
            problems.append((name, f"missing required field {name}"))
        elif not isinstance(value, str):
            problems.append((name, f"{name} must be a string, got {_type_name(value)}"))
        elif not value:
            problems.append((name, f"{name} must not be empty"))
    return problems


def _is_list(data: LocatedMap) -> bool:
    kind = str(data["kind"])
    return kind == "List" or (kind.endswith("List") and "items" in data)


_Placed = list[tuple[tuple[str | int, ...], Document]]


def _place(note: _Note, file: str, accepted: _Placed) -> Diagnostic:
    """The note as a diagnostic on the accepted document that contains it, if any."""
    best: tuple[tuple[str | int, ...], Document] | None = None
    for prefix, doc in accepted:
        if note.parts[: len(prefix)] == prefix and (best is None or len(prefix) > len(best[0])):
            best = (prefix, doc)
    obj, rest = (describe(best[1]), note.parts[len(best[0]) :]) if best else (None, note.parts)
    return Diagnostic(
        Severity.WARNING, note.code, note.message, file, note.line, None, obj, _format_path(rest) or None
    )


# -- one load --------------------------------------------------------------------------------


class _Session:
    """The state of one load: what was found, and how much of each limit is used."""

    def __init__(self, limits: Limits, progress: OnProgress | None = None) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.max_seconds
        self.progress = progress
        self.builder = _Builder(limits, self.deadline, progress)
        self.documents: list[Document] = []
        self.diagnostics: list[Diagnostic] = []
        self.bytes_used = 0

    def result(self) -> LoadResult:
        return LoadResult(tuple(self.documents), tuple(self.diagnostics))

    # inputs

    def load_path(self, path: str, stdin: TextIO | None) -> None:
        if path == "-":
            self.load_stdin(stdin if stdin is not None else sys.stdin)
            return
        try:
            info = os.stat(path)
        except OSError as exc:
            self._os_error(exc, path)
            return
        if stat.S_ISDIR(info.st_mode):
            self.load_folder(path)
        else:
            self.load_file(path)

    def load_folder(self, folder: str) -> None:
        before = len(self.diagnostics)
        files = self._walk(folder, frozenset())
        if not files and len(self.diagnostics) == before:
            message = "folder contains no .yaml, .yml or .json files"
            self.diagnostics.append(Diagnostic(Severity.WARNING, "empty-folder", message, folder))
        for file in files:
            self.load_file(file)

    def load_file(self, path: str) -> None:
        self._check_time(path)
        try:
            with open(path, "rb") as handle:
                data = self._read(handle, path)
        except OSError as exc:
            self._os_error(exc, path)
            return
        text = self._decode(data, path)
        if text is not None:
            self._parse(text.removeprefix("\ufeff"), path)

    def load_stdin(self, stream: TextIO) -> None:
        self._check_time(_STDIN_NAME)
        chunks: list[str] = []
        try:
            while chunk := stream.read(_CHUNK):
                self._reserve(len(chunk.encode("utf-8", "surrogatepass")), _STDIN_NAME)
                chunks.append(chunk)
        except UnicodeDecodeError:
            self._binary(_STDIN_NAME, None, "is not valid UTF-8")
            return
        except OSError as exc:
            self._os_error(exc, _STDIN_NAME)
            return
        self._text("".join(chunks), _STDIN_NAME)

    def load_text(self, text: str, file: str) -> None:
        self._reserve(len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass")), file)
        self._text(text, file)

    # reading

    def _walk(self, folder: str, ancestors: frozenset[tuple[int, int]]) -> list[str]:
        """The manifest files under ``folder``, in sorted order; hidden folders are skipped."""
        try:
            info = os.stat(folder)
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError as exc:
            self._os_error(exc, folder)
            return []
        identity = (info.st_dev, info.st_ino)
        if identity in ancestors:
            self.diagnostics.append(_error("read-error", "folder loop: this folder contains itself", folder))
            return []
        found: list[str] = []
        for entry in entries:
            if _is_dir(entry):
                if not entry.name.startswith("."):
                    found += self._walk(entry.path, ancestors | {identity})
            elif entry.name.lower().endswith(_MANIFEST_SUFFIXES) and _is_file_or_link(entry):
                found.append(entry.path)
        return found

    def _read(self, handle: BinaryIO, path: str) -> bytes:
        info = os.fstat(handle.fileno())
        if stat.S_ISREG(info.st_mode):  # size known: check the limit before reading
            self._reserve(info.st_size, path)
            return handle.read()
        chunks: list[bytes] = []
        while chunk := handle.read(_CHUNK):
            self._reserve(len(chunk), path)
            chunks.append(chunk)
        return b"".join(chunks)

    def _decode(self, data: bytes, file: str) -> str | None:
        nul = data.find(b"\x00")
        if nul >= 0:
            self._binary(file, data.count(b"\n", 0, nul) + 1, "contains NUL bytes")
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            self._binary(file, line, f"is not valid UTF-8 (byte 0x{data[exc.start]:02x})")
            return None

    def _text(self, text: str, file: str) -> None:
        nul = text.find("\x00")
        if nul >= 0:
            self._binary(file, text.count("\n", 0, nul) + 1, "contains NUL bytes")
            return
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                self._binary(file, text.count("\n", 0, exc.start) + 1, "is not valid UTF-8")
                return
        self._parse(text.removeprefix("\ufeff"), file)

    def _reserve(self, size: int, file: str) -> None:
        """Count ``size`` more bytes of input: within the size limit, and more time allowed."""
        self.bytes_used += size
        if self.bytes_used > self.limits.max_bytes:
            message = f"input is larger than {_format_size(self.limits.max_bytes)} in total (limit)"
            raise _Abort([_error("too-large", message, file)])
        extra = self.limits.seconds_per_mib * size / 2**20
        self.deadline += extra
        self.builder.deadline = self.deadline
        self.builder.allowed += extra

    def _check_time(self, file: str) -> None:
        if time.monotonic() > self.deadline:
            raise _Abort([_too_slow(self.limits, self.builder.allowed, file)])

    def _binary(self, file: str, line: int | None, detail: str) -> None:
        message = f"binary file: the content {detail}; expected YAML or JSON text"
        self.diagnostics.append(_error("binary-file", message, file, line))

    def _os_error(self, exc: OSError, path: str) -> None:
        if isinstance(exc, FileNotFoundError):
            self.diagnostics.append(_error("not-found", "no such file or directory", path))
            return
        reason = exc.strerror or str(exc)
        self.diagnostics.append(_error("read-error", f"cannot read: {reason[:1].lower()}{reason[1:]}", path))

    # parsing

    def _parse(self, text: str, file: str) -> None:
        """Every document of one file or text; an empty file is an error, one holding only
        comments or null documents a warning."""
        if not text or text.isspace():  # libyaml rejects some blank text, such as a lone tab
            self.diagnostics.append(_error("empty-file", _EMPTY, file))
            return
        self.builder.file, self.builder.size = file, len(text)
        if self.progress is not None:
            self.progress(file, 0, len(text))
        try:
            objects = self._documents(text, file)
        except yaml.YAMLError as exc:
            self.diagnostics.append(_syntax_error(exc, file, text))
            return
        finally:
            if self.progress is not None:
                self.progress(file, len(text), len(text))
        if not objects:
            # Comments or bare '---' are written on purpose ("no policies"): worth a warning, not exit 2.
            self.diagnostics.append(Diagnostic(Severity.WARNING, "no-objects", _NO_OBJECTS, file))

    def _documents(self, text: str, file: str) -> int:
        """Load the documents of ``text``; the number that were not null."""
        loader = _Loader(text)  # the pure-Python reader already checks the characters here
        try:
            events: Iterator[Any] = iter(loader.get_event, None)
            return sum(
                self._document(events, file) for event in events if event.__class__ is DocumentStartEvent
            )
        finally:
            loader.dispose()

    def _document(self, events: Iterator[Any], file: str) -> int:
        """Load one document; 1 if it held something (even something wrong), 0 if it was null."""
        try:
            value, line = self.builder.build(events)
        except _Skip as skip:
            self.diagnostics.extend(skip.diagnostics)
            self.builder.take_notes()
            for event in events:
                if event.__class__ is DocumentEndEvent:
                    break
            return 1
        notes = self.builder.take_notes()
        if value is None:
            return 0
        accepted: _Placed = []
        if isinstance(value, LocatedMap):
            self._accept(value, file, (), accepted)
        else:
            self.diagnostics.append(
                _error("not-an-object", f"{_NOT_AN_OBJECT} {_type_name(value)}", file, line)
            )
        self.diagnostics.extend(_place(note, file, accepted) for note in notes)
        return 1

    def _accept(self, data: LocatedMap, file: str, prefix: tuple[str | int, ...], accepted: _Placed) -> None:
        """Check one object's header; keep it as a Document, or expand it when it is a List."""
        doc = Document(data, file, data.line)
        problems = _header_problems(data)
        for name, message in problems:
            self.diagnostics.append(
                _error("missing-field", message, file, data.line_of(name), object=describe(doc), field=name)
            )
        if problems:
            return
        if _is_list(data):
            self._expand(data, file, prefix, accepted)
            return
        self.documents.append(doc)
        accepted.append((prefix, doc))

    def _expand(self, data: LocatedMap, file: str, prefix: tuple[str | int, ...], accepted: _Placed) -> None:
        items = data.get("items")
        where = (*prefix, "items")
        if items is None:
            if "items" not in data:
                self.diagnostics.append(
                    _error(
                        "missing-field",
                        "missing required field items",
                        file,
                        data.line,
                        field=_format_path(where),
                    )
                )
            return
        if not isinstance(items, LocatedList):
            message = f"items must be a list of Kubernetes objects, got {_type_name(items)}"
            self.diagnostics.append(
                _error("invalid-field", message, file, data.line_of("items"), field=_format_path(where))
            )
            return
        for index, item in enumerate(items):
            if isinstance(item, LocatedMap):
                self._accept(item, file, (*where, index), accepted)
                continue
            message = f"{_NOT_AN_OBJECT} {_type_name(item)}"
            field = _format_path((*where, index))
            self.diagnostics.append(_error("not-an-object", message, file, items.line_of(index), field=field))


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _is_file_or_link(entry: os.DirEntry[str]) -> bool:
    """Regular files, and broken symbolic links (reported when they are read)."""
    try:
        return entry.is_file() or (entry.is_symlink() and not os.path.exists(entry.path))
    except OSError:
        return False
