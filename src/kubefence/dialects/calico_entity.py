"""Calico ``EntityRule`` (a rule's ``source`` or ``destination``) → IR (semantics reference §3.5).

``read_entity`` checks and parses one EntityRule into an ``Entity``. The remote side of a rule
(ingress: source, egress: destination) becomes one peer (``remote_peer``) whose criteria are
AND-ed as Calico ANDs them; the local side becomes a restriction of the policy's subject
(``local_restriction``). Selector scoping follows libcalico-go's
``updateprocessors.getEndpointSelector``: in a namespaced policy, or with a
``namespaceSelector``, the positive selector is limited to the namespace(s) as soon as any of
selector, serviceAccounts, notSelector or namespaceSelector is used.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from kubefence.dialects.calico_selector import (
    SelectorError,
    conjoin,
    contains_global,
    parse_selector,
    prefix_keys,
)
from kubefence.ir.addresses import IPBlock, IPNetwork
from kubefence.ir.expressions import All, Expr, Global, InSet, Not
from kubefence.ir.model import (
    AnyPeer,
    CompoundPeer,
    IPBlockPeer,
    LabelView,
    NetworkSetPeer,
    Peer,
    PodPeer,
    PodSelection,
)
from kubefence.ir.ports import MAX_PORT

if TYPE_CHECKING:
    from collections.abc import Mapping

    from kubefence.dialects.fields import FieldReader

__all__ = [
    "NS_PREFIX",
    "SA_LABEL",
    "SA_PREFIX",
    "Entity",
    "PortSpec",
    "local_restriction",
    "read_entity",
    "read_nets",
    "read_selector",
    "remote_peer",
]

NS_PREFIX: Final = "pcns."
SA_PREFIX: Final = "pcsa."
SA_LABEL: Final = "projectcalico.org/serviceaccount"
_ENTITY_FIELDS: Final = (
    "nets",
    "notNets",
    "selector",
    "notSelector",
    "namespaceSelector",
    "ports",
    "notPorts",
    "serviceAccounts",
    "services",
)
_PORT_RANGE = re.compile(r"^(\d+):(\d+)$")
_PORT_NAME = re.compile(r"^[a-zA-Z0-9_.-]{1,128}$")
_GLOBAL_ONLY = "global() can only be used as the whole namespaceSelector of a rule's source or destination"


@dataclass(frozen=True, slots=True)
class PortSpec:
    """One entry of ``ports``/``notPorts``: a numeric range ``start..end`` or a port ``name``."""

    start: int = 0
    end: int = 0
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ServiceRef:
    """``services``: a Service by name; ``namespace`` None: the policy's own namespace."""

    name: str
    namespace: str | None = None


@dataclass(frozen=True, slots=True)
class Entity:
    """A parsed EntityRule. ``accounts``: ``serviceAccounts`` as an endpoint-label expression
    (``names`` → ``projectcalico.org/serviceaccount in {…}``, ``selector`` → ``pcsa.`` keys)."""

    nets: tuple[IPNetwork, ...] = ()
    not_nets: tuple[IPNetwork, ...] = ()
    selector: Expr | None = None
    not_selector: Expr | None = None
    namespace_selector: Expr | None = None
    accounts: Expr | None = None
    ports: tuple[PortSpec, ...] = ()
    not_ports: tuple[PortSpec, ...] = ()
    services: ServiceRef | None = None

    @property
    def endpoint_criteria(self) -> bool:
        """Whether any label criterion is set (what Calico scopes to namespaces)."""
        fields = (self.selector, self.not_selector, self.namespace_selector, self.accounts)
        return any(f is not None for f in fields)


# -- reading -----------------------------------------------------------------------------------


def read_selector(
    r: FieldReader, parent: Mapping[str, Any], key: str, path: str, *, allow_global: bool = False
) -> Expr | None:
    """A selector field: None when absent or ``""``; a syntax error is an ERROR diagnostic."""
    text = r.string(parent, key, path)
    if not text:
        return None
    line = r.line(parent, key)
    try:
        expr = parse_selector(text)
    except SelectorError as exc:
        r.error(path, f"invalid selector {text!r}: {exc}", line, "bad-selector")
        return None
    if contains_global(expr) and not (allow_global and isinstance(expr, Global)):
        r.error(path, f"invalid selector {text!r}: {_GLOBAL_ONLY}", line, "bad-selector")
        return None
    return expr


def read_nets(r: FieldReader, parent: Mapping[str, Any], key: str, path: str) -> tuple[IPNetwork, ...]:
    """A list of CIDRs; a bare address is its /32 or /128 (libcalico-go ParseCIDROrIP)."""
    seq = r.sequence(parent, key, path) or []
    out: list[IPNetwork] = []
    for i, text in enumerate(seq):
        where, line = f"{path}[{i}]", r.line(seq, i)
        if isinstance(text, str) and "/" not in text:
            try:
                out.append(ipaddress.ip_network(text.strip()))
            except ValueError:
                r.error(where, f"invalid CIDR or IP address {text!r}", line, "bad-cidr")
            continue
        net = r.cidr(text, where, line)
        if net is not None:
            out.append(net)
    return tuple(out)


