"""The streaming tree hash agrees with botocore's reference, and the alignment rules hold.

``botocore.utils.calculate_tree_hash`` is the reference implementation of Glacier's
tree hash; the alignment oracle below builds the whole tree the way the Developer
Guide describes and asks the guide's own question ("is the root over this range a
node of the whole tree?").
"""

from __future__ import annotations

import array
import hashlib
import io
import itertools
import random
from collections.abc import Iterator

import pytest
from botocore.utils import calculate_tree_hash
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.treehash import (
    MIB,
    TreeHash,
    aligned_chunks,
    combine_tree_hashes,
    is_tree_hash_aligned,
    tree_hash,
)


def _slow_data(max_examples: int) -> settings:
    """Settings for examples that hash megabytes: no per-example deadline, few examples."""
    return settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=max_examples)


def _payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def _reference(data: bytes) -> str:
    return calculate_tree_hash(io.BytesIO(data))


def _random_cuts(size: int, rng: random.Random) -> Iterator[tuple[int, int]]:
    """Chunk boundaries mixing tiny, sub-leaf, leaf-straddling and multi-leaf chunks."""
    pos = 0
    while pos < size:
        kind = rng.randrange(4)
        if kind == 0:
            step = rng.randint(1, 64)
        elif kind == 1:
            step = rng.randint(1, MIB)
        elif kind == 2:
            step = rng.randint(MIB - 8, MIB + 8)
        else:
            step = rng.randint(MIB, 5 * MIB)
        yield pos, min(pos + step, size)
        pos += step


def _streamed(data: bytes, seed: int) -> TreeHash:
    hasher = TreeHash()
    view = memoryview(data)
    for lo, hi in _random_cuts(len(data), random.Random(seed)):
        hasher.update(view[lo:hi])
    return hasher


# --- equality with botocore -------------------------------------------------------------------


@pytest.mark.parametrize(
    "size",
    [
        0,
        1,
        MIB - 1,
        MIB,
        MIB + 1,
        2 * MIB,
        3 * MIB,  # odd leaf count: the third leaf is carried up
        4 * MIB,
        5 * MIB + 17,
        7 * MIB,
        64 * MIB,
        64 * MIB - 1,
    ],
)
def test_fixed_sizes_match_botocore_whole_and_streamed(size: int) -> None:
    data = _payload(size, seed=size)
    expected = _reference(data)
    assert tree_hash(data) == expected
    streamed = _streamed(data, seed=size)
    assert streamed.hexdigest() == expected
    assert streamed.size == size


def test_empty_input_is_sha256_of_nothing() -> None:
    assert TreeHash().hexdigest() == hashlib.sha256(b"").hexdigest()
    assert TreeHash().size == 0


@given(
    size=st.integers(min_value=0, max_value=9 * MIB + 3),
    cuts_seed=st.integers(min_value=0, max_value=2**32),
)
@example(size=3 * MIB, cuts_seed=0)
@example(size=MIB * 5, cuts_seed=1)
@_slow_data(60)
def test_random_sizes_in_random_chunks_match_botocore(size: int, cuts_seed: int) -> None:
    data = _payload(size, seed=cuts_seed)
    assert _streamed(data, cuts_seed).hexdigest() == _reference(data)


@given(size=st.integers(min_value=9 * MIB, max_value=64 * MIB), cuts_seed=st.integers(0, 2**32))
@_slow_data(4)
def test_large_random_sizes_match_botocore(size: int, cuts_seed: int) -> None:
    data = _payload(size, seed=cuts_seed)
    assert _streamed(data, cuts_seed).hexdigest() == _reference(data)


@given(data=st.binary(max_size=4096), cuts=st.lists(st.integers(min_value=0, max_value=4096), max_size=8))
def test_small_payloads_with_hypothesis_chosen_cuts(data: bytes, cuts: list[int]) -> None:
    hasher = TreeHash()
    bounds = [0, *sorted(c for c in cuts if c <= len(data)), len(data)]
    for lo, hi in itertools.pairwise(bounds):
        hasher.update(data[lo:hi])
    assert hasher.hexdigest() == _reference(data)


