"""One incremental re-answer after a pod change and after a policy change, on a loaded snapshot.

Loads a folder, answers once (``check`` and the full ``counts``), then applies events to an
``IncrementalEngine`` and times each re-answer: the event plus a ``check``, and the event plus
the whole-matrix counts. The engine answers under a CNI profile (``--cni``, default generic),
keeping the policies as parsed and linking them itself, as ``kubefence serve`` does. Prints one JSON object.
Usage: ``python benchmarks/incremental.py DIR [--cni NAME]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import sys
import time

from kubefence.engine.incremental import Enforcement, Event, IncrementalEngine, Op, policy_key
from kubefence.engine.probes import Probe, default_probes
from kubefence.engine.profiles import parse_profile
from kubefence.ir.ports import Protocol
from kubefence.workspace.load import load_workspace


def _engines(workspace, enforcement, probes, src, dst, probe):  # type: ignore[no-untyped-def]
    """Two warmed engines: one timed on check, one on counts (so neither helps the other)."""
    engines = []
    for _ in range(2):
        engine = IncrementalEngine(workspace.snapshot, workspace.parsed, enforcement, workspace.definitions)
        engine.check(src, dst, probe)
        engine.counts(probes)
        engines.append(engine)
    return engines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--cni", default="generic")
    args = parser.parse_args()
    enforcement = Enforcement(parse_profile(args.cni))
    start = time.perf_counter()
    workspace = load_workspace(args.paths)
    loaded = time.perf_counter()
    probes = default_probes(workspace.policies, workspace.snapshot)
    pods = [p for p in workspace.snapshot.pods if not p.host_network]
    src, dst = pods[2].key, pods[3].key
    probe = Probe(8080, Protocol.TCP)
    first_engine = IncrementalEngine(workspace.snapshot, workspace.parsed, enforcement, workspace.definitions)
    first_engine.check(src, dst, probe)
    first_engine.counts(probes)
    first = time.perf_counter() - loaded
    checker, counter = _engines(workspace, enforcement, probes, src, dst, probe)
    gc.collect()
    gc.freeze()  # as a long-running server does after loading: old objects leave the GC's scans
    victim, twin = pods[len(pods) // 2], pods[20]
    used = {ip for p in workspace.snapshot.pods for ip in p.ips}
    free = next(twin.ip + k for k in range(1, 256) if twin.ip + k not in used)
    policy = next(p for p in checker.loaded if p.kind == "NetworkPolicy" and len(p.rules) > 1)
    events = {
        "pod added (a new replica, same node)": Event(
            Op.ADD, dataclasses.replace(twin, name=twin.name + "-new", ips=(free,))
        ),
        "pod deleted": Event(Op.DELETE, pods[30].key),
        "pod relabelled (moves to another app)": Event(
            Op.CHANGE, dataclasses.replace(victim, labels=pods[10].labels)
        ),
        "policy changed (one rule dropped)": Event(
            Op.CHANGE, dataclasses.replace(policy, rules=policy.rules[:-1])
        ),
        "policy deleted": Event(Op.DELETE, policy_key(policy)),
    }
    out: dict[str, float] = {}
    for name, event in events.items():
        t0 = time.perf_counter()
        checker.apply(event)
        checker.check(src, dst, probe)
        t1 = time.perf_counter()
        counter.apply(event)
        counter.counts(probes)
        t2 = time.perf_counter()
        out[f"{name}: event + check"] = (t1 - t0) * 1000
        out[f"{name}: event + matrix counts"] = (t2 - t1) * 1000
    doc = {
        "pods": len(workspace.snapshot.pods),
        "policies": len(workspace.policies),
        "load_seconds": round(loaded - start, 3),
        "first_answer_seconds": round(first, 3),
        "events_ms": {k: round(v, 1) for k, v in out.items()},
    }
    print(json.dumps(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
