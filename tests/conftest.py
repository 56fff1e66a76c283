"""Shared fixtures: where the conformance corpus lives, and a CLI runner."""

from __future__ import annotations

import ctypes.util
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kubefence.cli.app import app

HERE = Path(__file__).parent
PRIVILEGED = HERE / "privileged"
VENDORED = HERE / "conformance"
SHARED = HERE.parent.parent / "shared" / "conformance"


def conformance_dirs() -> list[Path]:
    """KUBEFENCE_CONFORMANCE (a path list) if set, else ../shared/conformance and the vendored copy."""
    env = os.environ.get("KUBEFENCE_CONFORMANCE")
    if env:
        return [Path(p) for p in env.split(os.pathsep) if p]
    return [d for d in (SHARED, VENDORED) if d.is_dir()]


@dataclass(frozen=True)
class Case:
    name: str
    root: Path
    folder: Path
    expected: dict[str, Any]

    @property
    def model(self) -> Path:
        return self.root / str(self.expected["model"])

    def policy_files(self) -> list[Path]:
        return sorted(self.folder.glob("policies*.yaml"))


def conformance_cases() -> list[Case]:
    seen: dict[str, Case] = {}
    for root in conformance_dirs():
        for folder in sorted((root / "cases").iterdir()):
            expected = folder / "expected.json"
            if folder.name not in seen and expected.is_file():
                seen[folder.name] = Case(folder.name, root, folder, json.loads(expected.read_text()))
    return list(seen.values())


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: str, input: str | None = None) -> Any:
    return runner.invoke(app, list(args), input=input, catch_exceptions=False)


# Every test under tests/privileged/ needs root and the kernel tools: it is marked
# ``privileged`` and skipped, with the reason, when any is missing (./scripts/test installs them).
def _missing() -> list[str]:
    missing = [] if os.geteuid() == 0 else ["root"]
    missing += [tool for tool in ("ip", "nft", "conntrack") if shutil.which(tool) is None]
    return missing + ([] if ctypes.util.find_library("nftables") else ["libnftables"])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = _missing()
    for item in items:
        if PRIVILEGED in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.privileged)
            if missing:
                item.add_marker(pytest.mark.skip(reason=f"needs {', '.join(missing)}"))
