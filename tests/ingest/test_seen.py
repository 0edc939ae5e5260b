"""The duplicate memory (livereport.ingest.seen): never "no" for a stored id, rarely "maybe"
for a new one, and one org's ids say nothing about another's."""

from __future__ import annotations

from livereport.ingest.seen import Key, SeenIds


def keys(org: int, n: int, prefix: str = "id") -> list[Key]:
    return [(org, f"{prefix}-{i}") for i in range(n)]


def false_positive_rate(seen: SeenIds, probes: list[Key]) -> float:
    return sum(seen.maybe_seen(probes)) / len(probes)


def test_every_added_key_is_maybe_seen() -> None:
    seen = SeenIds(capacity=50_000)
    added = keys(1, 50_000)
    seen.add(added)
    assert all(seen.maybe_seen(added))


def test_no_false_negatives_when_chaining_far_beyond_capacity() -> None:
    seen = SeenIds(capacity=1_000)
    added = keys(1, 20_000)
    for start in range(0, len(added), 1_500):  # batches that straddle filter boundaries
        seen.add(added[start : start + 1_500])
    assert len(seen) == 20_000
    assert all(seen.maybe_seen(added))


def test_keys_added_in_one_call_beyond_capacity_are_kept() -> None:
    seen = SeenIds(capacity=100)
    added = keys(1, 1_000)
    seen.add(added)
    assert all(seen.maybe_seen(added))


def test_the_same_id_in_another_org_is_new() -> None:
    seen = SeenIds(capacity=10_000, error_rate=0.001)
    seen.add(keys(1, 10_000))
    assert false_positive_rate(seen, keys(2, 10_000)) < 0.005


def test_false_positive_rate_is_near_the_target_when_full() -> None:
    seen = SeenIds(capacity=20_000, error_rate=0.01)
    seen.add(keys(1, 20_000))
    assert false_positive_rate(seen, keys(1, 50_000, "new")) < 0.02


def test_false_positive_rate_stays_bounded_after_chaining() -> None:
    seen = SeenIds(capacity=1_000, error_rate=0.01)
    seen.add(keys(1, 15_000))  # four filters of 1k, 2k, 4k and 8k ids
    # Each filter keeps its own target, so the chain answers "maybe" at most ~4 × 1 %.
    assert false_positive_rate(seen, keys(1, 50_000, "new")) < 0.05


def test_empty_inputs() -> None:
    seen = SeenIds(capacity=10)
    seen.add([])
    assert seen.maybe_seen([]) == []
    assert len(seen) == 0
    assert seen.maybe_seen(keys(1, 3)) == [False, False, False]


def test_load_adds_every_key_in_chunks() -> None:
    seen = SeenIds(capacity=500)
    added = keys(7, 2_345)
    assert seen.load(iter(added), chunk=1_000) == 2_345
    assert len(seen) == 2_345
    assert all(seen.maybe_seen(added))


def test_unusual_ids_are_remembered() -> None:
    seen = SeenIds(capacity=100)
    odd = [(1, ""), (1, "x" * 128), (1, "bücher-✓"), (1, "a\x00b"), (2**32 - 1, "max-org")]
    seen.add(odd)
    assert all(seen.maybe_seen(odd))
