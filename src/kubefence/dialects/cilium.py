"""Cilium ``cilium.io/v2`` CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy → IR
(semantics reference §4, evaluation §7.3).

An object carries one Rule in ``spec`` and/or several in ``specs``; each becomes one IR
Policy (``part`` 0 for ``spec``, ``i + 1`` for ``specs[i]``) in the single UNION tier
``cilium``: deny rules of any selecting policy win, then allow rules, then default deny where a
selecting policy isolates the direction (§4.3). Subjects and peers are matched against the
labels Cilium sees (``LabelView.CNI``). Host policies (``nodeSelector``) are not modelled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubefence.dialects.base import ParseResult
from kubefence.dialects.cilium_rules import SECTIONS, RuleReader
from kubefence.dialects.cilium_selectors import (
    NAMESPACE_KEY,
    NODE_SOURCES,
    POD_SOURCES,
    read_endpoint_selector,
)
from kubefence.dialects.fields import FieldReader
from kubefence.ir.model import Direction, LabelView, PodSelection, Policy, Tier, TierKind
from kubefence.ir.selectors import LabelSelector

if TYPE_CHECKING:
    from collections.abc import Mapping

    from kubefence.dialects.loader import Document

__all__ = ["CILIUM", "CiliumDialect"]

API = "cilium.io/v2"
CNP = "CiliumNetworkPolicy"
CCNP = "CiliumClusterwideNetworkPolicy"
CILIUM = Tier(200.0, "cilium", TierKind.UNION)
_RULE_FIELDS = (
    "endpointSelector",
    "nodeSelector",
    "ingress",
    "ingressDeny",
    "egress",
    "egressDeny",
    "enableDefaultDeny",
    "labels",
    "description",
    "log",
)


class CiliumDialect:
    """Reads ``cilium.io/v2`` CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy."""

    name = "cilium"
    kinds = ((API, CNP), (API, CCNP))

    def parse(self, doc: Document) -> ParseResult:
        reader = FieldReader(doc, self.name)
        policies = _Parser(reader).policies()
        if reader.failed:
            return ParseResult((), tuple(reader.diagnostics))
        return ParseResult(tuple(policies), tuple(reader.diagnostics))


class _Parser:
    """Reads one object; ``namespace`` is None for the clusterwide kind."""

    def __init__(self, reader: FieldReader) -> None:
        self.r = reader
        self.kind = str(reader.doc.data.get("kind"))
        self.namespace: str | None = None
        self.name = ""

    def policies(self) -> list[Policy]:
        data = self.r.doc.data
        meta = self.r.mapping(data, "metadata", "metadata", required=True) or {}
        name = self.r.string(meta, "name", "metadata.name", required=True)
        self.read_namespace(meta)
        spec = self.r.mapping(data, "spec", "spec")
        specs = self.r.sequence(data, "specs", "specs")
        if spec is None and not specs and not self.r.failed:
            self.r.error(
                "spec",
                "one of spec and specs is required (an empty policy is rejected)",
                None,
                "missing-field",
            )
        parts: list[tuple[int, str, Mapping[str, Any], int]] = []
        if spec is not None:
            parts.append((0, "spec", spec, self.r.line(data, "spec")))
        for i, path, item in self.r.items(specs, "specs"):
            parts.append((i + 1, path, item, self.r.line(specs, i)))
        if name is None:
            return []
        self.name = name
        return [p for part in parts if (p := self.part(*part)) is not None]

    def read_namespace(self, meta: Mapping[str, Any]) -> None:
        namespace = self.r.string(meta, "namespace", "metadata.namespace")
        if self.kind == CNP:
            self.namespace = namespace or "default"
        elif namespace is not None:
            self.r.warn(
                "metadata.namespace",
                f"{CCNP} is cluster-scoped: metadata.namespace is ignored",
                self.r.line(meta, "namespace"),
                "ignored-field",
            )

    def part(self, number: int, path: str, spec: Mapping[str, Any], line: int) -> Policy | None:
        self.r.known(spec, _RULE_FIELDS, path)
        if not any(isinstance(spec.get(key), list) and spec[key] for key, _, _ in SECTIONS):
            self.r.error(
                path,
                "a rule must have at least one of ingress, ingressDeny, egress and egressDeny with "
                "an entry (write ingress: [{}] for a default deny): Cilium rejects the policy "
                "(status Valid=False) and enforces none of it",
                line,
                "missing-field",
            )
        subject = self.subject(spec, path, line)
        rules = RuleReader(self.r, self.namespace).all_rules(spec, path)
        directions = frozenset(d for key, d, _ in SECTIONS if isinstance(spec.get(key), list) and spec[key])
        isolates = directions - self.default_deny_off(spec, path)
        if subject is None:
            return None
        return Policy(
            kind=self.kind,
            name=self.name,
            namespace=self.namespace,
            tier=CILIUM,
            priority=0,
            subject=subject,
            directions=directions,
            rules=tuple(rules),
            source=self.r.source(line),
            part=number,
            isolates=isolates,
        )

    def default_deny_off(self, spec: Mapping[str, Any], path: str) -> frozenset[Direction]:
        """The directions ``enableDefaultDeny`` switches off (absent = on, §4.3)."""
        value = self.r.mapping(spec, "enableDefaultDeny", f"{path}.enableDefaultDeny")
        if value is None:
            return frozenset()
        where = f"{path}.enableDefaultDeny"
        self.r.known(value, ("ingress", "egress"), where)
        off: set[Direction] = set()
        for direction in Direction:
            flag = value.get(direction.value)
            if flag is not None and not isinstance(flag, bool):
                self.r.error(
                    f"{where}.{direction.value}",
                    f"expected a boolean, got {flag!r}",
                    self.r.line(value, direction.value),
                )
            elif flag is False:
                off.add(direction)
        return frozenset(off)

    def subject(self, spec: Mapping[str, Any], path: str, line: int) -> PodSelection | None:
        """The pods the rule selects; None when invalid or not modelled (reported)."""
        present = [k for k in ("endpointSelector", "nodeSelector") if spec.get(k) is not None]
        if len(present) != 1:
            self.r.error(path, "exactly one of endpointSelector and nodeSelector must be set", line)
            return None
        key = present[0]
        where, at = f"{path}.{key}", self.r.line(spec, key)
        sources = NODE_SOURCES if key == "nodeSelector" else POD_SOURCES
        selector = read_endpoint_selector(self.r, spec, key, where, sources)
        if key == "nodeSelector":
            self.host_policy(where, at)
            return None
        if selector is None:
            return None
        if selector.reserved or selector.unmodelled:
            keys = ", ".join([f"reserved:{n}" for n in selector.reserved] + list(selector.unmodelled))
            self.r.warn(
                where,
                f"selecting non-pod identities ({keys}) is not modelled: this rule is ignored, so "
                "its allows and denies are missing from kubefence's answers",
                at,
                "not-modelled",
            )
            return None
        if self.namespace is None:
            return PodSelection(selector.selector, namespace_selector=LabelSelector(), view=LabelView.CNI)
        return PodSelection(
            self.own_namespace(spec, selector.selector, where), namespace=self.namespace, view=LabelView.CNI
        )

    def own_namespace(self, spec: Mapping[str, Any], selector: LabelSelector, path: str) -> LabelSelector:
        """A CiliumNetworkPolicy's endpointSelector always selects in the policy's namespace:
        the agent sets ``k8s:io.kubernetes.pod.namespace`` to it, replacing the value the user
        gave under that key (pkg/k8s/apis/cilium.io/utils ``ParseToCiliumRule``, "removing
        illegal namespace match"). The same key without the ``k8s:`` prefix is ANDed instead."""
        raw = spec["endpointSelector"].get("matchLabels")
        key = f"k8s:{NAMESPACE_KEY}"
        if not isinstance(raw, dict) or key not in raw or NAMESPACE_KEY in raw:
            return selector
        if raw[key] != self.namespace:
            self.r.warn(
                f"{path}.matchLabels.{key}",
                f"a {CNP} only selects pods of its own namespace: Cilium replaces "
                f"{raw[key]!r} by {self.namespace!r}",
                self.r.line(raw, key),
                "namespace-replaced",
            )
        kept = tuple((k, v) for k, v in selector.match_labels if k != NAMESPACE_KEY)
        return LabelSelector(kept, selector.match_expressions)

    def host_policy(self, path: str, line: int) -> None:
        if self.kind == CNP:
            self.r.error(path, f"nodeSelector can only be used in a {CCNP}", line, "unsupported-field")
            return
        self.r.warn(
            path,
            "host policies (nodeSelector) are not modelled: this rule is ignored, so traffic to and "
            "from the selected nodes is answered as if it did not exist",
            line,
            "not-modelled",
        )
