"""Variant comparison (issue 19): the mSPRT of livereport.report.variants watched every minute
on simulated campaigns, how often it calls a winner between identical variants and how soon
it finds a true 10 % lift.

    .venv/bin/python bench/variants_study.py [--experiments 10000] [--seed 19] [--quick]

Each experiment is one campaign with two variants: recipients reach each variant as a Poisson
stream of ``per_minute`` exposures a minute, each a success (an open, a click) with the
variant's true rate. Every minute the comparison is made again from the cumulative counts, as
the dashboard does, with ``mixture_test`` — the very function ``compare`` runs, here on all
experiments and minutes at once. A/A: both variants have the same rate, and any ``better`` or
``worse`` is a false winner. Lift: the variant's rate is the control's × 1.10. Beside it, the
fixed-horizon z-test (|z| > 1.96) read every minute, and once at the end, with the same
minimum sample. Prints markdown tables (docs/engagement.md holds a full run's).
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from common import header, percentile
from livereport.report.variants import ALPHA, TAU, mixture_test

Counts = npt.NDArray[np.int64]
LIFT = 0.10
Z_FIXED = 1.959964  # two-sided 5 %
Z_POWER = 0.841621  # 80 % power
TAUS = (0.05, 0.10, 0.20, 0.50)


@dataclass(frozen=True)
class Scenario:
    name: str
    rate: float  # the control's true rate
    per_minute: float  # mean exposures a minute, per variant
    hours: int


SCENARIOS = (
    Scenario("opens, 200/min", rate=0.20, per_minute=200, hours=24),
    Scenario("clicks, 200/min", rate=0.03, per_minute=200, hours=24),
    Scenario("opens, 20/min", rate=0.20, per_minute=20, hours=24),
    Scenario("clicks, 20/min", rate=0.02, per_minute=20, hours=24),
)


@dataclass(frozen=True)
class Run:
    """Cumulative counts of ``experiments`` × minutes, control (a) and variant (b)."""

    n_a: Counts
    s_a: Counts
    n_b: Counts
    s_b: Counts


def simulate(rng: np.random.Generator, scenario: Scenario, lift: float, experiments: int) -> Run:
    shape = (experiments, scenario.hours * 60)
    arms = []
    for rate in (scenario.rate, scenario.rate * (1 + lift)):
        exposures = rng.poisson(scenario.per_minute, shape)
        successes = rng.binomial(exposures, rate)
        arms += [np.cumsum(exposures, axis=1), np.cumsum(successes, axis=1)]
    return Run(*arms)


def chunks(
    rng: np.random.Generator, scenario: Scenario, lift: float, experiments: int
) -> Iterator[Run]:
    """The experiments by 500, so that a run of thousands stays within a few hundred MB."""
    for first in range(0, experiments, 500):
        yield simulate(rng, scenario, lift, min(500, experiments - first))


def first_minute(calls: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    """The minute (from 1) of each experiment's first call, inf when there is none."""
    return np.where(calls.any(axis=1), calls.argmax(axis=1) + 1.0, np.inf)


