"""The one error tree of kubefence.

::

    KubefenceError                 base of everything kubefence raises on purpose
    ├── InputError                 the user's input cannot be used (exit code 2)
    │   ├── ParseError             a file or object does not parse; carries Diagnostics
    │   └── ResolveError           a name given on the command line does not exist in the snapshot
    ├── CompileError               the IR cannot be compiled by a backend
    ├── ApplyError                 the kernel refused a ruleset
    └── LabError                   the lab could not be built or probed

Third-party errors are translated at the boundary where they occur (the loader turns
``yaml.YAMLError`` into a ``ParseError``), so callers only ever catch ``KubefenceError``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "ApplyError",
    "CompileError",
    "InputError",
    "KubefenceError",
    "LabError",
    "ParseError",
    "ResolveError",
]


class KubefenceError(Exception):
    """Base class of every error kubefence raises deliberately."""


class InputError(KubefenceError):
    """The user's input cannot be used; the CLI exits with code 2."""


class ParseError(InputError):
    """One or more input problems, each a located ``ir.diagnostics.Diagnostic`` (typed as
    object here: errors sits below ir)."""

    def __init__(self, diagnostics: Sequence[object]) -> None:
        self.diagnostics = tuple(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class ResolveError(InputError):
    """A name given by the user (``--from ns/pod``) is not in the snapshot."""


class CompileError(KubefenceError):
    """The IR cannot be expressed by a backend."""


class ApplyError(KubefenceError):
    """The kernel refused a ruleset."""


class LabError(KubefenceError):
    """The lab could not be built, probed or torn down."""
