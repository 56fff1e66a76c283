"""Antrea ``from`` / ``to`` peers → IR peers (§5.2 of the semantics reference;
antrea-io/antrea pkg/apis/crd/v1beta1/types.go NetworkPolicyPeer, pkg/controller/networkpolicy
validate.go validatePeers and crd_utils.go toAntreaPeerForCRD).

The policy's kind sets the scope of a bare ``podSelector``: an Antrea ClusterNetworkPolicy
(ACNP) reads it across all namespaces, an Antrea NetworkPolicy (ANNP) in its own namespace.
Peers kubefence cannot evaluate (external entities) match nothing, with a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kubefence.ir.model import (
    Direction,
    FQDNPeer,
    GroupRefPeer,
    IPBlockPeer,
    LabelView,
    NodePeer,
    Peer,
    PodPeer,
    PodSelection,
    RelativeNamespacePeer,
)
from kubefence.ir.selectors import LabelSelector

if TYPE_CHECKING:
    from collections.abc import Mapping

    from kubefence.dialects.fields import FieldReader

__all__ = ["SERVICE_ACCOUNT_LABEL", "PeerParser", "Scope", "service_account_pods"]

SERVICE_ACCOUNT_LABEL = "io.cilium.k8s.policy.serviceaccount"
"""The key under which ``LabelView.CNI`` exposes a pod's service account name."""

_PEER_FIELDS = (
    "podSelector",
    "namespaceSelector",
    "namespaces",
    "externalEntitySelector",
    "ipBlock",
    "group",
    "fqdn",
    "serviceAccount",
    "nodeSelector",
    "scope",
)
_ALONE = ("ipBlock", "group", "fqdn", "serviceAccount", "nodeSelector")
_FQDN_CHARS = re.compile(r"^[-0-9a-zA-Z.*]+$")
_QUALIFIED_NAME = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


@dataclass(frozen=True, slots=True)
class Scope:
    """Which Antrea policy kind is being read: ``namespace`` None for a ClusterNetworkPolicy
    (cluster-wide selectors), the policy's namespace for an Antrea NetworkPolicy."""

    kind: str
    namespace: str | None

    @property
    def cluster(self) -> bool:
        return self.namespace is None

    def pods(self, selector: LabelSelector, namespaces: LabelSelector | None) -> PodSelection:
        """Pods of ``selector`` in the namespaces of ``namespaces``; without it, in every
        namespace (ACNP) or in the policy's own namespace (ANNP)."""
        if namespaces is not None:
            return PodSelection(selector, namespace_selector=namespaces)
        if self.namespace is None:
            return PodSelection(selector, namespace_selector=LabelSelector())
        return PodSelection(selector, namespace=self.namespace)


def service_account_pods(r: FieldReader, item: Mapping[str, Any], path: str) -> PodSelection | None:
    """``serviceAccount: {name, namespace}``: the pods running as that service account."""
    value = r.mapping(item, "serviceAccount", path)
    if value is None:
        return None
    r.known(value, ("name", "namespace"), path)
    name = r.string(value, "name", f"{path}.name", required=True)
    namespace = r.string(value, "namespace", f"{path}.namespace", required=True)
    if not name or not namespace:
        return None
    selector = LabelSelector.of({SERVICE_ACCOUNT_LABEL: name})
    return PodSelection(selector, namespace=namespace, view=LabelView.CNI)


def fqdn_peers(pattern: str) -> tuple[tuple[Peer, ...], bool]:
    """Antrea FQDN expression → IR FQDN patterns, and whether the translation is exact.

    Antrea lower-cases the expression and reads every ``*`` as "any characters, dots
    included" (pkg/agent/controller/networkpolicy/fqdn.go toRegex), so ``*foo.com`` matches
    ``foo.com`` and ``a.b.foo.com``. In the IR a ``*`` stays inside one DNS label and only a
    leading ``**.`` spans labels, so a leading ``*`` becomes two patterns: the name itself
    (one label) and ``**.`` before it (more labels). A ``*`` elsewhere cannot be translated.
    """
    text = pattern.strip().lower()
    if "*" not in text:
        return (FQDNPeer(text),), True
    if not text.strip("*"):
        return (FQDNPeer("*"),), True
    rest = text.lstrip("*")
    if "*" in rest:
        return (FQDNPeer(text),), False
    base = "*" + rest
    return (FQDNPeer(base), FQDNPeer("**." + base)), True


