"""The curated public API: sorted ``__all__``, every name importable, and nothing else public."""

from __future__ import annotations

import kubefence


def test_all_is_sorted_and_complete() -> None:
    assert kubefence.__all__ == sorted(kubefence.__all__)
    for name in kubefence.__all__:
        assert getattr(kubefence, name) is not None
    public = {
        n
        for n in vars(kubefence)
        if (not n.startswith("_") and n[0].isupper()) or n in {"evaluate", "load_workspace", "parse_probe"}
    }
    assert public <= set(kubefence.__all__)
