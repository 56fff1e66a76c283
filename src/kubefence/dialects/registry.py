"""(apiVersion, kind) → the Dialect that reads it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubefence.dialects.adminnetworkpolicy import AdminNetworkPolicyDialect
from kubefence.dialects.antrea import AntreaDialect
from kubefence.dialects.calico import CalicoDialect
from kubefence.dialects.cilium import CiliumDialect
from kubefence.dialects.networkpolicy import NetworkPolicyDialect

if TYPE_CHECKING:
    from kubefence.dialects.base import Dialect

__all__ = ["DIALECTS", "dialect_for", "policy_kinds"]

DIALECTS: tuple[Dialect, ...] = (
    NetworkPolicyDialect(),
    AdminNetworkPolicyDialect(),
    CalicoDialect(),
    CiliumDialect(),
    AntreaDialect(),
)
_BY_KIND: dict[tuple[str, str], Dialect] = {k: d for d in DIALECTS for k in d.kinds}


def dialect_for(api_version: str, kind: str) -> Dialect | None:
    """The dialect that reads this object, or None when it is not a policy kind we know."""
    return _BY_KIND.get((api_version, kind))


def policy_kinds() -> frozenset[str]:
    """Kind names of every policy kind some dialect reads (for "wrong apiVersion" hints)."""
    return frozenset(kind for _, kind in _BY_KIND)
