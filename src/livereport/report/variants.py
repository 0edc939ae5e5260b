"""Variant comparison (issue 19): each variant's rate against the control's, with a lift, a
confidence interval and a verdict that stay valid however often the report is watched.

Pure functions, no I/O: the report reads the per-variant counts of one rate (exposures, the
rate's denominator such as ``delivered``; successes, its numerator such as unique opens) and
hands them to :func:`compare`; :func:`comparison_json` makes the API's answer of the result.

The method is the mixture sequential probability ratio test (mSPRT) of Johari, Koomen,
Pekelis and Walsh, "Always Valid Inference: Continuous Monitoring of A/B Tests" (Operations
Research, 2022; arXiv:1512.04922), for the difference of two proportions in its normal
approximation. With ``d`` the variant's rate minus the control's, ``V`` the variance of ``d``
(each rate's p(1-p)/n, summed) and a normal mixing distribution of the true difference with
variance τ², the likelihood ratio of "the difference is θ" against "it is 0", mixed over θ, is

    Λ = sqrt(V / (V + τ²)) · exp(τ² d² / (2 V (V + τ²)))

and when there is no difference Λ is (in the normal approximation) a martingale of mean 1, so
by Ville's inequality the chance that it *ever* reaches 1/α is at most α. Hence the
always-valid p-value ``min(1, 1/Λ)`` and the confidence sequence
``d ± sqrt(V (V + τ²) / τ² · (2 ln(1/α) + ln((V + τ²) / V)))``, the differences θ₀ whose own
Λ stays below 1/α: a verdict may be read at any minute, and the chance that a campaign
without any real difference ever shows a winner stays below α.

Why not the alternatives (docs/engagement.md, "Variant comparison", says more): a
fixed-horizon z-test is valid only when read once, at a sample size fixed in advance, which is
not how a live dashboard is read (checked every minute for a day, it calls a winner in about
half of the campaigns with identical variants); a Bayesian posterior needs a prior and a
decision rule whose error rate under peeking must be shown by simulation for each prior and
traffic, while the mSPRT's guarantee follows from Ville's inequality and needs only τ. V and τ
are computed from the observed rates (plug-in, as in the paper); bench/variants_study.py checks
that this and the normal approximation keep the guarantee from the minimum sample on.

Recomputed live: the dashboard recomputes from the cumulative counts at each refresh, and
nothing is kept between calls. The guarantee is about the whole sequence of cumulative counts
(at most α that *any* check shows a false winner), so the p-value of the current counts alone
is valid at whatever moment it is read. It is not monotone: a verdict may fall back from
``better`` to ``leading`` when later data weaken the evidence. A caller that keeps state may
take the running minimum of the p-values (and the running intersection of the intervals) to
make it monotone; that changes no error rate, as the guarantee already counts a campaign that
showed a false winner at any one check.

The control is the first variant given (or the one named by ``control=``); callers that let
nobody choose order the variants by name, so that ``A`` (before ``B``) is the control. With
more than two variants every one is compared with the control at α / (variants − 1)
(Bonferroni), so that the chance of any false call in the whole comparison stays below α.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from livereport.errors import BadRequest
from livereport.report.catalogue import METRICS, variant_channels, variant_rates

#: The chance, at most, that a comparison without any real difference ever calls a winner.
ALPHA = 0.05
#: The mixing distribution's standard deviation, relative to the rate: τ = TAU × the pooled
#: rate, so τ² = (0.10 × rate)². The mSPRT detects soonest the lifts near τ; a tenth of the
#: rate (an open rate of 20 % against 22 %) is the size of lift a subject line or a call to
#: action usually makes, and in bench/variants_study.py it finds a 10 % lift sooner than 0.05,
#: 0.2 or 0.5. Set relative, not absolute, so that one setting fits an open rate of 20 % and a
#: click rate of 1 %.
TAU = 0.10
#: Exposures each variant needs before a verdict. The first recipients reached are not a fair
#: sample (the quickest openers, the first time zone), and the normal approximation of a rate
#: needs a few hundred; a thousand keeps a verdict from resting on the first minutes.
MIN_EXPOSURES = 1_000
#: Successes, and exposures without success, each variant needs before a verdict: the normal
#: approximation of a rate p from n exposures holds once n·p and n·(1 − p) are a few tens (the
#: textbook 10, tripled: a live comparison is read at its earliest checks too, where the
#: approximation is weakest).
MIN_SUCCESSES = 30
MIN_FAILURES = 30
#: Decimal places of rates and absolute lifts in the JSON answer (a click rate of 1.2345 % is
#: 0.012345), of relative lifts, and significant digits of p-values.
_RATE_PLACES = 6
_RELATIVE_PLACES = 4
_P_DIGITS = 3

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class Verdict(StrEnum):
    """What a variant is, against the control, in words a marketer can act on."""

    TOO_EARLY = "too_early"  # below the minimum sample: no call, whatever the difference
    BETTER = "better"  # the rate is higher, and the interval of the lift is above 0
    WORSE = "worse"  # the rate is lower, and the interval of the lift is below 0
    LEADING = "leading"  # higher so far, not significantly: keep watching
    TRAILING = "trailing"  # lower so far, not significantly
    EVEN = "even"  # the very same rate so far


class Evidence(NamedTuple):
    """The mSPRT of variant against control, element by element (any array shape).

    ``lift`` is the variant's rate minus the control's (NaN without exposures), ``half_width``
    the half width of its confidence sequence (inf without information), ``significant``
    whether 0 is outside it (the p-value at most α), ``ready`` whether both have the
    minimum sample."""

    lift: FloatArray
    half_width: FloatArray
    p_value: FloatArray
    significant: BoolArray
    ready: BoolArray


@dataclass(frozen=True)
class Arm:
    """One variant's counts and rate (None without exposures)."""

    name: str
    exposures: int
    successes: int
    rate: float | None


