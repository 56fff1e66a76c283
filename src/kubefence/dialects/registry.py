"""(apiVersion, kind) → the Dialect that reads it.

The CNIs' own dialects are imported the first time an object of their API group shows up, so
that inputs without them (most runs) do not pay for loading their parsers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from kubefence.dialects.adminnetworkpolicy import AdminNetworkPolicyDialect
from kubefence.dialects.networkpolicy import NetworkPolicyDialect

if TYPE_CHECKING:
    from kubefence.dialects.base import Dialect

__all__ = ["dialect_for", "dialects", "policy_kinds"]

# API group → (module, class) of the dialect that reads it, loaded on first use.
_LAZY: dict[str, tuple[str, str]] = {
    "projectcalico.org": ("kubefence.dialects.calico", "CalicoDialect"),
    "crd.projectcalico.org": ("kubefence.dialects.calico", "CalicoDialect"),
    "cilium.io": ("kubefence.dialects.cilium", "CiliumDialect"),
    "crd.antrea.io": ("kubefence.dialects.antrea", "AntreaDialect"),
}
_BY_KIND: dict[tuple[str, str], Dialect] = {}
_LOADED: set[str] = set()


def _register(dialect: Dialect) -> None:
    for key in dialect.kinds:
        _BY_KIND[key] = dialect


for _eager in (NetworkPolicyDialect(), AdminNetworkPolicyDialect()):
    _register(_eager)


def _load(group: str) -> None:
    module_name, class_name = _LAZY[group]
    if module_name not in _LOADED:
        _LOADED.add(module_name)
        _register(getattr(importlib.import_module(module_name), class_name)())


def dialect_for(api_version: str, kind: str) -> Dialect | None:
    """The dialect that reads this object, or None when it is not a policy kind we know."""
    group = api_version.partition("/")[0]
    if group in _LAZY:
        _load(group)
    return _BY_KIND.get((api_version, kind))


def dialects() -> tuple[Dialect, ...]:
    """Every dialect (loading them all)."""
    for group in _LAZY:
        _load(group)
    return tuple({id(d): d for d in _BY_KIND.values()}.values())


def policy_kinds() -> frozenset[str]:
    """Kind names of every policy kind some dialect reads (for "wrong apiVersion" hints)."""
    return frozenset(kind for d in dialects() for _, kind in d.kinds)