def read_entity(r: FieldReader, parent: Mapping[str, Any], key: str, path: str) -> Entity:
    """One EntityRule (absent: no criteria)."""
    item = r.mapping(parent, key, path)
    if item is None:
        return Entity()
    r.known(item, _ENTITY_FIELDS, path)
    _check_catch_all_negation(r, item, f"{path}.notNets")
    entity = Entity(
        nets=read_nets(r, item, "nets", f"{path}.nets"),
        not_nets=read_nets(r, item, "notNets", f"{path}.notNets"),
        selector=read_selector(r, item, "selector", f"{path}.selector"),
        not_selector=read_selector(r, item, "notSelector", f"{path}.notSelector"),
        namespace_selector=read_selector(
            r, item, "namespaceSelector", f"{path}.namespaceSelector", allow_global=True
        ),
        accounts=_accounts(r, item, f"{path}.serviceAccounts"),
        ports=_ports(r, item, "ports", f"{path}.ports"),
        not_ports=_ports(r, item, "notPorts", f"{path}.notPorts"),
        services=_services(r, item, f"{path}.services"),
    )
    if entity.services:
        _check_services(r, entity, item, path)
    return entity


def _check_catch_all_negation(r: FieldReader, item: Mapping[str, Any], path: str) -> None:
    """``0.0.0.0/0`` (that exact text) or an IPv6 ``/0`` in ``notNets`` matches no traffic:
    Calico 3.31 and later reject the policy (projectcalico/calico
    libcalico-go/lib/validator/v3/validator.go ``validateRule``, ``scanNets``: "catch-all CIDR in
    negation creates logical contradiction")."""
    seq = item.get("notNets")
    if not isinstance(seq, list):
        return
    for i, text in enumerate(seq):
        if isinstance(text, str) and (text == "0.0.0.0/0" or _is_v6_catch_all(text)):
            r.error(
                f"{path}[{i}]",
                f"{text} in notNets excludes every address, so the rule matches no traffic: Calico 3.31 "
                'and later reject the policy ("catch-all CIDR in negation creates logical contradiction")',
                r.line(seq, i),
                "catch-all-negation",
            )


def _is_v6_catch_all(text: str) -> bool:
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return net.version == 6 and net.prefixlen == 0


def _accounts(r: FieldReader, parent: Mapping[str, Any], path: str) -> Expr | None:
    item = r.mapping(parent, "serviceAccounts", path)
    if item is None:
        return None
    r.known(item, ("names", "selector"), path)
    names = r.sequence(item, "names", f"{path}.names") or []
    for i, name in enumerate(names):
        if not isinstance(name, str):
            r.error(f"{path}.names[{i}]", f"expected a string, got {name!r}", r.line(names, i))
    by_name = InSet(SA_LABEL, frozenset(n for n in names if isinstance(n, str))) if names else None
    selector = read_selector(r, item, "selector", f"{path}.selector")
    by_labels = prefix_keys(selector, SA_PREFIX) if selector is not None else None
    if by_name is None and by_labels is None:
        return None
    return conjoin(by_labels, by_name)


def _services(r: FieldReader, parent: Mapping[str, Any], path: str) -> ServiceRef | None:
    item = r.mapping(parent, "services", path)
    if item is None:
        return None
    r.known(item, ("name", "namespace"), path)
    name = r.string(item, "name", f"{path}.name", required=True)
    namespace = r.string(item, "namespace", f"{path}.namespace")
    if name == "":
        r.error(f"{path}.name", "must specify a service name", r.line(item, "name"))
    return ServiceRef(name or "", namespace or None)


def _check_services(r: FieldReader, entity: Entity, item: Mapping[str, Any], path: str) -> None:
    """``services`` excludes every other endpoint criterion (libcalico-go validateEntityRule)."""
    clashes = [
        key
        for key in ("selector", "notSelector", "namespaceSelector", "serviceAccounts", "nets", "notNets")
        if item.get(key)
    ]
    for key in clashes:
        r.error(f"{path}.{key}", "cannot be combined with services", r.line(item, key))


def _ports(r: FieldReader, parent: Mapping[str, Any], key: str, path: str) -> tuple[PortSpec, ...]:
    seq = r.sequence(parent, key, path) or []
    out = (_port(r, value, f"{path}[{i}]", r.line(seq, i)) for i, value in enumerate(seq))
    return tuple(p for p in out if p is not None)


