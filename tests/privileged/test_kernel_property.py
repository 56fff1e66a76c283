"""Hypothesis against the kernel: random labels and random NetworkPolicy / Admin / Baseline
policies on a fixed lab (six pods on two nodes, one of them host-network); the agent enforces
them and real packets must match the engine's verdicts exactly."""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubefence.agent.lab_enforcer import AgentEnforcer
from kubefence.cluster.snapshot import ClusterSnapshot, Namespace, Node, Pod
from kubefence.engine.probes import Probe
from kubefence.ir.model import Policy
from kubefence.ir.ports import ContainerPort, Protocol
from kubefence.ir.selectors import Labels
from kubefence.lab.run import Lab
from strategies import NAMESPACES, labels, policies

PROBES = [Probe(80, Protocol.TCP), Probe(53, Protocol.UDP), Probe(81, Protocol.SCTP)]
PORTS = (ContainerPort(80, Protocol.TCP, "web"), ContainerPort(53, Protocol.UDP, "dns"))
LAYOUT = [  # namespace, node, address, host network
    ("a", "n1", "10.1.2.1", False),
    ("b", "n1", "10.1.2.2", False),
    ("c", "n2", "10.1.3.3", False),
    ("a", "n2", "10.2.0.4", False),
    ("b", "n2", "10.1.2.5", False),
    ("c", "n1", "172.18.0.2", True),
]
NODES = [
    Node("n1", Labels({"os": "linux"}), (ipaddress.ip_address("172.18.0.2"),)),
    Node("n2", Labels({"os": "linux"}), (ipaddress.ip_address("172.18.0.3"),)),
]


def snapshot(pod_labels: list[dict[str, str]]) -> ClusterSnapshot:
    pods = [
        Pod(ns, f"p{i}", Labels(pod_labels[i]), (ipaddress.ip_address(ip),), node, host, PORTS)
        for i, (ns, node, ip, host) in enumerate(LAYOUT)
    ]
    return ClusterSnapshot.build([Namespace(n, Labels({"ns": n})) for n in NAMESPACES], pods, NODES)


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab.up(snapshot([{}] * len(LAYOUT)), prefix=f"kfh{secrets.token_hex(2)}", probes=PROBES) as built:
        yield built


@settings(
    max_examples=int(os.environ.get("KUBEFENCE_KERNEL_EXAMPLES", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(labels, min_size=len(LAYOUT), max_size=len(LAYOUT)), policies())
def test_kernel_equals_engine(lab: Lab, pod_labels: list[dict[str, str]], pols: list[Policy]) -> None:
    report = lab.check(snapshot(pod_labels), pols, PROBES, AgentEnforcer)
    assert [d.to_json() for d in report.discrepancies] == []
