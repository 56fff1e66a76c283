"""``kubefence serve``: a small HTTP/JSON server over one cluster, kept current by events.

It loads the given manifests once into an ``IncrementalEngine`` and answers on 127.0.0.1:

* ``GET /`` → ``{"revision", "cni", "endpoints", "policies", "warnings", "routes"}``
* ``GET /check?from=NS/POD&to=NS/POD&port=80/TCP`` → the ``check -o json`` document plus
  ``revision`` (404 for an unknown endpoint, 400 for a bad port)
* ``GET /matrix?format=counts|classes|json[&port=80/TCP...]`` → like ``matrix -o FORMAT``
  (``json`` is streamed)
* ``POST /events`` with one event or a list, each ``{"type": "ADDED"|"MODIFIED"|"DELETED",
  "object": MANIFEST}`` as a Kubernetes watch sends them → ``{"revision", "applied",
  "diagnostics"}``

Answers are for what the ``--cni`` profile's CNI enforces (generic by default): policies of
every dialect are kept as parsed, linked to the definitions (Calico and Antrea tiers, Antrea
groups, Calico network sets, which events may change too) and viewed under the profile as they
come and go; each event's answer lists the warnings it brought (a policy the CNI ignores, a
dropped field, a tier nobody defines).
Requests are served one at a time under a lock, so every answer is of one revision.
"""

from __future__ import annotations

import gc
import json
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from kubefence.cli.consoles import stderr
from kubefence.cli.inputs import fail, load, warning_texts
from kubefence.cluster.objects import CLUSTER_KINDS, Workload, parse_object
from kubefence.cluster.snapshot import EndpointSlice, Namespace, Node, Pod, ServiceAccount
from kubefence.cluster.snapshot import Service as ServiceObject
from kubefence.dialects.loader import describe, load_text
from kubefence.dialects.registry import dialect_for
from kubefence.engine import export
from kubefence.engine.incremental import (
    DefinitionKey,
    Enforcement,
    Event,
    IncrementalEngine,
    Op,
    PolicyKey,
)
from kubefence.engine.probes import Probe, default_probes, icmp_caveat, parse_probe
from kubefence.engine.profiles import GENERIC
from kubefence.ir.diagnostics import Severity

__all__ = ["Service", "event_from_watch", "run_server"]

_OPS = {"ADDED": Op.ADD, "MODIFIED": Op.CHANGE, "DELETED": Op.DELETE}
_CLUSTER_SCOPED_POLICIES = (
    "AdminNetworkPolicy",
    "BaselineAdminNetworkPolicy",
    "ClusterNetworkPolicy",  # upstream and Antrea's
    "GlobalNetworkPolicy",
    "StagedGlobalNetworkPolicy",
    "CiliumClusterwideNetworkPolicy",
)


