"""One Cilium ingress/egress (allow or deny) rule → IR Rules (semantics reference §4.2, §4.4).

The rule's L3 peers are ANDed with its L4 ports. A rule with no L3 field applies to every peer
when it names ports, and to nothing otherwise (``ingress: [{}]`` allows nothing). A rule whose
``toPorts`` mix HTTP and plain entries becomes several IR Rules that share its index: one for
the plain ports and one per HTTP entry. Deny rules carry ``name="deny"`` so that explanations
tell the ``ingressDeny`` list apart from ``ingress``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubefence.dialects.cilium_peers import PeerReader, l3_fields
from kubefence.dialects.cilium_ports import PortReader
from kubefence.ir.model import Action, AnyPeer, Direction, Peer, Rule

if TYPE_CHECKING:
    from collections.abc import Mapping

    from kubefence.dialects.fields import FieldReader

__all__ = ["DENY_NAME", "SECTIONS", "RuleReader"]

DENY_NAME = "deny"
# (spec key, direction, deny)
SECTIONS: tuple[tuple[str, Direction, bool], ...] = (
    ("ingress", Direction.INGRESS, False),
    ("ingressDeny", Direction.INGRESS, True),
    ("egress", Direction.EGRESS, False),
    ("egressDeny", Direction.EGRESS, True),
)


class RuleReader:
    """Reads the four rule lists of one Cilium Rule (``spec`` or ``specs[i]``)."""

    def __init__(self, reader: FieldReader, namespace: str | None) -> None:
        self.r = reader
        self.peers = PeerReader(reader, namespace)
        self.ports = PortReader(reader)

    def all_rules(self, spec: Mapping[str, Any], path: str) -> list[Rule]:
        out: list[Rule] = []
        for key, direction, deny in SECTIONS:
            out.extend(self.section(spec, key, f"{path}.{key}", direction, deny))
        return out

    def section(
        self, spec: Mapping[str, Any], key: str, path: str, direction: Direction, deny: bool
    ) -> list[Rule]:
        seq = self.r.sequence(spec, key, path)
        out: list[Rule] = []
        for i, r_path, item in self.r.items(seq, path):
            out.extend(self.rule(item, r_path, i, direction, deny, self.r.line(seq, i)))
        return out

    def rule(
        self, item: Mapping[str, Any], path: str, index: int, direction: Direction, deny: bool, line: int
    ) -> list[Rule]:
        extra = ("toPorts", "icmps") if deny else ("toPorts", "icmps", "authentication")
        self.r.known(item, (*l3_fields(direction, deny), *extra), path)
        self.authentication(item, path)
        self.services_alone(item, path)
        l3 = self.peers.read(item, path, direction, deny)
        groups = self.ports.groups(item, path, deny=deny, ingress=direction is Direction.INGRESS)
        peers: tuple[Peer, ...] = l3.peers
        if not l3.present:
            peers = (AnyPeer(),) if groups is not None else ()
        action = Action.DENY if deny else Action.ALLOW
        name = DENY_NAME if deny else None
        source = self.r.source(line)
        if groups is None:
            return [Rule(direction, action, peers, None, index, source, name)]
        return [
            Rule(direction, action, peers, g.ports, index, source, name, l7=g.l7, dns=g.dns) for g in groups
        ]

    def services_alone(self, item: Mapping[str, Any], path: str) -> None:
        """``toServices`` with ``toPorts``: the agent rejects the policy (pkg/policy/api
        rule_validation.go: "Combining ToServices and ToPorts is not supported yet")."""
        if item.get("toServices") and item.get("toPorts"):
            self.r.error(
                f"{path}.toPorts",
                "toServices and toPorts cannot be combined in one rule: Cilium rejects the policy "
                '("Combining ToServices and ToPorts is not supported yet") and enforces none of it',
                self.r.line(item, "toPorts"),
                "l3-combined",
            )

    def authentication(self, item: Mapping[str, Any], path: str) -> None:
        if item.get("authentication") is not None:
            self.r.warn(
                f"{path}.authentication",
                "mutual authentication is not modelled: the rule is read as if every peer "
                "authenticated, so kubefence may answer allowed where Cilium drops",
                self.r.line(item, "authentication"),
                "not-modelled",
            )
