"""Service peers bound to their endpoints (engine/services.py).

Sources:
- projectcalico/calico felix/serviceindex/serviceindex.go ``membersFromEndpointSlice``: with
  ports (a destination), one member per endpoint address and slice port that has a number
  ("we will consider a lack of port to mean no IP set membership"); without (a source), every
  endpoint address; endpoint conditions are not looked at.
- kubernetes pkg/api/v1/pod ``FindPort``: a named targetPort is the container port with that
  name *and* the Service port's protocol; the EndpointSlice controller leaves a port out for a
  pod that does not declare it (pkg/controller/endpointslice ``getEndpointPorts``).
"""

from __future__ import annotations

import ipaddress

from kubefence.cluster.snapshot import ClusterSnapshot, EndpointSlice, Pod, Service, ServicePort, SlicePort
from kubefence.engine.profile_cilium import cilium_options
from kubefence.engine.profiles import parse_profile
from kubefence.engine.services import (
    Endpoints,
    api_server,
    bind_services,
    service_backends,
    service_endpoints,
)
from kubefence.engine.tiers import CILIUM, NOTHING
from kubefence.ir.addresses import IPBlock
from kubefence.ir.diagnostics import Diagnostic
from kubefence.ir.model import (
    Action,
    CompoundPeer,
    Direction,
    Entity,
    EntityPeer,
    ExternalBlockPeer,
    IPBlockPeer,
    PodPeer,
    PodSelection,
    Policy,
    Rule,
    ServiceBackendsPeer,
    ServicePeer,
    Tier,
    TierKind,
)
from kubefence.ir.ports import ContainerPort, PortRange, Protocol
from kubefence.ir.provenance import Source
from kubefence.ir.selectors import Labels, LabelSelector

TCP, UDP = Protocol.TCP, Protocol.UDP
SRC = Source("p.yaml", 1, "calico", "NetworkPolicy a/p")
SRC_CILIUM = Source("p.yaml", 1, "cilium", "CiliumNetworkPolicy a/p")


def ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


def pod(name: str, address: str, *ports: ContainerPort, app: str = "api", namespace: str = "a") -> Pod:
    return Pod(namespace, name, Labels({"app": app}), (ip(address),), ports=ports)


API = Service("a", "api", Labels({"app": "api"}), (ServicePort(TCP, 80, "http"), ServicePort(UDP, 53, 5353)))
PODS = (
    pod("api-0", "10.0.0.1", ContainerPort(8080, TCP, "http")),
    pod("api-1", "10.0.0.2", ContainerPort(9090, TCP, "http")),
    pod("api-2", "10.0.0.3", ContainerPort(8080, UDP, "http")),  # the name, another protocol
    pod("web-0", "10.0.0.4", ContainerPort(8080, TCP, "http"), app="web"),
    pod("api-0", "10.1.0.1", ContainerPort(8080, TCP, "http"), namespace="b"),
)


def snapshot(*slices: EndpointSlice, services: tuple[Service, ...] = (API,)) -> ClusterSnapshot:
    return ClusterSnapshot.build(pods=PODS, services=services, endpoint_slices=slices)


def test_without_slices_the_selector_makes_them_per_pod_ports() -> None:
    groups, missing = service_endpoints(snapshot(), "a", "api")
    assert missing is None
    assert set(groups) == {
        Endpoints((ip("10.0.0.1"),), ((TCP, 8080), (UDP, 5353))),
        Endpoints((ip("10.0.0.2"),), ((TCP, 9090), (UDP, 5353))),
        Endpoints((ip("10.0.0.3"),), ((UDP, 5353),)),  # "http" is UDP there: not the TCP port
    }


def test_slices_of_the_input_win_and_a_port_without_number_adds_nothing() -> None:
    given = EndpointSlice(
        "a", "api-x", "api", (ip("10.0.0.9"), ip("10.0.0.1")), (SlicePort(TCP, 7000), SlicePort(TCP, None))
    )
    groups, missing = service_endpoints(snapshot(given), "a", "api")
    assert missing is None
    assert groups == (Endpoints((ip("10.0.0.9"), ip("10.0.0.1")), ((TCP, 7000),)),)


def test_unknown_or_selectorless_services_have_no_endpoints() -> None:
    assert service_endpoints(snapshot(), "a", "nope") == ((), "Service a/nope is not in the input")
    bare = Service("a", "ext", Labels({}), (ServicePort(TCP, 443, 443),))
    groups, missing = service_endpoints(snapshot(services=(bare,)), "a", "ext")
    assert groups == () and missing is not None and "no selector" in missing


def policy(*rules: Rule) -> Policy:
    tier = Tier(1000.0, "default", TierKind.ORDERED)
    subject = PodSelection(LabelSelector.of({"app": "web"}), namespace="a")
    return Policy("NetworkPolicy", "p", "a", tier, 0.0, subject, frozenset({Direction.EGRESS}), rules, SRC)


def rule(peer: ServicePeer, ports: tuple[PortRange, ...] | None = None, index: int = 0) -> Rule:
    return Rule(Direction.EGRESS, Action.ALLOW, (peer,), ports, index, SRC)


def block(text: str) -> IPBlockPeer:
    return IPBlockPeer(IPBlock(ipaddress.ip_network(text)))


def test_a_destination_becomes_one_rule_per_slice_on_its_ports_within_the_rule_protocol() -> None:
    notes: list[Diagnostic] = []
    bound = bind_services(
        policy(
            rule(ServicePeer("a", "api", ports=True), (PortRange(TCP),)), rule(ServicePeer("a", "x"), None, 1)
        ),
        snapshot(),
        notes,
    )
    got = {(r.peers, r.ports, r.index) for r in bound.rules}
    assert got == {
        ((block("10.0.0.1/32"),), (PortRange(TCP, 8080, 8080),), 0),
        ((block("10.0.0.2/32"),), (PortRange(TCP, 9090, 9090),), 0),
        ((NOTHING,), None, 1),
    }
    assert [n.code for n in notes] == ["service-unresolved"] and "a/x" in notes[0].message


