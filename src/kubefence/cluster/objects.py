"""Cluster objects (Namespace, Pod, Node, Service, EndpointSlice, workload controllers) →
snapshot values.

Workload controllers expand to one representative pod built from their pod template and named
after the workload. Pods without an address get one later from ``cluster.addressing``.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kubefence.cluster.snapshot import (
    EndpointSlice,
    Namespace,
    Node,
    Pod,
    Service,
    ServiceAccount,
    ServicePort,
    SlicePort,
)
from kubefence.dialects.fields import FieldReader
from kubefence.ir.diagnostics import Diagnostic
from kubefence.ir.ports import MAX_PORT, ContainerPort
from kubefence.ir.selectors import Labels, LabelSelector

if TYPE_CHECKING:
    from kubefence.dialects.loader import Document
    from kubefence.ir.addresses import IPAddress, IPNetwork

__all__ = [
    "CLUSTER_KINDS",
    "SERVICE_NAME_LABEL",
    "WORKLOAD_KINDS",
    "ObjectResult",
    "Workload",
    "parse_object",
]

WORKLOAD_KINDS = frozenset(
    {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob"}
)
CLUSTER_KINDS = (
    frozenset({"Namespace", "Pod", "Node", "Service", "ServiceAccount", "EndpointSlice"}) | WORKLOAD_KINDS
)
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
"""The label that ties an EndpointSlice to its Service (discovery.k8s.io/v1)."""


@dataclass(frozen=True, slots=True)
class Workload:
    """A workload's representative pod and the selector of the pods it owns."""

    pod: Pod
    selector: LabelSelector | None


ClusterObject = Namespace | Pod | Node | Service | Workload | ServiceAccount | EndpointSlice


@dataclass(frozen=True, slots=True)
class ObjectResult:
    """One parsed cluster object (None when it had errors) and its diagnostics."""

    value: ClusterObject | None
    diagnostics: tuple[Diagnostic, ...]


def parse_object(doc: Document) -> ObjectResult:
    """Parse one cluster object; ``doc.data['kind']`` must be in CLUSTER_KINDS."""
    reader = FieldReader(doc, "core")
    kind = str(doc.data["kind"])
    parser = _PARSERS.get(kind, _workload)
    value = parser(reader)
    return ObjectResult(None if reader.failed else value, tuple(reader.diagnostics))


def _meta(r: FieldReader, namespaced: bool) -> tuple[str | None, str, Labels]:
    meta = r.mapping(r.doc.data, "metadata", "metadata", required=True) or {}
    name = r.string(meta, "name", "metadata.name", required=True)
    namespace = (r.string(meta, "namespace", "metadata.namespace") or "default") if namespaced else ""
    return name, namespace, Labels(r.string_map(meta, "labels", "metadata.labels"))


def _namespace(r: FieldReader) -> ClusterObject | None:
    name, _, labels = _meta(r, namespaced=False)
    return Namespace(name, labels, r.source()) if name else None


def _node(r: FieldReader) -> ClusterObject | None:
    name, _, labels = _meta(r, namespaced=False)
    spec = r.mapping(r.doc.data, "spec", "spec") or {}
    cidrs: list[IPNetwork | None] = []
    if spec.get("podCIDR") is not None:
        cidrs += [r.cidr(spec["podCIDR"], "spec.podCIDR", r.line(spec, "podCIDR"))]
    listed = r.sequence(spec, "podCIDRs", "spec.podCIDRs") or []
    cidrs += [r.cidr(text, f"spec.podCIDRs[{i}]", r.line(listed, i)) for i, text in enumerate(listed)]
    pod_cidrs = tuple(dict.fromkeys(c for c in cidrs if c is not None))
    status = r.mapping(r.doc.data, "status", "status") or {}
    seq = r.sequence(status, "addresses", "status.addresses")
    addresses: list[IPAddress] = []
    for _, path, item in r.items(seq, "status.addresses"):
        text = item.get("address")
        if str(item.get("type", "")).endswith("IP") and isinstance(text, str):
            ip = _ip(r, text, f"{path}.address", r.line(item, "address"))
            if ip is not None and ip not in addresses:
                addresses.append(ip)
    return Node(name, labels, tuple(addresses), r.source(), pod_cidrs) if name else None


def _service(r: FieldReader) -> ClusterObject | None:
    name, namespace, labels = _meta(r, namespaced=True)
    spec = r.mapping(r.doc.data, "spec", "spec") or {}
    selector = Labels(r.string_map(spec, "selector", "spec.selector"))
    ports: list[ServicePort] = []
    for _, path, item in r.items(r.sequence(spec, "ports", "spec.ports"), "spec.ports"):
        port = _service_port(r, item, path)
        if port is not None:
            ports.append(port)
    return Service(namespace, name, selector, tuple(ports), r.source(), labels) if name else None


