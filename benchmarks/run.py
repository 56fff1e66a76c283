"""Benchmarks: kubefence against per-pair baselines measured in the same run.

For each size (pods × policies) it generates a seeded cluster (``generate.py``) and measures,
each tool in its own subprocess (process start and parsing included), wall time and peak RSS:

* ``kubefence matrix -o counts`` (the whole matrix, answered per equivalence class);
* ``kubefence check`` (one flow, end to end);
* the naive per-pair evaluator (``naive_matrix.py``, on sizes up to ``--naive-max-pods``, bounded
  by ``--naive-budget`` seconds and extrapolated to the whole matrix);
* with ``--with-nca``: Network Config Analyzer's per-pair connectivity map (installed into
  ``benchmarks/.nca-venv`` on first use), on NCA-safe clusters of ``--nca-sizes``, each under
  every cluster mix of ``--nca-isolation`` (NCA's time depends on how many pairs connect on
  restricted ports), and the verdict equality of ``kubefence matrix -o json`` with NCA's map
  at the probed ports.

Figures are printed as ratios against the baselines of the same run. It also measures one
incremental re-answer after a pod and a policy change on a loaded snapshot, and writes a plot
(PNG, needs matplotlib: ``pip install -e '.[bench]'``) of time against pods at a fixed number
of classes. Results go to ``benchmarks/results/`` (``latest.json``, ``latest.md``, the PNG).

Usage: ``python benchmarks/run.py [--sizes 400x80,5000x1000,20000x2000] [--with-nca] [--quick]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / ".data"
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

import generate  # noqa: E402
import nca  # noqa: E402


@dataclass
class Run:
    """One measured subprocess."""

    wall: float
    rss_mib: float
    returncode: int
    timed_out: bool = False
    stdout: str = ""

    @property
    def ok(self) -> bool:
        return not self.timed_out and self.returncode in (0, 1)


def measure(cmd: list[str], timeout: float, stdout_file: Path | None = None) -> Run:
    """Run ``cmd``; its wall time and its own peak RSS (``wait4``), killed after ``timeout``."""
    out = stdout_file.open("w") if stdout_file else subprocess.PIPE
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, text=True)
    killed = threading.Event()

    def kill() -> None:
        killed.set()
        proc.kill()

    timer = threading.Timer(timeout, kill)
    timer.start()
    text = proc.stdout.read() if proc.stdout else ""  # type: ignore[union-attr]
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if stdout_file:
        out.close()  # type: ignore[union-attr]
    return Run(wall, usage.ru_maxrss / 1024, proc.returncode, killed.is_set(), text)


def in_child(fn: Any, *args: Any) -> Any:
    """``fn(*args)`` in a fresh process. This process must stay small: a child inherits its
    parent's peak RSS at fork (Linux copies the high-water mark with the address space), so
    every later ``measure`` would report at least what generating a cluster or reading a
    verdict file once took here."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def compile_bytecode() -> None:
    """Write kubefence's bytecode now, as ``pip install`` does for an installed package, so that
    no measured run compiles its modules from source (``PYTHONDONTWRITEBYTECODE`` would make
    every run do that: +0.1 s to each start-up, a cost the installed NCA never pays)."""
    import compileall

    compileall.compile_dir(str(ROOT / "src" / "kubefence"), quiet=1)


def kubefence() -> str:
    found = ROOT / ".venv" / "bin" / "kubefence"
    return str(found) if found.exists() else shutil.which("kubefence") or "kubefence"


def dataset(pods: int, policies: int, **extra: Any) -> Path:
    spec = generate.Spec(pods, policies, **extra)
    tag = f"{pods}x{policies}" + "".join(f"-{k}{v}" for k, v in sorted(extra.items()))
    folder = DATA / tag
    if not (folder / "policies.yaml").exists():
        in_child(generate.write, spec, folder)
    return folder


def first_pods(folder: Path) -> tuple[str, str]:
    """Two pod keys of a generated folder, for ``check`` (a frontend and a backend pod)."""
    names: list[str] = []
    namespace = name = None
    with (folder / "pods.yaml").open() as lines:
        for line in lines:
            text = line.strip()
            if text.startswith("name: ") and name is None and line.startswith("  name"):
                name = text[6:]
            elif text.startswith("namespace: ") and line.startswith("  namespace"):
                namespace = text[11:]
            elif text == "---":
                if name and namespace and not name.startswith(("coredns", "kube-proxy")):
                    names.append(f"{namespace}/{name}")
                name = namespace = None
            if len(names) >= 2:
                break
    return names[0], names[1]


# -- measurements ----------------------------------------------------------------------------


