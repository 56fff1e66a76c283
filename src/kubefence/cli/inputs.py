"""Loading the user's paths for a command: diagnostics to stderr, exit 2 on errors."""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence
from dataclasses import replace

import typer

from kubefence.cli.consoles import stderr
from kubefence.cli.exitcodes import ExitCode
from kubefence.cli.progress import loading
from kubefence.engine.endpoints import Universe
from kubefence.engine.prepare import DnsMap, prepare
from kubefence.engine.profiles import (
    GENERIC,
    Profile,
    ProfileError,
    apply_profile,
    bind_to_snapshot,
    parse_profile,
)
from kubefence.engine.resolve import Resolution
from kubefence.ir.addresses import IPAddress
from kubefence.ir.diagnostics import Diagnostic, Severity
from kubefence.workspace.load import Workspace, load_workspace

__all__ = [
    "fail",
    "load",
    "load_for",
    "parse_dns",
    "profile_of",
    "resolve",
    "stderr",
    "warn",
    "warning_texts",
]

_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "dim"}


def fail(message: str) -> typer.Exit:
    """Print a usage or input error and return the exit to raise (code 2)."""
    stderr().print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    return typer.Exit(ExitCode.INPUT_ERROR)


def _print(d: Diagnostic) -> None:
    stderr().print(str(d), style=_STYLE[d.severity], markup=False)


def warn(message: str) -> None:
    """Print a warning that is about the question rather than an input (styled as theirs)."""
    stderr().print(f"warning: {message}", style=_STYLE[Severity.WARNING], markup=False, highlight=False)


def warning_texts(workspace: Workspace) -> list[str]:
    return [str(d) for d in workspace.warnings]


def load(paths: Sequence[str], verbose: bool, quiet_warnings: bool = False) -> Workspace:
    """Load or exit 2: every error printed with its file, line, object and field."""
    if not paths:
        raise fail("no input: give one or more files or folders, or '-' for standard input")
    with loading() as progress:
        workspace = load_workspace(paths, sys.stdin, progress)
    gc.freeze()  # what was loaded lives until the command ends: later collections skip it
    for d in workspace.diagnostics:
        if d.is_error or (d.severity is Severity.WARNING and not quiet_warnings) or verbose:
            _print(d)
    if verbose:
        for item in workspace.skipped:
            stderr().print(f"skipped (kind not used by kubefence): {item}", style="dim", markup=False)
    if workspace.errors:
        count = len(workspace.errors)
        raise fail(f"{count} input error{'s' if count > 1 else ''}; nothing was analysed")
    return workspace


def profile_of(cni: str) -> Profile:
    """``--cni NAME[@VERSION]`` → Profile, or exit 2 with the reason."""
    try:
        return parse_profile(cni)
    except ProfileError as e:
        raise fail(f"--cni: {e}") from None


def parse_dns(values: Sequence[str]) -> DnsMap | None:
    """``--dns NAME=IP[,IP...]`` (repeatable) or ``--dns FILE`` (YAML/JSON: name → IP or list of
    IPs) → DnsMap; None when no --dns was given. Exit 2 on a malformed entry."""
    if not values:
        return None
    out: DnsMap = {}
    for value in values:
        entries = _dns_file(value) if "=" not in value else [value.split("=", 1)]
        for name, ips in entries:
            key = name.strip().lower().rstrip(".")
            out[key] = (*out.get(key, ()), *(_dns_ip(ip, value) for ip in ips.split(",")))
    return out


def _dns_ip(text: str, entry: str) -> IPAddress:
    ip = Universe.parse_ip(text.strip())
    if ip is None:
        raise fail(f"--dns {entry!r}: {text.strip()!r} is not an IP address")
    return ip


def _dns_file(path: str) -> list[tuple[str, str]]:
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        raise fail(
            f"--dns {path!r}: expected NAME=IP[,IP] or a YAML/JSON file of name: [ips] ({e})"
        ) from None
    if not isinstance(data, dict):
        raise fail(f"--dns {path!r}: the file must map DNS names to IP addresses")
    return [
        (str(name), ",".join(map(str, ips)) if isinstance(ips, list) else str(ips))
        for name, ips in data.items()
    ]


def load_for(
    paths: Sequence[str],
    verbose: bool,
    profile: Profile,
    strict: bool,
    quiet_warnings: bool = False,
    dns: DnsMap | None = None,
    staged: bool = False,
) -> Workspace:
    """``load`` then ``apply_profile``: the workspace holds the policies as the CNI enforces them,
    and the profile's warnings join its diagnostics (so JSON ``warnings`` lists them). Profile
    warnings always go to stderr too. ``strict``: exit 2 when anything is not enforced."""
    workspace = load(paths, verbose, quiet_warnings)
    policies, warnings = apply_profile(profile, workspace.policies, staged=staged)
    policies = tuple(bind_to_snapshot(profile, p, workspace.snapshot, warnings) for p in policies)
    for d in warnings:
        _print(d)
    if strict and warnings:
        objects = sorted({d.object or "?" for d in warnings})
        raise fail(
            f"--strict: {len(objects)} input{'s are' if len(objects) > 1 else ' is'} not fully enforced "
            f"by {profile.spec}: {', '.join(objects)}"
        )
    policies, notes = prepare(policies, workspace.snapshot, dns)
    for d in notes:
        _print(d)
    return replace(workspace, policies=policies, diagnostics=(*workspace.diagnostics, *warnings, *notes))


def resolve(
    workspace: Workspace, extra_ips: Sequence[IPAddress] = (), profile: Profile = GENERIC
) -> Resolution:
    return Resolution(
        workspace.policies,
        Universe(workspace.snapshot, extra_ips),
        ipblock_matches_pods=profile.ipblock_matches_pods,
    )
