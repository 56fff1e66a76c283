"""Service peers (Calico ``services``) bound to the endpoints of their Service.

Felix turns a rule's Service into an IP set built from the Service's EndpointSlices
(felix/serviceindex/serviceindex.go ``membersFromEndpointSlice``): every endpoint address of
every slice, whatever its conditions; in a destination, each address *with each port* of its
slice (a slice port without a number adds nothing), in a source only the addresses
(felix/calc/rule_scanner.go). So a destination Service becomes one rule per slice: the
slice's addresses as /32 or /128 blocks, on the slice's ports (within the rule's protocol).

The input's EndpointSlices of a Service are used when there are some. Otherwise the slices
are what the EndpointSlice controller makes of the Service's selector: the pods of its
namespace whose labels carry the selector, each on its ports' targetPorts (a named
targetPort is looked up on the pod's container ports of the same protocol, and left out
where the pod declares no such port; kubernetes pkg/api/v1/pod ``FindPort``). A Service
that is not in the input, or has no selector and no slice, has no endpoints: the rule
matches nothing, with a warning.

Cilium's ``kube-apiserver`` entity is the endpoints of Service default/kubernetes: the agent's
EndpointSlice watcher gives their addresses the ``reserved:kube-apiserver`` label (cilium/cilium
pull 17823, issue 29432). Without such a slice in the input it is every node address, with a
warning.

Cilium's ``toServices`` (``ServiceBackendsPeer``) names Services by name or by their own
labels; a Service with a pod selector becomes that selector within the Service's namespace,
one without becomes CIDRs of its endpoint addresses, which like every Cilium CIDR match only
addresses outside the cluster (cilium/cilium pkg/policy/k8s/service.go ``processRule``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from kubefence.engine.tiers import NOTHING
from kubefence.ir.addresses import IPAddress, IPBlock
from kubefence.ir.diagnostics import Diagnostic, Severity
from kubefence.ir.model import (
    CompoundPeer,
    Entity,
    EntityPeer,
    ExternalBlockPeer,
    IPBlockPeer,
    Peer,
    PodPeer,
    PodSelection,
    Policy,
    Rule,
    ServiceBackendsPeer,
    ServicePeer,
    leaf_peers,
    map_peers,
)
from kubefence.ir.ports import PortRange, Protocol
from kubefence.ir.selectors import LabelSelector

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from kubefence.cluster.snapshot import ClusterSnapshot, Pod, Service, ServicePort
    from kubefence.ir.ports import PortMatch

__all__ = [
    "SERVICE_SUBJECT",
    "Endpoints",
    "api_server",
    "bind_services",
    "has_services",
    "service_backends",
    "service_endpoints",
    "service_subject",
]


@dataclass(frozen=True, slots=True)
class Endpoints:
    """One EndpointSlice's worth of endpoints: addresses that share the same ports."""

    addresses: tuple[IPAddress, ...]
    ports: tuple[tuple[Protocol, int], ...]


def _target(pod: Pod, port: ServicePort) -> tuple[Protocol, int] | None:
    if isinstance(port.target, int):
        return port.protocol, port.target
    for declared in pod.ports:
        if declared.name == port.target and declared.protocol is port.protocol:
            return port.protocol, declared.port
    return None


def service_endpoints(
    snapshot: ClusterSnapshot, namespace: str, name: str
) -> tuple[tuple[Endpoints, ...], str | None]:
    """The endpoints of Service ``namespace/name`` grouped as slices, and why there are none
    when the input cannot tell (None: the groups are what the cluster has)."""
    slices = snapshot.slices_of(namespace, name)
    if slices:
        return tuple(
            Endpoints(s.addresses, tuple((p.protocol, p.port) for p in s.ports if p.port is not None))
            for s in slices
        ), None
    service = snapshot.service(namespace, name)
    if service is None:
        return (), f"Service {namespace}/{name} is not in the input"
    if not service.selector:
        return (), f"Service {namespace}/{name} has no selector and the input gives no EndpointSlice of it"
    groups: dict[tuple[tuple[Protocol, int], ...], list[IPAddress]] = {}
    selector = LabelSelector.of(service.selector)
    for pod in snapshot.pods:
        if pod.namespace == namespace and selector.matches(pod.labels):
            found = (_target(pod, port) for port in service.ports)
            ports = tuple(sorted({p for p in found if p is not None}, key=lambda p: (p[0].value, p[1])))
            groups.setdefault(ports, []).extend(pod.ips)
    return tuple(Endpoints(tuple(addresses), ports) for ports, addresses in groups.items()), None