class PeerParser:
    """Reads one ``from`` / ``to`` peer of an Antrea policy rule."""

    def __init__(self, reader: FieldReader, scope: Scope) -> None:
        self.r = reader
        self.scope = scope

    def peer(self, item: Mapping[str, Any], path: str, line: int, direction: Direction) -> list[Peer]:
        """The IR peers of one peer entry (empty: matches nothing, or the entry is invalid)."""
        self.r.known(item, _PEER_FIELDS, path)
        present = [k for k in _PEER_FIELDS if item.get(k) is not None and k != "scope"]
        if not self.allowed_here(item, present, path, direction) or not self.combination_ok(
            present, path, line
        ):
            return []
        self.scope_field(item, path)
        if "externalEntitySelector" in present:
            self.r.warn(
                f"{path}.externalEntitySelector",
                "external entities are not modelled: this peer matches nothing in kubefence's answers",
                self.r.line(item, "externalEntitySelector"),
                "not-modelled",
            )
            return []
        return self.of_kind(present, item, path)

    # -- checks ----------------------------------------------------------------------------
    def allowed_here(
        self, item: Mapping[str, Any], present: list[str], path: str, direction: Direction
    ) -> bool:
        problems = []
        if "fqdn" in present and direction is Direction.INGRESS:
            problems.append(("fqdn", "fqdn peers are only allowed in egress rules"))
        if item.get("scope") is not None and direction is Direction.EGRESS:
            problems.append(("scope", "scope is only allowed in ingress peers"))
        if not self.scope.cluster:
            for key in ("namespaces", "serviceAccount"):
                if key in present:
                    problems.append((key, f"{key} is not supported in an Antrea NetworkPolicy peer"))
        for key, message in problems:
            self.r.error(f"{path}.{key}", message, self.r.line(item, key), "unsupported-field")
        return not problems

    def combination_ok(self, present: list[str], path: str, line: int) -> bool:
        if not present:
            self.r.error(path, "a peer must set one of " + ", ".join(_PEER_FIELDS[:-1]), line, "empty-peer")
            return False
        alone = [k for k in present if k in _ALONE]
        if alone and len(present) > 1:
            self.r.error(path, f"{alone[0]} cannot be set with other fields in a peer", line, "peer-fields")
            return False
        if "namespaces" in present and "namespaceSelector" in present:
            self.r.error(path, "namespaces and namespaceSelector cannot be set together", line, "peer-fields")
            return False
        if "externalEntitySelector" in present and "podSelector" in present:
            self.r.error(path, "externalEntitySelector cannot be set with podSelector", line, "peer-fields")
            return False
        return True

    def scope_field(self, item: Mapping[str, Any], path: str) -> None:
        value = self.r.string(item, "scope", f"{path}.scope")
        line = self.r.line(item, "scope")
        if value is None or value == "Cluster":
            return
        if value == "ClusterSet":
            self.r.warn(
                f"{path}.scope",
                "scope ClusterSet (Antrea multi-cluster) is not modelled: the peer is evaluated "
                "against the pods of this cluster only",
                line,
                "not-modelled",
            )
            return
        self.r.error(f"{path}.scope", f"unsupported value {value!r} (expected Cluster or ClusterSet)", line)

    # -- kinds -----------------------------------------------------------------------------
    def of_kind(self, present: list[str], item: Mapping[str, Any], path: str) -> list[Peer]:
        first = present[0]
        if first == "ipBlock":
            block = self.ip_block(item, f"{path}.ipBlock")
            return [block] if block is not None else []
        if first == "group":
            return self.group(item, f"{path}.group")
        if first == "fqdn":
            return self.fqdn(item, f"{path}.fqdn")
        if first == "serviceAccount":
            pods = service_account_pods(self.r, item, f"{path}.serviceAccount")
            return [PodPeer(pods)] if pods is not None else []
        if first == "nodeSelector":
            nodes = self.r.selector(item, "nodeSelector", f"{path}.nodeSelector")
            return [NodePeer(nodes)] if nodes is not None else []
        if "namespaces" in present:
            relative = self.namespaces(item, path)
            return [relative] if relative is not None else []
        return self.pods(item, path)

    def pods(self, item: Mapping[str, Any], path: str) -> list[Peer]:
        pods = self.r.selector(item, "podSelector", f"{path}.podSelector")
        namespaces = self.r.selector(item, "namespaceSelector", f"{path}.namespaceSelector")
        if pods is None and namespaces is None:
            return []
        return [PodPeer(self.scope.pods(pods if pods is not None else LabelSelector(), namespaces))]

    def namespaces(self, item: Mapping[str, Any], path: str) -> RelativeNamespacePeer | None:
        pods = self.r.selector(item, "podSelector", f"{path}.podSelector") or LabelSelector()
        where = f"{path}.namespaces"
        value = self.r.mapping(item, "namespaces", where)
        if value is None:
            return None
        self.r.known(value, ("match", "sameLabels"), where)
        line = self.r.line(item, "namespaces")
        set_keys = [k for k in ("match", "sameLabels") if value.get(k) is not None]
        if len(set_keys) != 1:
            self.r.error(where, "exactly one of match and sameLabels must be set", line)
            return None
        if set_keys[0] == "match":
            match = self.r.string(value, "match", f"{where}.match")
            if match != "Self":
                self.r.error(
                    f"{where}.match",
                    f"unsupported value {match!r} (expected Self)",
                    line,
                    "unsupported-value",
                )
                return None
            return RelativeNamespacePeer(pods)
        keys = self.same_labels(value, f"{where}.sameLabels")
        return RelativeNamespacePeer(pods, keys) if keys else None

    def same_labels(self, value: Mapping[str, Any], path: str) -> tuple[str, ...]:
        seq = self.r.sequence(value, "sameLabels", path) or []
        keys: list[str] = []
        for i, key in enumerate(seq):
            if not isinstance(key, str) or _QUALIFIED_NAME.match(key) is None:
                self.r.error(
                    f"{path}[{i}]", f"invalid label key {key!r}", self.r.line(seq, i), "invalid-label"
                )
                continue
            keys.append(key)
        if not seq:
            self.r.error(path, "must list at least one label key", self.r.line(value, "sameLabels"))
        return tuple(keys)

    def ip_block(self, parent: Mapping[str, Any], path: str) -> IPBlockPeer | None:
        block = self.r.mapping(parent, "ipBlock", path)
        if block is None:
            return None
        return ip_block_peer(self.r, block, path)

    def group(self, item: Mapping[str, Any], path: str) -> list[Peer]:
        name = self.r.string(item, "group", path)
        if not name:
            self.r.error(path, "must name a group", self.r.line(item, "group"))
            return []
        if self.scope.cluster:
            return [GroupRefPeer("ClusterGroup", name)]
        return [GroupRefPeer("Group", name, self.scope.namespace)]

    def fqdn(self, item: Mapping[str, Any], path: str) -> list[Peer]:
        text = self.r.string(item, "fqdn", path)
        line = self.r.line(item, "fqdn")
        if text is None:
            return []
        if _FQDN_CHARS.match(text) is None:
            self.r.error(
                path, f"invalid characters in fqdn {text!r} (allowed: letters, digits, '-', '.', '*')", line
            )
            return []
        peers, exact = fqdn_peers(text)
        if not exact:
            self.r.warn(
                path,
                f"Antrea lets every '*' in {text!r} match any characters including dots; kubefence "
                "matches a '*' that is not leading within one DNS label only",
                line,
                "not-modelled",
            )
        return list(peers)


def ip_block_peer(r: FieldReader, block: Mapping[str, Any], path: str) -> IPBlockPeer | None:
    """``{cidr, except}`` → IPBlockPeer; Antrea matches it against any address, pods included."""
    r.known(block, ("cidr", "except"), path)
    line = r.line(block, "cidr")
    if block.get("cidr") is None:
        r.error(f"{path}.cidr", "required field is missing", line, "missing-field")
        return None
    excepts = r.sequence(block, "except", f"{path}.except") or []
    lines = [r.line(excepts, i) for i in range(len(excepts))]
    result = r.ip_block(block["cidr"], excepts, path, line, lines)
    return IPBlockPeer(result) if result is not None else None
