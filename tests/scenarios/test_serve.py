"""``kubefence serve`` end to end on loopback: check, matrix and events, by revision."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubefence.cli.serve import Service, make_server
from kubefence.engine.incremental import IncrementalEngine
from kubefence.workspace.load import load_workspace

DEMO = Path(__file__).parents[2] / "src" / "kubefence" / "examples" / "demo"


@pytest.fixture
def base() -> Iterator[str]:
    workspace = load_workspace([str(DEMO)])
    server = make_server(Service(IncrementalEngine(workspace.snapshot, workspace.policies), []), port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _post(url: str, doc: object) -> Any:
    request = urllib.request.Request(url, data=json.dumps(doc).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_check_changes_with_a_policy_event(base: str) -> None:
    query = f"{base}/check?from=shop/frontend&to=shop/payments&port=8443/TCP"
    before = _get(query)
    assert before["revision"] == 0
    deny_all = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "deny-all", "namespace": "shop"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }
    added = _post(f"{base}/events", {"type": "ADDED", "object": deny_all})
    assert added == {"revision": 1, "applied": 1, "diagnostics": []}
    after = _get(query)
    assert after["revision"] == 1 and after["verdict"] == "deny"
    gone = _post(f"{base}/events", [{"type": "DELETED", "object": {**deny_all, "spec": None}}])
    assert gone["revision"] == 2
    assert _get(query)["verdict"] == before["verdict"]


def test_matrix_formats_agree(base: str) -> None:
    counts = _get(f"{base}/matrix?format=counts&port=8080/TCP")
    with urllib.request.urlopen(f"{base}/matrix?format=json&port=8080/TCP", timeout=10) as response:
        doc = json.loads(response.read())
    assert counts["allowed"] == len(doc["allowed"]) and counts["denied"] == len(doc["denied"])
    classes = _get(f"{base}/matrix?format=classes")
    assert sum(c["size"] for c in classes["classes"]) == counts["endpoints"]


def test_pod_event_and_errors(base: str) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "newcomer", "namespace": "shop", "labels": {"app": "frontend"}},
        "spec": {"containers": [{"name": "c", "image": "x"}]},
    }
    assert _post(f"{base}/events", {"type": "ADDED", "object": pod})["applied"] == 1
    assert _get(f"{base}/check?from=shop/newcomer&to=shop/payments&port=8443")["from"] == "shop/newcomer"
    for url, status in (
        (f"{base}/check?from=shop/nobody&to=shop/payments&port=80", 404),
        (f"{base}/check?from=shop/frontend&to=shop/payments&port=x", 400),
        (f"{base}/nowhere", 404),
    ):
        with pytest.raises(urllib.error.HTTPError) as caught:
            _get(url)
        assert caught.value.code == status
        caught.value.close()


def test_a_pod_that_finishes_leaves_the_network(base: str) -> None:
    """A watch MODIFIED event with phase Succeeded removes the pod (a finished pod has no
    network; its IP may be reused), as loading leaves such pods out."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "job-1", "namespace": "shop", "labels": {"app": "frontend"}},
        "spec": {"containers": [{"name": "c", "image": "x"}]},
    }
    assert _post(f"{base}/events", {"type": "ADDED", "object": pod})["applied"] == 1
    assert _get(f"{base}/check?from=shop/job-1&to=shop/payments&port=8443")["from"] == "shop/job-1"
    done = {**pod, "status": {"phase": "Succeeded"}}
    assert _post(f"{base}/events", {"type": "MODIFIED", "object": done})["applied"] == 1
    with pytest.raises(urllib.error.HTTPError) as caught:
        _get(f"{base}/check?from=shop/job-1&to=shop/payments&port=8443")
    assert caught.value.code == 404
    caught.value.close()


def test_icmp_check_carries_the_generic_caveat(base: str) -> None:
    """An ICMP type is a probe (``port=8/ICMP``); under the generic profile the answer says that
    the upstream APIs do not define ICMP (semantics reference §1)."""
    answer = _get(f"{base}/check?from=shop/frontend&to=shop/payments&port=8/ICMP")
    assert any("ICMP is not defined" in w for w in answer["warnings"])
    matrix = _get(f"{base}/matrix?format=json&port=8/ICMP")
    assert any("ICMP is not defined" in w for w in matrix["warnings"])
    assert not any("ICMP is not defined" in w for w in _get(f"{base}/matrix?format=json")["warnings"])
    with pytest.raises(urllib.error.HTTPError) as bad:
        _get(f"{base}/check?from=shop/frontend&to=shop/payments&port=300/ICMP")
    assert bad.value.code == 400
    bad.value.close()
