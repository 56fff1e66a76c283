"""Privileged execution: build a LabPlan's namespaces and links, run code inside a namespace,
and tear a lab down by its prefix.

Teardown needs nothing but the prefix, so it also cleans up after a crash: it kills every
process whose network namespace is one of the lab's (found by namespace inode, never by
process name), deletes the lab's namespaces (their links, bridges and VXLAN devices go with
them) and removes any link named ``<prefix>-…`` left in the host namespace.

Code runs inside a namespace by switching the calling *thread* (``setns(2)`` on a network
namespace affects only the calling thread): sockets opened inside stay in that namespace
after the thread switches back, which is how one process serves or probes every pod.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kubefence.errors import LabError
from kubefence.lab.commands import root_links, scripts
from kubefence.lab.names import check_prefix, is_lab_name, node_netns

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from kubefence.lab.commands import Script
    from kubefence.lab.plan import LabPlan

__all__ = [
    "NETNS_DIR",
    "Namespaces",
    "Teardown",
    "alive",
    "check_privileges",
    "create",
    "destroy",
    "lab_namespaces",
    "node_netns",
    "run_batch",
    "run_in",
]

NETNS_DIR = Path("/run/netns")
LOCK_DIR = Path("/run/kubefence-lab")
CLONE_NEWNET = 0x40000000
COMMAND_TIMEOUT = 60.0
KILL_WAIT = 5.0


def check_privileges() -> None:
    """LabError unless this process can build a lab (root, and ``ip`` on PATH)."""
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces); run it as root, e.g. with sudo")
    for tool in ("ip", "bridge"):
        if shutil.which(tool) is None:
            raise LabError(f"the lab needs the {tool!r} command from iproute2 (apt-get install iproute2)")


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise LabError(f"setns failed: {os.strerror(err)}")


class Namespaces:
    """Open handles on lab namespaces, to switch the calling thread in and out of them."""

    def __init__(self) -> None:
        self._fds: dict[str, int] = {}

    def fd(self, name: str) -> int:
        if name not in self._fds:
            try:
                self._fds[name] = os.open(NETNS_DIR / name, os.O_RDONLY | os.O_CLOEXEC)
            except OSError as e:
                raise LabError(
                    f"network namespace {name!r} is missing ({e.strerror}); is the lab up?"
                ) from None
        return self._fds[name]

    @contextlib.contextmanager
    def inside(self, name: str) -> Iterator[None]:
        """The calling thread runs inside namespace ``name`` for the ``with`` block."""
        target = self.fd(name)
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(target)
            try:
                yield
            finally:
                _setns(home)
        finally:
            os.close(home)

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def __enter__(self) -> Namespaces:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_in(netns: str, argv: Sequence[str], timeout: float = COMMAND_TIMEOUT) -> str:
    """Run a command inside ``netns`` (forked from a thread switched into it); its stdout."""
    with Namespaces() as spaces, spaces.inside(netns):
        return _run(list(argv), timeout=timeout)


def _run(argv: list[str], stdin: str | None = None, timeout: float = COMMAND_TIMEOUT) -> str:
    try:
        done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise LabError(f"{argv[0]} failed: {e}") from None
    if done.returncode != 0:
        raise LabError(f"{' '.join(argv)} failed: {_failure(done.stderr, stdin)}")
    return done.stdout


def _failure(stderr: str, stdin: str | None) -> str:
    """The tool's message plus the batch line it names (``Command failed -:12``)."""
    message = stderr.strip() or "no message"
    for word in message.split():
        if word.startswith("-:") and word[2:].isdigit() and stdin is not None:
            lines = stdin.splitlines()
            index = int(word[2:]) - 1
            if 0 <= index < len(lines):
                return f"{message} (command: {lines[index]!r})"
    return message


def run_batch(lines: Sequence[str], netns: str | None = None, tool: str = "ip", force: bool = False) -> None:
    """Run ``tool -batch -`` (in ``netns`` when given); LabError naming the failing line."""
    if not lines:
        return
    argv = [tool, *(["-n", netns] if netns else []), *(["-force"] if force else []), "-batch", "-"]
    _run(argv, "\n".join(lines) + "\n")


