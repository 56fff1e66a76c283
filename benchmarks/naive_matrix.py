"""The per-pair baseline: every ordered pair × probe through ``kubefence.engine.naive``, which
re-matches every selector for every flow, as a per-pair analyzer does. Bounded in time: it
stops after ``--budget`` seconds and extrapolates from the pairs it finished.

Prints one JSON object: pairs and probes done, allowed count, seconds spent (parse included),
the extrapolated seconds for the whole matrix, and whether it completed.

Usage: ``python benchmarks/naive_matrix.py DIR [--budget 30]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

START = time.perf_counter()

from kubefence.engine import naive  # noqa: E402
from kubefence.engine.endpoints import Universe  # noqa: E402
from kubefence.engine.probes import default_probes  # noqa: E402
from kubefence.workspace.load import load_workspace  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--budget", type=float, default=30.0, help="seconds of pair evaluation at most")
    args = parser.parse_args()
    workspace = load_workspace(args.paths)
    snapshot, policies = workspace.snapshot, list(workspace.policies)
    probes = default_probes(policies, snapshot)
    ends = [naive.Remote(e.ip, e.pod) for e in Universe(snapshot).endpoints]
    n = len(ends)
    setup = time.perf_counter() - START
    began = time.perf_counter()
    deadline = began + args.budget
    done = allowed = 0
    complete = True
    for src in range(n):
        if time.perf_counter() > deadline:
            complete = False
            break
        for dst in range(n):
            if src == dst:
                continue
            for probe in probes:
                allowed += naive.allowed(snapshot, policies, ends[src], ends[dst], probe.protocol, probe.port)
            done += 1
    spent = time.perf_counter() - began
    total_pairs = n * (n - 1)
    extrapolated = setup + (spent / done * total_pairs if done else float("inf"))
    doc = {
        "endpoints": n,
        "probes": len(probes),
        "pairs_done": done,
        "pairs_total": total_pairs,
        "allowed_in_done": allowed,
        "setup_seconds": round(setup, 3),
        "seconds": round(setup + spent, 3),
        "extrapolated_seconds": round(extrapolated, 3),
        "complete": complete,
    }
    json.dump(doc, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
