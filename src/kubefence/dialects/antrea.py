"""Antrea ``crd.antrea.io`` policies → IR (§5 and §7.4 of the semantics reference;
antrea-io/antrea pkg/apis/crd/v1beta1/types.go, build/charts/antrea/crds/*.yaml,
pkg/controller/networkpolicy/validate.go and tier.go, docs/antrea-network-policy.md).

Kinds: ClusterNetworkPolicy (ACNP, cluster-wide selectors), NetworkPolicy (ANNP, its own
namespace), Tier, ClusterGroup and Group, in every API version that served them
(v1alpha1 policies and tiers, v1alpha2/v1alpha3 groups, v1beta1 all); the older versions are
read with the v1beta1 schema, which only added fields.

An ACNP/ANNP becomes ORDERED-tier Policies: the tier is a placeholder (rank 0) named after
``spec.tier`` that linking ranks from the tier priorities. The IR subject is one
PodSelection, so an object becomes one Policy per ``appliedTo`` entry (``part`` 0, 1, ...);
with rule-level ``appliedTo`` one Policy per rule and entry, numbered in rule order, so the
rule order survives the split. Tier, ClusterGroup and Group objects become definitions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubefence.dialects.antrea_groups import parse_group
from kubefence.dialects.antrea_peers import Scope
from kubefence.dialects.antrea_rules import RuleParser
from kubefence.dialects.antrea_targets import TargetParser
from kubefence.dialects.antrea_tiers import STATIC_TIERS
from kubefence.dialects.base import Definition, ParseResult, TierDef
from kubefence.dialects.fields import FieldReader
from kubefence.ir.model import Action, Direction, PodSelection, Policy, Rule, Tier, TierKind

if TYPE_CHECKING:
    from collections.abc import Mapping

    from kubefence.dialects.loader import Document

__all__ = ["DEFAULT_TIER", "STATIC_TIERS", "AntreaDialect"]

GROUP = "crd.antrea.io"
DEFAULT_TIER = "application"
_LEGACY_TIER_NAMES = {"Emergency", "SecurityOps", "NetworkOps", "Platform", "Application", "Baseline"}
_CNP_ADMIN_TIER_PRIORITY = 220
_MIN_PRIORITY, _MAX_PRIORITY = 1.0, 10000.0
_VERSIONS = {
    "ClusterNetworkPolicy": ("v1alpha1", "v1beta1"),
    "NetworkPolicy": ("v1alpha1", "v1beta1"),
    "Tier": ("v1alpha1", "v1beta1"),
    "ClusterGroup": ("v1alpha2", "v1alpha3", "v1beta1"),
    "Group": ("v1alpha3", "v1beta1"),
}


class AntreaDialect:
    """Reads Antrea-native policies, tiers and groups."""

    name = "antrea"
    kinds: tuple[tuple[str, str], ...] = tuple(
        (f"{GROUP}/{version}", kind) for kind, versions in _VERSIONS.items() for version in versions
    )

    def parse(self, doc: Document) -> ParseResult:
        reader = FieldReader(doc, self.name)
        kind = str(doc.data.get("kind"))
        version = str(doc.data.get("apiVersion", "")).rpartition("/")[2]
        policies: tuple[Policy, ...] = ()
        definitions: tuple[Definition, ...] = ()
        if kind == "Tier":
            tier = parse_tier(reader)
            definitions = (tier,) if tier is not None else ()
        elif kind in ("ClusterGroup", "Group"):
            group = parse_group(reader, kind, version)
            definitions = (group,) if group is not None else ()
        else:
            policies = tuple(_PolicyParser(reader, kind).policies())
        if reader.failed:
            return ParseResult((), tuple(reader.diagnostics))
        return ParseResult(policies, tuple(reader.diagnostics), definitions)


def tier_name(text: str | None) -> str:
    """The Tier object a policy's ``spec.tier`` refers to: ``application`` when unset; the
    capitalised names of the old static tiers (Antrea 0.9) map to today's lower-case objects
    (pkg/controller/networkpolicy/crd_utils.go getTierPriority). Other names are object names,
    matched exactly."""
    if not text:
        return DEFAULT_TIER
    return text.lower() if text in _LEGACY_TIER_NAMES else text


def parse_tier(r: FieldReader) -> TierDef | None:
    """A Tier object → TierDef(order = priority, default PASS: a tier without a matching rule
    falls through)."""
    data = r.doc.data
    meta = r.mapping(data, "metadata", "metadata", required=True) or {}
    name = r.string(meta, "name", "metadata.name", required=True)
    spec = r.mapping(data, "spec", "spec", required=True)
    if spec is None or name is None:
        return None
    r.known(spec, ("priority", "description"), "spec")
    priority = r.integer(spec, "priority", "spec.priority", 0, 255, required=True)
    if priority is None:
        return None
    _check_tier_priority(r, name, priority, r.line(spec, "priority"))
    return TierDef("antrea", name, float(priority), Action.PASS, r.source())


def _check_tier_priority(r: FieldReader, name: str, priority: int, line: int) -> None:
    static = STATIC_TIERS.get(name)
    if static is not None:
        if priority != static:
            r.error(
                "spec.priority",
                f"{name!r} is a static, read-only tier with priority {static}, not {priority}",
                line,
                "static-tier",
            )
        return
    if priority >= STATIC_TIERS[DEFAULT_TIER]:
        r.error("spec.priority", f"custom tier priority must be lower than 250, got {priority}", line)
    elif priority in STATIC_TIERS.values():
        r.error(
            "spec.priority",
            f"priority {priority} is taken by a static tier; tier priorities must be unique",
            line,
            "tier-priority-overlap",
        )
    elif priority == _CNP_ADMIN_TIER_PRIORITY:
        r.warn(
            "spec.priority",
            "priority 220 is reserved for the upstream ClusterNetworkPolicy Admin tier: Antrea "
            "rejects this tier when the ClusterNetworkPolicy feature gate is on",
            line,
            "reserved-tier-priority",
        )


class _PolicyParser:
    """One ACNP or ANNP object → its Policies."""

    def __init__(self, reader: FieldReader, kind: str) -> None:
        self.r = reader
        self.kind = kind

    def policies(self) -> list[Policy]:
        data = self.r.doc.data
        meta = self.r.mapping(data, "metadata", "metadata", required=True) or {}
        name = self.r.string(meta, "name", "metadata.name", required=True)
        namespace = None
        if self.kind == "NetworkPolicy":
            namespace = self.r.string(meta, "namespace", "metadata.namespace") or "default"
        spec = self.r.mapping(data, "spec", "spec", required=True)
        if spec is None or name is None:
            return []
        self.r.known(spec, ("tier", "priority", "appliedTo", "ingress", "egress"), "spec")
        scope = Scope(self.kind, namespace)
        tier = Tier(0.0, tier_name(self.r.string(spec, "tier", "spec.tier")), TierKind.ORDERED)
        priority = self.priority(spec)
        rules = _Rules(self.r, scope, tier.name, spec)
        parts = rules.parts(TargetParser(self.r, scope))
        return [
            Policy(
                kind=self.kind,
                name=name,
                namespace=namespace,
                tier=tier,
                priority=priority,
                subject=subject,
                directions=frozenset(rule.direction for rule in part_rules),
                rules=part_rules,
                source=self.r.source(),
                part=i,
            )
            for i, (subject, part_rules) in enumerate(parts)
        ]

    def priority(self, spec: Mapping[str, Any]) -> float:
        value = spec.get("priority")
        line = self.r.line(spec, "priority")
        if value is None:
            self.r.error("spec.priority", "required field is missing", line, "missing-field")
            return 0.0
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.r.error("spec.priority", f"expected a number, got {value!r}", line)
            return 0.0
        if not _MIN_PRIORITY <= value <= _MAX_PRIORITY:
            self.r.error("spec.priority", f"{value} is out of range 1.0-10000.0", line, "out-of-range")
        return float(value)


class _Rules:
    """The rules of one policy with their rule-level ``appliedTo`` lists, and the split into
    Policy parts."""

    def __init__(self, reader: FieldReader, scope: Scope, tier: str, spec: Mapping[str, Any]) -> None:
        self.r = reader
        self.spec = spec
        parser = RuleParser(reader, scope, tier)
        self.rules: list[tuple[Rule | None, Mapping[str, Any], str, int]] = []
        for direction in (Direction.INGRESS, Direction.EGRESS):
            key = direction.value
            seq = reader.sequence(spec, key, f"spec.{key}")
            for i, path, item in reader.items(seq, f"spec.{key}"):
                line = reader.line(seq, i)
                rule = parser.rule(item, path, i, direction, line)
                self.rules.append((rule, item, path, line))
        self.unique_names()

    def unique_names(self) -> None:
        seen: set[str] = set()
        for rule, _, path, line in self.rules:
            if rule is None or not rule.name:
                continue
            if rule.name in seen:
                self.r.error(f"{path}.name", f"rule name {rule.name!r} is used twice in the policy", line)
            seen.add(rule.name)

    def parts(self, targets: TargetParser) -> list[tuple[PodSelection, tuple[Rule, ...]]]:
        """(subject, rules) pairs in part order, after checking where appliedTo is set."""
        spec_targets = self.r.sequence(self.spec, "appliedTo", "spec.appliedTo")
        with_targets = [entry for entry in self.rules if entry[1].get("appliedTo")]
        if spec_targets and with_targets:
            self.r.error(
                "spec.appliedTo",
                "appliedTo cannot be set both in spec and in rules",
                self.r.line(self.spec, "appliedTo"),
                "applied-to",
            )
            return []
        if not spec_targets and not with_targets:
            self.r.error(
                "spec.appliedTo", "appliedTo must be set in spec or in every rule", None, "applied-to"
            )
            return []
        if spec_targets:
            return self.policy_level(targets, spec_targets)
        return self.rule_level(targets)

    def policy_level(
        self, targets: TargetParser, seq: list[Any]
    ) -> list[tuple[PodSelection, tuple[Rule, ...]]]:
        rules = tuple(rule for rule, *_ in self.rules if rule is not None)
        egress = any(r.direction is Direction.EGRESS for r in rules)
        return [(subject, rules) for subject in targets.targets(seq, "spec.appliedTo", egress)]

    def rule_level(self, targets: TargetParser) -> list[tuple[PodSelection, tuple[Rule, ...]]]:
        found: list[tuple[PodSelection, tuple[Rule, ...]]] = []
        for rule, item, path, line in self.rules:
            seq = self.r.sequence(item, "appliedTo", f"{path}.appliedTo")
            if not seq:
                self.r.error(
                    f"{path}.appliedTo",
                    "appliedTo must be set in every rule when some rule sets it",
                    line,
                    "applied-to",
                )
                continue
            if rule is None:
                continue
            egress = rule.direction is Direction.EGRESS
            found.extend((subject, (rule,)) for subject in targets.targets(seq, f"{path}.appliedTo", egress))
        return found
