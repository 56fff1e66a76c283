"""Antrea's static tiers (semantics reference §5.4), apart from the dialect so that the engine
can place tiers without loading the Antrea parser."""

from __future__ import annotations

__all__ = ["STATIC_TIERS"]

STATIC_TIERS = {
    "emergency": 50,
    "securityops": 100,
    "networkops": 150,
    "platform": 200,
    "application": 250,
    "baseline": 253,
}
"""The read-only tiers antrea-controller creates, by name, with their priorities."""