@dataclass
class SizeResult:
    pods: int
    policies: int
    counts: dict[str, Any] = field(default_factory=dict)
    matrix: dict[str, float] = field(default_factory=dict)
    check: dict[str, float] = field(default_factory=dict)
    naive: dict[str, Any] = field(default_factory=dict)
    classes: int | None = None


def run_size(pods: int, policies: int, args: argparse.Namespace) -> SizeResult:
    folder = dataset(pods, policies)
    result = SizeResult(pods, policies)
    best = _best(
        lambda: measure([kubefence(), "matrix", str(folder), "-o", "counts"], args.timeout), args.repeat
    )
    result.matrix = {"seconds": best.wall, "rss_mib": best.rss_mib, "ok": best.ok}
    if best.ok:
        result.counts = json.loads(best.stdout)
    src, dst = first_pods(folder)
    check = _best(
        lambda: measure(
            [kubefence(), "check", str(folder), "--from", src, "--to", dst, "--port", "8080"], 120
        ),
        args.repeat,
    )
    result.check = {"seconds": check.wall, "rss_mib": check.rss_mib, "ok": check.ok}
    result.classes = _class_count(folder)
    if pods <= args.naive_max_pods:
        cmd = [sys.executable, str(HERE / "naive_matrix.py"), str(folder), "--budget", str(args.naive_budget)]
        naive = measure(cmd, args.naive_budget * 4 + 120)
        if naive.ok:
            result.naive = {**json.loads(naive.stdout), "rss_mib": naive.rss_mib}
    return result


def _best(run: Any, repeat: int) -> Run:
    runs = [run() for _ in range(max(repeat, 1))]
    return min(runs, key=lambda r: r.wall)


def _class_count(folder: Path) -> int:
    code = (
        "import sys, json\n"
        "from kubefence.workspace.load import load_workspace\n"
        "from kubefence.engine.endpoints import Universe\n"
        "from kubefence.engine.resolve import Resolution\n"
        "from kubefence.engine.matrix import ReachabilityMatrix\n"
        "w = load_workspace([sys.argv[1]])\n"
        "print(ReachabilityMatrix(Resolution(w.policies, Universe(w.snapshot))).class_count)\n"
    )
    out = subprocess.run([_python(), "-c", code, str(folder)], capture_output=True, text=True, check=False)
    return int(out.stdout.strip() or -1)


def _python() -> str:
    found = ROOT / ".venv" / "bin" / "python"
    return str(found) if found.exists() else sys.executable


def run_nca(args: argparse.Namespace) -> dict[str, Any]:
    """NCA against kubefence on NCA-safe clusters: time, memory, verdict equality."""
    if not nca.ensure_installed(DATA / "nca-install.log"):
        return {"error": "network-config-analyzer could not be installed"}
    out: dict[str, Any] = {"version": nca.version(), "sizes": []}
    # NCA's time depends on the cluster, not only on its size: it spends most of it writing the
    # connections of each connected pair, so a cluster where most pairs connect on a few ports
    # costs it more than one where most pairs are denied. Each size runs under every mix given.
    for (pods, policies), isolation in itertools.product(args.nca_sizes, args.nca_isolation):
        folder = dataset(pods, policies, nca_safe=True, isolation=isolation)
        nca_file = DATA / f"nca-{pods}x{policies}-{isolation}.txt"

        def run_nca_once(f: Path = folder, out_file: Path = nca_file) -> Run:
            out_file.unlink(missing_ok=True)  # nca appends to --file_out
            return measure(nca.command(f, out_file), args.nca_timeout)

        # Best of --repeat on both sides: NCA's time alone varies by half from run to run.
        theirs = _best(run_nca_once, args.repeat)
        ours = _best(
            lambda f=folder: measure([kubefence(), "matrix", str(f), "-o", "counts"], 600), args.repeat
        )
        json_file = DATA / f"kubefence-{pods}x{policies}-{isolation}.json"
        ours_json = measure([kubefence(), "matrix", str(folder), "-o", "json"], 600, json_file)
        entry: dict[str, Any] = {
            "pods": pods,
            "policies": policies,
            "isolation": isolation,
            "nca": {
                "seconds": theirs.wall,
                "rss_mib": theirs.rss_mib,
                "ok": theirs.ok,
                "timed_out": theirs.timed_out,
            },
            "kubefence_counts": {"seconds": ours.wall, "rss_mib": ours.rss_mib},
            "kubefence_json": {"seconds": ours_json.wall, "rss_mib": ours_json.rss_mib},
        }
        if theirs.ok and ours_json.ok:
            entry["equality"] = in_child(compare, json_file, nca_file)
        out["sizes"].append(entry)
    return out