class BadRequest(Exception):
    """A request the server answers with 400 (or ``status``)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def event_from_watch(item: Any) -> tuple[Event | None, list[str]]:
    """A watch event ``{"type", "object"}`` → an engine Event (None if nothing to do) and notes.
    Policies come as parsed (the engine links them), definitions (tiers, groups, network sets)
    as such."""
    if not isinstance(item, dict) or item.get("type") not in _OPS or not isinstance(item.get("object"), dict):
        raise BadRequest('an event is {"type": "ADDED"|"MODIFIED"|"DELETED", "object": {...}}')
    op, manifest = _OPS[item["type"]], item["object"]
    loaded = load_text(json.dumps(manifest), "<event>")
    notes = [str(d) for d in loaded.diagnostics]
    if not loaded.documents:
        return None, notes or ["no object in the event"]
    doc = loaded.documents[0]
    api, kind = str(doc.data.get("apiVersion", "")), str(doc.data.get("kind", ""))
    dialect = dialect_for(api, kind)
    if dialect is not None:
        result = dialect.parse(doc)
        if op is Op.DELETE and not (result.policies or result.definitions):  # metadata only
            key = _definition_key(manifest, dialect.name, kind) or _policy_key(manifest, dialect.name, kind)
            return Event(op, key), notes
        notes += [str(d) for d in result.diagnostics]
        if result.definitions:
            (definition,) = result.definitions  # one per object
            return Event(op, definition), notes
        if not result.policies:
            return None, notes or [f"{describe(doc)}: no policy in it, nothing applied"]
        return Event(op, tuple(result.policies)), notes
    if kind not in CLUSTER_KINDS:
        return None, [*notes, f"kind {kind!r} is not used by kubefence: ignored"]
    parsed = parse_object(doc)
    notes += [str(d) for d in parsed.diagnostics]
    if any(d.code == "pod-finished" for d in parsed.diagnostics):  # it left the network
        meta = manifest.get("metadata") or {}
        return Event(Op.DELETE, f"{meta.get('namespace') or 'default'}/{meta.get('name', '')}"), notes
    value = parsed.value.pod if isinstance(parsed.value, Workload) else parsed.value
    if isinstance(value, Pod | Namespace | Node | ServiceAccount | ServiceObject | EndpointSlice):
        return Event(op, value), notes
    return None, [*notes, f"{kind} changes do not affect the answers: ignored"]


def _definition_key(manifest: dict[str, Any], dialect: str, kind: str) -> DefinitionKey | None:
    """The key of a definition named by its metadata alone (None: ``kind`` is a policy kind)."""
    meta = manifest.get("metadata") or {}
    name = str(meta.get("name", ""))
    namespace = str(meta.get("namespace") or "default") if kind in ("NetworkSet", "Group") else None
    if kind == "Tier":
        return DefinitionKey(f"{dialect} Tier", None, name)
    if kind in ("NetworkSet", "GlobalNetworkSet"):
        return DefinitionKey("NetworkSet", namespace, name)
    if kind in ("ClusterGroup", "Group"):
        return DefinitionKey(kind, namespace, name)
    return None


def _policy_key(manifest: dict[str, Any], dialect: str, kind: str) -> PolicyKey:
    meta = manifest.get("metadata") or {}
    namespace = None if kind in _CLUSTER_SCOPED_POLICIES else str(meta.get("namespace") or "default")
    return (dialect, kind, namespace, str(meta.get("name", "")))


class Service:
    """The engine, its lock, and the request handlers' logic (no HTTP in here)."""

    def __init__(self, engine: IncrementalEngine, warnings: list[str]) -> None:
        """``warnings``: those of loading the manifests (the engine adds the CNI profile's)."""
        self.engine = engine
        self.load_warnings = warnings
        self.lock = threading.Lock()
        self._warnings: tuple[int, list[str]] | None = None

    @property
    def warnings(self) -> list[str]:
        """The ``warnings`` of check and matrix answers: loading's, then the profile's now
        (rendered once per revision)."""
        if self._warnings is None or self._warnings[0] != self.engine.revision:
            found = [str(d) for d in self.engine.warnings if d.severity is Severity.WARNING]
            texts = list(dict.fromkeys([*self.load_warnings, *found]))  # linking's are in both
            self._warnings = (self.engine.revision, texts)
        return self._warnings[1]

    def index(self) -> dict[str, Any]:
        enforcement = self.engine.enforcement
        return {
            "revision": self.engine.revision,
            "cni": enforcement.profile.spec if enforcement is not None else None,
            "endpoints": len(self.engine.resolution().universe),
            "policies": len(self.engine.policies),
            "warnings": len(self.warnings),
            "routes": [
                "GET /check?from=&to=&port=",
                "GET /matrix?format=counts|classes|json",
                "POST /events",
            ],
        }

    def check(self, query: dict[str, list[str]]) -> dict[str, Any]:
        src, dst, port = (_one(query, name) for name in ("from", "to", "port"))
        probe = _probe(port)
        try:
            explanation = self.engine.check(src, dst, probe)
        except KeyError as e:
            raise BadRequest(f"no such endpoint: {e.args[0]}", 404) from None
        return {**explanation.to_json(self.warnings_for([probe])), "revision": self.engine.revision}

    def warnings_for(self, probes: Sequence[Probe]) -> list[str]:
        """The warnings, and the ICMP caveat when ICMP is probed under the generic profile."""
        enforcement = self.engine.enforcement
        generic = enforcement is None or enforcement.profile.name == GENERIC.name
        return [*self.warnings, *icmp_caveat(probes, generic)]

    def probes(self, query: dict[str, list[str]]) -> list[Probe]:
        ports = [_probe(p) for p in query.get("port", [])]
        return ports or list(default_probes(self.engine.policies, self.engine.snapshot))

    def events(self, body: bytes) -> dict[str, Any]:
        try:
            data = json.loads(body or b"null")
        except ValueError as e:
            raise BadRequest(f"the body is not JSON: {e}") from None
        items = data if isinstance(data, list) else [data]
        converted = [event_from_watch(item) for item in items]
        before = {str(d) for d in self.engine.warnings}
        applied = 0
        for event, _ in converted:
            if event is not None:
                self.engine.apply(event)
                applied += 1
        notes = [note for _, found in converted for note in found]
        notes += [str(d) for d in self.engine.warnings if str(d) not in before]
        return {"revision": self.engine.revision, "applied": applied, "diagnostics": notes}


