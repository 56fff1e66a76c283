"""Calico ``projectcalico.org/v3`` (and ``crd.projectcalico.org/v1``) → IR (§3 of the semantics
reference).

NetworkPolicy and GlobalNetworkPolicy become policies of an ORDERED_DENY tier named after
``spec.tier`` (rank 0 and kind ORDERED_DENY are placeholders: the link step (engine/link.py) sets both
from the TierDefs). ``order`` is the priority (absent: +inf); ties are broken by Calico v3.32+'s
``"<name>/<namespace>/<kind>"`` string. Subjects and rule selectors are Calico selector
expressions over ``LabelView.CNI``. Staged kinds are parsed and checked like their live kinds
and keep their own kind name (they are never enforced; the profiles drop them). A staged
``stagedAction: Delete`` has no directions and no rules: applied (``--staged``) it only removes
the live policy. ``Learn`` / ``Ignore`` (policy-recommendation states) are left out with a warning.

A rule whose local side (ingress: ``destination``, egress: ``source``) carries label criteria
applies only to some of the selected endpoints. Such rules go to separate policy parts whose
subject is narrowed: the rules of each direction are cut into runs of consecutive rules with
the same restriction, and each run after the first unrestricted one is a part of its own, in
rule order, so that first-match order is kept. Part 0 always carries the full subject (even
without rules) so that the tier selects every endpoint the policy selects.

Tiers become ``TierDef``s and (Global)NetworkSets ``NetworkSetDef``s.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final

from kubefence.dialects.base import Definition, NetworkSetDef, ParseResult, TierDef
from kubefence.dialects.calico_entity import SA_PREFIX, read_nets, read_selector
from kubefence.dialects.calico_rules import NOT_MODELLED, CalicoRule, RuleReader
from kubefence.dialects.calico_selector import conjoin, prefix_keys
from kubefence.dialects.fields import FieldReader
from kubefence.dialects.loader import Document
from kubefence.dialects.located import LocatedMap
from kubefence.dialects.networkpolicy import NetworkPolicyDialect
from kubefence.ir.expressions import All
from kubefence.ir.model import Action, Direction, LabelView, PodSelection, Policy, Rule, Tier, TierKind
from kubefence.ir.selectors import Labels

if TYPE_CHECKING:
    from collections.abc import Mapping

    from kubefence.ir.expressions import Expr

__all__ = ["CalicoDialect"]

API_V3: Final = "projectcalico.org/v3"
API_CRD: Final = "crd.projectcalico.org/v1"
DIALECT: Final = "calico"
DEFAULT_TIER: Final = "default"
_TIER_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_TIER_NAME_MAX: Final = 63
# Tiers whose order and defaultAction Calico v3.32 pins (api/pkg/apis/projectcalico/v3/tier.go).
_FIXED_TIERS: Final = {
    "default": (1e6, "Deny"),
    "kube-admin": (1000.0, "Pass"),
    "kube-baseline": (1e7, "Pass"),
}
_DIRECTIONS: Final = {"Ingress": Direction.INGRESS, "Egress": Direction.EGRESS}
_STAGED_ACTIONS: Final = ("Set", "Delete", "Learn", "Ignore")
# Recommendation states (api/pkg/apis/projectcalico/v3/policy_common.go StagedAction): not a
# change the user staged, so --staged does not apply them.
_UNAPPLIED_ACTIONS: Final = ("Learn", "Ignore")
_NP_FIELDS: Final = (
    "tier",
    "order",
    "selector",
    "types",
    "ingress",
    "egress",
    "serviceAccountSelector",
    "performanceHints",
)
_GNP_FIELDS: Final = (*_NP_FIELDS, "namespaceSelector", "doNotTrack", "preDNAT", "applyOnForward")


@dataclass(frozen=True, slots=True)
class _Shape:
    """A policy kind: its name, whether it is namespaced and whether it is staged."""

    kind: str
    namespaced: bool
    staged: bool


_SHAPES: Final = {
    "NetworkPolicy": _Shape("NetworkPolicy", True, False),
    "GlobalNetworkPolicy": _Shape("GlobalNetworkPolicy", False, False),
    "StagedNetworkPolicy": _Shape("StagedNetworkPolicy", True, True),
    "StagedGlobalNetworkPolicy": _Shape("StagedGlobalNetworkPolicy", False, True),
}
_OTHER_KINDS: Final = ("StagedKubernetesNetworkPolicy", "Tier", "NetworkSet", "GlobalNetworkSet")


class CalicoDialect:
    """Reads Calico policies, tiers and network sets."""

    name = DIALECT
    kinds: tuple[tuple[str, str], ...] = tuple(
        (api, kind) for api in (API_V3, API_CRD) for kind in (*_SHAPES, *_OTHER_KINDS)
    )

    def parse(self, doc: Document) -> ParseResult:
        kind = str(doc.data.get("kind"))
        if kind == "StagedKubernetesNetworkPolicy":
            return _staged_kubernetes(doc)
        reader = FieldReader(doc, self.name)
        policies: list[Policy] = []
        definitions: list[Definition] = []
        if kind == "Tier":
            definitions += _tier(reader)
        elif kind in ("NetworkSet", "GlobalNetworkSet"):
            definitions += _network_set(reader, namespaced=kind == "NetworkSet")
        elif kind in _SHAPES:
            policies += _PolicyParser(reader, _SHAPES[kind]).policies()
        else:
            reader.error(
                "kind", f"kind {kind!r} is not read by the Calico dialect", reader.line(doc.data, "kind")
            )
        if reader.failed:
            return ParseResult((), tuple(reader.diagnostics))
        return ParseResult(tuple(policies), tuple(reader.diagnostics), tuple(definitions))


# -- policies ----------------------------------------------------------------------------------


class _PolicyParser:
    def __init__(self, reader: FieldReader, shape: _Shape) -> None:
        self.r = reader
        self.shape = shape

    def policies(self) -> list[Policy]:
        data = self.r.doc.data
        meta = self.r.mapping(data, "metadata", "metadata", required=True) or {}
        name = self.r.string(meta, "name", "metadata.name", required=True)
        namespace = (
            (self.r.string(meta, "namespace", "metadata.namespace") or "default")
            if self.shape.namespaced
            else None
        )
        spec = self.r.mapping(data, "spec", "spec", required=True)
        if spec is None or name is None:
            return []
        fields = _NP_FIELDS if self.shape.namespaced else _GNP_FIELDS
        self.r.known(spec, (*fields, "stagedAction") if self.shape.staged else fields, "spec")
        action = _staged_action(self.r, spec) if self.shape.staged else None
        if action == "Delete":
            _check_deletion(self.r, spec, ("stagedAction", "tier", "types"))
        tier = self.tier(spec)
        priority = self.order(spec)
        pods = self.pods(spec)
        subject = self.subject(spec, namespace, pods)
        reader = RuleReader(self.r, namespace)
        rules = {d: reader.rules(spec, d) for d in Direction}
        # A staged Delete has no types (clientv3 clears them): it only removes the live policy.
        directions = frozenset() if action == "Delete" else self.types(spec)
        if not self.shape.namespaced and self.host_options(spec, directions):
            return []
        if action in _UNAPPLIED_ACTIONS:
            _warn_unapplied(self.r, spec, self.shape.kind, action)
            return []
        base = Policy(
            kind=self.shape.kind,
            name=name,
            namespace=namespace,
            tier=Tier(0.0, tier, TierKind.ORDERED_DENY),
            priority=priority,
            subject=subject,
            directions=directions,
            rules=(),
            source=self.r.source(),
            tiebreak=f"{name}/{namespace or ''}/{self.shape.kind}",
        )
        return _split(base, pods, {d: rules[d] for d in Direction if d in directions})

    def tier(self, spec: Mapping[str, Any]) -> str:
        tier = self.r.string(spec, "tier", "spec.tier") or DEFAULT_TIER
        if not _TIER_NAME.match(tier):
            self.r.error("spec.tier", f"invalid tier name {tier!r}", self.r.line(spec, "tier"))
        return tier

    def order(self, spec: Mapping[str, Any]) -> float:
        value = spec.get("order")
        if value is None:
            return math.inf
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            self.r.error("spec.order", f"expected a number, got {value!r}", self.r.line(spec, "order"))
            return math.inf
        return float(value)

    def pods(self, spec: Mapping[str, Any]) -> Expr:
        """``selector`` ∧ ``serviceAccountSelector`` (on the pod's ``pcsa.`` labels)."""
        selector = read_selector(self.r, spec, "selector", "spec.selector")
        accounts = read_selector(self.r, spec, "serviceAccountSelector", "spec.serviceAccountSelector")
        return conjoin(selector, prefix_keys(accounts, SA_PREFIX) if accounts is not None else None)

    def subject(self, spec: Mapping[str, Any], namespace: str | None, pods: Expr) -> PodSelection:
        """The pods ``pods`` picks in the policy's namespace or (global) in the namespaces
        ``namespaceSelector`` picks (absent: all)."""
        if namespace is not None:
            return PodSelection(pods, namespace=namespace, view=LabelView.CNI)
        namespaces = read_selector(self.r, spec, "namespaceSelector", "spec.namespaceSelector")
        return PodSelection(pods, namespace_selector=namespaces or All(), view=LabelView.CNI)

    def types(self, spec: Mapping[str, Any]) -> frozenset[Direction]:
        """Explicit ``types``, or Calico's default (§3.3): Egress alone when there are egress
        rules and no ingress rules, both when there are both, else Ingress."""
        types = self.r.sequence(spec, "types", "spec.types")
        if not types:
            ingress, egress = (isinstance(spec.get(k), list) and bool(spec[k]) for k in ("ingress", "egress"))
            if egress:
                return frozenset({Direction.EGRESS, Direction.INGRESS} if ingress else {Direction.EGRESS})
            return frozenset({Direction.INGRESS})
        found: set[Direction] = set()
        for i, value in enumerate(types):
            if not isinstance(value, str):
                self.r.error(f"spec.types[{i}]", f"must be a string, got {value!r}", self.r.line(types, i))
                continue
            if value not in _DIRECTIONS:
                self.r.error(
                    f"spec.types[{i}]",
                    f"unsupported value {value!r} (expected Ingress or Egress)",
                    self.r.line(types, i),
                    "unsupported-value",
                )
                continue
            found.add(_DIRECTIONS[value])
        for direction in Direction:
            if spec.get(direction.value) and direction not in found:
                self.r.warn(
                    f"spec.{direction.value}",
                    f"types does not include {direction.title}: these rules are never evaluated",
                    self.r.line(spec, direction.value),
                    "dead-rules",
                )
        return frozenset(found)

    def host_options(self, spec: Mapping[str, Any], directions: frozenset[Direction]) -> bool:
        """Check doNotTrack/preDNAT/applyOnForward (GlobalNetworkPolicy, §3.9); True when the
        policy applies only at host endpoints (untracked or pre-DNAT), i.e. never to pods."""
        flags = {k: self.flag(spec, k) for k in ("doNotTrack", "preDNAT", "applyOnForward")}
        line = self.r.line(spec, "applyOnForward")
        if flags["doNotTrack"] and flags["preDNAT"]:
            self.r.error("spec.preDNAT", "doNotTrack and preDNAT cannot both be true", line)
        if (flags["doNotTrack"] or flags["preDNAT"]) and not flags["applyOnForward"]:
            self.r.error("spec.applyOnForward", "must be true when doNotTrack or preDNAT is true", line)
        if flags["preDNAT"] and Direction.EGRESS in directions:
            self.r.error("spec.types", "preDNAT policies may only have ingress rules", line)
        host_only = [k for k in ("doNotTrack", "preDNAT") if flags[k]]
        if host_only:
            self.r.warn(
                f"spec.{host_only[0]}",
                f"{host_only[0]} policies apply only at host endpoints, which kubefence does not model: "
                "this policy is left out of pod verdicts (traffic it drops at a host interface is not seen)",
                self.r.line(spec, host_only[0]),
                NOT_MODELLED,
            )
        elif flags["applyOnForward"]:
            self.r.warn(
                "spec.applyOnForward",
                "applyOnForward only adds forwarded traffic at host endpoints, which kubefence does not "
                "model; pod verdicts are unaffected",
                line,
                NOT_MODELLED,
            )
        return bool(host_only)

    def flag(self, spec: Mapping[str, Any], key: str) -> bool:
        value = spec.get(key)
        if value is not None and not isinstance(value, bool):
            self.r.error(f"spec.{key}", f"expected true or false, got {value!r}", self.r.line(spec, key))
            return False
        return bool(value)


def _split(base: Policy, pods: Expr, rules: Mapping[Direction, list[CalicoRule]]) -> list[Policy]:
    """Part 0 (full subject, the leading unrestricted rules of each direction) and one part per
    later run of consecutive rules with the same local restriction, in rule order."""
    head: list[Rule] = []
    runs: list[tuple[Direction, Expr | None, list[Rule]]] = []
    for direction, items in rules.items():
        i = 0
        while i < len(items) and items[i].local is None:
            head.append(items[i].rule)
            i += 1
        for item in items[i:]:
            if runs and runs[-1][0] is direction and runs[-1][1] == item.local:
                runs[-1][2].append(item.rule)
            else:
                runs.append((direction, item.local, [item.rule]))
    parts = [replace(base, rules=tuple(head))]
    for number, (direction, local, run) in enumerate(runs, start=1):
        subject = replace(base.subject, pod_selector=conjoin(pods, local))
        parts.append(
            replace(base, subject=subject, directions=frozenset({direction}), rules=tuple(run), part=number)
        )
    return parts


def _staged_action(r: FieldReader, spec: Mapping[str, Any]) -> str:
    """``spec.stagedAction`` (absent: Set)."""
    action = r.string(spec, "stagedAction", "spec.stagedAction") or "Set"
    if action not in _STAGED_ACTIONS:
        r.error(
            "spec.stagedAction",
            f"unsupported value {action!r} (expected {', '.join(_STAGED_ACTIONS)})",
            r.line(spec, "stagedAction"),
            "unsupported-value",
        )
    return action


def _check_deletion(r: FieldReader, spec: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    """A staged Delete carries no policy: every other spec field must be zero
    (libcalico-go/lib/validator/v3/validator.go ``validateStagedNetworkPolicy``: "Spec fields,
    except Tier, should all be zero-value if stagedAction is Delete")."""
    for key, value in spec.items():
        if key not in allowed and not _zero(value):
            r.error(
                f"spec.{key}",
                "must be empty when stagedAction is Delete (a staged Delete only removes the live policy)",
                r.line(spec, key),
            )


def _zero(value: Any) -> bool:
    """Whether a decoded field is Go's zero value: null, "", false or {} (a zero struct); 0 is
    not (``order`` is a pointer) and neither is [] (an empty, non-nil slice)."""
    return value is None or value is False or (isinstance(value, str | dict) and not value)


def _warn_unapplied(r: FieldReader, spec: Mapping[str, Any], kind: str, action: str) -> None:
    r.warn(
        "spec.stagedAction",
        f"stagedAction {action} marks a policy recommendation (learning or ignored), not a change "
        f"to apply: this {kind} is left out, also with --staged, and the live policy stays",
        r.line(spec, "stagedAction"),
        "staged",
    )


def _staged_kubernetes(doc: Document) -> ParseResult:
    """A StagedKubernetesNetworkPolicy: its spec is a Kubernetes NetworkPolicy's plus
    ``stagedAction``; read by the NetworkPolicy dialect, then renamed to the staged kind."""
    reader = FieldReader(doc, DIALECT)
    spec = doc.data.get("spec")
    action = "Set"
    if isinstance(spec, LocatedMap) and "stagedAction" in spec:
        action = _staged_action(reader, spec)
        if action == "Delete":
            _check_deletion(reader, spec, ("stagedAction",))
        elif action in _UNAPPLIED_ACTIONS:
            _warn_unapplied(reader, spec, "StagedKubernetesNetworkPolicy", action)
        bare = LocatedMap(
            {k: v for k, v in spec.items() if k != "stagedAction"}, line=spec.line, key_lines=spec.key_lines
        )
        data = LocatedMap({**doc.data, "spec": bare}, line=doc.data.line, key_lines=doc.data.key_lines)
        doc = Document(data, doc.file, doc.line)
    result = NetworkPolicyDialect().parse(doc)
    diagnostics = (*reader.diagnostics, *result.diagnostics)
    if reader.failed or not result.policies or action in _UNAPPLIED_ACTIONS:
        return ParseResult((), diagnostics)
    policies = tuple(_restaged(p, deletion=action == "Delete") for p in result.policies)
    return ParseResult(policies, diagnostics)


def _restaged(policy: Policy, *, deletion: bool) -> Policy:
    def calico(rule: Rule) -> Rule:
        return replace(rule, source=replace(rule.source, dialect=DIALECT))

    return replace(
        policy,
        kind="StagedKubernetesNetworkPolicy",
        source=replace(policy.source, dialect=DIALECT),
        rules=tuple(calico(r) for r in policy.rules),
        directions=frozenset() if deletion else policy.directions,
    )


# -- tiers and network sets --------------------------------------------------------------------


def _tier(r: FieldReader) -> list[Definition]:
    """Tier → TierDef: ``order`` (None: last) and ``defaultAction`` (Deny unless Pass)."""
    meta = r.mapping(r.doc.data, "metadata", "metadata", required=True) or {}
    name = r.string(meta, "name", "metadata.name", required=True)
    spec = r.mapping(r.doc.data, "spec", "spec") or {}
    r.known(spec, ("order", "defaultAction"), "spec")
    order = spec.get("order")
    if order is not None and (
        isinstance(order, bool) or not isinstance(order, int | float) or not math.isfinite(order)
    ):
        r.error("spec.order", f"expected a number, got {order!r}", r.line(spec, "order"))
        order = None
    text = r.string(spec, "defaultAction", "spec.defaultAction") or "Deny"
    if text not in ("Deny", "Pass"):
        r.error(
            "spec.defaultAction",
            f"unsupported value {text!r} (expected Deny or Pass)",
            r.line(spec, "defaultAction"),
            "unsupported-value",
        )
    if name is None:
        return []
    _check_tier_name(r, meta, name)
    _check_builtin_tier(r, spec, name, order, text)
    action = Action.PASS if text == "Pass" else Action.DENY
    return [TierDef(DIALECT, name, float(order) if order is not None else None, action, r.source())]


def _check_tier_name(r: FieldReader, meta: Mapping[str, Any], name: str) -> None:
    """A tier name is one DNS-1123 label of at most 63 characters, without dots
    (libcalico-go/lib/validator/v3/validator.go ``validateTier``, ``tierNameRegex``)."""
    if len(name) > _TIER_NAME_MAX or not _TIER_NAME.match(name):
        r.error(
            "metadata.name",
            f"invalid tier name {name!r}: at most {_TIER_NAME_MAX} lower case alphanumeric characters "
            "or '-', starting and ending with an alphanumeric character",
            r.line(meta, "name"),
        )


def _check_builtin_tier(
    r: FieldReader, spec: Mapping[str, Any], name: str, order: float | None, action: str
) -> None:
    """The built-in tiers' order and defaultAction are fixed (api/pkg/apis/projectcalico/v3/tier.go
    CEL rules: "The 'default' tier must have default action 'Deny'", "default tier order must be
    1000000", likewise kube-admin 1000/Pass and kube-baseline 10000000/Pass); an absent order is
    refused too, an absent defaultAction is defaulted to Deny first."""
    fixed = _FIXED_TIERS.get(name)
    if fixed is None:
        return
    want_order, want_action = fixed
    if order != want_order and (order is not None or "order" not in spec):  # else already reported
        got = "absent" if order is None else repr(order)
        r.error("spec.order", f"{name} tier order must be {want_order:.0f}, got {got}", r.line(spec, "order"))
    if action != want_action and action in ("Deny", "Pass"):
        r.error(
            "spec.defaultAction",
            f"the {name!r} tier must have default action {want_action!r}, got {action!r}",
            r.line(spec, "defaultAction"),
        )


def _network_set(r: FieldReader, *, namespaced: bool) -> list[Definition]:
    """(Global)NetworkSet → NetworkSetDef: its labels and nets."""
    meta = r.mapping(r.doc.data, "metadata", "metadata", required=True) or {}
    name = r.string(meta, "name", "metadata.name", required=True)
    namespace = (r.string(meta, "namespace", "metadata.namespace") or "default") if namespaced else None
    labels = r.string_map(meta, "labels", "metadata.labels")
    spec = r.mapping(r.doc.data, "spec", "spec") or {}
    r.known(spec, ("nets",), "spec")
    nets = read_nets(r, spec, "nets", "spec.nets")
    if name is None:
        return []
    return [NetworkSetDef(name, namespace, Labels(labels), nets, r.source())]
