"""What ``lab up`` leaves for ``lab probe`` and ``lab down``: one JSON file per lab.

``/run/kubefence-lab/<prefix>.json`` holds the plan, the probes the servers serve, the server's
pid and the outside addresses that are endpoints. It lives on a tmpfs, so a reboot (which also
removes every namespace) forgets it. Teardown never needs it: ``lab down`` works by prefix.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from kubefence.engine.probes import Probe, parse_probe
from kubefence.errors import LabError
from kubefence.lab.names import check_prefix
from kubefence.lab.plan import LabPlan

__all__ = ["STATE_DIR", "LabState", "load_state", "log_path", "remove_state", "save_state", "state_path"]

STATE_DIR = Path("/run/kubefence-lab")
_VERSION = 1


def state_path(prefix: str) -> Path:
    return STATE_DIR / f"{check_prefix(prefix)}.json"


def log_path(prefix: str) -> Path:
    """Where the lab's server writes its errors."""
    return STATE_DIR / f"{check_prefix(prefix)}.serve.log"


@dataclass(frozen=True, slots=True)
class LabState:
    """A built lab as another process needs to know it."""

    plan: LabPlan
    probes: tuple[Probe, ...]
    server_pid: int
    server_ports: tuple[str, ...]
    outside_endpoints: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "version": _VERSION,
            "plan": self.plan.to_json(),
            "probes": [str(p) for p in self.probes],
            "server": {"pid": self.server_pid, "ports": list(self.server_ports)},
            "outside_endpoints": self.outside_endpoints,
        }


def save_state(state: LabState) -> Path:
    path = state_path(state.plan.prefix)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state.to_json(), indent=1))
    os.replace(tmp, path)
    return path


def load_state(prefix: str) -> LabState:
    """The saved state of lab ``prefix``; LabError when there is none or it is unreadable."""
    path = state_path(prefix)
    try:
        data = json.loads(path.read_text())
        server = data["server"]
        return LabState(
            LabPlan.from_json(data["plan"]),
            tuple(parse_probe(p) for p in data["probes"]),
            int(server["pid"]),
            tuple(str(p) for p in server["ports"]),
            bool(data.get("outside_endpoints", False)),
        )
    except FileNotFoundError:
        raise LabError(f"no lab with prefix {prefix!r} is up (start one with 'kubefence lab up')") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise LabError(f"the state of lab {prefix!r} in {path} is unreadable: {e}") from None


def remove_state(prefix: str) -> None:
    """Forget lab ``prefix``: its state, its server log and its creation lock file."""
    paths = [state_path(prefix), log_path(prefix), STATE_DIR / f"{prefix}.lock", STATE_DIR / f"{prefix}.tmp"]
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
