"""The incremental engine (and ``serve``) under a CNI profile: policies of every dialect are
kept as loaded and answered for what that CNI enforces, as they come and go."""

from __future__ import annotations

import json
from ipaddress import ip_address
from pathlib import Path
from typing import Any

from kubefence.cli.serve import Service
from kubefence.engine.incremental import Enforcement, IncrementalEngine
from kubefence.engine.prepare import DnsMap
from kubefence.engine.probes import Probe
from kubefence.engine.profiles import parse_profile
from kubefence.ir.ports import Protocol
from kubefence.workspace.load import load_workspace

CLUSTER = """
apiVersion: v1
kind: Namespace
metadata: {name: t1, labels: {zone: tenants, org: acme}}
---
apiVersion: v1
kind: Namespace
metadata: {name: t2, labels: {zone: tenants, org: acme}}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: t1, labels: {app: a}}
spec: {nodeName: n1, containers: [{name: c, image: x}]}
status: {podIP: 10.1.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: t2, labels: {app: b}}
spec: {nodeName: n1, containers: [{name: c, image: x}]}
status: {podIP: 10.1.0.2}
"""

# Antrea ClusterNetworkPolicy with a peer relative to the subject's namespace (§5.2): pods
# may come in from namespaces with the same ``org``, everything else is dropped.
TENANTS = {
    "apiVersion": "crd.antrea.io/v1beta1",
    "kind": "ClusterNetworkPolicy",
    "metadata": {"name": "tenant-isolation"},
    "spec": {
        "priority": 10,
        "appliedTo": [{"namespaceSelector": {"matchLabels": {"zone": "tenants"}}}],
        "ingress": [
            {"action": "Allow", "from": [{"namespaces": {"sameLabels": ["org"]}}]},
            {"action": "Drop", "from": [{"namespaceSelector": {}}]},
        ],
    },
}

TCP80 = Probe(80, Protocol.TCP)


def _engine(tmp_path: Path, cni: str, *manifests: dict[str, Any]) -> IncrementalEngine:
    path = tmp_path / "cluster.yaml"
    path.write_text(CLUSTER + "".join("---\n" + json.dumps(m) + "\n" for m in manifests))
    workspace = load_workspace([str(path)])
    assert not workspace.errors, workspace.errors
    enforcement = Enforcement(parse_profile(cni))
    return IncrementalEngine(workspace.snapshot, workspace.parsed, enforcement, workspace.definitions)


def _event(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, "object": obj}


def test_a_cni_policy_counts_only_under_its_cni(tmp_path: Path) -> None:
    """Antrea's ClusterNetworkPolicy is enforced by Antrea only: under the generic profile it is
    kept, warned about and ignored; under ``antrea`` it decides (semantics reference §6)."""
    generic = _engine(tmp_path, "generic", TENANTS)
    antrea = _engine(tmp_path, "antrea", TENANTS)
    assert [p.name for p in generic.loaded] == ["tenant-isolation"]
    assert generic.policies == () and "Antrea" in str(generic.warnings[0])
    assert generic.check("t1/a", "t2/b", TCP80).allowed
    assert antrea.warnings == [] and antrea.check("t1/a", "t2/b", TCP80).allowed  # same org
    index = Service(generic, []).index()
    assert index["cni"] == "generic" and index["policies"] == 0 and index["warnings"] == 1


def test_namespace_events_re_split_relative_peers(tmp_path: Path) -> None:
    """``sameLabels`` is resolved against the namespaces' labels at each revision: when t2
    moves to another org, t1's pods are dropped at t2's pods, and allowed again after."""
    engine = _engine(tmp_path, "antrea", TENANTS)
    service = Service(engine, [])
    assert engine.check("t1/a", "t2/b", TCP80).allowed
    moved = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "t2", "labels": {"zone": "tenants", "org": "other"}},
    }
    service.events(json.dumps(_event("MODIFIED", moved)).encode())
    assert not engine.check("t1/a", "t2/b", TCP80).allowed
    back = {**moved, "metadata": {"name": "t2", "labels": {"zone": "tenants", "org": "acme"}}}
    service.events(json.dumps(_event("MODIFIED", back)).encode())
    assert engine.check("t1/a", "t2/b", TCP80).allowed


