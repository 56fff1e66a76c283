"""Cilium endpoint selectors: Kubernetes label selectors over labels with a *source* prefix
(semantics reference §4.5).

Cilium keys look like ``k8s:app``, ``any:app``, ``reserved:host`` or plain ``app``. kubefence
matches selectors against pod labels plus the labels Cilium derives (``LabelView.CNI``), so
``k8s:`` and ``any:`` (and a bare key) are read as the plain key. Keys of other sources
(``reserved:``, ``cidr:``, ``fqdn:``...) name identities that are not pods; they are kept apart
so that the caller can turn ``reserved:<entity>`` into an entity or report what it ignores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kubefence.dialects.located import LocatedList, LocatedMap
from kubefence.ir.selectors import LabelSelector

if TYPE_CHECKING:
    from kubefence.dialects.fields import FieldReader

__all__ = [
    "NAMESPACE_KEY",
    "NAMESPACE_LABELS_PREFIX",
    "NODE_SOURCES",
    "POD_SOURCES",
    "EndpointSelector",
    "read_endpoint_selector",
]

NAMESPACE_KEY = "io.kubernetes.pod.namespace"
NAMESPACE_LABELS_PREFIX = "io.cilium.k8s.namespace.labels."
POD_SOURCES = frozenset({"k8s", "any"})
NODE_SOURCES = frozenset({"k8s", "any", "node"})
_OTHER_SOURCES = frozenset(
    {"reserved", "cidr", "cidrgroup", "fqdn", "node", "container", "cni", "gen", "unspec", "kvstore"}
)


@dataclass(frozen=True, slots=True)
class EndpointSelector:
    """One endpoint selector as kubefence reads it.

    ``selector``: the Kubernetes part, keys without their ``k8s:``/``any:`` prefix.
    ``reserved``: the names ``X`` of ``reserved:X`` keys in ``matchLabels`` (identities such as
    ``host`` or ``world``), left out of ``selector``. ``unmodelled``: keys, as written, that
    kubefence cannot evaluate (other sources, ``reserved:`` keys in ``matchExpressions``).
    """

    selector: LabelSelector
    reserved: tuple[str, ...] = ()
    unmodelled: tuple[str, ...] = ()

    @property
    def names_namespace(self) -> bool:
        """Whether the selector itself constrains the pod's namespace (Cilium then adds no
        namespace of its own to a CiliumNetworkPolicy peer, §4.5)."""
        keys = [k for k, _ in self.selector.match_labels]
        keys += [r.key for r in self.selector.match_expressions]
        return any(k == NAMESPACE_KEY or k.startswith(NAMESPACE_LABELS_PREFIX) for k in keys)

    @property
    def only_reserved(self) -> bool:
        """Exactly one ``reserved:`` label and nothing else: an entity."""
        return len(self.reserved) == 1 and not self.unmodelled and self.selector.is_empty


@dataclass(slots=True)
class _Sources:
    """What the key rewriting found: original key → source, per rewritten key."""

    label_sources: dict[str, str]
    expression_sources: list[str]


def _split(key: Any, plain: frozenset[str]) -> tuple[str, str]:
    """(source, key without prefix); source "" for keys read as plain labels."""
    if not isinstance(key, str):
        return "", key
    source, sep, rest = key.partition(":")
    if not sep:
        return "", key
    if source in plain:
        return "", rest
    if source in _OTHER_SOURCES:
        return source, rest
    return "", key  # an unknown prefix: left for label-key validation to reject


def _rewrite_labels(raw: Any, plain: frozenset[str], found: _Sources) -> Any:
    if not isinstance(raw, Mapping):
        return raw
    data: dict[str, Any] = {}
    lines: dict[str, int] = {}
    line_of = getattr(raw, "line_of", None)
    for key, value in raw.items():
        source, name = _split(key, plain)
        data[name] = value
        lines[name] = line_of(key) if line_of else 0
        if source:
            found.label_sources[name] = f"{source}:{name}"
    return LocatedMap(data, line=getattr(raw, "line", 0), key_lines=lines)


def _rewrite_expressions(raw: Any, plain: frozenset[str], found: _Sources) -> Any:
    if not isinstance(raw, list):
        return raw
    items: list[Any] = []
    for item in raw:
        if isinstance(item, Mapping) and "key" in item:
            source, name = _split(item["key"], plain)
            if source:
                found.expression_sources.append(f"{source}:{name}")
            item = LocatedMap(
                {**item, "key": name},
                line=getattr(item, "line", 0),
                key_lines=getattr(item, "key_lines", None),
            )
        items.append(item)
    return LocatedList(items, line=getattr(raw, "line", 0), item_lines=getattr(raw, "item_lines", ()))


def read_endpoint_selector(
    r: FieldReader, parent: Mapping[str, Any], key: str, path: str, plain: frozenset[str] = POD_SOURCES
) -> EndpointSelector | None:
    """``parent[key]`` as an EndpointSelector (None when absent or invalid). ``plain``: the
    sources whose prefix is dropped (``node:`` too for node selectors)."""
    raw = r.mapping(parent, key, path)
    if raw is None:
        return None
    found = _Sources({}, [])
    rewritten = dict(raw)
    if "matchLabels" in raw:
        rewritten["matchLabels"] = _rewrite_labels(raw["matchLabels"], plain, found)
    if "matchExpressions" in raw:
        rewritten["matchExpressions"] = _rewrite_expressions(raw["matchExpressions"], plain, found)
    located = LocatedMap(rewritten, line=getattr(raw, "line", 0), key_lines=getattr(raw, "key_lines", None))
    holder = LocatedMap({key: located}, line=r.line(parent, key), key_lines={key: r.line(parent, key)})
    selector = r.selector(holder, key, path)
    if selector is None:
        return None
    reserved = tuple(
        sorted(n for n, original in found.label_sources.items() if original.startswith("reserved:"))
    )
    unmodelled = [o for o in found.label_sources.values() if not o.startswith("reserved:")]
    unmodelled += found.expression_sources
    kept = tuple((k, v) for k, v in selector.match_labels if k not in found.label_sources)
    return EndpointSelector(
        LabelSelector(kept, selector.match_expressions), reserved, tuple(sorted(unmodelled))
    )