@dataclass(frozen=True)
class Lift:
    """A variant against the control: the difference of the rates (``absolute``) and its ratio
    to the control's rate (``relative``), each with its always-valid interval at the level of
    the comparison (None where undefined: no exposures, or no information yet)."""

    variant: str
    absolute: float | None
    absolute_low: float | None
    absolute_high: float | None
    relative: float | None
    relative_low: float | None
    relative_high: float | None
    p_value: float
    verdict: Verdict


@dataclass(frozen=True)
class Comparison:
    """Every variant's rate, and the lift of each but the control (the first arm)."""

    arms: tuple[Arm, ...]
    lifts: tuple[Lift, ...]
    alpha: float
    tau: float

    @property
    def control(self) -> str:
        return self.arms[0].name

    @property
    def winner(self) -> str | None:
        """The variant the comparison may be acted on with, or None: the control when every
        other variant is worse, a variant when it is better and every other is worse. Two
        variants better than the control are not compared with each other, so no winner."""
        better = [lift.variant for lift in self.lifts if lift.verdict is Verdict.BETTER]
        others_worse = sum(lift.verdict is Verdict.WORSE for lift in self.lifts)
        if not better and others_worse == len(self.lifts):
            return self.control
        if len(better) == 1 and others_worse == len(self.lifts) - 1:
            return better[0]
        return None


def _ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    return np.divide(
        numerator, denominator, out=np.full_like(numerator, np.nan), where=denominator > 0
    )


def _ready(exposures: FloatArray, successes: FloatArray) -> BoolArray:
    return (
        (exposures >= MIN_EXPOSURES)
        & (successes >= MIN_SUCCESSES)
        & (exposures - successes >= MIN_FAILURES)
    )


def mixture_test(
    control_exposures: npt.ArrayLike,
    control_successes: npt.ArrayLike,
    variant_exposures: npt.ArrayLike,
    variant_successes: npt.ArrayLike,
    *,
    alpha: float = ALPHA,
    tau: float = TAU,
) -> Evidence:
    """The mSPRT of one variant against the control from cumulative counts, element-wise, so
    that the simulation study checks thousands of campaigns minute by minute with the very code
    the report runs. ``alpha`` is the level of this one comparison (:func:`compare` divides the
    family's α among the comparisons). Inputs are not checked here: :func:`compare` does."""
    n_a, s_a, n_b, s_b = (
        np.asarray(x, dtype=np.float64)
        for x in (control_exposures, control_successes, variant_exposures, variant_successes)
    )
    rate_a, rate_b = _ratio(s_a, n_a), _ratio(s_b, n_b)
    lift = rate_b - rate_a
    variance = _ratio(rate_a * (1 - rate_a), n_a) + _ratio(rate_b * (1 - rate_b), n_b)
    tau2 = (tau * _ratio(s_a + s_b, n_a + n_b)) ** 2
    # Without information (no exposures, or every rate at 0 or 1) Λ is 1: p = 1, no interval.
    informative = np.isfinite(variance) & (variance > 0) & (tau2 > 0)
    v = np.where(informative, variance, 1.0)
    t2 = np.where(informative, tau2, 1.0)
    d = np.where(informative, lift, 0.0)
    log_lr = np.where(
        informative, 0.5 * np.log(v / (v + t2)) + t2 * d * d / (2 * v * (v + t2)), 0.0
    )
    threshold = math.log(1 / alpha)
    half_width = np.where(
        informative, np.sqrt(v * (v + t2) / t2 * (2 * threshold + np.log((v + t2) / v))), np.inf
    )
    return Evidence(
        lift=lift,
        half_width=half_width,
        p_value=np.minimum(1.0, np.exp(-log_lr)),
        significant=informative & (log_lr >= threshold),
        ready=_ready(n_a, s_a) & _ready(n_b, s_b),
    )


