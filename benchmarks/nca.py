"""Network Config Analyzer (``network-config-analyzer`` on PyPI): install, run, read.

NCA is installed into its own virtualenv, ``benchmarks/.nca-venv``, so that its pinned
dependencies never meet kubefence's. Its per-pair connectivity map is
``nca --connectivity POLICIES --pod_list PODS --ns_list NAMESPACES -o txt_no_fw_rules``: one
line per connected pair, ``ns/a[Pod] => ns/b[Pod] : {protocols:TCP,dst_ports:80,9000-9100}``
(or ``All connections``); pairs not listed are not connected.

Known differences with the upstream semantics (which kubefence follows), avoided by
``generate.py --nca-safe``: NCA never matches an ipBlock against pod IPs, and for
``Exists``/``DoesNotExist`` in a peer's podSelector next to a namespaceSelector it looks only
at pods of the policy's own namespace.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".nca-venv"
PACKAGE = "network-config-analyzer"
ALL_PORTS = ((1, 65535),)
_LINE = re.compile(r"^(?P<src>\S+)\[Pod\] => (?P<dst>\S+)\[Pod\] : (?P<conns>.*)$")
_GROUP = re.compile(r"\{([^{}]*)\}")

Conns = dict[str, tuple[tuple[int, int], ...]]  # protocol → port ranges


def executable() -> Path:
    return VENV / "bin" / "nca"


def ensure_installed(log: Path | None = None) -> bool:
    """Install NCA into ``.nca-venv`` if it is not there; True when ``nca`` runs."""
    if not executable().exists():
        print(f"installing {PACKAGE} into {VENV} ...", file=sys.stderr)
        out = log.open("w") if log else subprocess.DEVNULL
        try:
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, stdout=out, stderr=out)
            pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q", PACKAGE]
            subprocess.run(pip, check=True, stdout=out, stderr=out)
        except subprocess.CalledProcessError:
            return False
        finally:
            if log:
                out.close()  # type: ignore[union-attr]
    probe = subprocess.run([str(executable()), "--version"], capture_output=True, text=True, check=False)
    return probe.returncode == 0


def version() -> str:
    probe = subprocess.run([str(executable()), "--version"], capture_output=True, text=True, check=False)
    return (probe.stdout or probe.stderr).strip().splitlines()[-1] if probe.returncode == 0 else "?"


def command(folder: Path, out_file: Path) -> list[str]:
    """The per-pair connectivity map of a generated folder, written to ``out_file``."""
    return [
        str(executable()),
        "--connectivity",
        str(folder / "policies.yaml"),
        "--pod_list",
        str(folder / "pods.yaml"),
        "--ns_list",
        str(folder / "namespaces.yaml"),
        "--output_format",
        "txt_no_fw_rules",
        "--file_out",
        str(out_file),
    ]


def parse_conns(text: str) -> Conns:
    """``All connections`` / ``{protocols:TCP, UDP,dst_ports:53,9000-9100}`` groups / ``All but
    {...}`` (everything except the groups) → ranges per protocol."""
    text = text.strip()
    if text == "All connections":
        return dict.fromkeys(("TCP", "UDP", "SCTP"), ALL_PORTS)
    out: dict[str, list[tuple[int, int]]] = {}
    for group in _GROUP.findall(text):
        protocols, ports = _group(group)
        for proto in protocols:
            out.setdefault(proto, []).extend(ports)
    if text.startswith("All but"):  # every connection except the groups listed
        return {p: _complement(out.get(p, [])) for p in ("TCP", "UDP", "SCTP")}
    return {p: tuple(r) for p, r in out.items()}


def _complement(ranges: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """The ports of 1-65535 in none of ``ranges``."""
    out, low = [], 1
    for start, end in sorted(ranges):
        if start > low:
            out.append((low, start - 1))
        low = max(low, end + 1)
    if low <= 65535:
        out.append((low, 65535))
    return tuple(out)


def _group(group: str) -> tuple[list[str], list[tuple[int, int]]]:
    fields = dict(part.split(":", 1) for part in re.split(r",(?=[a-z_]+:)", group))
    protocols = [p.strip() for p in fields.get("protocols", "TCP, UDP, SCTP").split(",")]
    ports: list[tuple[int, int]] = []
    for item in fields.get("dst_ports", "1-65535").split(","):
        low, _, high = item.strip().partition("-")
        ports.append((int(low), int(high or low)))
    return protocols, ports


def read_map(path: Path) -> dict[tuple[str, str], Conns]:
    """(src, dst) pod keys → connections, from a ``txt_no_fw_rules`` output file. A pair
    may have several lines (one per protocol group): their connections add up."""
    found: dict[tuple[str, str], dict[str, tuple[tuple[int, int], ...]]] = {}
    for line in path.read_text().splitlines():
        match = _LINE.match(line.strip())
        if match:
            conns = found.setdefault((match["src"], match["dst"]), {})
            for proto, ranges in parse_conns(match["conns"]).items():
                conns[proto] = conns.get(proto, ()) + ranges
    return found


def allows(conns: Conns | None, port: int, protocol: str) -> bool:
    if not conns:
        return False
    return any(lo <= port <= hi for lo, hi in conns.get(protocol, ()))
