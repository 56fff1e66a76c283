"""In-place updates are exact: for random pairs of policy sets A → B, the agent's in-place
patch (elements, refilled class chains, removals, one transaction) leaves the kernel with the
same table as loading B from scratch (compared as JSON listings, handles aside)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from kubefence.agent.apply import Nft, NftTable
from kubefence.agent.reconcile import desired_state, element_patch
from kubefence.cluster.snapshot import ClusterSnapshot
from kubefence.ir.model import Policy
from kubefence.workspace.load import Workspace
from strategies import policies, snapshots


@pytest.fixture(scope="module")
def netns() -> Iterator[str]:
    name = f"kfp{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def _normal(nft: Nft, table: str) -> dict[str, Any]:
    listing = json.loads(nft.run(f"list table inet {table}", json_output=True))["nftables"]
    out: dict[str, Any] = {"set": {}, "map": {}, "chain": {}, "rule": {}}
    for item in listing:
        kind, body = next(iter(item.items()))
        if kind in ("set", "map"):
            elems = body.get("elem", [])
            out[kind][body["name"]] = (body["type"], sorted(json.dumps(e, sort_keys=True) for e in elems))
        elif kind == "chain":
            out["chain"][body["name"]] = body.get("hook")
        elif kind == "rule":
            out["rule"].setdefault(body["chain"], []).append(json.dumps(body["expr"], sort_keys=True))
    return out


@settings(
    max_examples=int(os.environ.get("KUBEFENCE_KERNEL_EXAMPLES", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(snapshots(), policies(), policies())
def test_patch_equals_fresh_load(
    netns: str, snapshot: ClusterSnapshot, a: list[Policy], b: list[Policy]
) -> None:
    nft = Nft(netns)
    try:
        old = desired_state(Workspace(snapshot, tuple(a), ()), "n1", "kfpa")
        new = desired_state(Workspace(snapshot, tuple(b), ()), "n1", "kfpa")
        fresh = desired_state(Workspace(snapshot, tuple(b), ()), "n1", "kfpb")
        patched = NftTable(nft, "kfpa", ("kfpa_guard",))
        patched.replace(old.script)
        ops = element_patch(old.table, new.table)
        if ops is None:
            patched.replace(new.script)
        else:
            patched.patch(ops)
        NftTable(nft, "kfpb", ("kfpb_guard",)).replace(fresh.script)
        assert _normal(nft, "kfpa") == _normal(nft, "kfpb")
        assert _normal(nft, "kfpa_guard") == _normal(nft, "kfpb_guard")
    finally:
        NftTable(nft, "kfpa", ("kfpa_guard", "kfpb", "kfpb_guard")).delete()
        nft.close()