def test_policy_events_report_the_profiles_warnings(tmp_path: Path) -> None:
    """A CNI's own policy sent to a server of another CNI is applied (kept as loaded) and its
    answer says that the CNI ignores it; the check answers' warnings say so too."""
    service = Service(_engine(tmp_path, "calico"), [])
    answer = service.events(json.dumps(_event("ADDED", TENANTS)).encode())
    assert answer["applied"] == 1 and answer["revision"] == 1
    assert any("Antrea" in note and "ignored" in note for note in answer["diagnostics"])
    assert any("tenant-isolation" in w for w in service.warnings)
    assert service.engine.check("t1/a", "t2/b", TCP80).allowed
    deleted = service.events(json.dumps(_event("DELETED", TENANTS)).encode())
    assert deleted["diagnostics"] == [] and service.warnings == []


def test_ipblocks_follow_the_profile(tmp_path: Path) -> None:
    """A CNI whose ipBlocks never select in-cluster pods (the profile's ``ipblock_matches_pods``)
    answers so in the incremental engine too: a deny-all with an ipBlock allow of the pods'
    range lets pod traffic in under the generic profile only if ipBlocks match pods there."""
    allow_range = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "from-range", "namespace": "t2"},
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"ipBlock": {"cidr": "10.1.0.0/24"}}]}],
        },
    }
    for cni in ("generic", "cilium", "calico", "antrea"):
        profile = parse_profile(cni)
        engine = _engine(tmp_path, cni, allow_range)
        assert engine.check("t1/a", "t2/b", TCP80).allowed is profile.ipblock_matches_pods, cni


SECURITY_TIER = {
    "apiVersion": "projectcalico.org/v3",
    "kind": "Tier",
    "metadata": {"name": "security"},
    "spec": {"order": 100, "defaultAction": "Pass"},
}