def _one(query: dict[str, list[str]], name: str) -> str:
    values = query.get(name)
    if not values:
        raise BadRequest(f"missing query parameter {name!r}")
    return values[0]


def _probe(text: str) -> Probe:
    try:
        return parse_probe(text)
    except ValueError as e:
        raise BadRequest(f"port: {e}") from None


class _Handler(BaseHTTPRequestHandler):
    """Routes requests to ``service`` (set on the subclass that ``make_server`` makes)."""

    service: Service
    server_version = "kubefence"

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: the server is a library endpoint, not a web log

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = parse_qs(url.query)
        with self.service.lock:
            self._answer(lambda: self._get(url.path, query))

    def do_POST(self) -> None:
        size = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(size)
        if urlparse(self.path).path != "/events":
            self._send(404, {"error": "POST goes to /events"})
            return
        with self.service.lock:
            self._answer(lambda: self.service.events(body))

    def _get(self, path: str, query: dict[str, list[str]]) -> dict[str, Any] | None:
        if path == "/":
            return self.service.index()
        if path == "/check":
            return self.service.check(query)
        if path == "/matrix":
            return self._matrix(query)
        raise BadRequest(f"no route {path}", 404)

    def _matrix(self, query: dict[str, list[str]]) -> dict[str, Any] | None:
        service = self.service
        form = (query.get("format") or ["counts"])[0]
        probes = service.probes(query)
        matrix = service.engine.matrix()
        revision = {"revision": service.engine.revision}
        if form == "counts":
            return {**export.counts_doc(matrix, probes), **revision}
        if form == "classes":
            return {**export.classes_doc(matrix, service.warnings), **revision}
        if form != "json":
            raise BadRequest("format is counts, classes or json")
        self._head(200)
        for chunk in export.json_chunks(matrix, probes, service.warnings_for(probes)):
            self.wfile.write(chunk.encode())
        return None

    def _answer(self, produce: Callable[[], dict[str, Any] | None]) -> None:
        try:
            doc = produce()
            if doc is not None:
                self._send(200, doc)
        except BadRequest as e:
            self._send(e.status, {"error": str(e)})
        except (BrokenPipeError, ConnectionResetError):
            return  # the client went away mid-answer

    def _head(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()

    def _send(self, status: int, doc: dict[str, Any]) -> None:
        body = json.dumps(doc).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def make_server(service: Service, host: str = "127.0.0.1", port: int = 8181) -> ThreadingHTTPServer:
    """A server bound to ``host:port`` (port 0: any free port); call ``serve_forever``."""
    handler = type("Handler", (_Handler,), {"service": service})
    return ThreadingHTTPServer((host, port), handler)


def run_server(
    paths: list[str], host: str, port: int, verbose: bool, enforcement: Enforcement | None = None
) -> None:
    enforcement = enforcement or Enforcement()
    workspace = load(paths, verbose, quiet_warnings=True)
    engine = IncrementalEngine(workspace.snapshot, workspace.parsed, enforcement, workspace.definitions)
    for d in engine.warnings:
        stderr().print(str(d), style="yellow" if d.severity is Severity.WARNING else "dim", markup=False)
    engine.matrix()
    gc.collect()
    gc.freeze()  # the loaded snapshot lives as long as the server: keep it out of GC scans
    try:
        server = make_server(Service(engine, warning_texts(workspace)), host, port)
    except OSError as e:  # the port is taken, the address is not this machine's, ...
        raise fail(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    stderr().print(
        f"kubefence serving {len(workspace.snapshot.pods)} pods on http://{host}:{server.server_port}/ "
        f"as {enforcement.profile.spec} enforces the policies"
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