_API_SERVER = EntityPeer(Entity.KUBE_APISERVER)

# A policy subject that is the backend pods of a Service (an Antrea appliedTo group with a
# serviceReference): a selection on this label, valued ``namespace/name``, which selects no pod
# until ``bind_services`` replaces it with the Service's selector in the Service's namespace.
SERVICE_SUBJECT = "kubefence.io/applied-to-service"


def service_subject(peer: ServiceBackendsPeer) -> PodSelection:
    """The placeholder subject for the backend pods of ``peer``'s Service (named by name)."""
    namespace = peer.namespace or ""
    return PodSelection(LabelSelector.of({SERVICE_SUBJECT: f"{namespace}/{peer.name}"}), namespace=namespace)


def _subject_service(policy: Policy) -> tuple[str, str] | None:
    selector = policy.subject.pod_selector
    if not isinstance(selector, LabelSelector):
        return None
    ref = dict(selector.match_labels).get(SERVICE_SUBJECT)
    if ref is None:
        return None
    namespace, _, name = ref.partition("/")
    return namespace, name


def _bound_later(peer: Peer) -> bool:
    return isinstance(peer, ServicePeer | ServiceBackendsPeer) or peer == _API_SERVER


def has_services(policy: Policy) -> bool:
    """Whether the policy names Services (or the API server, the endpoints of one), in its
    rules or as its subject."""
    peers = (p for r in policy.rules for p in leaf_peers(r.peers))
    return _subject_service(policy) is not None or any(_bound_later(p) for p in peers)


def api_server(snapshot: ClusterSnapshot) -> tuple[Peer, str | None]:
    """The peer of the API server's addresses, and a note when it is approximated."""
    addresses = [a for s in snapshot.slices_of("default", "kubernetes") for a in s.addresses]
    if addresses:
        return CompoundPeer(any_of=_blocks(addresses)), None
    why = (
        "the input gives no EndpointSlice of Service default/kubernetes, so the kube-apiserver "
        "entity is approximated by every node address"
    )
    return EntityPeer(Entity.NODES), why


def _named(peer: ServiceBackendsPeer, service: Service) -> bool:
    if peer.namespace is not None and service.namespace != peer.namespace:
        return False
    if peer.name is not None:
        return service.name == peer.name
    return peer.selector is not None and peer.selector.matches(service.labels)


def service_backends(
    snapshot: ClusterSnapshot, peer: ServiceBackendsPeer
) -> tuple[tuple[Peer, ...], str | None]:
    """The peers of the backends ``peer`` names (Cilium ``toServices``, Antrea
    ``serviceReference``), and why there are none when the input cannot tell."""
    services = [s for s in snapshot.services if _named(peer, s)]
    if not services:
        return (), f"no Service of the input is the {str(peer).removeprefix('backends of ')}"
    out: list[Peer] = []
    for service in services:
        if service.selector:
            if peer.pod_selectors:
                selection = PodSelection(LabelSelector.of(service.selector), namespace=service.namespace)
                out.append(PodPeer(selection))
            continue
        if not peer.outside_endpoints:
            continue
        addresses = {a for s in snapshot.slices_of(service.namespace, service.name) for a in s.addresses}
        blocks = (IPBlock(ipaddress.ip_network(a)) for a in _ordered(addresses))
        out += (IPBlockPeer(b) if peer.cidrs_match_nodes else ExternalBlockPeer(b) for b in blocks)
    if not out:
        named = ", ".join(f"{s.namespace}/{s.name}" for s in services)
        if not peer.pod_selectors and any(s.selector for s in services):
            return (), f"Service {named} has a selector, and before 1.17 Cilium's toServices skips those"
        if not peer.outside_endpoints:
            return (), f"Service {named} has no selector (a serviceReference to it has no members)"
        return (), f"Service {named} has no selector and no EndpointSlice with addresses"
    return tuple(out), None


def _ordered(addresses: Iterable[IPAddress]) -> list[IPAddress]:
    return sorted(set(addresses), key=lambda a: (a.version, int(a)))