def _calico_np(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    meta = {"name": name, "namespace": "t2"}
    return {"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy", "metadata": meta, "spec": spec}


def _k8s_deny_all(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": "t2"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }


def _send(service: Service, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    return service.events(json.dumps(_event(kind, obj)).encode())


def test_policies_of_two_apis_with_one_name_are_two_objects(tmp_path: Path) -> None:
    """A Calico NetworkPolicy and a Kubernetes NetworkPolicy may share namespace and name; an
    event about one leaves the other alone (keys carry the dialect)."""
    calico_deny = _calico_np(
        "same", {"selector": "all()", "types": ["Ingress"], "ingress": [{"action": "Deny"}]}
    )
    service = Service(_engine(tmp_path, "calico", calico_deny, _k8s_deny_all("same")), [])
    assert len(service.engine.loaded) == 2
    deleted = _send(service, "DELETED", {**_k8s_deny_all("same"), "spec": None})  # metadata only
    assert deleted["applied"] == 1
    assert [p.dialect for p in service.engine.loaded] == ["calico"]
    assert not service.engine.check("t1/a", "t2/b", TCP80).allowed  # Calico's Deny still there


def test_event_policies_are_linked_to_the_tiers_and_tier_events_relink(tmp_path: Path) -> None:
    """A Calico policy sent as an event is placed in its tier as loaded at start (here the
    ``security`` tier, order 100, whose defaultAction Pass lets unmatched traffic on to the
    next tiers): unlinked, it would sit in an unknown tier with Calico's end-of-tier Deny. When
    the Tier changes to defaultAction Deny, the policy is linked again and unmatched traffic
    stops at the end of the tier (tigera/docs calico/network-policy/policy-tiers); when the Tier
    is deleted (metadata only), the tier is unknown again: ordered last, default Deny."""
    engine = _engine(tmp_path, "calico", SECURITY_TIER)
    service = Service(engine, [])
    deny_nobody = {"action": "Deny", "source": {"selector": "app == 'nobody'"}}
    spec = {
        "tier": "security",
        "order": 1,
        "selector": "all()",
        "types": ["Ingress"],
        "ingress": [deny_nobody],
    }
    added = _send(service, "ADDED", _calico_np("security.deny-nobody", spec))
    assert added["applied"] == 1 and added["diagnostics"] == []
    (policy,) = engine.policies
    assert (policy.tier.name, policy.tier.rank) == ("security", 100.0)
    assert engine.check("t1/a", "t2/b", TCP80).allowed  # passed on, and nothing else applies
    denying = _send(service, "MODIFIED", {**SECURITY_TIER, "spec": {"order": 100, "defaultAction": "Deny"}})
    assert denying["applied"] == 1 and not engine.check("t1/a", "t2/b", TCP80).allowed
    assert _send(service, "MODIFIED", SECURITY_TIER)["applied"] == 1
    assert engine.check("t1/a", "t2/b", TCP80).allowed
    gone = _send(service, "DELETED", {**SECURITY_TIER, "spec": None})
    assert gone["applied"] == 1 and any("not defined by any Tier" in d for d in gone["diagnostics"])
    assert engine.policies[0].tier.rank == float("inf") and not engine.check("t1/a", "t2/b", TCP80).allowed


def test_metadata_only_deletion_of_a_cluster_scoped_vendor_policy(tmp_path: Path) -> None:
    """Watches may send a deletion with the metadata alone: a GlobalNetworkPolicy has no
    namespace, so it must not be looked for in ``default``."""
    gnp = {
        "apiVersion": "projectcalico.org/v3",
        "kind": "GlobalNetworkPolicy",
        "metadata": {"name": "deny-in"},
        "spec": {"selector": "all()", "types": ["Ingress"], "ingress": [{"action": "Deny"}]},
    }
    service = Service(_engine(tmp_path, "calico", gnp), [])
    assert not service.engine.check("t1/a", "t2/b", TCP80).allowed
    assert _send(service, "DELETED", {**gnp, "spec": None})["applied"] == 1
    assert service.engine.loaded == () and service.engine.check("t1/a", "t2/b", TCP80).allowed


FQDN = {
    "apiVersion": "cilium.io/v2",
    "kind": "CiliumNetworkPolicy",
    "metadata": {"name": "fqdn", "namespace": "t1"},
    "spec": {
        "endpointSelector": {"matchLabels": {"app": "a"}},
        "egress": [{"toFQDNs": [{"matchName": "api.example.com"}]}],
    },
}
DNS_RULE = {
    "apiVersion": "cilium.io/v2",
    "kind": "CiliumClusterwideNetworkPolicy",
    "metadata": {"name": "dns-visibility"},
    "spec": {
        "endpointSelector": {},
        "egress": [
            {
                "toEndpoints": [{}],
                "toPorts": [
                    {"ports": [{"port": "53", "protocol": "ANY"}], "rules": {"dns": [{"matchPattern": "*"}]}}
                ],
            }
        ],
    },
}


def test_a_dns_rule_event_teaches_cilium_the_fqdn_addresses(tmp_path: Path) -> None:
    """cilium/cilium pkg/fqdn: toFQDNs selectors take their IPs from the lookups the DNS proxy
    allowed, collected from every endpoint. The FQDN policy does not change, yet its answer
    does when another policy's DNS rule comes and goes."""
    path = tmp_path / "cluster.yaml"
    path.write_text(CLUSTER + "---\n" + json.dumps(FQDN) + "\n")
    workspace = load_workspace([str(path)])
    dns: DnsMap = {"api.example.com": (ip_address("203.0.113.10"),)}
    engine = IncrementalEngine(
        workspace.snapshot,
        workspace.parsed,
        Enforcement(parse_profile("cilium"), dns=dns),
        workspace.definitions,
    )
    service = Service(engine, [])
    to_api = ("t1/a", "203.0.113.10", Probe(443, Protocol.TCP))
    assert not engine.check(*to_api).allowed
    assert any("never learns" in w for w in service.warnings)
    service.events(json.dumps(_event("ADDED", DNS_RULE)).encode())
    assert engine.check(*to_api).allowed
    service.events(json.dumps(_event("DELETED", DNS_RULE)).encode())
    assert not engine.check(*to_api).allowed


OPEN_NAMED = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "egress-http", "namespace": "t1"},
    "spec": {
        "podSelector": {"matchLabels": {"app": "a"}},
        "policyTypes": ["Egress"],
        "egress": [{"ports": [{"port": "http"}]}],
    },
}


def test_pod_events_rebind_kube_router_open_named_ports(tmp_path: Path) -> None:
    """kube-router policy.go buildNetworkPoliciesInfo looks the named port of an egress rule
    without ``to`` up on the pods of the policy's namespace: a pod that comes with the name
    changes what the unchanged policy allows, toward any destination."""
    service = Service(_engine(tmp_path, "kube-router", OPEN_NAMED), [])
    out = ("t1/a", "203.0.113.5", Probe(7070, Protocol.TCP))
    assert not service.engine.check(*out).allowed
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "t1", "labels": {"app": "web"}},
        "spec": {
            "containers": [{"name": "c", "image": "x", "ports": [{"name": "http", "containerPort": 7070}]}]
        },
        "status": {"podIP": "10.1.0.9"},
    }
    service.events(json.dumps(_event("ADDED", pod)).encode())
    assert service.engine.check(*out).allowed
    service.events(json.dumps(_event("DELETED", pod)).encode())
    assert not service.engine.check(*out).allowed


