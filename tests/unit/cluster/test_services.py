"""Service ports and EndpointSlices in the cluster snapshot (cluster/objects.py,
cluster/snapshot.py, workspace/load.py), loaded through the real loader and the CLI.

Sources:
- Kubernetes API reference, Service v1 (core/v1 ServicePort): ``targetPort`` "If this is not
  specified, the value of the 'port' field is used"; ``protocol`` defaults to TCP; a named
  ``targetPort`` is an IANA_SVC_NAME.
- Kubernetes API reference, EndpointSlice v1 (discovery.k8s.io/v1): ``addressType`` is IPv4,
  IPv6 or FQDN; an EndpointPort's ``port``: "If this is not specified, ports are not
  restricted"; the Service is named by the label ``kubernetes.io/service-name``.
- Calico felix/serviceindex/serviceindex.go ``membersFromEndpointSlice``: every endpoint
  address of a slice is used, whatever the endpoint's ``conditions``.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import invoke
from kubefence.cluster.snapshot import ServicePort, SlicePort
from kubefence.ir.ports import Protocol
from kubefence.workspace.load import Workspace, load_workspace

SERVICE = """\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: a}
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 8080}
  - {name: named, port: 81, targetPort: web, protocol: UDP}
  - {port: 443}
"""
SLICE = """\
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-abc
  namespace: a
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
endpoints:
- addresses: [10.0.0.1]
  conditions: {ready: true}
- addresses: [10.0.0.2]
  conditions: {ready: false}
ports:
- {name: http, port: 8080, protocol: TCP}
- {name: any, port: null}
"""
OTHER_SLICE = """\
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: other-1, namespace: a, labels: {kubernetes.io/service-name: other}}
addressType: IPv6
endpoints: [{addresses: ["2001:db8::1"]}]
"""


def _load(tmp_path: Path, *docs: str) -> Workspace:
    (tmp_path / "cluster.yaml").write_text("---\n".join(docs))
    return load_workspace([str(tmp_path)])


def test_service_ports_and_target_defaults(tmp_path: Path) -> None:
    """targetPort: a number, a container port name, or (absent) the port; protocol TCP by default."""
    workspace = _load(tmp_path, SERVICE)
    assert workspace.errors == ()
    (service,) = workspace.snapshot.services
    assert service.ports == (
        ServicePort(Protocol.TCP, 80, 8080, "http"),
        ServicePort(Protocol.UDP, 81, "web", "named"),
        ServicePort(Protocol.TCP, 443, 443, None),
    )


def test_endpoint_slice_keeps_every_endpoint_and_null_port(tmp_path: Path) -> None:
    """A not-ready endpoint's address is kept (Felix uses them all); a null port is None."""
    workspace = _load(tmp_path, SERVICE, SLICE, OTHER_SLICE)
    assert workspace.errors == () and workspace.warnings == ()
    assert not any("EndpointSlice" in s for s in workspace.skipped)
    snapshot = workspace.snapshot
    assert [s.name for s in snapshot.endpoint_slices] == ["web-abc", "other-1"]
    (web,) = snapshot.slices_of("a", "web")
    assert (web.namespace, web.service) == ("a", "web")
    assert web.addresses == (ipaddress.ip_address("10.0.0.1"), ipaddress.ip_address("10.0.0.2"))
    assert web.ports == (SlicePort(Protocol.TCP, 8080, "http"), SlicePort(Protocol.TCP, None, "any"))
    assert web.source is not None and web.source.object == "EndpointSlice a/web-abc"
    (other,) = snapshot.slices_of("a", "other")
    assert other.addresses == (ipaddress.ip_address("2001:db8::1"),)
    assert snapshot.slices_of("b", "web") == () and snapshot.slices_of("a", "none") == ()


def test_slice_without_service_label_and_fqdn_slice(tmp_path: Path) -> None:
    """A slice without ``kubernetes.io/service-name`` belongs to no Service; an FQDN slice
    keeps no addresses, with a warning."""
    fqdn = (
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: f, namespace: a}\n"
        "addressType: FQDN\nendpoints: [{addresses: [db.example.com]}]\n"
    )
    workspace = _load(tmp_path, fqdn)
    assert workspace.errors == ()
    (slice_,) = workspace.snapshot.endpoint_slices
    assert slice_.service is None and slice_.addresses == ()
    assert [(w.object, w.field) for w in workspace.warnings] == [("EndpointSlice a/f", "endpoints")]


@pytest.mark.parametrize(
    ("doc", "obj", "field"),
    [
        pytest.param(
            SERVICE.replace("port: 443", "port: 70000"), "Service a/web", "spec.ports[2].port", id="port"
        ),
        pytest.param(
            SERVICE.replace("targetPort: web", "targetPort: Bad_Name"),
            "Service a/web",
            "spec.ports[1].targetPort",
            id="target-name",
        ),
        pytest.param(
            SLICE.replace("[10.0.0.2]", "[10.0.0.2, '2001:db8::1']"),
            "EndpointSlice a/web-abc",
            "endpoints[1].addresses[1]",
            id="family",
        ),
        pytest.param(
            SLICE.replace("addressType: IPv4\n", ""), "EndpointSlice a/web-abc", "addressType", id="no-type"
        ),
    ],
)
def test_bad_input_exits_2(runner: CliRunner, tmp_path: Path, doc: str, obj: str, field: str) -> None:
    (tmp_path / "bad.yaml").write_text(doc)
    result = invoke(runner, "matrix", str(tmp_path))
    assert result.exit_code == 2
    assert "bad.yaml:" in result.stderr and f"{obj}: {field}:" in result.stderr
    assert "Traceback" not in result.output and result.stdout == ""
