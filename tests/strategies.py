"""Hypothesis strategies shared by the property tests: small random clusters (three
namespaces, pods on one node, some host-network) and random NetworkPolicy / Admin / Baseline
policies in the IR, with selectors, CIDRs with exceptions, node peers and named ports; and
``vendor_policies``: the tier kinds, peers and selectors of the Calico, Cilium and Antrea
dialects (end-of-tier deny, deny-before-allow union, Pass to NetworkPolicy, entities,
compound peers, CNI label views, Calico expressions, except-ports, L7 rules)."""

from __future__ import annotations

import ipaddress

from hypothesis import strategies as st

from kubefence.cluster.snapshot import ClusterSnapshot, Namespace, Node, Pod
from kubefence.engine.probes import Probe
from kubefence.ir import expressions as ex
from kubefence.ir.addresses import IPBlock
from kubefence.ir.l7 import HTTPMatch, HTTPRule, MatchKind, TextMatch
from kubefence.ir.model import (
    ADMIN,
    BASELINE,
    NETWORK_POLICY,
    Action,
    AnyPeer,
    CompoundPeer,
    Direction,
    Entity,
    EntityPeer,
    ExternalBlockPeer,
    IPBlockPeer,
    LabelView,
    NodePeer,
    PodPeer,
    PodSelection,
    Policy,
    Rule,
    Tier,
    TierKind,
)
from kubefence.ir.ports import ContainerPort, NamedPort, PortRange, Protocol
from kubefence.ir.provenance import Source
from kubefence.ir.selectors import Labels, LabelSelector, Operator, Requirement

NAMESPACES = ("a", "b", "c")
SRC = Source("gen.yaml", 1, "generated", "generated")
PROTOCOLS = (Protocol.TCP, Protocol.UDP, Protocol.SCTP)
PROBES = [Probe(p, proto) for p in (53, 80, 81) for proto in PROTOCOLS]
# ICMP message types (vendor dialects match them; the kernel backends never see them)
ICMP_PROBES = [Probe(0, Protocol.ICMP), Probe(8, Protocol.ICMP), Probe(128, Protocol.ICMPV6)]

