"""Names of everything a lab creates, all derived from the lab's prefix.

Invariants: every network namespace is called ``<prefix>-…``, and every link the lab creates
is called ``<prefix>-…`` and is at most 15 characters long (the kernel's IFNAMSIZ − 1). The
prefix is 1–8 lowercase letters or digits, starting with a letter and never containing ``-``,
so the lab ``kf`` (names ``kf-…``) and the lab ``kf2`` (names ``kf2-…``) can never claim each
other's names. Links are created directly inside lab namespaces, so none appears in the host's
namespace; teardown deletes the namespaces and, with them, their links.
"""

from __future__ import annotations

import re

from kubefence.errors import LabError

__all__ = [
    "DEFAULT_PREFIX",
    "bridge_name",
    "check_prefix",
    "is_lab_name",
    "node_netns",
    "node_uplink_name",
    "outside_netns",
    "pod_eth_name",
    "pod_netns",
    "pod_veth_name",
    "underlay_bridge_name",
    "underlay_netns",
    "underlay_port_name",
    "vxlan_name",
]

DEFAULT_PREFIX = "kf"
MAX_PODS = 99999
_PREFIX = re.compile(r"[a-z][a-z0-9]{0,7}")
_SAFE = re.compile(r"[a-z0-9][a-z0-9.-]{0,100}")


def check_prefix(prefix: str) -> str:
    """The prefix itself, or LabError when it could clash or overflow an interface name."""
    if not _PREFIX.fullmatch(prefix):
        raise LabError(
            f"invalid lab prefix {prefix!r}: use 1-8 lowercase letters or digits, starting with a letter"
        )
    return prefix


def is_lab_name(prefix: str, name: str) -> bool:
    """Whether a namespace or link name belongs to the lab with this prefix."""
    return name.startswith(f"{prefix}-")


def _readable(text: str) -> str:
    """``text`` when it is safe as a file name, else a stable digest of it."""
    if _SAFE.fullmatch(text):
        return text
    import hashlib  # on first use: importing it costs every command ~8 ms

    return "h" + hashlib.sha256(text.encode()).hexdigest()[:12]


def node_netns(prefix: str, node: str) -> str:
    """The network namespace of node ``node`` (where its agent runs and its bridge lives)."""
    return f"{prefix}-node-{_readable(node)}"


def pod_netns(prefix: str, key: str) -> str:
    """The network namespace of the pod-network pod ``namespace/name``."""
    namespace, _, name = key.partition("/")
    # Namespace names have no dots, so "<ns>.<name>" is unique per pod.
    return f"{prefix}-pod-{_readable(namespace)}.{_readable(name)}"


def underlay_netns(prefix: str) -> str:
    """The namespace holding the underlay bridge that links nodes and the outside."""
    return f"{prefix}-underlay"


def outside_netns(prefix: str) -> str:
    """The namespace standing for addresses outside the cluster."""
    return f"{prefix}-outside"


def bridge_name(prefix: str) -> str:
    """A node's pod bridge (inside the node namespace)."""
    return f"{prefix}-br"


def pod_veth_name(prefix: str, index: int) -> str:
    """The node-side end of pod number ``index``'s veth pair."""
    if not 0 <= index <= MAX_PODS:
        raise LabError(f"a lab holds at most {MAX_PODS + 1} pods")
    return f"{prefix}-v{index}"


def pod_eth_name(prefix: str) -> str:
    """The pod-side end of a pod's veth pair (the pod's only interface besides lo)."""
    return f"{prefix}-eth0"


def node_uplink_name(prefix: str) -> str:
    """A node's (or the outside's) link to the underlay bridge."""
    return f"{prefix}-ul"


def underlay_port_name(prefix: str, index: int | None) -> str:
    """The underlay-side end of node ``index``'s uplink (``None``: the outside's)."""
    return f"{prefix}-uo" if index is None else f"{prefix}-u{index}"


def underlay_bridge_name(prefix: str) -> str:
    """The bridge in the underlay namespace."""
    return f"{prefix}-ubr"


def vxlan_name(prefix: str) -> str:
    """A node's VXLAN device (vxlan mode)."""
    return f"{prefix}-vx"
