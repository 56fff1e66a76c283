"""The labels a CNI attaches to pods and namespaces by itself (semantics reference §3.4, §4.5).

Selectors written in Calico's or Cilium's own APIs see these next to the object's labels, so
that policies written against them work on plain manifests: ``LabelView.CNI`` in the IR.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubefence.ir.selectors import Labels

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["CILIUM_CLUSTER", "cni_namespace_labels", "cni_pod_labels"]

CILIUM_CLUSTER = "default"


def cni_pod_labels(
    labels: Mapping[str, str],
    namespace: str,
    ns_labels: Mapping[str, str],
    service_account: str,
    account_labels: Mapping[str, str] | None = None,
) -> Labels:
    """A pod's labels plus Calico's and Cilium's derived labels. ``account_labels``: the labels
    of the pod's ServiceAccount, which Calico gives the pod as ``pcsa.<key>``
    (libcalico-go/lib/backend/k8s/conversion/conversion.go ``ServiceAccountToProfile``)."""
    out = {f"pcsa.{key}": value for key, value in (account_labels or {}).items()}
    out.update(labels)
    out.update(
        {
            "projectcalico.org/namespace": namespace,
            "projectcalico.org/orchestrator": "k8s",
            "projectcalico.org/serviceaccount": service_account,
            "pcns.projectcalico.org/name": namespace,
            "pcsa.projectcalico.org/name": service_account,
            "io.kubernetes.pod.namespace": namespace,
            "io.cilium.k8s.policy.serviceaccount": service_account,
            "io.cilium.k8s.policy.cluster": CILIUM_CLUSTER,
        }
    )
    for key, value in ns_labels.items():
        out[f"pcns.{key}"] = value
        out[f"io.cilium.k8s.namespace.labels.{key}"] = value
    return Labels(out)


def cni_namespace_labels(name: str, labels: Mapping[str, str]) -> Labels:
    """A namespace's labels plus Calico's ``projectcalico.org/name``."""
    return Labels({**labels, "projectcalico.org/name": name})