TEAM_GROUP = {
    "apiVersion": "crd.antrea.io/v1beta1",
    "kind": "Group",
    "metadata": {"name": "team-a", "namespace": "t1"},
    "spec": {
        "podSelector": {"matchLabels": {"app": "a"}},
        "namespaceSelector": {"matchLabels": {"org": "acme"}},
    },
}
DROP_ON_GROUP = {
    "apiVersion": "crd.antrea.io/v1beta1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "drop-in", "namespace": "t1"},
    "spec": {
        "priority": 1,
        "appliedTo": [{"group": "team-a"}],
        "ingress": [{"action": "Drop", "from": [{"namespaceSelector": {}}]}],
    },
}


def test_pod_events_decide_whether_antrea_realizes_a_group_applied_to(tmp_path: Path) -> None:
    """networkpolicy_controller.go getInternalGroupWorkloads fails a namespaced Group used as
    appliedTo only while it selects a Pod of another Namespace: the policy stops being enforced
    when such a Pod comes, and is enforced again when it goes."""
    service = Service(_engine(tmp_path, "antrea", TEAM_GROUP, DROP_ON_GROUP), [])
    engine = service.engine
    assert not engine.check("t2/b", "t1/a", TCP80).allowed
    outsider = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "a2", "namespace": "t2", "labels": {"app": "a"}},
        "status": {"podIP": "10.1.0.7"},
    }
    answer = service.events(json.dumps(_event("ADDED", outsider)).encode())
    assert engine.check("t2/b", "t1/a", TCP80).allowed
    assert any("selects Pod t2/a2" in note for note in answer["diagnostics"] + service.warnings)
    service.events(json.dumps(_event("DELETED", outsider)).encode())
    assert not engine.check("t2/b", "t1/a", TCP80).allowed


def test_definition_events_are_checked_whether_used_or_not(tmp_path: Path) -> None:
    """validate.go tierValidator.createValidate refuses a second Tier of one priority when it is
    created, before any policy names it: a Tier event reports it as loading does, once."""
    service = Service(_engine(tmp_path, "antrea"), [])
    tier = {"apiVersion": "crd.antrea.io/v1beta1", "kind": "Tier", "spec": {"priority": 20}}
    service.events(json.dumps(_event("ADDED", {**tier, "metadata": {"name": "first"}})).encode())
    answer = service.events(json.dumps(_event("ADDED", {**tier, "metadata": {"name": "second"}})).encode())
    overlaps = [d for d in answer["diagnostics"] if "overlaps with Tier first" in d]
    assert len(overlaps) == 1, answer["diagnostics"]
