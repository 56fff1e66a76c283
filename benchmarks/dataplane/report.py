"""Figures → targets (pass/fail) and the printed tables of the data-plane benchmark."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from pathlib import Path
from typing import Any

NO_CHANGE = (0.90, 1.10)  # "no significant change" between 10k and 100k entries


def _first_line(*cmd: str) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return "not installed"
    return (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr) else ""


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def machine() -> dict[str, Any]:
    debian = Path("/etc/debian_version")
    return {
        "cpus": os.cpu_count(),
        "cpu": _cpu(),
        "kernel": platform.release(),
        "os": f"Debian {debian.read_text().strip()}" if debian.exists() else platform.platform(),
        "python": platform.python_version(),
        "nft": _first_line("nft", "--version"),
        "iptables": _first_line("iptables", "--version"),
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
    }


def _ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def update_summary(raw: dict[str, Any]) -> dict[str, Any]:
    """Medians in milliseconds."""
    pod = {
        f"{where}_{op}_ms": _ms(raw["pod"][where][op])
        for where in ("remote", "local")
        for op in ("add", "remove")
    }
    pod["compile_ms"] = max(raw["pod"][w]["compile_s"] for w in ("remote", "local")) * 1000
    policy = raw["policy"]
    totals = [c + k for c, k in zip(policy["compile"], policy["kernel"], strict=True)]
    out: dict[str, Any] = {
        "pod": pod,
        "policy": {
            "compile_ms": _ms(policy["compile"]),
            "kernel_ms": _ms(policy["kernel"]),
            "total_ms": _ms(totals),
            "applied_as": policy["modes"],
            "entries": policy["entries"],
            "pods": policy["pods"],
            "policies": policy["policies"],
        },
    }
    for key in ("resync_10k", "resync_100k"):
        out[key] = {"replace_ms": _ms(raw[key]["replace"]), "first_load_ms": raw[key]["first_load"] * 1000}
    return out


def _target(name: str, value: float, unit: str, target: str, ok: bool | None) -> dict[str, Any]:
    return {"name": name, "value": round(value, 4), "unit": unit, "target": target, "pass": ok}


def _traffic_targets(t: dict[str, Any]) -> list[dict[str, Any]]:
    ten, hundred = t["nft-10k"], t["nft-100k"]
    lo, hi = NO_CHANGE
    out = [
        _target(
            "throughput nft-10k / none",
            ten["ratio"]["gbit_s"],
            "x",
            ">= 0.90",
            ten["ratio"]["gbit_s"] >= 0.90,
        ),
        _target(
            "new conn/s nft-10k / none",
            ten["ratio"]["conn_s"],
            "x",
            ">= 0.85",
            ten["ratio"]["conn_s"] >= 0.85,
        ),
        _target(
            "RR p50 nft-10k / none", ten["ratio"]["p50_us"], "x", "<= 1.15", ten["ratio"]["p50_us"] <= 1.15
        ),
    ]
    for metric, label in (("gbit_s", "throughput"), ("conn_s", "new conn/s"), ("p50_us", "RR p50")):
        ratio = hundred[metric] / ten[metric]
        out.append(
            _target(f"{label} nft-100k / nft-10k", ratio, "x", f"{lo:.2f}-{hi:.2f}", lo <= ratio <= hi)
        )
    for name, entry in t.items():
        if entry["kind"] == "iptables":
            for metric, label in (("gbit_s", "throughput"), ("conn_s", "new conn/s")):
                out.append(
                    _target(f"{label} {name} / none (baseline)", entry["ratio"][metric], "x", "-", None)
                )
    ok = all(e["enforced_as_expected"] for e in t.values())
    out.append(_target("rules enforced (denied port closed, allowed open)", float(ok), "", "all", ok))
    return out


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    u = result["updates"]
    pod_worst = max(v for k, v in u["pod"].items() if k != "compile_ms")
    policy = u["policy"]
    return [
        *_traffic_targets(result["traffic"]),
        _target("one pod add/remove in the kernel (worst median)", pod_worst, "ms", "<= 1", pod_worst <= 1.0),
        _target(
            "one policy change at 1k/5k (compile + kernel)",
            policy["total_ms"],
            "ms",
            "<= 100",
            policy["total_ms"] <= 100,
        ),
        _target(
            "full atomic resync at 10k",
            u["resync_10k"]["replace_ms"],
            "ms",
            "<= 100",
            u["resync_10k"]["replace_ms"] <= 100,
        ),
        _target(
            "full atomic resync at 100k",
            u["resync_100k"]["replace_ms"],
            "ms",
            "<= 1000",
            u["resync_100k"]["replace_ms"] <= 1000,
        ),
    ]


# -- rendering ------------------------------------------------------------------------------
def _traffic_table(t: dict[str, Any]) -> list[str]:
    head = f"{'config':<12} {'holds':<24} {'Gbit/s':>7} {'ratio':>6} {'conn/s':>8} {'ratio':>6}"
    head += f" {'RR p50 µs':>9} {'ratio':>6} {'p99 µs':>7} {'load s':>7}"
    lines = [head, "-" * len(head)]
    for name, e in t.items():
        r = e["ratio"]
        lines.append(
            f"{name:<12} {e['size']:<24} {e['gbit_s']:>7.2f} {r['gbit_s']:>6.2f} {e['conn_s']:>8.0f}"
            f" {r['conn_s']:>6.2f} {e['p50_us']:>9.1f} {r['p50_us']:>6.2f} {e['p99_us']:>7.1f}"
            f" {e['load_s']:>7.2f}"
        )
    return lines


def _noise_line(t: dict[str, Any]) -> str:
    spread = t["none"]["spread"]
    return (
        f"noise: none's (max - min) / median over the rounds: {spread['gbit_s']:.0%} Gbit/s, "
        f"{spread['conn_s']:.0%} conn/s, {spread['p50_us']:.0%} RR p50"
    )


def _update_lines(u: dict[str, Any], clusters: dict[str, Any]) -> list[str]:
    pod, policy = u["pod"], u["policy"]
    return [
        f"one pod add / remove, pod on another node (set elements):  {pod['remote_add_ms']:.3f} / "
        f"{pod['remote_remove_ms']:.3f} ms",
        f"one pod add / remove, pod on this node (set + map elements): {pod['local_add_ms']:.3f} / "
        f"{pod['local_remove_ms']:.3f} ms   (resolve + compile + diff: {pod['compile_ms']:.0f} ms)",
        f"one policy change, {policy['policies']:,} policies / {policy['pods']:,} pods "
        f"({policy['entries']:,} entries, "
        f"{'/'.join(policy['applied_as'])}): compile {policy['compile_ms']:.0f} ms + kernel "
        f"{policy['kernel_ms']:.0f} ms = {policy['total_ms']:.0f} ms",
        *(
            f"full atomic resync, {k} ({clusters[k]['entries']:,} entries): "
            f"{u['resync_' + k]['replace_ms']:.0f} ms"
            for k in ("10k", "100k")
        ),
    ]


def _target_lines(ts: list[dict[str, Any]]) -> list[str]:
    mark = {True: "PASS", False: "FAIL", None: "info"}
    return [
        f"  [{mark[t['pass']]}] {t['name']}: {t['value']:g}{t['unit']} (target {t['target']})" for t in ts
    ]


def render(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"machine: {m['cpus']} CPUs ({m['cpu']}), kernel {m['kernel']}, {m['os']},",
        f"         {m['nft']}, {m['iptables']}, Python {m['python']}, load {' '.join(m['loadavg'])}",
        f"client and server pinned to CPU {m['pinned_cpu']}",
        f"mode: {result['mode']} ({result['plan']['rounds']} rounds, medians, ratio = vs none)",
        "",
        *_traffic_table(result["traffic"]),
        _noise_line(result["traffic"]),
        "",
        *_update_lines(result["updates"], result["clusters"]),
        "",
        "targets:",
        *_target_lines(result["targets"]),
    ]
    return "\n".join(lines)