def test_digest_mid_stream_does_not_disturb_the_running_state() -> None:
    data = _payload(6 * MIB + 5, seed=3)
    hasher = TreeHash()
    fed = 0
    for lo, hi in _random_cuts(len(data), random.Random(3)):
        hasher.update(data[lo:hi])
        fed = hi
        assert hasher.hexdigest() == _reference(data[:fed])
    assert hasher.digest() == bytes.fromhex(_reference(data))


def test_copy_is_independent() -> None:
    data = _payload(2 * MIB + 9, seed=4)
    first = TreeHash(data[: MIB + 1])
    second = first.copy()
    second.update(data[MIB + 1 :])
    assert first.hexdigest() == _reference(data[: MIB + 1])
    assert second.hexdigest() == _reference(data)


def test_accepts_bytearray_memoryview_and_wide_item_buffers() -> None:
    data = _payload(MIB + 400, seed=5)
    expected = _reference(data)
    assert TreeHash(bytearray(data)).hexdigest() == expected
    assert TreeHash(memoryview(data)).hexdigest() == expected
    words = array.array("I", data[: (len(data) // 4) * 4])
    assert TreeHash(words).hexdigest() == _reference(words.tobytes())


def test_pending_hashes_stay_logarithmic() -> None:
    """Only one hash per tree level is ever pending, whatever the input size."""
    hasher = TreeHash()
    leaf = bytes(MIB)
    for count in range(1, 130):
        hasher.update(leaf)
        assert len(hasher._nodes) == bin(count).count("1")
        assert len(hasher._nodes) <= count.bit_length()


# --- combining aligned chunk hashes -----------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, MIB, 3 * MIB, 5 * MIB + 1, 8 * MIB, 13 * MIB - 1])
@pytest.mark.parametrize("chunk_mib", [1, 2, 4])
def test_combined_chunk_hashes_equal_the_whole_hash(size: int, chunk_mib: int) -> None:
    data = _payload(size, seed=size + chunk_mib)
    chunks = aligned_chunks(size, chunk_mib * MIB)
    assert b"".join(data[lo : hi + 1] for lo, hi in chunks) == data
    roots = [TreeHash(data[lo : hi + 1]).digest() for lo, hi in chunks]
    assert combine_tree_hashes(roots).hex() == _reference(data)
    assert all(is_tree_hash_aligned(lo, hi, size) for lo, hi in chunks)


def test_combine_rejects_hex_or_truncated_roots() -> None:
    with pytest.raises(GlacierValidationError, match="32-byte SHA-256"):
        combine_tree_hashes([tree_hash(b"x").encode()])


def test_aligned_chunks_layout() -> None:
    assert aligned_chunks(0, MIB) == []
    assert aligned_chunks(5 * MIB + 3, 2 * MIB) == [
        (0, 2 * MIB - 1),
        (2 * MIB, 4 * MIB - 1),
        (4 * MIB, 5 * MIB + 2),
    ]


@pytest.mark.parametrize("chunk_size", [0, -MIB, MIB // 2, 3 * MIB, 6 * MIB, MIB + 1])
def test_aligned_chunks_rejects_sizes_that_break_alignment(chunk_size: int) -> None:
    with pytest.raises(GlacierValidationError, match=r"chunk_size: .* power-of-two multiple of 1 MiB"):
        aligned_chunks(10 * MIB, chunk_size)


# --- tree-hash alignment ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "total", "aligned"),
    [
        # whole output, whatever its size: the root itself
        (0, 5 * MIB + 99, 5 * MIB + 100, True),
        (0, 0, 1, True),
        # a single whole leaf anywhere is a leaf node
        (3 * MIB, 4 * MIB - 1, 8 * MIB, True),
        # 2 leaves from an even leaf: a height-1 node
        (2 * MIB, 4 * MIB - 1, 8 * MIB, True),
        # 2 leaves from an odd leaf straddle two height-1 nodes
        (MIB, 3 * MIB - 1, 8 * MIB, False),
        # 4 leaves from leaf 4: a height-2 node
        (4 * MIB, 8 * MIB - 1, 16 * MIB, True),
        # 4 leaves from leaf 2: not a multiple of 4
        (2 * MIB, 6 * MIB - 1, 16 * MIB, False),
        # 3 whole leaves are never one node unless they run to the end
        (0, 3 * MIB - 1, 8 * MIB, False),
        # ... and then only from a multiple of 4: leaves 4-6 of 7 are the carried-up tail node
        (4 * MIB, 7 * MIB - 1, 7 * MIB, True),
        # leaves 2-4 of 5: the tail of 3 leaves would need to start at a multiple of 4
        (2 * MIB, 5 * MIB - 1, 5 * MIB, False),
        # a short last leaf counts as a leaf: leaves 4-5 of 6 (last partial) start at a multiple of 2
        (4 * MIB, 5 * MIB + 10, 5 * MIB + 11, True),
        # a partial leaf is only a node at the very end of the output
        (0, MIB + 10, 8 * MIB, False),
        # start not on a leaf boundary
        (1, MIB, 8 * MIB, False),
        (MIB + 1, 2 * MIB - 1, 2 * MIB, False),
        # the odd last leaf of a 3-leaf output is carried up: a node
        (2 * MIB, 3 * MIB - 1, 3 * MIB, True),
    ],
)
def test_alignment_truth_table(start: int, end: int, total: int, aligned: bool) -> None:
    assert is_tree_hash_aligned(start, end, total) is aligned


def _node_hashes(leaf_hashes: list[bytes]) -> set[bytes]:
    """Every node hash of the tree, built exactly as the Developer Guide describes."""
    nodes = set(leaf_hashes)
    level = leaf_hashes
    while len(level) > 1:
        level = [
            hashlib.sha256(level[i] + level[i + 1]).digest() if i + 1 < len(level) else level[i]
            for i in range(0, len(level), 2)
        ]
        nodes.update(level)
    return nodes


def _leaf_hashes(data: bytes) -> list[bytes]:
    return [hashlib.sha256(data[i : i + MIB]).digest() for i in range(0, len(data), MIB)] or [
        hashlib.sha256(b"").digest()
    ]


@pytest.mark.parametrize("total", [MIB, 2 * MIB, 5 * MIB, 6 * MIB + 1, 8 * MIB, 9 * MIB - 7])
def test_alignment_matches_the_guide_definition_for_every_megabyte_range(total: int) -> None:
    """For each megabyte-aligned range: aligned <=> the range's root is a node of the whole tree."""
    data = _payload(total, seed=total)
    leaves = _leaf_hashes(data)
    nodes = _node_hashes(leaves)
    boundaries = [*range(0, total, MIB), total]
    for i, start in enumerate(boundaries[:-1]):
        for stop in boundaries[i + 1 :]:
            range_root = combine_tree_hashes(leaves[start // MIB : -(-stop // MIB)])
            assert range_root == TreeHash(data[start:stop]).digest()
            assert is_tree_hash_aligned(start, stop - 1, total) is (range_root in nodes), (start, stop)


@given(
    total=st.integers(min_value=1, max_value=6 * MIB),
    start=st.integers(min_value=0, max_value=6 * MIB),
    length=st.integers(min_value=1, max_value=6 * MIB),
)
@example(total=4 * MIB, start=MIB + 1, length=MIB)
@_slow_data(40)
def test_ranges_off_megabyte_boundaries_are_never_nodes(total: int, start: int, length: int) -> None:
    assume(start < total)
    end = min(start + length, total) - 1
    data = _payload(total, seed=total)
    expected = TreeHash(data[start : end + 1]).digest() in _node_hashes(_leaf_hashes(data))
    assert is_tree_hash_aligned(start, end, total) is expected


@pytest.mark.parametrize(
    ("start", "end", "total"),
    [(-1, 5, 10), (5, 4, 10), (0, 10, 10), (0, 0, 0)],
)
def test_alignment_rejects_ranges_outside_the_output(start: int, end: int, total: int) -> None:
    rule = r"range: .* must satisfy 0 <= start <= end < total size"
    with pytest.raises(GlacierValidationError, match=rule):
        is_tree_hash_aligned(start, end, total)
