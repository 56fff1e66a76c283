"""ClusterSnapshot: the endpoints policies act on, as immutable values.

A snapshot holds namespaces, pods (pod-network and host-network), nodes, services (with their
ports) and the EndpointSlices given in the manifests. Pod IPs
are the addresses policies see; a host-network pod's IP is its node's. A namespace that pods
refer to but no manifest declares is synthesized with only its ``kubernetes.io/metadata.name``
label (the control plane sets that label on every namespace).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kubefence.ir.addresses import IPAddress, IPNetwork
from kubefence.ir.ports import ContainerPort, Protocol
from kubefence.ir.provenance import Source
from kubefence.ir.selectors import Labels

__all__ = [
    "NAME_LABEL",
    "ClusterSnapshot",
    "EndpointSlice",
    "Namespace",
    "Node",
    "Pod",
    "Service",
    "ServiceAccount",
    "ServicePort",
    "SlicePort",
]

NAME_LABEL = "kubernetes.io/metadata.name"


@dataclass(frozen=True, slots=True)
class Namespace:
    """A namespace and its labels (always including ``kubernetes.io/metadata.name``)."""

    name: str
    labels: Labels
    source: Source | None = None


@dataclass(frozen=True, slots=True)
class Node:
    """A node: its labels, the addresses from ``status.addresses`` and the ranges its pods'
    addresses come from (``spec.podCIDR`` / ``spec.podCIDRs``)."""

    name: str
    labels: Labels
    addresses: tuple[IPAddress, ...]
    source: Source | None = None
    pod_cidrs: tuple[IPNetwork, ...] = ()


@dataclass(frozen=True, slots=True)
class Pod:
    """A pod, or a workload's representative pod (``workload`` names the controller kind).

    ``ips`` are the pod's addresses, the first being the one flows use; ``ip_synthesized``
    says kubefence made the address up because the manifest had none.
    """

    namespace: str
    name: str
    labels: Labels
    ips: tuple[IPAddress, ...]
    node: str | None = None
    host_network: bool = False
    ports: tuple[ContainerPort, ...] = ()
    service_account: str = "default"
    workload: str | None = None
    ip_synthesized: bool = False
    source: Source | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def ip(self) -> IPAddress:
        return self.ips[0]


@dataclass(frozen=True, slots=True)
class ServicePort:
    """One ``spec.ports[*]`` entry of a Service (core/v1 ServicePort).

    ``target`` is the ``targetPort``: a number, or the name of a container port of the
    backing pods; the API defaults it to ``port`` (and ``protocol`` to TCP).
    """

    protocol: Protocol
    port: int
    target: int | str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Service:
    """A Service: its selector (empty: none, its endpoints come from EndpointSlices alone),
    ports and own labels (what Cilium's ``k8sServiceSelector`` matches). Policies act after
    DNAT; only Service rules (Calico ``services``, Cilium ``toServices``) read Services."""

    namespace: str
    name: str
    selector: Labels
    ports: tuple[ServicePort, ...] = ()
    source: Source | None = None
    labels: Labels = field(default_factory=Labels)


@dataclass(frozen=True, slots=True)
class SlicePort:
    """One ``ports[*]`` entry of an EndpointSlice; ``port`` None means the ports are not
    restricted (discovery.k8s.io/v1 EndpointPort)."""

    protocol: Protocol
    port: int | None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class EndpointSlice:
    """An EndpointSlice (discovery.k8s.io/v1): the Service it belongs to (the
    ``kubernetes.io/service-name`` label, None without it), the addresses of every endpoint,
    whatever its ``conditions`` (as Calico's Felix uses them), and its ports. An FQDN slice
    keeps no addresses."""

    namespace: str
    name: str
    service: str | None
    addresses: tuple[IPAddress, ...]
    ports: tuple[SlicePort, ...]
    source: Source | None = None


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    """A ServiceAccount (v1): its labels are what Calico's ``serviceAccountSelector`` and
    ``serviceAccounts.selector`` match, as the pods' ``pcsa.<key>`` labels (``cluster.views``)."""

    namespace: str
    name: str
    labels: Labels
    source: Source | None = None


@dataclass(frozen=True, slots=True)
class ClusterSnapshot:
    """Everything policies are resolved against; build with ``ClusterSnapshot.build``."""

    namespaces: Mapping[str, Namespace]
    pods: tuple[Pod, ...]
    nodes: Mapping[str, Node] = field(default_factory=dict)
    services: tuple[Service, ...] = ()
    accounts: Mapping[tuple[str, str], ServiceAccount] = field(default_factory=dict)
    endpoint_slices: tuple[EndpointSlice, ...] = ()

    @classmethod
    def build(
        cls,
        namespaces: Iterable[Namespace] = (),
        pods: Iterable[Pod] = (),
        nodes: Iterable[Node] = (),
        services: Iterable[Service] = (),
        accounts: Iterable[ServiceAccount] = (),
        endpoint_slices: Iterable[EndpointSlice] = (),
    ) -> ClusterSnapshot:
        by_name = {ns.name: _with_name_label(ns) for ns in namespaces}
        pod_list = tuple(pods)
        for pod in pod_list:
            by_name.setdefault(pod.namespace, Namespace(pod.namespace, Labels({NAME_LABEL: pod.namespace})))
        by_account = {(a.namespace, a.name): a for a in accounts}
        return cls(
            by_name,
            pod_list,
            {n.name: n for n in nodes},
            tuple(services),
            by_account,
            tuple(endpoint_slices),
        )

    def account_labels(self, namespace: str, name: str) -> Labels | None:
        """The labels of ServiceAccount ``namespace/name`` (None when it is not given)."""
        account = self.accounts.get((namespace, name))
        return account.labels if account is not None else None

    def slices_of(self, namespace: str, name: str) -> tuple[EndpointSlice, ...]:
        """The EndpointSlices of Service ``namespace/name`` (labelled
        ``kubernetes.io/service-name: name`` in that namespace), in input order."""
        return tuple(s for s in self.endpoint_slices if s.namespace == namespace and s.service == name)

    def service(self, namespace: str, name: str) -> Service | None:
        """Service ``namespace/name``, when the input gives it."""
        return next((s for s in self.services if s.namespace == namespace and s.name == name), None)

    def namespace_labels(self, name: str) -> Labels:
        ns = self.namespaces.get(name)
        return ns.labels if ns is not None else Labels({NAME_LABEL: name})

    def pod(self, key: str) -> Pod | None:
        """The pod named ``namespace/name``."""
        for pod in self.pods:
            if pod.key == key:
                return pod
        return None


def _with_name_label(ns: Namespace) -> Namespace:
    if ns.labels.get(NAME_LABEL) == ns.name:
        return ns
    return Namespace(ns.name, ns.labels.with_label(NAME_LABEL, ns.name), ns.source)
