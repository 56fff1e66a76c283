"""ServiceAccount objects and the ``pcsa.<key>`` labels Calico derives from them (§3.4 of the
semantics reference; cluster/objects.py, cluster/views.py)."""

from __future__ import annotations

from kubefence.cluster.objects import parse_object
from kubefence.cluster.snapshot import ServiceAccount
from kubefence.cluster.views import cni_pod_labels
from kubefence.dialects.loader import load_text
from kubefence.ir.expressions import Compare, Op
from kubefence.ir.selectors import Labels


def _parse(text: str) -> tuple[object, list[str]]:
    loaded = load_text(text, "sa.yaml")
    result = parse_object(loaded.documents[0])
    return result.value, [f"{d.object}: {d.field}" for d in result.diagnostics]


def test_service_account_is_read() -> None:
    value, diagnostics = _parse(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa1, namespace: x, labels: {role: admin}}\n"
    )
    assert diagnostics == []
    assert isinstance(value, ServiceAccount)
    assert (value.namespace, value.name, value.labels) == ("x", "sa1", Labels({"role": "admin"}))


def test_bad_service_account_labels_are_errors() -> None:
    value, diagnostics = _parse(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa1, namespace: x, labels: {role: [a]}}\n"
    )
    assert value is None and diagnostics == ["ServiceAccount x/sa1: metadata.labels.role"]


def test_service_account_labels_become_pcsa_labels() -> None:
    """libcalico-go/lib/backend/k8s/conversion/conversion.go ``ServiceAccountToProfile``: the
    ServiceAccount's labels, prefixed ``pcsa.``, plus ``pcsa.projectcalico.org/name``; so the
    rule ``serviceAccounts: {selector: "role == 'admin'"}`` (pcsa.role == 'admin') matches."""
    labels = cni_pod_labels({"pod": "a"}, "x", {}, "sa1", {"role": "admin"})
    assert labels["pcsa.role"] == "admin" and labels["pcsa.projectcalico.org/name"] == "sa1"
    assert Compare("pcsa.role", Op.EQ, "admin").matches(labels)
    assert "pcsa.role" not in cni_pod_labels({"pod": "a"}, "x", {}, "sa1")
