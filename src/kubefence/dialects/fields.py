"""Typed, located access to the fields of one loaded object, collecting Diagnostics.

A ``FieldReader`` wraps one Document. Every accessor takes the dotted field path it reads
(``spec.ingress[0].ports``) and, when the value has the wrong shape, records an error that
names the file, line, object and field, then returns a safe default so that parsing can go on
and report every problem of the file at once.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from kubefence.dialects.loader import Document, describe
from kubefence.ir.addresses import IPBlock, IPNetwork
from kubefence.ir.diagnostics import Diagnostic, Severity
from kubefence.ir.ports import MAX_PORT, PORT_PROTOCOLS, PortMatch, PortRange, Protocol
from kubefence.ir.provenance import Source
from kubefence.ir.selectors import LabelSelector, Operator, Requirement

__all__ = ["FieldReader", "valid_port_name"]

_PROTOCOLS = {p.value: p for p in PORT_PROTOCOLS}
_LABEL_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _line(container: Any, key: str | int, default: int) -> int:
    line_of = getattr(container, "line_of", None)
    if line_of is None:
        return default
    try:
        return int(line_of(key))
    except (KeyError, IndexError, TypeError):
        return default


def _type_name(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    return f"{type(value).__name__} {value!r}"


def _quote_hint(value: Any) -> str:
    if isinstance(value, bool | int | float):
        return " (quote it: the API takes strings here, as kubectl would insist)"
    return ""


_IANA_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


def valid_port_name(name: str) -> bool:
    """IANA service name as IsValidPortName checks it: ≤15 chars, [a-z0-9-], a letter, no '--'."""
    return (
        0 < len(name) <= 15
        and _IANA_NAME.match(name) is not None
        and "--" not in name
        and any(c.isalpha() for c in name)
    )


class FieldReader:
    """Reads the fields of one Document; collects diagnostics in ``self.diagnostics``."""

    def __init__(self, doc: Document, dialect: str) -> None:
        self.doc = doc
        self.dialect = dialect
        self.object = describe(doc)
        self.diagnostics: list[Diagnostic] = []

    # -- reporting -------------------------------------------------------------------------
    def report(self, severity: Severity, code: str, path: str, message: str, line: int | None) -> None:
        self.diagnostics.append(
            Diagnostic(severity, code, message, self.doc.file, line or self.doc.line, None, self.object, path)
        )

    def error(self, path: str, message: str, line: int | None = None, code: str = "invalid-field") -> None:
        self.report(Severity.ERROR, code, path, message, line)

    def warn(self, path: str, message: str, line: int | None = None, code: str = "warning") -> None:
        self.report(Severity.WARNING, code, path, message, line)

    @property
    def failed(self) -> bool:
        return any(d.is_error for d in self.diagnostics)

    def source(self, line: int | None = None) -> Source:
        return Source(self.doc.file, line or self.doc.line, self.dialect, self.object)

    def line(self, container: Any, key: str | int) -> int:
        return _line(container, key, getattr(container, "line", self.doc.line))

    # -- shapes ----------------------------------------------------------------------------
    def known(self, mapping: Mapping[str, Any], allowed: Iterable[str], path: str) -> None:
        """Warn about fields this dialect does not know: they are ignored, never silently."""
        allowed_set = set(allowed)
        for key in mapping:
            if key not in allowed_set:
                where = f"{path}.{key}" if path else str(key)
                self.warn(where, "unknown field, ignored", self.line(mapping, key), "unknown-field")

    def _typed(
        self,
        parent: Mapping[str, Any],
        key: str,
        path: str,
        kind: type | tuple[type, ...],
        what: str,
        required: bool,
    ) -> Any:
        """``parent[key]`` if it is a ``kind``; None when absent (error if required or mistyped)."""
        if key not in parent or parent[key] is None:
            if required:
                self.error(path, "required field is missing", self.line(parent, key), "missing-field")
            return None
        value = parent[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.error(path, f"expected {what}, got {_type_name(value)}", self.line(parent, key))
            return None
        return value

    def mapping(self, parent: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> Any:
        """``parent[key]`` as a mapping; None when absent (error if required or mistyped)."""
        return self._typed(parent, key, path, Mapping, "a mapping", required)

    def sequence(self, parent: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> Any:
        """``parent[key]`` as a list; None when absent (error if required or mistyped)."""
        return self._typed(parent, key, path, list, "a list", required)

    def items(self, seq: list[Any] | None, path: str) -> Iterator[tuple[int, str, Mapping[str, Any]]]:
        """The mapping items of a list, with their index and path; other items are errors."""
        for i, item in enumerate(seq or ()):
            where = f"{path}[{i}]"
            if isinstance(item, Mapping):
                yield i, where, item
            else:
                self.error(where, f"expected a mapping, got {_type_name(item)}", self.line(seq, i))

    def string(self, parent: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> str | None:
        value: str | None = self._typed(parent, key, path, str, "a string", required)
        return value

    def dns_subdomain(
        self, parent: Mapping[str, Any], key: str, path: str, *, required: bool = False
    ) -> str | None:
        """A string that must be a DNS-1123 subdomain (object names such as a NetworkPolicy's:
        lowercase letters, digits, '-' and '.', at most 253 characters)."""
        value = self.string(parent, key, path, required=required)
        if value is not None and (len(value) > 253 or _DNS_SUBDOMAIN.match(value) is None):
            message = (
                f"invalid name {value!r}: a DNS-1123 subdomain is lowercase letters, digits, '-' "
                "and '.', starting and ending with a letter or digit (at most 253 characters)"
            )
            self.error(path, message, self.line(parent, key), "invalid-name")
            return None
        return value

    def integer(
        self, parent: Mapping[str, Any], key: str, path: str, lo: int, hi: int, *, required: bool = False
    ) -> int | None:
        value: int | None = self._typed(parent, key, path, int, "an integer", required)
        if value is not None and not lo <= value <= hi:
            self.error(path, f"{value} is out of range {lo}-{hi}", self.line(parent, key), "out-of-range")
            return None
        return value

    def protocol(self, parent: Mapping[str, Any], path: str, hint: str = "") -> Protocol | None:
        """``parent.protocol`` (TCP when absent): TCP, UDP or SCTP, case-sensitive as the API."""
        text = parent.get("protocol", "TCP")
        if text is None:
            return Protocol.TCP
        if not isinstance(text, str) or text not in _PROTOCOLS:
            message = f"unsupported protocol {text!r} (expected TCP, UDP or SCTP{hint})"
            self.error(f"{path}.protocol", message, self.line(parent, "protocol"), "unknown-protocol")
            return None
        return _PROTOCOLS[text]

    def port_name(self, name: str, path: str, line: int) -> str | None:
        """``name`` when it is a valid port name (IANA_SVC_NAME); else an error, None."""
        if valid_port_name(name):
            return name
        hint = " (a quoted number is a port name, not a number)" if name.strip().isdigit() else ""
        self.error(
            path, f"invalid port name {name!r}: must be an IANA service name{hint}", line, "bad-port-name"
        )
        return None

    def string_map(self, parent: Mapping[str, Any], key: str, path: str) -> dict[str, str]:
        """A ``map[string]string`` such as labels; non-string values are errors."""
        value = self.mapping(parent, key, path)
        result: dict[str, str] = {}
        for k, v in (value or {}).items():
            if not isinstance(v, str):
                self.error(
                    f"{path}.{k}",
                    f"expected a string, got {_type_name(v)}{_quote_hint(v)}",
                    self.line(value, k),
                )
                continue
            result[str(k)] = v
        return result

    # -- Kubernetes value types ------------------------------------------------------------
    def selector(self, parent: Mapping[str, Any], key: str, path: str) -> LabelSelector | None:
        """A metav1.LabelSelector, validated as the API server does; None when absent."""
        value = self.mapping(parent, key, path)
        if value is None:
            return None
        self.known(value, ("matchLabels", "matchExpressions"), path)
        labels = self.string_map(value, "matchLabels", f"{path}.matchLabels")
        for k, v in labels.items():
            self._label_key(k, f"{path}.matchLabels", self.line(value.get("matchLabels"), k))
            self._label_value(v, f"{path}.matchLabels.{k}", self.line(value.get("matchLabels"), k))
        exprs = self.sequence(value, "matchExpressions", f"{path}.matchExpressions") or []
        reqs = [self._requirement(e, p) for _, p, e in self.items(exprs, f"{path}.matchExpressions")]
        return LabelSelector(tuple(sorted(labels.items())), tuple(r for r in reqs if r is not None))

    def _requirement(self, expr: Mapping[str, Any], path: str) -> Requirement | None:
        self.known(expr, ("key", "operator", "values"), path)
        key = self.string(expr, "key", f"{path}.key", required=True)
        op_text = self.string(expr, "operator", f"{path}.operator", required=True)
        values = self.sequence(expr, "values", f"{path}.values") or []
        if key is None or op_text is None:
            return None
        self._label_key(key, f"{path}.key", self.line(expr, "key"))
        try:
            op = Operator(op_text)
        except ValueError:
            allowed = ", ".join(o.value for o in Operator)
            self.error(
                f"{path}.operator",
                f"unknown operator {op_text!r} (expected one of {allowed})",
                self.line(expr, "operator"),
                "unknown-operator",
            )
            return None
        strings = self._value_strings(values, f"{path}.values")
        if op in (Operator.IN, Operator.NOT_IN) and not strings:
            self.error(
                f"{path}.values", f"must be non-empty when operator is {op.value}", self.line(expr, "key")
            )
            return None
        if op in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and strings:
            self.error(
                f"{path}.values", f"must be empty when operator is {op.value}", self.line(expr, "values")
            )
            return None
        return Requirement(key, op, frozenset(strings))

    def _value_strings(self, values: list[Any], path: str) -> list[str]:
        out = []
        for i, v in enumerate(values):
            if not isinstance(v, str):
                self.error(
                    f"{path}[{i}]",
                    f"expected a string, got {_type_name(v)}{_quote_hint(v)}",
                    self.line(values, i),
                )
                continue
            self._label_value(v, f"{path}[{i}]", self.line(values, i))
            out.append(v)
        return out

    def _label_key(self, key: str, path: str, line: int) -> None:
        prefix, _, name = key.rpartition("/")
        ok = 0 < len(name) <= 63 and _LABEL_NAME.match(name) is not None
        ok = ok and (not prefix or (len(prefix) <= 253 and _DNS_SUBDOMAIN.match(prefix) is not None))
        if not ok:
            self.error(path, f"invalid label key {key!r}", line, "invalid-label")

    def _label_value(self, value: str, path: str, line: int) -> None:
        if len(value) > 63 or not _LABEL_NAME.match(value):
            self.error(path, f"invalid label value {value!r}", line, "invalid-label")

    def port_match(
        self,
        item: Mapping[str, Any],
        path: str,
        protocol: Protocol,
        end: int | None,
        named: Callable[[str], PortMatch | None],
    ) -> PortMatch | None:
        """``port`` (present) as a number or range, or through ``named`` when it is a name."""
        port = item["port"]
        if isinstance(port, str):
            return named(port)
        number = self.integer(item, "port", f"{path}.port", 1, MAX_PORT)
        return None if number is None else self.port_range(item, path, protocol, number, end)

    def port_range(
        self, item: Mapping[str, Any], path: str, protocol: Protocol, number: int, end: int | None
    ) -> PortRange | None:
        """``port``..``endPort`` (just ``port`` without an end); an error when the end is below."""
        if end is not None and end < number:
            self.error(
                f"{path}.endPort",
                f"endPort {end} must be greater than or equal to port {number}",
                self.line(item, "endPort"),
                "endport-below-port",
            )
            return None
        return PortRange(protocol, number, end if end is not None else number)

    def cidr(self, text: Any, path: str, line: int, *, strict_host_bits: bool = False) -> IPNetwork | None:
        """A CIDR; host bits are masked with a warning (or an error when ``strict_host_bits``)."""
        if not isinstance(text, str) or "/" not in text:
            self.error(path, f"invalid CIDR {text!r}: expected address/prefix-length", line, "bad-cidr")
            return None
        try:
            net = ipaddress.ip_network(text.strip(), strict=False)
            address = ipaddress.ip_address(text.strip().split("/")[0])
        except ValueError:
            self.error(path, f"invalid CIDR {text!r}", line, "bad-cidr")
            return None
        mapped = net.network_address.ipv4_mapped if isinstance(net, ipaddress.IPv6Network) else None
        if mapped is not None and net.prefixlen >= 96:
            # Go's net.IPNet.Contains (what the API server's validation and every CNI use)
            # reads an IPv4-mapped block as the IPv4 block: To4() of the address, the last
            # 32 bits of the mask.
            net4 = ipaddress.IPv4Network((mapped, net.prefixlen - 96))
            self.warn(
                path,
                f"{text!r} is an IPv4-mapped IPv6 CIDR: it is read as {net4}, as Go's net package "
                "(the API server's and the CNIs') reads it; write the IPv4 form",
                line,
                "cidr-mapped",
            )
            net, address = net4, ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address != net.network_address:
            message = f"{text!r} has bits set beyond the prefix length; it is read as {net}"
            if strict_host_bits:
                self.error(path, message, line, "bad-cidr")
            else:
                self.warn(path, message, line, "cidr-host-bits")
        return net

    def ip_block(
        self, cidr: Any, excepts: list[Any], path: str, line: int, lines: list[int], strict: bool = True
    ) -> IPBlock | None:
        """``cidr`` minus ``except``: each exception must be a strict subset of the block (a
        subset, the block itself included, when not ``strict``)."""
        net = self.cidr(cidr, f"{path}.cidr", line)
        if net is None:
            return None
        out: list[IPNetwork] = []
        for i, text in enumerate(excepts):
            where, at = f"{path}.except[{i}]", lines[i] if i < len(lines) else line
            sub = self.cidr(text, where, at)
            if sub is None:
                continue
            if sub.version != net.version or not sub.subnet_of(net) or (strict and sub == net):  # type: ignore[arg-type]
                what = "a strict subset" if strict else "inside"
                self.error(where, f"{sub} is not {what} cidr {net}", at, "except-outside-cidr")
                continue
            out.append(sub)
        return IPBlock(net, tuple(out))