labels = st.dictionaries(st.sampled_from(["app", "tier"]), st.sampled_from(["x", "y"]), max_size=2)
requirement = st.builds(
    lambda key, op, values: Requirement(
        key, op, frozenset(values) if op in (Operator.IN, Operator.NOT_IN) else frozenset()
    ),
    st.sampled_from(["app", "tier", "ns"]),
    st.sampled_from(list(Operator)),
    st.sets(st.sampled_from(["x", "y", "a", "b"]), min_size=1, max_size=2),
)
selector = st.builds(
    lambda ls, reqs: LabelSelector(tuple(sorted(ls.items())), tuple(reqs)),
    st.dictionaries(st.sampled_from(["app", "tier"]), st.sampled_from(["x", "y"]), max_size=1),
    st.lists(requirement, max_size=1),
)
ns_selector = st.builds(
    lambda ls: LabelSelector(tuple(sorted(ls.items()))),
    st.dictionaries(st.just("ns"), st.sampled_from(NAMESPACES), max_size=1),
)
selection = st.one_of(
    st.builds(lambda s, ns: PodSelection(s, namespace=ns), selector, st.sampled_from(NAMESPACES)),
    st.builds(lambda s, ns: PodSelection(s, namespace_selector=ns), selector, ns_selector),
)
cidr = st.sampled_from(["10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "0.0.0.0/0", "172.18.0.0/24", "fd00::/8"])
ALL_PODS = PodPeer(PodSelection(LabelSelector(), namespace_selector=LabelSelector()))
peer = st.one_of(
    st.just(ALL_PODS),  # broad peers make later tiers matter (Pass, then isolation or baseline)
    st.just(AnyPeer()),
    st.builds(PodPeer, selection),
    st.builds(lambda c: IPBlockPeer(IPBlock(ipaddress.ip_network(c))), cidr),
    st.builds(
        lambda c: IPBlockPeer(IPBlock(ipaddress.ip_network("10.0.0.0/8"), (ipaddress.ip_network(c),))),
        st.sampled_from(["10.1.0.0/16", "10.1.2.3/32"]),
    ),
    st.builds(NodePeer, st.just(LabelSelector())),
    st.just(AnyPeer()),
)
port = st.one_of(
    st.builds(
        lambda proto, a, w: PortRange(proto, a, a + w),
        st.sampled_from(PROTOCOLS),
        st.sampled_from([53, 80, 81]),
        st.integers(0, 2),
    ),
    st.builds(NamedPort, st.sampled_from(["web", "dns"]), st.sampled_from([None, *PROTOCOLS])),
)


@st.composite
def rules(draw, direction: Direction, actions: list[Action]) -> tuple[Rule, ...]:
    out = []
    for i in range(draw(st.integers(0, 3))):
        ports = draw(st.one_of(st.none(), st.lists(port, min_size=1, max_size=2).map(tuple)))
        peers = tuple(draw(st.lists(peer, min_size=1, max_size=2)))
        out.append(Rule(direction, draw(st.sampled_from(actions)), peers, ports, i, SRC))
    return tuple(out)


@st.composite
def policies(draw) -> list[Policy]:
    out = []
    for n in range(draw(st.integers(0, 6))):
        tier = draw(st.sampled_from([ADMIN, NETWORK_POLICY, BASELINE]))
        actions = [Action.ALLOW] if tier is NETWORK_POLICY else [Action.ALLOW, Action.DENY, Action.PASS]
        ingress = draw(rules(Direction.INGRESS, actions))
        egress = draw(rules(Direction.EGRESS, actions))
        if tier is NETWORK_POLICY:
            ns = draw(st.sampled_from(NAMESPACES))
            subject = PodSelection(draw(selector), namespace=ns)
            directions = frozenset(draw(st.sets(st.sampled_from(list(Direction)), min_size=1)))
        else:
            ns, subject = None, draw(selection)
            directions = frozenset(r.direction for r in ingress + egress)
        rules_ = tuple(r for r in ingress + egress if r.direction in directions)
        out.append(
            Policy("Gen", f"p{n}", ns, tier, draw(st.integers(0, 3)), subject, directions, rules_, SRC)
        )
    return sorted(out, key=lambda p: p.order_key)


@st.composite
def snapshots(draw) -> ClusterSnapshot:
    nodes = [Node("n1", Labels({"os": "linux"}), (ipaddress.ip_address("172.18.0.2"),))]
    pods = []
    for i in range(draw(st.integers(1, 6))):
        ns = draw(st.sampled_from(NAMESPACES))
        host = draw(st.booleans()) and i % 3 == 2
        ip = "172.18.0.2" if host else draw(st.sampled_from(["10.1.2.", "10.1.3.", "10.2.0."])) + str(i + 1)
        ports = tuple(
            draw(
                st.lists(
                    st.builds(
                        ContainerPort,
                        st.sampled_from([53, 80, 81]),
                        st.sampled_from(PROTOCOLS),
                        st.sampled_from([None, "web", "dns"]),
                    ),
                    max_size=3,
                )
            )
        )
        pods.append(Pod(ns, f"p{i}", Labels(draw(labels)), (ipaddress.ip_address(ip),), "n1", host, ports))
    namespaces = [Namespace(n, Labels({"ns": n})) for n in NAMESPACES]
    return ClusterSnapshot.build(namespaces, pods, nodes)


# Vendor dialects -------------------------------------------------------------------------

CALICO_LIKE = Tier(150.0, "calico-like", TierKind.ORDERED_DENY)
ANTREA_LIKE = Tier(50.0, "antrea-like", TierKind.ORDERED, pass_to=NETWORK_POLICY.rank)
CILIUM_LIKE = Tier(180.0, "cilium-like", TierKind.UNION)
# Cilium with allow-localhost=policy: the subject's own node is policed like any peer.
CILIUM_POLICED_LIKE = Tier(185.0, "cilium-policed-like", TierKind.UNION, local_policy=True)
# Weave Net: egress to the own node is never policed.
WEAVE_LIKE = Tier(190.0, "weave-like", TierKind.ISOLATING, local_egress=True)

expr = st.recursive(
    st.one_of(
        st.builds(ex.Has, st.sampled_from(["app", "tier", "io.kubernetes.pod.namespace"])),
        st.builds(
            ex.Compare,
            st.sampled_from(["app", "tier", "pcns.ns"]),
            st.sampled_from(list(ex.Op)),
            st.sampled_from(["x", "y", "a"]),
        ),
        st.builds(
            ex.InSet,
            st.sampled_from(["app", "projectcalico.org/namespace"]),
            st.frozensets(st.sampled_from(["x", "a", "b"]), max_size=2),
            st.booleans(),
        ),
        st.just(ex.All()),
    ),
    lambda inner: st.one_of(
        st.builds(ex.Not, inner),
        st.builds(lambda a, b: ex.And((a, b)), inner, inner),
        st.builds(lambda a, b: ex.Or((a, b)), inner, inner),
    ),
    max_leaves=4,
)
vendor_selection = st.one_of(
    selection,
    st.builds(
        lambda e, ns: PodSelection(e, namespace=ns, view=LabelView.CNI), expr, st.sampled_from(NAMESPACES)
    ),
    st.builds(lambda e, n: PodSelection(e, namespace_selector=n, view=LabelView.CNI), expr, expr),
)
# Cilium's host and remote-node entities depend on the subject's node; Cilium writes them only
# as a rule's own peers, never inside compound peers (model.Entity).
_PLAIN_ENTITIES = [e for e in Entity if e not in (Entity.HOST, Entity.REMOTE_NODE)]
simple_peer = st.one_of(
    peer,
    st.builds(EntityPeer, st.sampled_from(_PLAIN_ENTITIES)),
    st.builds(lambda c: ExternalBlockPeer(IPBlock(ipaddress.ip_network(c))), cidr),
    st.builds(PodPeer, vendor_selection),
)
vendor_peer = st.one_of(
    simple_peer,
    st.builds(EntityPeer, st.sampled_from([Entity.HOST, Entity.REMOTE_NODE, Entity.NODES])),
    st.builds(
        lambda a, b, c: CompoundPeer(tuple(a), tuple(b), tuple(c)),
        st.lists(simple_peer, max_size=2),
        st.lists(simple_peer, max_size=1),
        st.lists(simple_peer, max_size=1),
    ),
)
l7 = st.one_of(
    st.none(),
    st.just(HTTPRule((HTTPMatch(method=TextMatch(MatchKind.EXACT, "GET")),))),
)


icmp_type = st.one_of(
    st.builds(lambda t: PortRange(Protocol.ICMP, t, t), st.sampled_from([0, 8])),
    st.just(PortRange(Protocol.ICMP)),
    st.builds(lambda t: PortRange(Protocol.ICMPV6, t, t), st.sampled_from([128, 129])),
)
vendor_port = st.one_of(port, icmp_type)


@st.composite
def vendor_rules(draw, direction: Direction, actions: list[Action]) -> tuple[Rule, ...]:
    out = []
    for i in range(draw(st.integers(0, 3))):
        ports = draw(st.one_of(st.none(), st.lists(vendor_port, min_size=1, max_size=2).map(tuple)))
        excepts = tuple(draw(st.lists(vendor_port, max_size=1)))
        peers = tuple(draw(st.lists(vendor_peer, min_size=0, max_size=2)))
        action = draw(st.sampled_from(actions))
        rule_l7 = draw(l7) if action is Action.ALLOW else None
        out.append(Rule(direction, action, peers, ports, i, SRC, None, excepts, rule_l7))
    return tuple(out)


@st.composite
def vendor_policies(draw) -> list[Policy]:
    """Policies of every tier kind in one pipeline (the engine must agree on any mix)."""
    out = []
    tiers = [
        ADMIN,
        NETWORK_POLICY,
        BASELINE,
        CALICO_LIKE,
        ANTREA_LIKE,
        CILIUM_LIKE,
        CILIUM_POLICED_LIKE,
        WEAVE_LIKE,
    ]
    for n in range(draw(st.integers(0, 6))):
        tier = draw(st.sampled_from(tiers))
        actions = {
            TierKind.ISOLATING: [Action.ALLOW],
            TierKind.UNION: [Action.ALLOW, Action.DENY],
        }.get(tier.kind, [Action.ALLOW, Action.DENY, Action.PASS, Action.REJECT])
        ingress = draw(vendor_rules(Direction.INGRESS, actions))
        egress = draw(vendor_rules(Direction.EGRESS, actions))
        subject = draw(vendor_selection)
        directions = frozenset(draw(st.sets(st.sampled_from(list(Direction)), min_size=1)))
        isolates = draw(st.one_of(st.none(), st.sets(st.sampled_from(list(Direction))).map(frozenset)))
        rules_ = tuple(r for r in ingress + egress if r.direction in directions)
        priority = draw(st.integers(0, 3))
        out.append(
            Policy("Gen", f"p{n}", None, tier, priority, subject, directions, rules_, SRC, isolates=isolates)
        )
    return sorted(out, key=lambda p: p.order_key)
