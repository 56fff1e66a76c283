"""Predicted (engine) vs observed (kernel) verdicts → the list of discrepancies.

Any discrepancy is a bug, in the engine, the compiler, the agent or the lab; the list says
which tuple and in which direction the two disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kubefence.errors import LabError

if TYPE_CHECKING:
    from kubefence.engine.matrix import Verdicts

__all__ = ["Discrepancy", "compare"]

Row = tuple[str, str, int, str]


def _word(allowed: bool) -> str:
    return "allow" if allowed else "deny"


@dataclass(frozen=True, slots=True, order=True)
class Discrepancy:
    """One tuple on which the engine and the kernel disagree."""

    src: str
    dst: str
    port: int
    protocol: str
    predicted_allowed: bool

    @property
    def message(self) -> str:
        return f"predicted {_word(self.predicted_allowed)}, observed {_word(not self.predicted_allowed)}"

    @property
    def row(self) -> Row:
        return (self.src, self.dst, self.port, self.protocol)

    def to_json(self) -> list[object]:
        """``[src, dst, port, protocol, "predicted allow, observed deny"]``."""
        return [self.src, self.dst, self.port, self.protocol, self.message]


def compare(predicted: Verdicts, observed: Verdicts) -> tuple[Discrepancy, ...]:
    """Every tuple the two disagree on, in the predicted order. Both must cover the same tuples
    (LabError otherwise: the lab probed something else than the engine predicted)."""
    seen = dict.fromkeys(observed.allowed, True) | dict.fromkeys(observed.denied, False)
    rows = [(row, True) for row in predicted.allowed] + [(row, False) for row in predicted.denied]
    missing = [row for row, _ in rows if row not in seen]
    if missing or len(seen) != len(rows):
        example = missing[0] if missing else next(r for r in seen if r not in dict(rows))
        raise LabError(f"predicted and observed tuples differ (for example {list(example)})")
    return tuple(sorted(Discrepancy(*row, allowed) for row, allowed in rows if seen[row] != allowed))