def compare(kubefence_json: Path, nca_map: Path) -> dict[str, Any]:
    """Allowed tuples at the probed ports: kubefence's JSON against NCA's per-pair map."""
    doc = json.loads(kubefence_json.read_text())
    theirs = nca.read_map(nca_map)
    ours = {tuple(t) for t in doc["allowed"]}
    probes = [(p["port"], p["protocol"]) for p in doc["probes"]]
    nca_allowed = {
        (s, d, port, proto)
        for (s, d), conns in theirs.items()
        for port, proto in probes
        if nca.allows(conns, port, proto)
    }
    only_ours, only_theirs = sorted(ours - nca_allowed), sorted(nca_allowed - ours)
    total = len(ours) + len(doc["denied"])
    return {
        "verdicts": total,
        "equal": not only_ours and not only_theirs,
        "allowed_only_by_kubefence": len(only_ours),
        "allowed_only_by_nca": len(only_theirs),
        "examples": [list(t) for t in (only_ours[:3] + only_theirs[:3])],
    }


def run_incremental(args: argparse.Namespace) -> dict[str, Any]:
    folder = dataset(*args.incremental_size)
    cmd = [_python(), str(HERE / "incremental.py"), str(folder)]
    run = measure(cmd, 600)
    return json.loads(run.stdout) if run.ok and run.stdout.strip() else {"error": f"exit {run.returncode}"}