def _service_port(r: FieldReader, item: Mapping[str, Any], path: str) -> ServicePort | None:
    """core/v1 ServicePort: ``targetPort`` defaults to ``port``, ``protocol`` to TCP."""
    number = r.integer(item, "port", f"{path}.port", 1, MAX_PORT, required=True)
    protocol = r.protocol(item, path)
    name = r.string(item, "name", f"{path}.name")
    target: int | str | None = number
    if isinstance(item.get("targetPort"), str):
        target = r.port_name(item["targetPort"], f"{path}.targetPort", r.line(item, "targetPort"))
    elif item.get("targetPort") is not None:
        target = r.integer(item, "targetPort", f"{path}.targetPort", 1, MAX_PORT)
    if number is None or protocol is None or target is None:
        return None
    return ServicePort(protocol, number, target, name)


_ADDRESS_TYPES = {"IPv4": 4, "IPv6": 6, "FQDN": None}


def _endpoint_slice(r: FieldReader) -> ClusterObject | None:
    """discovery.k8s.io/v1 EndpointSlice. Every endpoint address counts, whatever the
    endpoint's ``conditions`` (Calico felix/serviceindex/serviceindex.go
    ``membersFromEndpointSlice``); FQDN endpoints are not resolved."""
    name, namespace, labels = _meta(r, namespaced=True)
    data = r.doc.data
    kind = r.string(data, "addressType", "addressType", required=True)
    if kind is not None and kind not in _ADDRESS_TYPES:
        message = f"unsupported addressType {kind!r} (expected IPv4, IPv6 or FQDN)"
        r.error("addressType", message, r.line(data, "addressType"), "bad-address-type")
        kind = None
    endpoints = r.sequence(data, "endpoints", "endpoints")
    if kind == "FQDN" and endpoints:
        r.warn(
            "endpoints",
            "FQDN endpoints are not resolved: this slice adds no addresses",
            r.line(data, "endpoints"),
            "fqdn-endpoints",
        )
    addresses: list[IPAddress] = []
    for _, path, item in r.items(endpoints, "endpoints"):
        listed = r.sequence(item, "addresses", f"{path}.addresses", required=True) or []
        if kind in ("IPv4", "IPv6"):
            for i, text in enumerate(listed):
                ip = _slice_ip(r, text, _ADDRESS_TYPES[kind], f"{path}.addresses[{i}]", r.line(listed, i))
                if ip is not None and ip not in addresses:
                    addresses.append(ip)
    ports: list[SlicePort] = []
    for _, path, item in r.items(r.sequence(data, "ports", "ports"), "ports"):
        number = r.integer(item, "port", f"{path}.port", 1, MAX_PORT)
        protocol = r.protocol(item, path)
        port_name = r.string(item, "name", f"{path}.name")
        if protocol is not None and (number is not None or item.get("port") is None):
            ports.append(SlicePort(protocol, number, port_name))
    if not name:
        return None
    service = labels.get(SERVICE_NAME_LABEL)
    return EndpointSlice(namespace, name, service, tuple(addresses), tuple(ports), r.source())


def _slice_ip(r: FieldReader, text: Any, version: int | None, path: str, line: int) -> IPAddress | None:
    if not isinstance(text, str):
        r.error(path, f"expected a string, got {text!r}", line)
        return None
    ip = _ip(r, text, path, line)
    if ip is not None and ip.version != version:
        r.error(path, f"{text!r} is not an IPv{version} address (addressType IPv{version})", line, "bad-ip")
        return None
    return ip


_TERMINATED = ("Succeeded", "Failed")


def _service_account(r: FieldReader) -> ClusterObject | None:
    name, namespace, labels = _meta(r, namespaced=True)
    return ServiceAccount(namespace, name, labels, r.source()) if name else None


def _pod(r: FieldReader) -> ClusterObject | None:
    name, namespace, labels = _meta(r, namespaced=True)
    spec = r.mapping(r.doc.data, "spec", "spec") or {}
    status = r.mapping(r.doc.data, "status", "status") or {}
    if not name:
        return None
    phase = status.get("phase")
    if phase in _TERMINATED:
        # A finished pod has no network: its sandbox is gone and its IP may already be another
        # pod's. Implementations leave such pods out (kube-router "Don't process policy for pod
        # statuses that are Completed, Succeeded, or Failed"; kube-network-policies prefers the
        # running pod of an IP).
        r.warn(
            "status.phase",
            f"the pod is {phase}: it is left out, as a finished pod has no network (its IP may "
            "belong to another pod now)",
            r.line(status, "phase"),
            "pod-finished",
        )
        return None
    return _pod_from(r, namespace, name, labels, spec, "spec", status, None)


