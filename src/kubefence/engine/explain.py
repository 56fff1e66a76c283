"""Explanations: what decided a flow, as data with provenance (rendered by the CLI).

An ``Explanation`` holds one ``DirectionTrace`` per direction: the policies that select the
endpoint, the rule (or isolation) that decided, the Pass rules that handed the flow on, and
near misses — rules that almost matched, which is usually what a person wants to know.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from kubefence.engine.probes import Probe
from kubefence.ir.l7 import HTTPRequest
from kubefence.ir.model import Action, Direction, Policy, Rule

__all__ = ["DirectionTrace", "Explanation", "NearMiss", "RuleRef", "Verdict"]


class Verdict(enum.Enum):
    """The outcome of a tier or a direction (a tier may PASS or not match at all)."""

    ALLOW = "allow"
    DENY = "deny"
    PASS = "pass"
    NO_MATCH = "no-match"


@dataclass(frozen=True, slots=True)
class RuleRef:
    """A policy and, unless the decision is the policy's isolation default, one of its rules."""

    policy: Policy
    rule: Rule | None
    action: Verdict

    @property
    def file(self) -> str:
        return (self.rule or self.policy).source.file

    @property
    def line(self) -> int:
        return (self.rule or self.policy).source.line

    def describe(self) -> str:
        where = f"{self.file}:{self.line}"
        if self.rule is None:
            return f"{self.policy.key} [{self.policy.tier} tier] ({where})"
        return f"{self.policy.key} {self.rule.label} [{self.policy.tier} tier] ({where})"

    def to_json(self) -> dict[str, object]:
        return {
            "policy": self.policy.name,
            "namespace": self.policy.namespace,
            "kind": self.policy.kind,
            "tier": self.policy.tier.name,
            "priority": _number(self.policy.priority),
            "dialect": self.policy.dialect,
            "rule": self.rule.index if self.rule else None,
            "rule_name": self.rule.name if self.rule else None,
            "direction": self.rule.direction.value if self.rule else None,
            "file": self.file,
            "line": self.line,
            "action": self.action.value,
        }


def _number(value: float) -> float | int | None:
    """A priority for JSON: whole numbers as ints, "absent" (infinite) as null."""
    if value != value or value in (float("inf"), float("-inf")):
        return None
    return int(value) if float(value).is_integer() else value


@dataclass(frozen=True, slots=True)
class NearMiss:
    """A rule that matched the peer but not the port, or the port but not the peer."""

    policy: Policy
    rule: Rule
    message: str

    @property
    def action(self) -> Action:
        return self.rule.action


@dataclass(frozen=True, slots=True)
class DirectionTrace:
    """How one direction was decided: egress at the source, ingress at the destination."""

    direction: Direction
    endpoint: str
    managed: bool
    selected: tuple[Policy, ...]
    verdict: Verdict
    decided_by: tuple[RuleRef, ...]
    passed_by: tuple[RuleRef, ...]
    near_misses: tuple[NearMiss, ...]
    reason: str

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.ALLOW


@dataclass(frozen=True, slots=True)
class Explanation:
    """The answer to one ``check``: verdict, reason and both direction traces."""

    src: str
    dst: str
    probe: Probe
    allowed: bool
    reason: str
    egress: DirectionTrace | None
    ingress: DirectionTrace | None
    request: HTTPRequest | None = None

    @property
    def deciding_rules(self) -> tuple[RuleRef, ...]:
        traces = [t for t in (self.egress, self.ingress) if t is not None]
        return tuple(ref for t in traces for ref in (*t.passed_by, *t.decided_by))

    def to_json(self, warnings: list[str]) -> dict[str, object]:
        return {
            "allowed": self.allowed,
            "verdict": "allow" if self.allowed else "deny",
            "reason": self.reason,
            "rules": [ref.to_json() for ref in self.deciding_rules],
            "warnings": warnings,
            "from": self.src,
            "to": self.dst,
            "port": self.probe.port,
            "protocol": self.probe.protocol.value,
            **({"http": _request_json(self.request)} if self.request else {}),
        }


def _request_json(request: HTTPRequest) -> dict[str, object]:
    return {"method": request.method, "path": request.path, "host": request.host}
