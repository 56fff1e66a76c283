"""Watching file sources: a cheap fingerprint (path, size, mtime) of every manifest file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["fingerprint"]

_SUFFIXES = (".yaml", ".yml", ".json")


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in _SUFFIXES and p.is_file())
    return [path]


def fingerprint(sources: Sequence[str]) -> tuple[tuple[str, int, int], ...]:
    """Changes whenever a source file is added, removed, resized or rewritten."""
    out = []
    for source in sources:
        for f in _files(Path(source)):
            try:
                st = os.stat(f)
            except OSError:
                out.append((str(f), -1, -1))
                continue
            out.append((str(f), st.st_size, st.st_mtime_ns))
    return tuple(out)