def z_calls(run: Run, ready: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """The fixed-horizon two-proportion z-test, as if it were read at every minute."""
    with np.errstate(divide="ignore", invalid="ignore"):
        p_a, p_b = run.s_a / run.n_a, run.s_b / run.n_b
        z = (p_b - p_a) / np.sqrt(p_a * (1 - p_a) / run.n_a + p_b * (1 - p_b) / run.n_b)
    return ready & (np.abs(z) > Z_FIXED)


def wilson_high(hits: int, total: int) -> float:
    """The upper end of the 95 % Wilson interval of a share."""
    share, z2 = hits / total, Z_FIXED**2
    centre = share + z2 / (2 * total)
    spread = Z_FIXED * math.sqrt(share * (1 - share) / total + z2 / (4 * total**2))
    return (centre + spread) / (1 + z2 / total)


def fixed_minutes(scenario: Scenario) -> float:
    """Minutes a fixed-horizon test planned for 80 % power at α = 5 % must wait for."""
    p_a, p_b = scenario.rate, scenario.rate * (1 + LIFT)
    n = (Z_FIXED + Z_POWER) ** 2 * (p_a * (1 - p_a) + p_b * (1 - p_b)) / (p_b - p_a) ** 2
    return n / scenario.per_minute


def duration(minutes: float, hours: int) -> str:
    if not math.isfinite(minutes):
        return f"> {hours} h"
    whole = round(minutes)
    return f"{whole} min" if whole < 60 else f"{whole // 60} h {whole % 60:02d} min"


def recipients(minutes: float, scenario: Scenario) -> str:
    return f"{minutes * scenario.per_minute:,.0f}" if math.isfinite(minutes) else "—"


def share(hits: int, total: int) -> str:
    return f"{100 * hits / total:.1f} %"


def percent(rate: float) -> str:
    return f"{100 * rate:.3g} %"


def aa_row(rng: np.random.Generator, scenario: Scenario, experiments: int) -> str:
    msprt = peeked = once = 0
    for run in chunks(rng, scenario, 0.0, experiments):
        evidence = mixture_test(run.n_a, run.s_a, run.n_b, run.s_b)
        msprt += int((evidence.significant & evidence.ready).any(axis=1).sum())
        z = z_calls(run, evidence.ready)
        peeked += int(z.any(axis=1).sum())
        once += int(z[:, -1].sum())
    return (
        f"| {scenario.name} | {percent(scenario.rate)} | {experiments:,} | {share(msprt, experiments)} "
        f"| {100 * wilson_high(msprt, experiments):.1f} % | {share(peeked, experiments)} "
        f"| {share(once, experiments)} |"
    )


@dataclass
class Tally:
    """What the lift campaigns came to under one τ."""

    better: int = 0
    worse: int = 0
    minutes: list[float] = field(default_factory=list)


def lift_rows(
    rng: np.random.Generator, scenario: Scenario, experiments: int, taus: tuple[float, ...]
) -> list[str]:
    """One row per τ, all read on the same simulated campaigns."""
    tallies = {tau: Tally() for tau in taus}
    for run in chunks(rng, scenario, LIFT, experiments):
        for tau, tally in tallies.items():
            evidence = mixture_test(run.n_a, run.s_a, run.n_b, run.s_b, tau=tau)
            first = first_minute(evidence.significant & evidence.ready)
            called = np.flatnonzero(np.isfinite(first))
            lift_at_call = evidence.lift[called, first[called].astype(int) - 1]
            tally.better += int((lift_at_call > 0).sum())
            tally.worse += int((lift_at_call < 0).sum())
            tally.minutes += first.tolist()
    lines = []
    fixed = duration(fixed_minutes(scenario), scenario.hours)
    for tau, tally in tallies.items():
        p25, p50, p75 = (percentile(tally.minutes, q) for q in (0.25, 0.5, 0.75))
        lines.append(
            f"| {scenario.name} | {percent(scenario.rate)} → {percent(scenario.rate * (1 + LIFT))} | {tau:g} "
            f"| {share(tally.better, experiments)} | {share(tally.worse, experiments)} "
            f"| {duration(p25, scenario.hours)} | {duration(p50, scenario.hours)} "
            f"| {duration(p75, scenario.hours)} | {recipients(p50, scenario)} | {fixed} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=10_000, help="Campaigns per scenario.")
    parser.add_argument("--seed", type=int, default=19, help="Seed of the simulation.")
    parser.add_argument("--quick", action="store_true", help="200 campaigns of 6 hours, τ = 0.1.")
    args = parser.parse_args()
    experiments, scenarios, taus = args.experiments, SCENARIOS, TAUS
    if args.quick:
        experiments, taus = 200, (TAU,)
        scenarios = tuple(
            Scenario(s.name, rate=s.rate, per_minute=s.per_minute, hours=6) for s in SCENARIOS
        )
    command = f"bench/variants_study.py --experiments {experiments} --seed {args.seed}"
    print(header(command + (" --quick" if args.quick else "")))
    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    print(
        f"\nA/A: identical variants, checked every minute for {scenarios[0].hours} h, α = {ALPHA}\n"
    )
    print(
        "| scenario | rate | campaigns | mSPRT false winners | 95 % upper bound "
        "| z-test read every minute | z-test read once at the end |"
    )
    print("| :--- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for scenario in scenarios:
        print(aa_row(rng, scenario, experiments), flush=True)
    print(
        f"\nA true {percent(LIFT)} lift, checked every minute; time to the first verdict "
        f"(over all campaigns, one without a verdict counted as never)\n"
    )
    print(
        "| scenario | true rates | τ | called better | called worse | p25 | median | p75 "
        "| recipients per variant at the median | fixed test for 80 % power waits |"
    )
    print("| :--- | :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for scenario in scenarios:
        print("\n".join(lift_rows(rng, scenario, experiments, taus)), flush=True)
    print(f"\n{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