def test_a_source_is_every_endpoint_address_on_the_rule_ports() -> None:
    ports = (PortRange(TCP, 80, 80),)
    bound = bind_services(policy(rule(ServicePeer("a", "api"), ports)), snapshot(), [])
    (only,) = bound.rules
    assert only.peers == (block("10.0.0.1/32"), block("10.0.0.2/32"), block("10.0.0.3/32"))
    assert only.ports == ports


def test_service_backends_are_pod_selectors_or_outside_cidrs() -> None:
    """cilium/cilium pkg/policy/k8s/service.go ``processRule``: a Service with a selector adds
    that selector with ``k8s:io.kubernetes.pod.namespace`` of the Service (``appendSelector``),
    one without adds its endpoints as generated toCIDRSet entries (``appendEndpoints``)."""
    ext = Service("b", "ext", Labels({}), (), labels=Labels({"tier": "edge"}))
    api_b = Service("b", "api", Labels({"app": "api"}), labels=Labels({"tier": "edge"}))
    given = EndpointSlice("b", "ext-1", "ext", (ip("203.0.113.5"), ip("203.0.113.4")), (SlicePort(TCP, 443),))
    snap = snapshot(given, services=(API, api_b, ext))
    in_a = PodPeer(
        PodSelection(
            LabelSelector.of({"app": "api"}),
            namespace="a",
        )
    )
    in_b = PodPeer(
        PodSelection(
            LabelSelector.of({"app": "api"}),
            namespace="b",
        )
    )
    assert service_backends(snap, ServiceBackendsPeer(None, name="api")) == ((in_a, in_b), None)
    assert service_backends(snap, ServiceBackendsPeer("b", name="api")) == ((in_b,), None)
    outside = tuple(ExternalBlockPeer(IPBlock(ipaddress.ip_network(f"203.0.113.{n}/32"))) for n in (4, 5))
    edge = ServiceBackendsPeer("b", selector=LabelSelector.of({"tier": "edge"}))
    assert service_backends(snap, edge) == ((in_b, *outside), None)
    none, why = service_backends(snap, ServiceBackendsPeer("c", name="api"))
    assert none == () and why is not None and "no Service of the input" in why
    bare, why = service_backends(snapshot(services=(ext,)), ServiceBackendsPeer("b", name="ext"))
    assert bare == () and why is not None and "no EndpointSlice" in why


def test_kube_apiserver_is_the_endpoints_of_the_kubernetes_service() -> None:
    """cilium/cilium pull 17823 ("EP watcher associates a kube-apiserver backend IP with its
    corresponding reserved:kube-apiserver label") and issue 29432 (the label's source is the
    Endpoints / EndpointSlice watcher): the entity is the addresses of default/kubernetes."""
    given = EndpointSlice("default", "kubernetes", "kubernetes", (ip("172.18.0.2"),), (SlicePort(TCP, 6443),))
    peer, note = api_server(snapshot(given))
    assert note is None
    assert peer == CompoundPeer(any_of=(block("172.18.0.2/32"),))
    fallback, why = api_server(snapshot())
    assert fallback == EntityPeer(Entity.NODES) and why is not None and "approximated" in why
    rule = Rule(Direction.EGRESS, Action.ALLOW, (EntityPeer(Entity.KUBE_APISERVER),), None, 0, SRC)
    notes: list[Diagnostic] = []
    (bound,) = bind_services(policy(rule), snapshot(), notes).rules
    assert bound.peers == (EntityPeer(Entity.NODES),) and [n.code for n in notes] == ["not-modelled"]


def test_cidr_match_nodes_lets_service_endpoint_cidrs_select_nodes() -> None:
    """cilium/cilium Documentation (policy language, "CIDR based"): node addresses are selected
    by CIDR rules only with ``policy-cidr-match-mode=nodes``; the CIDRs toServices makes of a
    selectorless Service's endpoints are CIDR rules like any other (service.go appendEndpoints)."""
    ext = Service("b", "ext", Labels({}))
    given = EndpointSlice("b", "ext-1", "ext", (ip("172.18.0.2"),), (SlicePort(TCP, 443),))
    snap = snapshot(given, services=(ext,))
    outside, _ = service_backends(snap, ServiceBackendsPeer("b", name="ext"))
    assert outside == (ExternalBlockPeer(IPBlock(ipaddress.ip_network("172.18.0.2/32"))),)
    nodes, _ = service_backends(snap, ServiceBackendsPeer("b", name="ext", cidrs_match_nodes=True))
    assert nodes == (block("172.18.0.2/32"),)
    rule = Rule(Direction.EGRESS, Action.ALLOW, (ServiceBackendsPeer("b", name="ext"),), None, 0, SRC)
    cilium = Policy(
        "CiliumNetworkPolicy",
        "p",
        "a",
        CILIUM,
        0.0,
        policy(rule).subject,
        frozenset({Direction.EGRESS}),
        (rule,),
        SRC_CILIUM,
    )
    viewed = cilium_options(parse_profile("cilium,policy-cidr-match-mode=nodes"), cilium)
    assert viewed.rules[0].peers == (ServiceBackendsPeer("b", name="ext", cidrs_match_nodes=True),)
    old = cilium_options(parse_profile("cilium@1.16"), cilium)
    assert old.rules[0].peers == (ServiceBackendsPeer("b", name="ext", pod_selectors=False),)
