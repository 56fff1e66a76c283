"""Progress bars on stderr (never stdout) for long work, on a terminal only: reading large
manifests, and streaming a large matrix. Both are transient: nothing is left behind."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from kubefence.cli.consoles import stderr

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from kubefence.dialects.loader import OnProgress

__all__ = ["LARGE_FILE", "MATRIX_THRESHOLD", "loading", "matrix_rows", "on_terminal"]

MATRIX_THRESHOLD = 2_000_000  # verdicts (pairs × probes) from which a matrix bar is worth it
LARGE_FILE = 1 << 20  # characters of one manifest file from which a loading bar is worth it


def on_terminal() -> bool:
    """Whether stderr is a terminal (bars are for people, not for logs)."""
    return sys.stderr.isatty()


def _bar(label: str, unit: str) -> Progress:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn(label),
        BarColumn(),
        TextColumn(unit),
        TimeRemainingColumn(),
        console=stderr(),
        transient=True,
        # No stdout redirection: rich would route what goes to stdout through its console.
        redirect_stdout=False,
        redirect_stderr=False,
    )


@contextmanager
def matrix_rows(rows: int, verdicts: int) -> Iterator[Callable[[], None] | None]:
    """A tick per source row written, for a matrix of ``verdicts`` verdicts; None when small
    or when stderr is not a terminal."""
    if verdicts < MATRIX_THRESHOLD or not on_terminal():
        yield None
        return
    with _bar("matrix", "{task.completed}/{task.total} rows") as bar:
        task = bar.add_task("matrix", total=rows)
        yield lambda: bar.advance(task)


class _Reading:
    """One bar, reset for each file, shown from the first file of ``LARGE_FILE`` characters."""

    def __init__(self) -> None:
        self.bar: Progress | None = None
        self.task: TaskID | None = None

    def __call__(self, file: str, done: int, total: int) -> None:
        if self.bar is None:
            if total < LARGE_FILE:
                return
            self.bar = _bar("reading {task.description}", "{task.percentage:>3.0f}%")
            self.bar.start()
        name = os.path.basename(file)
        if self.task is None:
            self.task = self.bar.add_task(name, total=total)
        elif done == 0:
            self.bar.reset(self.task, total=total, description=name)
        self.bar.update(self.task, completed=done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


@contextmanager
def loading() -> Iterator[OnProgress | None]:
    """What to tell the loader: a bar for large manifest files; None when stderr is not a
    terminal."""
    if not on_terminal():
        yield None
        return
    reading = _Reading()
    try:
        yield reading
    finally:
        reading.close()
