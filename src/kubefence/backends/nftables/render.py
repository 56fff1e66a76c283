"""nft AST → deterministic ``nft -f`` text and libnftables JSON.

Both renderings replace the table atomically when loaded: the text starts with
``table inet T`` / ``delete table inet T`` (create-if-missing, then delete, then the full
definition, all in one transaction); the JSON does the same with ``add`` / ``delete`` commands.
"""

from __future__ import annotations

import json
from typing import Any

from kubefence.backends.nftables.ast import (
    AddrInSet,
    Chain,
    CtState,
    Family,
    Icmpv6Type,
    L4Ports,
    L4Proto,
    MarkBit,
    MarkSet,
    Match,
    NamedPortsInSet,
    NftMap,
    NftRule,
    NftSet,
    SetKind,
    Table,
    Verdict,
    Vmap,
)

__all__ = ["add_set_command", "fill_chain_commands", "render_json", "render_text", "set_type"]

_ADDR_TYPE = {Family.V4: "ipv4_addr", Family.V6: "ipv6_addr"}


def set_type(s: NftSet | NftMap) -> str:
    if isinstance(s, NftMap) or s.kind in (SetKind.ADDR, SetKind.HOSTS):
        return _ADDR_TYPE[s.family]
    return f"{_ADDR_TYPE[s.family]} . inet_proto . inet_service"


# -- text ------------------------------------------------------------------------------------
def _match_text(m: Match) -> str:
    if isinstance(m, AddrInSet):
        return f"{m.family.value} {m.field} @{m.set_name}"
    if isinstance(m, L4Ports):
        items = ", ".join(f"{p} . {a}" if a == b else f"{p} . {a}-{b}" for p, a, b in m.elements)
        return f"meta l4proto . th dport {{ {items} }}"
    if isinstance(m, L4Proto):
        return f"meta l4proto {{ {', '.join(m.protocols)} }}"
    if isinstance(m, NamedPortsInSet):
        return f"{m.family.value} daddr . meta l4proto . th dport @{m.set_name}"
    if isinstance(m, CtState):
        return f"ct state {{ {', '.join(m.states)} }}"
    if isinstance(m, MarkBit):
        return f"meta mark & {m.bit:#010x} == {m.bit:#010x}"
    return f"icmpv6 type {{ {', '.join(m.types)} }}"


def _verdict_text(v: Verdict | Vmap | MarkSet) -> str:
    if isinstance(v, MarkSet):
        return f"meta mark set meta mark | {v.bit:#010x}"
    if isinstance(v, Vmap):
        return f"{v.family.value} {v.field} vmap @{v.map_name}"
    return f"{v.kind.value} {v.chain}" if v.chain else v.kind.value


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "").replace('"', "'") + '"'


def _rule_text(r: NftRule) -> str:
    parts = [_match_text(m) for m in r.matches]
    if r.log_prefix:
        parts.append(f"log group 1 prefix {_quote(r.log_prefix)}")
    parts.append(_verdict_text(r.verdict))
    if r.comment:
        parts.append(f"comment {_quote(r.comment)}")
    return " ".join(parts)


def _set_body(s: NftSet) -> str:
    parts = [f"type {set_type(s)};"]
    if s.kind is SetKind.ADDR:
        parts.append("flags interval;")  # no auto-merge: element deletes must find what was added
    if s.elements:
        parts.append(f"elements = {{ {', '.join(s.elements)} }}")
    return f"{{ {' '.join(parts)} }}"


def _set_text(s: NftSet) -> str:
    return f"\tset {s.name} {_set_body(s)}"


def add_set_command(table: str, s: NftSet) -> str:
    """``add set inet T name { ... }`` with its elements."""
    return f"add set inet {table} {s.name} {_set_body(s)}"


def fill_chain_commands(table: str, chain: Chain) -> list[str]:
    """Create a regular chain if missing, empty it and add its rules (one transaction's part)."""
    head = [f"add chain inet {table} {chain.name}", f"flush chain inet {table} {chain.name}"]
    return head + [f"add rule inet {table} {chain.name} {_rule_text(r)}" for r in chain.rules]


def _map_text(m: NftMap) -> str:
    elements = ", ".join(f"{a} : jump {c}" for a, c in m.elements)
    body = f" elements = {{ {elements} }}" if elements else ""
    return f"\tmap {m.name} {{ type {set_type(m)} : verdict;{body} }}"


def _chain_text(c: Chain) -> list[str]:
    lines = [f"\tchain {c.name} {{"]
    if c.hook is not None:
        priority = f"filter + {c.priority}" if c.priority else "filter"
        lines.append(f"\t\ttype filter hook {c.hook.value} priority {priority}; policy accept;")
    lines += [f"\t\t{_rule_text(r)}" for r in c.rules]
    return [*lines, "\t}"]


def render_text(table: Table) -> str:
    """The whole table as an ``nft -f`` script that replaces it atomically."""
    lines = [f"table inet {table.name}", f"delete table inet {table.name}", f"table inet {table.name} {{"]
    lines += [_set_text(s) for s in table.sets]
    lines += [_map_text(m) for m in table.maps]
    for chain in table.chains:
        lines += _chain_text(chain)
    return "\n".join([*lines, "}"]) + "\n"