def _verdict(lift: float, significant: bool, ready: bool) -> Verdict:
    if not ready:
        return Verdict.TOO_EARLY
    if lift > 0:
        return Verdict.BETTER if significant else Verdict.LEADING
    if lift < 0:
        return Verdict.WORSE if significant else Verdict.TRAILING
    return Verdict.EVEN


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _checked(variants: Sequence[tuple[str, int, int]], control: str | None) -> list[Arm]:
    """The variants as arms, the control first, or a BadRequest that says what is wrong."""
    if len(variants) < 2:
        raise BadRequest(
            f"a comparison needs at least two variants, got {len(variants)}: send each "
            "variant's name, exposures and successes, the control first"
        )
    arms = []
    for name, exposures, successes in variants:
        for label, count in (("exposures", exposures), ("successes", successes)):
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise BadRequest(
                    f"variant {name!r}: {label} is {count!r}; expected a whole number, 0 or more"
                )
        if successes > exposures:
            raise BadRequest(
                f"variant {name!r}: {successes} successes out of {exposures} exposures; "
                "successes are counted among the exposures, so at most as many"
            )
        rate = successes / exposures if exposures else None
        arms.append(Arm(name=name, exposures=exposures, successes=successes, rate=rate))
    names = [arm.name for arm in arms]
    if len(set(names)) != len(names):
        raise BadRequest(f"variants {names} name one variant twice; expected distinct names")
    if control is not None:
        if control not in names:
            raise BadRequest(
                f"control {control!r} is not one of the variants; expected one of {names}"
            )
        arms.insert(0, arms.pop(names.index(control)))
    return arms


def compare(
    variants: Sequence[tuple[str, int, int]],
    *,
    control: str | None = None,
    alpha: float = ALPHA,
    tau: float = TAU,
) -> Comparison:
    """Compare each variant with the control, from cumulative counts: ``variants`` as the
    variant breakdown gives them, ``(name, exposures, successes)``, the control first unless
    ``control`` names it. The verdict of each is among :class:`Verdict`; the chance that any
    of them is ``better`` or ``worse`` while all variants are truly alike is below ``alpha``
    at every moment the comparison is made, however often that is."""
    if not 0 < alpha < 1:
        raise BadRequest(f"alpha is {alpha}; expected a level between 0 and 1, such as 0.05")
    if not tau > 0:
        raise BadRequest(f"tau is {tau}; expected a relative lift above 0, such as 0.1")
    arms = _checked(variants, control)
    base, others = arms[0], arms[1:]
    evidence = mixture_test(
        [base.exposures] * len(others),
        [base.successes] * len(others),
        [arm.exposures for arm in others],
        [arm.successes for arm in others],
        alpha=alpha / len(others),
        tau=tau,
    )
    lifts = []
    for i, arm in enumerate(others):
        lift, half = float(evidence.lift[i]), float(evidence.half_width[i])
        low, high = _finite(lift - half), _finite(lift + half)
        # The relative interval divides by the control's observed rate, whose own error is
        # left out: it is for reading; the verdict rests on the absolute interval.
        scale = base.rate or None
        lifts.append(
            Lift(
                variant=arm.name,
                absolute=_finite(lift),
                absolute_low=low,
                absolute_high=high,
                relative=_finite(lift / scale) if scale else None,
                relative_low=low / scale if scale and low is not None else None,
                relative_high=high / scale if scale and high is not None else None,
                p_value=float(evidence.p_value[i]),
                verdict=_verdict(lift, bool(evidence.significant[i]), bool(evidence.ready[i])),
            )
        )
    return Comparison(arms=tuple(arms), lifts=tuple(lifts), alpha=alpha, tau=tau)


