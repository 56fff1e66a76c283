"""A Tier, Group or NetworkSet given twice is an error naming both places, as for every other
object: the API server keeps one object per kind, namespace and name, so two in the input
leave kubefence to guess which one the cluster holds."""

from __future__ import annotations

import pytest

from kubefence.workspace.load import load_workspace

TIER = "apiVersion: crd.antrea.io/v1beta1\nkind: Tier\nmetadata: {name: t1}\nspec: {priority: %d}\n"
GROUP = (
    "apiVersion: crd.antrea.io/v1beta1\nkind: ClusterGroup\nmetadata: {name: g}\n"
    "spec: {podSelector: {matchLabels: {app: %s}}}\n"
)
NETSET = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata: {name: s}\nspec: {nets: [%s]}\n"


@pytest.mark.parametrize(
    ("first", "second", "kind"),
    [
        (TIER % 20, TIER % 21, "Antrea Tier t1"),
        (GROUP % "a", GROUP % "b", "Antrea ClusterGroup g"),
        (NETSET % "10.0.0.0/8", NETSET % "10.1.0.0/16", "Calico GlobalNetworkSet s"),
    ],
)
def test_definitions_given_twice_are_errors(tmp_path, first: str, second: str, kind: str) -> None:
    path = tmp_path / "defs.yaml"
    path.write_text(first + "---\n" + second)
    errors = load_workspace([str(path)]).errors
    assert [(e.code, e.object) for e in errors] == [("duplicate-object", kind)]
    assert "first at" in errors[0].message
