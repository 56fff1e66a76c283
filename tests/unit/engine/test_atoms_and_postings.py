"""CIDR atoms and label posting lists agree with the direct definitions."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubefence.cluster.selector_index import LabelPostings
from kubefence.engine.atoms import AtomIndex
from kubefence.engine.cells import refine
from kubefence.ir.addresses import IPBlock
from kubefence.ir.selectors import Labels
from strategies import selector

BLOCKS = [
    IPBlock(ipaddress.ip_network("10.0.0.0/8"), (ipaddress.ip_network("10.1.0.0/16"),)),
    IPBlock(ipaddress.ip_network("10.1.2.0/24")),
    IPBlock(
        ipaddress.ip_network("0.0.0.0/0"),
        (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("192.168.0.0/16")),
    ),
    IPBlock(ipaddress.ip_network("fd00::/8"), (ipaddress.ip_network("fd00::/64"),)),
    IPBlock(ipaddress.ip_network("255.255.255.255/32")),
]
ADDRESSES = [
    "10.0.0.1",
    "10.1.2.3",
    "10.1.3.4",
    "10.255.255.255",
    "11.0.0.0",
    "0.0.0.0",
    "192.168.1.1",
    "255.255.255.255",
    "fd00::1",
    "fd00:0:0:1::1",
    "fe80::1",
    "::",
]


@pytest.mark.parametrize("address", ADDRESSES)
@pytest.mark.parametrize("block", BLOCKS, ids=str)
def test_atoms_of_a_block_hold_exactly_its_addresses(block: IPBlock, address: str) -> None:
    index = AtomIndex(BLOCKS)
    ip = ipaddress.ip_address(address)
    assert bool(index.atoms(block) >> index.atom_of(ip) & 1) == block.contains(ip)


LABEL_SETS = [
    Labels(d) for d in ({}, {"app": "x"}, {"app": "y", "tier": "x"}, {"tier": "y"}, {"ns": "a", "app": "x"})
]


@given(selector)
def test_postings_match_like_the_selector(sel) -> None:
    postings = LabelPostings(LABEL_SETS)
    bits = postings.matching(sel)
    assert [bool(bits >> i & 1) for i in range(len(LABEL_SETS))] == [sel.matches(ls) for ls in LABEL_SETS]


@given(st.lists(st.integers(0, 255), max_size=6), st.integers(1, 255))
def test_refine_partitions_and_respects_every_splitter(splitters: list[int], everything: int) -> None:
    cells = refine(everything, splitters)
    union = 0
    for cell in cells:
        assert cell and not union & cell
        union |= cell
        for split in splitters:
            assert cell & split in (0, cell)
    assert union == everything