def _blocks(addresses: Sequence[IPAddress]) -> tuple[Peer, ...]:
    return tuple(IPBlockPeer(IPBlock(ipaddress.ip_network(a))) for a in _ordered(addresses)) or (NOTHING,)


def _within(
    rule_ports: tuple[PortMatch, ...] | None, ports: Sequence[tuple[Protocol, int]]
) -> tuple[PortRange, ...]:
    """The slice's ports that the rule's own port matches (its protocol) also take."""
    ranges = [m for m in rule_ports or () if isinstance(m, PortRange)]
    return tuple(
        PortRange(proto, number, number)
        for proto, number in ports
        if rule_ports is None or any(r.protocol is proto and r.start <= number <= r.end for r in ranges)
    )


def _bound(rule: Rule, peer: ServicePeer, groups: tuple[Endpoints, ...]) -> list[Rule]:
    if not peer.ports:
        return [replace(rule, peers=_blocks([a for g in groups for a in g.addresses]))]
    parts = []
    for group in groups:
        ports = _within(rule.ports, group.ports)
        if group.addresses and ports:
            parts.append(replace(rule, peers=_blocks(group.addresses), ports=ports))
    return parts or [replace(rule, peers=(NOTHING,))]


def _bind_rule(rule: Rule, snapshot: ClusterSnapshot, unresolved: Callable[..., None]) -> list[Rule]:
    peer = next((p for p in rule.peers if isinstance(p, ServicePeer)), None)
    if peer is not None:  # Calico: a Service is a rule's only peer
        groups, missing = service_endpoints(snapshot, peer.namespace, peer.name)
        if missing is not None:
            unresolved(rule, missing)
        return _bound(rule, peer, groups)
    if not any(_bound_later(p) for p in leaf_peers(rule.peers)):
        return [rule]

    def bind(peer: Peer) -> Peer:
        if peer == _API_SERVER:
            found_peer, note = api_server(snapshot)
            if note is not None:
                unresolved(rule, note, "not-modelled")
            return found_peer
        if not isinstance(peer, ServiceBackendsPeer):
            return peer
        found, missing = service_backends(snapshot, peer)
        if missing is not None:
            unresolved(rule, missing)
        return found[0] if len(found) == 1 else CompoundPeer(any_of=found) if found else NOTHING

    return [map_peers(rule, bind)]


def bind_services(policy: Policy, snapshot: ClusterSnapshot, notes: list[Diagnostic]) -> Policy:
    """``policy`` with its Service peers bound: a Calico rule naming a Service replaced by the
    rules of its endpoints (one per slice, in the rule's place and with its number), Cilium's
    ``toServices`` entries by the peers of their backends; a note for each Service the input
    cannot resolve."""

    def unresolved(rule: Rule, why: str, code: str = "service-unresolved") -> None:
        tail = ", so the rule matches no endpoint of it" if code == "service-unresolved" else ""
        notes.append(
            Diagnostic.at(
                Severity.WARNING,
                code,
                f"{policy.key} {rule.label}: {why}{tail}",
                rule.source,
            )
        )

    rules = [bound for rule in policy.rules for bound in _bind_rule(rule, snapshot, unresolved)]
    return replace(policy, subject=_bound_subject(policy, snapshot, notes), rules=tuple(rules))


def _bound_subject(policy: Policy, snapshot: ClusterSnapshot, notes: list[Diagnostic]) -> PodSelection:
    """The subject with a Service placeholder replaced by the Service's selector in its
    namespace; a Service the input lacks, or one without a selector, leaves the placeholder
    (no pod) with a warning (Antrea: an empty group, clustergroup.go processServiceReference)."""
    ref = _subject_service(policy)
    if ref is None:
        return policy.subject
    namespace, name = ref
    service = snapshot.service(namespace, name)
    if service is not None and service.selector:
        return PodSelection(LabelSelector.of(service.selector), namespace=namespace)
    why = "is not in the input" if service is None else "has no selector"
    notes.append(
        Diagnostic.at(
            Severity.WARNING,
            "service-unresolved",
            f"{policy.key}: appliedTo Service {namespace}/{name} {why}, so the policy applies to no pod",
            policy.source,
        )
    )
    return policy.subject