def _port(r: FieldReader, value: Any, path: str, line: int) -> PortSpec | None:
    """``80``, ``"80"``, ``"8000:8080"`` or a port name (numorstring.PortFromString)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return _numbers(r, value, value, path, line)
    if not isinstance(value, str):
        r.error(path, f"expected a port number, range 'min:max' or name, got {value!r}", line, "bad-port")
        return None
    if value.isascii() and value.isdigit():
        return _numbers(r, int(value), int(value), path, line)
    ranged = _PORT_RANGE.match(value)
    if ranged:
        return _numbers(r, int(ranged[1]), int(ranged[2]), path, line)
    if not _PORT_NAME.match(value):
        r.error(
            path, f"invalid port {value!r}: expected a number, 'min:max' or a port name", line, "bad-port"
        )
        return None
    return PortSpec(name=value)


def _numbers(r: FieldReader, start: int, end: int, path: str, line: int) -> PortSpec | None:
    for number in (start, end):
        if not 0 <= number <= MAX_PORT:
            r.error(path, f"port {number} is out of range 0-{MAX_PORT}", line, "out-of-range")
            return None
    if start > end:
        r.error(path, f"port range {start}:{end} has its minimum above its maximum", line, "bad-port")
        return None
    return PortSpec(start, end)


# -- building peers ----------------------------------------------------------------------------


def _endpoints(expr: Expr, namespace_selector: Expr | None, namespace: str | None) -> Peer:
    """Pods and network sets that ``expr`` matches, scoped as Calico scopes rule selectors:
    ``namespace_selector`` (``global()``: only GlobalNetworkSets), else the policy's
    ``namespace``, else (GlobalNetworkPolicy) everything."""
    if isinstance(namespace_selector, Global):
        return NetworkSetPeer(expr, namespace_selector=Global(), global_sets=True)
    if namespace_selector is not None:
        pods = PodSelection(expr, namespace_selector=namespace_selector, view=LabelView.CNI)
        sets = NetworkSetPeer(expr, namespace_selector=namespace_selector)
    elif namespace is not None:
        pods = PodSelection(expr, namespace=namespace, view=LabelView.CNI)
        sets = NetworkSetPeer(expr, namespace=namespace)
    else:
        pods = PodSelection(expr, namespace_selector=All(), view=LabelView.CNI)
        sets = NetworkSetPeer(expr, global_sets=True)
    return CompoundPeer(any_of=(PodPeer(pods), sets))


def _nets_peer(nets: tuple[IPNetwork, ...]) -> Peer:
    peers = tuple(IPBlockPeer(IPBlock(n)) for n in nets)
    return peers[0] if len(peers) == 1 else CompoundPeer(any_of=peers)


def remote_peer(entity: Entity, namespace: str | None, family: IPNetwork | None) -> Peer:
    """The one peer of a rule's remote side: every criterion must hold (§3.5). ``namespace``:
    the NetworkPolicy's namespace (None for a GlobalNetworkPolicy); ``family``: the whole
    address space of the rule's IP version, when the rule is limited to one."""
    all_of: list[Peer] = []
    positive = conjoin(entity.accounts, entity.selector)
    has_positive = entity.accounts is not None or entity.selector is not None
    scoped = entity.namespace_selector is not None or namespace is not None
    # Felix folds the notSelector into a positive selector, scope included, as a label match
    # ("(sel) && (!(notSel))": felix/calc/rule_scanner.go combineMatchesIfPossible); only
    # without one does it exclude the addresses of the endpoints notSelector matches.
    folded = has_positive or (scoped and entity.endpoint_criteria)
    if folded:
        negated = Not(entity.not_selector) if entity.not_selector is not None else None
        all_of.append(_endpoints(conjoin(positive, negated), entity.namespace_selector, namespace))
    if entity.nets:
        all_of.append(_nets_peer(entity.nets))
    elif family is not None:
        all_of.append(IPBlockPeer(IPBlock(family)))
    none_of: list[Peer] = [IPBlockPeer(IPBlock(n)) for n in entity.not_nets]
    if entity.not_selector is not None and not folded:
        none_of.append(_endpoints(entity.not_selector, entity.namespace_selector, namespace))
    if not all_of and not none_of:
        return AnyPeer()
    if len(all_of) == 1 and not none_of:
        return all_of[0]
    return CompoundPeer(all_of=tuple(all_of), none_of=tuple(none_of))


def local_restriction(entity: Entity) -> Expr | None:
    """The local side's label criteria as a pod-label expression that narrows the policy's
    subject (None: no restriction). A namespaceSelector is rewritten to the ``pcns.`` labels
    every pod carries; ``all()`` there is every pod, ``global()`` none."""
    namespaces = (
        prefix_keys(entity.namespace_selector, NS_PREFIX, all_is=All(), global_is=Not(All()))
        if entity.namespace_selector is not None
        else None
    )
    negative = Not(entity.not_selector) if entity.not_selector is not None else None
    expr = conjoin(namespaces, entity.accounts, entity.selector, negative)
    return None if isinstance(expr, All) else expr
