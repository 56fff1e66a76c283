"""Where ``matrix -o counts`` spends its time: parsing vs the engine, and the class count.

Prints ``{"load_seconds", "engine_seconds", "classes", "endpoints"}`` for one folder.
Usage: ``python benchmarks/phases.py DIR``.
"""

from __future__ import annotations

import json
import sys
import time

from kubefence.engine.endpoints import Universe
from kubefence.engine.matrix import ReachabilityMatrix
from kubefence.engine.probes import default_probes
from kubefence.engine.resolve import Resolution
from kubefence.workspace.load import load_workspace


def main() -> int:
    start = time.perf_counter()
    workspace = load_workspace(sys.argv[1:])
    loaded = time.perf_counter()
    matrix = ReachabilityMatrix(Resolution(workspace.policies, Universe(workspace.snapshot)))
    matrix.counts(default_probes(workspace.policies, workspace.snapshot))
    done = time.perf_counter()
    doc = {
        "load_seconds": round(loaded - start, 3),
        "engine_seconds": round(done - loaded, 3),
        "classes": matrix.class_count,
        "endpoints": len(matrix.universe),
    }
    print(json.dumps(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
