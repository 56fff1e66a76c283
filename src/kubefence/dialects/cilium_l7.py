"""``toPorts[].rules`` of a Cilium allow rule → an IR HTTP predicate (semantics reference §4.9).

Only HTTP is evaluated. DNS rules restrict query names, which kubefence does not see: the port
stays an L4 allow (INFO). Kafka and generic ``l7`` rules are not modelled (WARNING, L4 allow).
HTTP ``method``/``path``/``host`` are regular expressions matched against the whole text;
``headers`` are ``"Name"`` (present) or ``"Name: value"`` (exact value), split at the first
space as Cilium's Envoy translation does.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from kubefence.ir.diagnostics import Severity
from kubefence.ir.l7 import HTTPMatch, HTTPRule, MatchKind, TextMatch

if TYPE_CHECKING:
    from collections.abc import Mapping

    from kubefence.dialects.fields import FieldReader

__all__ = ["dns_names", "read_l7"]

_TYPES = ("http", "kafka", "dns", "l7")
_HTTP_FIELDS = ("method", "path", "host", "headers", "headerMatches")


def read_l7(r: FieldReader, entry: Mapping[str, Any], path: str) -> HTTPRule | None:
    """The HTTP predicate of one ``toPorts`` entry, or None when it restricts no HTTP request."""
    rules = r.mapping(entry, "rules", f"{path}.rules")
    if rules is None:
        return None
    path = f"{path}.rules"
    r.known(rules, (*_TYPES, "l7proto"), path)
    present = [k for k in _TYPES if rules.get(k) is not None]
    if len(present) > 1:
        r.error(
            path,
            f"only one L7 rule type may be set per port, found {', '.join(present)}",
            r.line(entry, "rules"),
        )
        return None
    if not present:
        return None
    kind = present[0]
    seq = r.sequence(rules, kind, f"{path}.{kind}")
    line = r.line(rules, kind)
    if seq is None:
        return None
    if kind == "dns":
        _dns(r, seq, f"{path}.dns", line)
        return None
    if kind != "http":
        what = "Kafka" if kind == "kafka" else f"generic L7 ({rules.get('l7proto', 'unnamed')})"
        r.warn(
            f"{path}.{kind}",
            f"{what} rules are not modelled: the port is read as an L4 allow, so kubefence may answer "
            "allowed for requests Cilium's proxy rejects",
            line,
            "not-modelled",
        )
        return None
    return _http(r, seq, f"{path}.http", line)


def dns_names(entry: Mapping[str, Any]) -> tuple[str, ...]:
    """The ``matchName``/``matchPattern`` texts of an entry's DNS rules (checked by
    ``read_l7``): the lookups Cilium's DNS proxy lets through and learns addresses from."""
    rules = entry.get("rules")
    seq = rules.get("dns") if isinstance(rules, dict) else None
    if not isinstance(seq, list):
        return ()
    return tuple(
        text
        for item in seq
        if isinstance(item, dict)
        for key in ("matchName", "matchPattern")
        if isinstance(text := item.get(key), str) and text
    )


def _dns(r: FieldReader, seq: list[Any], path: str, line: int) -> None:
    for _, p_path, item in r.items(seq, path):
        r.known(item, ("matchName", "matchPattern"), p_path)
    r.report(
        Severity.INFO,
        "dns-not-modelled",
        path,
        "DNS query names are not checked: the port is read as an L4 allow (Cilium's DNS proxy "
        "refuses queries for other names); the names let toFQDNs rules learn addresses",
        line,
    )


def _http(r: FieldReader, seq: list[Any], path: str, line: int) -> HTTPRule | None:
    if not seq:
        r.warn(
            path,
            "an empty http list is read as no HTTP restriction (unverified upstream behaviour)",
            line,
            "not-modelled",
        )
        return None
    matches = [_http_match(r, item, p_path) for _, p_path, item in r.items(seq, path)]
    return HTTPRule(tuple(m for m in matches if m is not None))


def _http_match(r: FieldReader, item: Mapping[str, Any], path: str) -> HTTPMatch | None:
    r.known(item, _HTTP_FIELDS, path)
    method, url, host = (_regex(r, item, k, f"{path}.{k}") for k in ("method", "path", "host"))
    headers = _headers(r, item, path) + _header_matches(r, item, path)
    return HTTPMatch(method=method, path=url, host=host, headers=tuple(headers))


def _regex(r: FieldReader, item: Mapping[str, Any], key: str, path: str) -> TextMatch | None:
    text = r.string(item, key, path)
    if text is None:
        return None
    try:
        re.compile(text)
    except re.error as exc:
        r.warn(
            path,
            f"{text!r} is not a regular expression kubefence can read ({exc}); it matches nothing here",
            r.line(item, key),
            "bad-regex",
        )
    return TextMatch(MatchKind.REGEX, text)


def _headers(r: FieldReader, item: Mapping[str, Any], path: str) -> list[tuple[str, str | None]]:
    seq = r.sequence(item, "headers", f"{path}.headers") or []
    out: list[tuple[str, str | None]] = []
    for i, text in enumerate(seq):
        if not isinstance(text, str) or not text.strip():
            r.error(
                f"{path}.headers[{i}]",
                f"expected a header 'Name' or 'Name: value', got {text!r}",
                r.line(seq, i),
            )
            continue
        name, _, value = text.strip().partition(" ")
        out.append((name.rstrip(":"), value.strip() if value.strip() else None))
    return out


def _header_matches(r: FieldReader, item: Mapping[str, Any], path: str) -> list[tuple[str, str | None]]:
    seq = r.sequence(item, "headerMatches", f"{path}.headerMatches")
    out: list[tuple[str, str | None]] = []
    for i, p_path, entry in r.items(seq, f"{path}.headerMatches"):
        r.known(entry, ("name", "value", "secret", "mismatch"), p_path)
        name = r.string(entry, "name", f"{p_path}.name", required=True)
        value = r.string(entry, "value", f"{p_path}.value")
        line = r.line(seq, i)
        if name is None:
            continue
        if entry.get("mismatch") is not None:
            r.warn(
                f"{p_path}.mismatch",
                "a header match with 'mismatch' only logs or rewrites the header, it does not reject "
                "the request: ignored",
                r.line(entry, "mismatch"),
                "not-modelled",
            )
            continue
        if entry.get("secret") is not None:
            r.warn(
                f"{p_path}.secret",
                "a header value from a secret is not modelled: only the header's presence is checked",
                line,
                "not-modelled",
            )
            value = None
        out.append((name, value or None))
    return out
