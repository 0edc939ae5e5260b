"""Variant comparison (issue 19): rates and lifts from counts, verdicts that wait for the
minimum sample, clear errors, and a false-winner rate that stays below α when watched every
minute, where the fixed-horizon z-test does not."""

from __future__ import annotations

import json

import numpy as np
import pytest

from livereport.errors import BadRequest
from livereport.report.variants import (
    ALPHA,
    MIN_EXPOSURES,
    MIN_SUCCESSES,
    Verdict,
    compare,
    comparison_json,
    mixture_test,
)


def test_rates_and_lifts_come_exactly_from_the_counts() -> None:
    comparison = compare([("A", 10_000, 2_000), ("B", 8_000, 2_000)])
    assert [(arm.name, arm.rate) for arm in comparison.arms] == [("A", 0.2), ("B", 0.25)]
    (lift,) = comparison.lifts
    assert lift.variant == "B"
    assert lift.absolute == pytest.approx(0.05)
    assert lift.relative == pytest.approx(0.25)
    assert lift.absolute_low is not None and lift.absolute_high is not None
    assert lift.absolute_low < 0.05 < lift.absolute_high
    assert lift.relative_low == pytest.approx(lift.absolute_low / 0.2)


def test_identical_counts_call_no_winner() -> None:
    comparison = compare([("A", 50_000, 10_000), ("B", 50_000, 10_000)])
    (lift,) = comparison.lifts
    assert lift.verdict is Verdict.EVEN
    assert lift.p_value == 1.0
    assert lift.absolute_low == pytest.approx(-(lift.absolute_high or 0))
    assert comparison.winner is None


def test_a_clear_difference_is_better_or_worse() -> None:
    comparison = compare([("A", 20_000, 4_000), ("B", 20_000, 5_000), ("C", 20_000, 3_000)])
    assert [lift.verdict for lift in comparison.lifts] == [Verdict.BETTER, Verdict.WORSE]
    assert all(lift.p_value < ALPHA / 2 for lift in comparison.lifts)
    assert comparison.winner == "B"


def test_the_control_wins_when_every_variant_is_worse() -> None:
    assert compare([("A", 20_000, 5_000), ("B", 20_000, 4_000)]).winner == "A"


def test_a_small_difference_only_leads_or_trails() -> None:
    comparison = compare([("A", 5_000, 1_000), ("B", 5_000, 1_030), ("C", 5_000, 970)])
    assert [lift.verdict for lift in comparison.lifts] == [Verdict.LEADING, Verdict.TRAILING]
    assert comparison.winner is None


@pytest.mark.parametrize(
    "counts",
    [
        [("A", MIN_EXPOSURES - 1, 100), ("B", MIN_EXPOSURES - 1, 900)],
        [("A", 100_000, MIN_SUCCESSES - 1), ("B", 100_000, 20_000)],
        [("A", 100_000, 50_000), ("B", 100_000, 99_990)],
    ],
    ids=["few exposures", "few successes", "few failures"],
)
def test_below_the_minimum_sample_it_is_too_early_whatever_the_difference(
    counts: list[tuple[str, int, int]],
) -> None:
    (lift,) = compare(counts).lifts
    assert lift.verdict is Verdict.TOO_EARLY
    assert lift.p_value < ALPHA  # the evidence is there; the verdict waits


def test_a_named_control_comes_first() -> None:
    comparison = compare([("A", 10_000, 2_000), ("B", 10_000, 2_500)], control="B")
    assert comparison.control == "B"
    assert comparison.lifts[0].variant == "A"
    assert comparison.lifts[0].absolute == pytest.approx(-0.05)


@pytest.mark.parametrize(
    ("counts", "control", "message"),
    [
        ([("A", 10, 2)], None, "at least two variants, got 1"),
        ([("A", -1, 0), ("B", 10, 2)], None, "'A': exposures is -1; expected a whole number"),
        ([("A", 10, 2), ("B", 10, 11)], None, "'B': 11 successes out of 10 exposures"),
        ([("A", 10, 2), ("B", 10, 2.5)], None, "'B': successes is 2.5"),
        ([("A", 10, 2), ("A", 10, 2)], None, "name one variant twice"),
        ([("A", 10, 2), ("B", 10, 2)], "C", "control 'C' is not one of the variants"),
    ],
)
def test_bad_input_says_what_is_wrong(
    counts: list[tuple[str, int, int]], control: str | None, message: str
) -> None:
    with pytest.raises(BadRequest, match=message):
        compare(counts, control=control)


def test_the_json_answer_has_no_nan_nor_infinity() -> None:
    answer = comparison_json(compare([("A", 0, 0), ("B", 0, 0), ("C", 4_000, 0)]))
    json.dumps(answer, allow_nan=False)
    assert [v["rate"] for v in answer["variants"]] == [None, None, 0.0]
    assert answer["variants"][0]["lift"] is None
    assert answer["variants"][1]["lift"]["absolute"] is None
    assert answer["variants"][1]["lift"]["verdict"] == "too_early"


def test_the_json_answer_rounds_what_it_shows() -> None:
    answer = comparison_json(compare([("A", 30_000, 6_001), ("B", 30_000, 7_001)]))
    lift = answer["variants"][1]["lift"]
    assert answer["variants"][0]["rate"] == 0.200033
    assert lift["relative"] == 0.1666
    assert lift["verdict"] == "better" and answer["winner"] == "B"
    assert lift["p_value"] == float(f"{lift['p_value']:.3g}") and 0 < lift["p_value"] < ALPHA


def test_the_verdict_and_the_interval_agree() -> None:
    """Better or worse exactly when the lift's interval leaves out 0."""
    rng = np.random.default_rng(5)
    for _ in range(200):
        n_a, n_b = (int(n) for n in rng.integers(MIN_EXPOSURES, 20_000, 2))
        s_a, s_b = int(rng.binomial(n_a, 0.2)), int(rng.binomial(n_b, 0.23))
        (lift,) = compare([("A", n_a, s_a), ("B", n_b, s_b)]).lifts
        assert lift.absolute_low is not None and lift.absolute_high is not None
        excluded = lift.absolute_low > 0 or lift.absolute_high < 0
        assert (lift.verdict in (Verdict.BETTER, Verdict.WORSE)) == excluded
        assert (lift.p_value <= ALPHA) == excluded


def test_watched_every_minute_it_calls_no_more_false_winners_than_alpha() -> None:
    """200 seeded campaigns with identical variants (20 % open rate, about 200 recipients a
    minute each), checked every minute for 2 hours. The fixed-horizon z-test, read the same
    way on the same counts, calls a winner far more often than α: the check can fail."""
    rng = np.random.default_rng(19)
    shape = (200, 120)
    n_a, n_b = (np.cumsum(rng.poisson(200, shape), axis=1) for _ in range(2))
    s_a, s_b = (np.cumsum(rng.binomial(np.diff(n, prepend=0), 0.2), axis=1) for n in (n_a, n_b))
    evidence = mixture_test(n_a, s_a, n_b, s_b)
    msprt = (evidence.significant & evidence.ready).any(axis=1).mean()
    p_a, p_b = s_a / n_a, s_b / n_b
    z = (p_b - p_a) / np.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
    peeking = ((np.abs(z) > 1.96) & evidence.ready).any(axis=1).mean()
    assert msprt <= ALPHA + 0.02
    assert peeking > 3 * ALPHA
    assert not np.isnan(evidence.p_value).any()