def _pod_from(
    r: FieldReader,
    namespace: str,
    name: str,
    labels: Labels,
    spec: Mapping[str, Any],
    path: str,
    status: Mapping[str, Any],
    workload: str | None,
) -> Pod:
    host_network = spec.get("hostNetwork") is True
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    return Pod(
        namespace=namespace,
        name=name,
        labels=labels,
        ips=_pod_ips(r, status),
        node=r.string(spec, "nodeName", f"{path}.nodeName"),
        host_network=host_network,
        ports=_container_ports(r, spec, path),
        service_account=str(account),
        workload=workload,
        source=r.source(),
    )


def _pod_ips(r: FieldReader, status: Mapping[str, Any]) -> tuple[IPAddress, ...]:
    found: list[IPAddress] = []
    if isinstance(status.get("podIP"), str):
        ip = _ip(r, status["podIP"], "status.podIP", r.line(status, "podIP"))
        found += [ip] if ip else []
    for _, path, item in r.items(r.sequence(status, "podIPs", "status.podIPs"), "status.podIPs"):
        ip = _ip(r, item.get("ip"), f"{path}.ip", r.line(item, "ip"))
        if ip is not None and ip not in found:
            found.append(ip)
    return tuple(found)


def _container_ports(r: FieldReader, spec: Mapping[str, Any], path: str) -> tuple[ContainerPort, ...]:
    out: list[ContainerPort] = []
    containers = r.sequence(spec, "containers", f"{path}.containers")
    for _, c_path, container in r.items(containers, f"{path}.containers"):
        ports = r.sequence(container, "ports", f"{c_path}.ports")
        for _, p_path, item in r.items(ports, f"{c_path}.ports"):
            port = _container_port(r, item, p_path)
            if port is not None:
                out.append(port)
    return tuple(out)


def _container_port(r: FieldReader, item: Mapping[str, Any], path: str) -> ContainerPort | None:
    number = r.integer(item, "containerPort", f"{path}.containerPort", 1, MAX_PORT, required=True)
    protocol = r.protocol(item, path)
    name = r.string(item, "name", f"{path}.name")
    return ContainerPort(number, protocol, name) if number is not None and protocol is not None else None


@functools.lru_cache(maxsize=1 << 16)
def _address(text: str) -> IPAddress:
    """Parsed once per text: a pod gives its address as podIP and again in podIPs."""
    return ipaddress.ip_address(text)


def _ip(r: FieldReader, text: Any, path: str, line: int) -> IPAddress | None:
    try:
        return _address(str(text).strip())
    except ValueError:
        r.error(path, f"invalid IP address {text!r}", line, "bad-ip")
        return None


def _template(r: FieldReader, kind: str) -> tuple[Mapping[str, Any] | None, str]:
    spec = r.mapping(r.doc.data, "spec", "spec", required=True) or {}
    if kind == "CronJob":
        job = r.mapping(spec, "jobTemplate", "spec.jobTemplate", required=True) or {}
        job_spec = r.mapping(job, "spec", "spec.jobTemplate.spec", required=True) or {}
        return r.mapping(job_spec, "template", "spec.jobTemplate.spec.template", required=True), (
            "spec.jobTemplate.spec.template"
        )
    return r.mapping(spec, "template", "spec.template", required=True), "spec.template"


def _workload(r: FieldReader) -> ClusterObject | None:
    kind = str(r.doc.data["kind"])
    name, namespace, _ = _meta(r, namespaced=True)
    template, path = _template(r, kind)
    if not name or template is None:
        return None
    meta = r.mapping(template, "metadata", f"{path}.metadata") or {}
    labels = Labels(r.string_map(meta, "labels", f"{path}.metadata.labels"))
    spec = r.mapping(template, "spec", f"{path}.spec") or {}
    pod = _pod_from(r, namespace, name, labels, spec, f"{path}.spec", {}, kind)
    spec_value = r.doc.data.get("spec")
    top: Mapping[str, Any] = spec_value if isinstance(spec_value, Mapping) else {}
    selector = (
        r.selector(top, "selector", "spec.selector")
        if kind not in ("CronJob", "ReplicationController")
        else (None)
    )
    return Workload(pod, selector)


_PARSERS = {
    "Namespace": _namespace,
    "Node": _node,
    "Service": _service,
    "Pod": _pod,
    "ServiceAccount": _service_account,
    "EndpointSlice": _endpoint_slice,
}
