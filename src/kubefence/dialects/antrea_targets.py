"""Antrea ``appliedTo`` entries → the pods a policy (or one rule) applies to (§5.2 of the
semantics reference; antrea-io/antrea pkg/apis/crd/v1beta1/types.go AppliedTo,
pkg/controller/networkpolicy/validate.go validateAppliedTo; docs/antrea-network-policy.md).

Each entry becomes one PodSelection; a ``group`` entry becomes a placeholder selection naming
the group (``GROUP_SUBJECT``), which the workspace's link step replaces by the group's pods.
Entries that do not select pods by label are not modelled and are skipped with a warning:
``service`` (NodePort Services) and ``nodeSelector`` (Node policies), external entities.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubefence.dialects.antrea_peers import service_account_pods
from kubefence.dialects.base import GROUP_SUBJECT
from kubefence.ir.model import PodSelection
from kubefence.ir.selectors import LabelSelector

if TYPE_CHECKING:
    from collections.abc import Mapping

    from kubefence.dialects.antrea_peers import Scope
    from kubefence.dialects.fields import FieldReader

__all__ = ["TargetParser"]

_FIELDS = (
    "podSelector",
    "namespaceSelector",
    "externalEntitySelector",
    "group",
    "serviceAccount",
    "service",
    "nodeSelector",
)
_ALONE = ("group", "serviceAccount", "service", "nodeSelector")
_NOT_IN_ANNP = ("namespaceSelector", "serviceAccount", "service", "nodeSelector")
_SKIPPED = {
    "service": "appliedTo a NodePort Service is not modelled: traffic to the Service through node "
    "ports is not evaluated against this policy",
    "nodeSelector": "appliedTo nodes (Antrea Node policies) is not modelled: node traffic is not "
    "evaluated against this policy",
    "externalEntitySelector": "external entities are not modelled: this appliedTo entry is skipped",
}


class TargetParser:
    """Reads ``appliedTo`` lists of an Antrea policy."""

    def __init__(self, reader: FieldReader, scope: Scope) -> None:
        self.r = reader
        self.scope = scope

    def targets(self, seq: list[Any] | None, path: str, egress: bool) -> list[PodSelection]:
        """The subjects of an ``appliedTo`` list; ``egress``: the list applies to egress rules."""
        found: list[PodSelection] = []
        for i, t_path, item in self.r.items(seq, path):
            target = self.target(item, t_path, self.r.line(seq, i), egress)
            found.extend([target] if target is not None else [])
        return found

    def target(self, item: Mapping[str, Any], path: str, line: int, egress: bool) -> PodSelection | None:
        self.r.known(item, _FIELDS, path)
        present = [k for k in _FIELDS if item.get(k) is not None]
        if not self.valid(item, present, path, line, egress):
            return None
        skipped = next((k for k in present if k in _SKIPPED), None)
        if skipped is not None:
            self.r.warn(f"{path}.{skipped}", _SKIPPED[skipped], self.r.line(item, skipped), "not-modelled")
            return None
        if present == ["group"]:
            return self.group(item, f"{path}.group")
        if present == ["serviceAccount"]:
            return service_account_pods(self.r, item, f"{path}.serviceAccount")
        pods = self.r.selector(item, "podSelector", f"{path}.podSelector")
        namespaces = self.r.selector(item, "namespaceSelector", f"{path}.namespaceSelector")
        if pods is None and namespaces is None:
            return None
        return self.scope.pods(pods if pods is not None else LabelSelector(), namespaces)

    def group(self, item: Mapping[str, Any], path: str) -> PodSelection | None:
        """A placeholder subject naming the group; the link step replaces it by the group's pods."""
        name = self.r.string(item, "group", path)
        if name is None:
            return None
        kind = "ClusterGroup" if self.scope.cluster else "Group"
        ref = f"{kind}/{self.scope.namespace or ''}/{name}"
        return PodSelection(LabelSelector.of({GROUP_SUBJECT: ref}), namespace_selector=LabelSelector())

    def valid(self, item: Mapping[str, Any], present: list[str], path: str, line: int, egress: bool) -> bool:
        if not present:
            self.r.error(path, "an appliedTo entry must set one of " + ", ".join(_FIELDS), line, "empty-peer")
            return False
        if not self.scope.cluster:
            wrong = [k for k in present if k in _NOT_IN_ANNP]
            for key in wrong:
                self.r.error(
                    f"{path}.{key}",
                    f"{key} is not allowed in the appliedTo of an Antrea NetworkPolicy",
                    self.r.line(item, key),
                    "unsupported-field",
                )
            if wrong:
                return False
        alone = [k for k in present if k in _ALONE]
        if alone and len(present) > 1:
            self.r.error(
                path, f"{alone[0]} cannot be set with other fields in appliedTo", line, "peer-fields"
            )
            return False
        if "service" in present and egress:
            self.r.error(
                f"{path}.service", "egress rules cannot be applied to Services", self.r.line(item, "service")
            )
            return False
        return True
