"""Progress bars: on a terminal's stderr only, for large files and large matrices."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from kubefence.cli import progress


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """stderr as a terminal, and the stderr console writing to it."""
    screen = io.StringIO()
    monkeypatch.setattr(progress, "on_terminal", lambda: True)
    console = Console(file=screen, force_terminal=True, width=100)
    monkeypatch.setattr(progress, "stderr", lambda: console)
    return screen


def test_no_bar_off_a_terminal() -> None:
    """Under pytest stderr is no terminal: nothing to tell, nothing drawn."""
    with progress.loading() as told:
        assert told is None
    with progress.matrix_rows(10, 10**9) as tick:
        assert tick is None


def test_reading_bar_only_for_large_files(terminal: io.StringIO) -> None:
    with progress.loading() as told:
        assert told is not None
        told("small.yaml", 0, 100)
        told("small.yaml", 100, 100)
        assert terminal.getvalue() == ""  # small files alone never show a bar
        told("cluster/pods.yaml", 0, progress.LARGE_FILE)
        told("cluster/pods.yaml", progress.LARGE_FILE // 2, progress.LARGE_FILE)
        told("cluster/policies.yaml", 0, 10)  # the same bar, reset for the next file
    drawn = terminal.getvalue()
    assert "reading pods.yaml" in drawn and "reading policies.yaml" in drawn


def test_matrix_bar_only_for_large_matrices(terminal: io.StringIO) -> None:
    with progress.matrix_rows(10, progress.MATRIX_THRESHOLD - 1) as tick:
        assert tick is None
    with progress.matrix_rows(4, progress.MATRIX_THRESHOLD) as tick:
        assert tick is not None
        for _ in range(4):
            tick()
    assert "matrix" in terminal.getvalue()