def _rounded(value: float | None, places: int) -> float | None:
    return round(value, places) if value is not None and math.isfinite(value) else None


def _significant_digits(value: float, digits: int) -> float:
    return float(f"{value:.{digits}g}")


def comparison_json(comparison: Comparison) -> dict[str, Any]:
    """The API's answer of a comparison: plain dicts, lists, numbers, strings and None (never
    NaN or infinity), rates and lifts as fractions rounded to what a report can show."""
    lifts = {lift.variant: lift for lift in comparison.lifts}
    variants: list[dict[str, Any]] = []
    for arm in comparison.arms:
        lift = lifts.get(arm.name)
        variants.append(
            {
                "variant": arm.name,
                "control": lift is None,
                "exposures": arm.exposures,
                "successes": arm.successes,
                "rate": _rounded(arm.rate, _RATE_PLACES),
                "lift": None
                if lift is None
                else {
                    "absolute": _rounded(lift.absolute, _RATE_PLACES),
                    "absolute_low": _rounded(lift.absolute_low, _RATE_PLACES),
                    "absolute_high": _rounded(lift.absolute_high, _RATE_PLACES),
                    "relative": _rounded(lift.relative, _RELATIVE_PLACES),
                    "relative_low": _rounded(lift.relative_low, _RELATIVE_PLACES),
                    "relative_high": _rounded(lift.relative_high, _RELATIVE_PLACES),
                    "p_value": _significant_digits(lift.p_value, _P_DIGITS),
                    "verdict": lift.verdict.value,
                },
            }
        )
    return {
        "control": comparison.control,
        "winner": comparison.winner,
        "method": "msprt",
        "alpha": comparison.alpha,
        "tau": comparison.tau,
        "min_exposures": MIN_EXPOSURES,
        "min_successes": MIN_SUCCESSES,
        "min_failures": MIN_FAILURES,
        "variants": variants,
    }


def rate_of(channel: str, metric: str | None) -> str:
    """The rate a comparison on ``channel`` judges: ``metric`` when it is one of the channel's
    rates (:func:`variant_rates`), the channel's first one when None; else a BadRequest."""
    rates = variant_rates(channel)
    if not rates:
        raise BadRequest(
            f"channel: {channel} has no rate to compare variants on; expected one of "
            f"{', '.join(variant_channels())}"
        )
    if metric is None:
        return rates[0]
    if metric not in rates:
        raise BadRequest(
            f"metric: {metric[:40]!r} is not a rate of {channel} that variants are compared on; "
            f"expected one of {', '.join(rates)}"
        )
    return metric


def variants_json(
    rate: str, rows: Sequence[tuple[str, Mapping[str, Any]]], control: str | None = None
) -> dict[str, Any]:
    """The API's answer for ``rate`` from the variant breakdown's ``rows`` (name, metrics),
    the control first: every variant's funnel and rate, and with two variants or more the
    lift and verdict of each against the control. A variant whose successes outnumber its
    exposures over the period (opens of mails delivered before it began) is judged on at
    most its exposures; its ``metrics`` keep the counts as they are."""
    ratio = METRICS[rate].ratio
    assert ratio is not None
    numerator, denominator = ratio
    names = [name for name, _ in rows]
    if control is not None and control not in names:
        raise BadRequest(
            f"control: {control[:128]!r} is not a variant of this campaign in the period; "
            f"expected one of {', '.join(names) or '(none: no event of the period has a variant)'}"
        )
    counts = []
    for name, metrics in rows:
        exposures = int(metrics.get(denominator) or 0)
        counts.append((name, exposures, min(int(metrics.get(numerator) or 0), exposures)))
    if len(counts) >= 2:
        found = comparison_json(compare(counts, control=control))
    else:
        found = {
            "control": counts[0][0] if counts else None,
            "winner": None,
            "method": "msprt",
            "alpha": ALPHA,
            "tau": TAU,
            "min_exposures": MIN_EXPOSURES,
            "min_successes": MIN_SUCCESSES,
            "min_failures": MIN_FAILURES,
            "variants": [
                {
                    "variant": name,
                    "control": True,
                    "exposures": exposures,
                    "successes": successes,
                    "rate": _rounded(successes / exposures if exposures else None, _RATE_PLACES),
                    "lift": None,
                }
                for name, exposures, successes in counts
            ],
        }
    funnels = dict(rows)
    for variant in found["variants"]:
        variant["metrics"] = dict(funnels[variant["variant"]])
    return {"metric": rate, "exposures": denominator, "successes": numerator, **found}
