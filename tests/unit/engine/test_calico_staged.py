"""``--staged`` for Calico's staged kinds (engine/profiles.py ``apply_profile``): stagedAction
Set replaces the live policy, Delete removes it (§3.1 of the semantics reference)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from kubefence.engine.profiles import apply_profile, parse_profile
from kubefence.ir.diagnostics import Severity
from kubefence.workspace.load import load_workspace

if TYPE_CHECKING:
    from pathlib import Path

LIVE = """\
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: live, namespace: x}
spec: {selector: all(), ingress: [{action: Deny}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: k, namespace: y}
spec: {podSelector: {}, policyTypes: [Ingress]}
---
"""
DELETES = """\
apiVersion: projectcalico.org/v3
kind: StagedNetworkPolicy
metadata: {name: live, namespace: x}
spec: {stagedAction: Delete}
---
apiVersion: projectcalico.org/v3
kind: StagedKubernetesNetworkPolicy
metadata: {name: k, namespace: y}
spec: {stagedAction: Delete}
"""


def _applied(tmp_path: Path, text: str, *, staged: bool) -> tuple[list[str], list[str]]:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    workspace = load_workspace([str(path)])
    assert not workspace.errors, workspace.errors
    policies, notes = apply_profile(parse_profile("calico"), workspace.policies, staged=staged)
    return [p.key for p in policies], [f"{n.severity.value}: {n.message}" for n in notes]


def test_staged_delete_removes_the_live_policy(tmp_path: Path) -> None:
    """libcalico-go/lib/backend/syncersv1/updateprocessors/stagednetworkpolicyprocessor.go
    ``ConvertStagedNetworkPolicyV3ToV1Value`` (and the StagedKubernetesNetworkPolicy one): a
    staged Delete sends no policy; applied, it means the live policy is gone."""
    keys, notes = _applied(tmp_path, LIVE + DELETES, staged=True)
    assert keys == []
    assert sorted(notes) == [
        f"{Severity.INFO.value}: --staged: stagedAction Delete removes Calico NetworkPolicy x/live",
        f"{Severity.INFO.value}: --staged: stagedAction Delete removes NetworkPolicy y/k",
    ]


def test_without_staged_the_live_policies_stay(tmp_path: Path) -> None:
    keys, _ = _applied(tmp_path, LIVE + DELETES, staged=False)
    assert sorted(keys) == ["Calico NetworkPolicy x/live", "NetworkPolicy y/k"]


@pytest.mark.parametrize("action", ["Learn", "Ignore"])
def test_learn_and_ignore_leave_the_live_policy(tmp_path: Path, action: str) -> None:
    """api/pkg/apis/projectcalico/v3/policy_common.go ``StagedAction``: Learn/Ignore are
    recommendation states; --staged keeps the live policy."""
    staged = (
        "apiVersion: projectcalico.org/v3\nkind: StagedNetworkPolicy\n"
        f"metadata: {{name: live, namespace: x}}\nspec: {{stagedAction: {action}, selector: all()}}\n"
    )
    keys, _ = _applied(tmp_path, LIVE + staged, staged=True)
    assert sorted(keys) == ["Calico NetworkPolicy x/live", "NetworkPolicy y/k"]