def run_scaling(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Time against pods at a fixed number of apps (classes) and policies."""
    points = []
    for pods in args.plot_pods:
        folder = dataset(
            pods, args.plot_policies, apps=args.plot_apps, namespaces=max(2, args.plot_apps // 10)
        )
        total = _best(
            lambda f=folder: measure([kubefence(), "matrix", str(f), "-o", "counts"], 600), args.repeat
        )
        split = measure([_python(), str(HERE / "phases.py"), str(folder)], 600)
        phases = json.loads(split.stdout) if split.ok else {}
        points.append({"pods": pods, "seconds": total.wall, "rss_mib": total.rss_mib, **phases})
    return points


# -- reporting -------------------------------------------------------------------------------


def _ratio(theirs: float | None, ours: float | None) -> str:
    if not theirs or not ours:
        return "–"
    return f"{theirs / ours:,.0f}×" if theirs / ours >= 10 else f"{theirs / ours:.1f}×"


def report(results: dict[str, Any]) -> str:
    lines = [f"Machine: {results['machine']}", ""]
    lines += [
        "| pods × policies | classes | `matrix -o counts` | peak RSS | `check` "
        "| naive per-pair (extrapolated) | naive ÷ kubefence |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results["sizes"]:
        naive = r["naive"]
        naive_s = naive.get("extrapolated_seconds")
        naive_text = f"{naive_s:,.0f} s{'' if naive.get('complete') else ' (est.)'}" if naive_s else "not run"
        lines.append(
            f"| {r['pods']:,} × {r['policies']:,} | {r['classes']} | {r['matrix']['seconds']:.2f} s "
            f"| {r['matrix']['rss_mib']:.0f} MiB | {r['check']['seconds']:.2f} s | {naive_text} "
            f"| {_ratio(naive_s, r['matrix']['seconds'])} |"
        )
    if results.get("nca"):
        lines += ["", _nca_report(results["nca"])]
    if results.get("incremental"):
        inc = results["incremental"]
        lines += [
            "",
            "Incremental re-answers on a loaded snapshot ("
            f"{inc.get('pods', '?')} pods, {inc.get('policies', '?')} policies; load "
            f"{inc.get('load_seconds', 0):.2f} s, "
            f"first full answer {inc.get('first_answer_seconds', 0):.2f} s):",
            "",
        ]
        for name, ms in inc.get("events_ms", {}).items():
            lines.append(f"- {name}: {ms:.1f} ms")
    if results.get("scaling"):
        lines += [
            "",
            "Fixed classes (`--plot-apps`), growing pods: "
            + ", ".join(
                f"{p['pods']:,} pods {p['seconds']:.2f} s ({p.get('classes', '?')} classes, "
                f"engine {p.get('engine_seconds', 0):.2f} s)"
                for p in results["scaling"]
            ),
        ]
    return "\n".join(lines)


def _nca_report(data: dict[str, Any]) -> str:
    if "error" in data:
        return f"NCA: {data['error']}"
    lines = [f"{data['version']} (per-pair map, `-o txt_no_fw_rules`) on NCA-safe clusters:", ""]
    lines += [
        "| pods × policies | cluster (`--isolation`) | NCA | kubefence `-o counts` | NCA ÷ kubefence "
        "| kubefence `-o json` | RSS NCA / kubefence | verdicts equal |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e in data["sizes"]:
        eq = e.get("equality", {})
        equal = (
            (
                "yes"
                if eq.get("equal")
                else f"no ({eq.get('allowed_only_by_kubefence')} / {eq.get('allowed_only_by_nca')})"
            )
            if eq
            else "–"
        )
        if eq:
            equal += f", {eq['verdicts']:,} verdicts"
        nca_s = e["nca"]["seconds"]
        nca_text = f"{nca_s:.2f} s" + (" (timed out)" if e["nca"]["timed_out"] else "")
        lines.append(
            f"| {e['pods']} × {e['policies']} | {e.get('isolation', 'mixed')} | {nca_text} "
            f"| {e['kubefence_counts']['seconds']:.2f} s "
            f"| {_ratio(nca_s, e['kubefence_counts']['seconds'])} | {e['kubefence_json']['seconds']:.2f} s "
            f"| {e['nca']['rss_mib']:.0f} / {e['kubefence_counts']['rss_mib']:.0f} MiB | {equal} |"
        )
    return "\n".join(lines)


def plot(points: list[dict[str, Any]], path: Path, apps: int, policies: int) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install -e '.[bench]'): no plot"
    pods = [p["pods"] for p in points]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(pods, [p["seconds"] for p in points], "o-", label="kubefence matrix -o counts (total)")
    if all("engine_seconds" in p for p in points):
        ax.plot(pods, [p["engine_seconds"] for p in points], "s-", label="engine only (after parsing)")
        ax.plot(pods, [p["load_seconds"] for p in points], "^--", label="parsing YAML")
    base = points[0]
    quad = [base["seconds"] * (n / base["pods"]) ** 2 for n in pods]
    ax.plot(pods, quad, ":", color="grey", label="pods² growth from the first point")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("pods")
    ax.set_ylabel("seconds")
    classes = ", ".join(str(p.get("classes", "?")) for p in points)
    ax.set_title(f"{apps} apps, {policies} policies: classes {classes}")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return f"plot: {path}"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, Python {platform.python_version()}"


def _sizes(text: str) -> list[tuple[int, int]]:
    out = []
    for item in text.split(","):
        pods, _, policies = item.strip().partition("x")
        out.append((int(pods), int(policies)))
    return out


def _isolations(text: str) -> list[str]:
    names = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [n for n in names if n not in generate.ISOLATION]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown mix {unknown[0]!r}; known: {', '.join(generate.ISOLATION)}"
        )
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=_sizes, default=_sizes("400x80,5000x1000,20000x2000"))
    parser.add_argument("--repeat", type=int, default=1, help="runs per kubefence measurement (best kept)")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--naive-max-pods", type=int, default=400)
    parser.add_argument("--naive-budget", type=float, default=30)
    parser.add_argument("--with-nca", action="store_true")
    parser.add_argument("--nca-sizes", type=_sizes, default=_sizes("400x80"))
    parser.add_argument(
        "--nca-isolation",
        type=_isolations,
        default=_isolations("mixed,segmented"),
        help="comma-separated cluster mixes (generate.py --isolation) to run NCA on",
    )
    parser.add_argument("--nca-timeout", type=float, default=900)
    parser.add_argument("--incremental-size", type=lambda t: _sizes(t)[0], default=(5000, 1000))
    parser.add_argument("--no-incremental", action="store_true")
    parser.add_argument(
        "--plot-pods", type=lambda t: [int(x) for x in t.split(",")], default=[1000, 5000, 20000]
    )
    parser.add_argument("--plot-apps", type=int, default=200)
    parser.add_argument("--plot-policies", type=int, default=400)
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--quick", action="store_true", help="small sizes only (a smoke run)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.plot_pods, args.naive_budget = _sizes("200x40,1000x200"), [500, 1000, 2000], 5
        args.nca_sizes, args.incremental_size = _sizes("100x20"), (1000, 200)
    compile_bytecode()
    results: dict[str, Any] = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "sizes": []}
    for pods, policies in args.sizes:
        print(f"size {pods} pods × {policies} policies ...", file=sys.stderr)
        results["sizes"].append(asdict(run_size(pods, policies, args)))
    if args.with_nca:
        print("NCA ...", file=sys.stderr)
        results["nca"] = run_nca(args)
    if not args.no_incremental:
        print("incremental ...", file=sys.stderr)
        results["incremental"] = run_incremental(args)
    if not args.no_plot:
        print("scaling ...", file=sys.stderr)
        results["scaling"] = run_scaling(args)
    args.out.mkdir(parents=True, exist_ok=True)
    text = report(results)
    if results.get("scaling"):
        text += "\n\n" + plot(
            results["scaling"], args.out / "scaling.png", args.plot_apps, args.plot_policies
        )
    (args.out / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "latest.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