def _run_scripts(all_scripts: Sequence[Script], tool: str) -> None:
    """Each namespace's batch, all at once (they touch disjoint namespaces)."""
    procs = []
    for script in all_scripts:
        lines = script.ip if tool == "ip" else script.bridge
        if lines:
            argv = [tool, "-n", script.netns, "-batch", "-"]
            proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            procs.append((proc, "\n".join(lines) + "\n", script.netns))
    errors = []
    for proc, text, netns in procs:
        try:
            _, err = proc.communicate(text, timeout=COMMAND_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            err = "timed out"
        if proc.returncode != 0:
            errors.append(f"in {netns}: {_failure(err, text)}")
    if errors:
        raise LabError(f"{tool} failed " + "; ".join(errors))


def _write_sysctls(spaces: Namespaces, script: Script) -> None:
    with spaces.inside(script.netns):
        for path, value in script.sysctls:
            try:
                Path("/proc/sys", path).write_text(value)
            except OSError as e:
                hint = " (is br_netfilter loaded? modprobe br_netfilter)" if "bridge" in path else ""
                raise LabError(
                    f"cannot set {path.replace('/', '.')}={value} in {script.netns}: {e.strerror}{hint}"
                ) from None


@contextlib.contextmanager
def _creation_lock(prefix: str) -> Iterator[None]:
    """Serialises lab creation per prefix, so two runs never both decide a prefix is free."""
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    with (LOCK_DIR / f"{prefix}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def create(plan: LabPlan) -> None:
    """Build every namespace, link, address and route of ``plan``; on failure nothing is left.

    LabError, touching nothing, when a lab with the same prefix exists."""
    check_privileges()
    with _creation_lock(plan.prefix):
        existing = lab_namespaces(plan.prefix)
        if existing:
            raise LabError(
                f"a lab with prefix {plan.prefix!r} already exists ({len(existing)} namespaces); "
                f"remove it with 'kubefence lab down --prefix {plan.prefix}'"
            )
        NETNS_DIR.mkdir(parents=True, exist_ok=True)
        try:
            _build(plan)
        except BaseException:
            destroy(plan.prefix)
            raise


def _build(plan: LabPlan) -> None:
    run_batch([f"netns add {name}" for name in plan.netns_names])
    all_scripts = scripts(plan)
    with Namespaces() as spaces:
        for script in all_scripts:
            _write_sysctls(spaces, script)
    run_batch(root_links(plan))
    _run_scripts(all_scripts, "ip")
    _run_scripts(all_scripts, "bridge")


@dataclass(frozen=True, slots=True)
class Teardown:
    """What ``destroy`` removed."""

    namespaces: tuple[str, ...]
    processes: tuple[int, ...]
    links: tuple[str, ...]


def lab_namespaces(prefix: str) -> list[str]:
    """The namespaces of the lab ``prefix`` that exist now."""
    check_prefix(prefix)
    try:
        names = os.listdir(NETNS_DIR)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if is_lab_name(prefix, n))


def _inode(path: str | Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _processes_in(names: Sequence[str]) -> list[int]:
    """Processes (other than this one) whose network namespace is one of ``names``."""
    wanted = {i for i in (_inode(NETNS_DIR / n) for n in names) if i is not None}
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid() and _inode(f"/proc/{entry}/ns/net") in wanted:
            found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its parent counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _kill(pids: Sequence[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + KILL_WAIT
    for pid in pids:
        while alive(pid) and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.01)


def _root_links(prefix: str) -> list[str]:
    try:
        return sorted(n for n in os.listdir("/sys/class/net") if is_lab_name(prefix, n))
    except FileNotFoundError:
        return []


def destroy(prefix: str) -> Teardown:
    """Remove everything of the lab ``prefix``: its processes, namespaces and stray links."""
    check_privileges()
    names = lab_namespaces(prefix)
    pids = _processes_in(names)
    _kill(pids)
    links = _root_links(prefix)
    # Errors are judged by what is left afterwards (a name may vanish on its own meanwhile).
    with contextlib.suppress(LabError):
        run_batch([f"netns del {n}" for n in names], force=True)
    with contextlib.suppress(LabError):
        run_batch([f"link del {link}" for link in links], force=True)
    left = lab_namespaces(prefix) + _root_links(prefix)
    if left:
        raise LabError(f"could not remove {', '.join(left)}")
    return Teardown(tuple(names), tuple(pids), tuple(links))