# -- JSON ------------------------------------------------------------------------------------
def _elem_json(text: str) -> Any:
    if " . " in text:
        addr, proto, port = text.split(" . ")
        return {"concat": [addr, proto, int(port)]}
    if "/" in text:
        addr, length = text.split("/")
        return {"prefix": {"addr": addr, "len": int(length)}}
    if "-" in text:
        return {"range": text.split("-")}
    return text


def _payload(family: Family, field: str) -> dict[str, Any]:
    return {"payload": {"protocol": family.value, "field": field}}


_L4 = [{"meta": {"key": "l4proto"}}, {"payload": {"protocol": "th", "field": "dport"}}]


def _match_json(m: Match) -> dict[str, Any]:
    if isinstance(m, AddrInSet):
        return {"match": {"op": "==", "left": _payload(m.family, m.field), "right": f"@{m.set_name}"}}
    if isinstance(m, L4Ports):
        items = [{"concat": [p, a if a == b else {"range": [a, b]}]} for p, a, b in m.elements]
        return {"match": {"op": "==", "left": {"concat": _L4}, "right": {"set": items}}}
    if isinstance(m, L4Proto):
        return {"match": {"op": "==", "left": _L4[0], "right": {"set": list(m.protocols)}}}
    if isinstance(m, NamedPortsInSet):
        left = {"concat": [_payload(m.family, "daddr"), *_L4]}
        return {"match": {"op": "==", "left": left, "right": f"@{m.set_name}"}}
    if isinstance(m, CtState):
        return {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": list(m.states)}}
    if isinstance(m, MarkBit):
        return {"match": {"op": "==", "left": {"&": [{"meta": {"key": "mark"}}, m.bit]}, "right": m.bit}}
    assert isinstance(m, Icmpv6Type)
    icmp = {"payload": {"protocol": "icmpv6", "field": "type"}}
    return {"match": {"op": "==", "left": icmp, "right": {"set": list(m.types)}}}


def _verdict_json(v: Verdict | Vmap | MarkSet) -> dict[str, Any]:
    if isinstance(v, MarkSet):
        mark = {"meta": {"key": "mark"}}
        return {"mangle": {"key": mark, "value": {"|": [mark, v.bit]}}}
    if isinstance(v, Vmap):
        return {"vmap": {"key": _payload(v.family, v.field), "data": f"@{v.map_name}"}}
    if v.chain:
        return {v.kind.value: {"target": v.chain}}
    return {v.kind.value: None}


def _rule_json(table: str, chain: str, r: NftRule) -> dict[str, Any]:
    expr = [_match_json(m) for m in r.matches]
    if r.log_prefix:
        expr.append({"log": {"prefix": r.log_prefix, "group": 1}})
    expr.append(_verdict_json(r.verdict))
    rule: dict[str, Any] = {"family": "inet", "table": table, "chain": chain, "expr": expr}
    if r.comment:
        rule["comment"] = r.comment
    return {"add": {"rule": rule}}


def _set_json(table: str, s: NftSet) -> dict[str, Any]:
    body: dict[str, Any] = {"family": "inet", "table": table, "name": s.name}
    if s.kind is SetKind.ADDR:
        body |= {"type": _ADDR_TYPE[s.family], "flags": ["interval"]}
    elif s.kind is SetKind.HOSTS:
        body["type"] = _ADDR_TYPE[s.family]
    else:
        body["type"] = [_ADDR_TYPE[s.family], "inet_proto", "inet_service"]
    if s.elements:
        body["elem"] = [_elem_json(e) for e in s.elements]
    return {"add": {"set": body}}


def _map_json(table: str, m: NftMap) -> dict[str, Any]:
    body: dict[str, Any] = {
        "family": "inet",
        "table": table,
        "name": m.name,
        "type": _ADDR_TYPE[m.family],
        "map": "verdict",
    }
    if m.elements:
        body["elem"] = [[a, {"jump": {"target": c}}] for a, c in m.elements]
    return {"add": {"map": body}}


def _chain_json(table: str, c: Chain) -> dict[str, Any]:
    body: dict[str, Any] = {"family": "inet", "table": table, "name": c.name}
    if c.hook is not None:
        body |= {"type": "filter", "hook": c.hook.value, "prio": c.priority, "policy": "accept"}
    return {"add": {"chain": body}}


def render_json(table: Table) -> str:
    """The whole table as a libnftables JSON batch that replaces it atomically."""
    t = table.name
    ident = {"family": "inet", "name": t}
    cmds: list[dict[str, Any]] = [
        {"add": {"table": ident}},
        {"delete": {"table": ident}},
        {"add": {"table": ident}},
    ]
    cmds += [_set_json(t, s) for s in table.sets]
    cmds += [_chain_json(t, c) for c in table.chains]
    cmds += [_map_json(t, m) for m in table.maps]
    cmds += [_rule_json(t, c.name, r) for c in table.chains for r in c.rules]
    return json.dumps({"nftables": cmds}, indent=1, sort_keys=False) + "\n"
