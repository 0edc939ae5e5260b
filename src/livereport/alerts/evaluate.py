"""Judging alert rules on the per-minute rollups.

One pass judges every rule of an org over the campaigns that changed (and those whose alerts
are open). Rules that read the same span and dimension share their statements: one count
statement per (span, dimension) over all the pass's campaigns, and, only for rules whose
metrics need them, one distinct-profile statement. The cost of a pass grows with the number
of distinct spans, not with the number of rules or campaigns.

A rule's span is whole minutes ending with the current one, the minutes the rollups keep:
``span_minutes=15`` at 14:07:30 reads 13:53:00 to 14:08:00.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from livereport.alerts.rules import STALL, AlertRule
from livereport.events import CAMPAIGN
from livereport.report.catalogue import DIMENSIONS, METRICS
from livereport.report.query import UNIQUE_TYPES, Tally, needed
from livereport.store.base import Store
from livereport.store.metadata import Alert, Opening

#: The metrics a stall reads: sends are its volume, deliveries its value.
_STALL_NAMES = ("sent", "delivered")
_UNIQUE_TYPES = frozenset(UNIQUE_TYPES)


@dataclass(frozen=True)
class Reading:
    """A rule's numbers for one subject: the metric's value (a stall: deliveries), the volume
    it was judged on (a rate: its denominator; a count: itself; a stall: sends), and, for a
    rule compared with its own past, the value over the minutes before the span."""

    value: float | None
    volume: int
    baseline: float | None = None
    baseline_volume: int = 0

    def judged(self, rule: AlertRule) -> float | None:
        """What the threshold applies to: the value, or its change against the baseline."""
        if rule.baseline_minutes is None or self.value is None:
            return self.value
        if self.baseline is None or self.baseline_volume < max(rule.min_volume, 1):
            return None
        return self.value - self.baseline


def reading(rule: AlertRule, tally: Tally, before: Tally | None = None) -> Reading:
    if rule.metric == STALL:
        sent, delivered = (int(tally.value(n) or 0) for n in _STALL_NAMES)
        return Reading(float(delivered), sent)
    value, volume = _value_volume(rule.metric, tally)
    if before is None:
        return Reading(value, volume)
    earlier, earlier_volume = _value_volume(rule.metric, before)
    return Reading(value, volume, earlier, earlier_volume)


def _value_volume(metric: str, tally: Tally) -> tuple[float | None, int]:
    found = tally.value(metric)
    ratio = METRICS[metric].ratio
    if ratio is not None:
        return (None if found is None else float(found)), int(tally.value(ratio[1]) or 0)
    number = float(found or 0)
    return number, int(number)


def holds(rule: AlertRule, found: Reading) -> bool:
    return rule.holds(found.judged(rule), found.volume)


def clears(rule: AlertRule, found: Reading) -> bool:
    judged = found.judged(rule)
    if rule.baseline_minutes is not None and judged is None:
        return found.volume == 0
    return rule.clears(judged, found.volume)


@dataclass(frozen=True)
class Subject:
    rule: str
    campaign: str
    key: str


@dataclass
class Outcome:
    """What a pass found: alerts to open (with their reading) and open alerts to resolve."""

    opened: list[Opening] = field(default_factory=list)
    resolved: list[tuple[Alert, Reading | None]] = field(default_factory=list)


# (campaign, channel, execution, key) → Tally
Tallies = dict[tuple[str, str, str, str], Tally]


def _rule_names(rule: AlertRule) -> tuple[str, ...]:
    return _STALL_NAMES if rule.metric == STALL else (rule.metric,)


def _read(
    store: Store,
    org: int,
    campaigns: Sequence[str],
    start: int,
    end: int,
    dimension: str | None,
    rules: Sequence[AlertRule],
) -> Tallies:
    """Counts (and the distinct profiles the rules need) per campaign, channel, execution
    and key over [start, end)."""
    counted: set[str] = set()
    uniques: set[str] = set()
    for rule in rules:
        c, u = needed(_rule_names(rule))
        counted |= c
        uniques |= u & _UNIQUE_TYPES
    params: dict[str, Any] = {
        "org": org,
        "campaigns": tuple(campaigns),
        "start": start,
        "end": end,
    }
    where = (
        "org = %(org)s AND campaign IN %(campaigns)s AND minute >= toDateTime(%(start)s, 'UTC') "
        "AND minute < toDateTime(%(end)s, 'UTC')"
    )
    table, key = "minute_counts", "''"
    if dimension is not None:
        table, key = "dim_counts", "key"
        where += " AND dim = %(dim)s"
        params["dim"] = DIMENSIONS[dimension].dim
    found: Tallies = defaultdict(Tally)
    if counted:
        rows = store.execute(
            f"SELECT campaign, toString(channel), execution, {key} AS k, toString(type), "  # noqa: S608 - constants of this module
            f"toString(bounce), sum(events) FROM {{db}}.{table} WHERE {where} "
            "AND type IN %(types)s GROUP BY campaign, channel, execution, k, type, bounce",
            {**params, "types": tuple(sorted(counted))},
        )
        for campaign, channel, execution, k, type_, bounce, n in rows:
            tally = found[(campaign, channel, execution, k)]
            tally.counts[(type_, bounce)] = tally.counts.get((type_, bounce), 0) + int(n)
    if uniques:
        _read_uniques(
            store, found, table.replace("counts", "uniques"), key, where, params, uniques, rules
        )
    return found


def _read_uniques(
    store: Store,
    found: Tallies,
    table: str,
    key: str,
    where: str,
    params: dict[str, Any],
    uniques: set[str],
    rules: Sequence[AlertRule],
) -> None:
    """Distinct profiles cannot be summed over executions: read per execution for rules that
    name one, and over every execution (execution '*') for the others."""
    per_execution = any(r.execution is not None for r in rules)
    every_execution = any(r.execution is None for r in rules)
    for grouped in (True, False):
        if (grouped and not per_execution) or (not grouped and not every_execution):
            continue
        execution = "execution" if grouped else "'*'"
        rows = store.execute(
            f"SELECT campaign, toString(channel), {execution} AS e, {key} AS k, toString(type), "  # noqa: S608
            f"uniqExactMerge(profiles) FROM {{db}}.{table} WHERE {where} "
            "AND type IN %(types)s GROUP BY campaign, channel, e, k, type",
            {**params, "types": tuple(sorted(uniques))},
        )
        for campaign, channel, e, k, type_, n in rows:
            found[(campaign, channel, e, k)].uniques[type_] = int(n)


class _Rows:
    """The rows one group read, indexed by campaign, with each scope's sum kept: rules of the
    same channel, execution and key share it (and their reading), so a pass costs what its
    distinct scopes cost, not what its rules do."""

    def __init__(self, found: Tallies) -> None:
        self._by_campaign: dict[str, list[tuple[str, str, str, Tally]]] = defaultdict(list)
        for (campaign, channel, execution, key), tally in found.items():
            self._by_campaign[campaign].append((channel, execution, key, tally))
        self._sums: dict[tuple[str, str, str | None, str | None], Tally] = {}
        self._keys: dict[str, set[str]] = {}

    def keys(self, campaign: str) -> set[str]:
        """The keys of the dimension the campaign has rows for."""
        found = self._keys.get(campaign)
        if found is None:
            found = self._keys[campaign] = {
                k for _, _, k, _ in self._by_campaign.get(campaign, ()) if k
            }
        return found

    def tally(self, campaign: str, channel: str, execution: str | None, key: str | None) -> Tally:
        """One scope summed over the channels (campaign level) and executions it covers;
        distinct profiles come from the rows read for that very scope, never summed."""
        scope = (campaign, channel, execution, key)
        total = self._sums.get(scope)
        if total is not None:
            return total
        total = self._sums[scope] = Tally()
        for row_channel, row_execution, k, tally in self._by_campaign.get(campaign, ()):
            if (key is not None and k != key) or (channel != CAMPAIGN and row_channel != channel):
                continue
            if execution is not None:
                if row_execution != execution:
                    continue
            elif row_execution == "*":
                for type_, n in tally.uniques.items():
                    total.uniques[type_] = total.uniques.get(type_, 0) + n
                continue
            for pair, n in tally.counts.items():
                total.counts[pair] = total.counts.get(pair, 0) + n
            if execution is not None:
                for type_, n in tally.uniques.items():
                    total.uniques[type_] = total.uniques.get(type_, 0) + n
        return total


def _minute_end(now: float) -> int:
    return (int(now) // 60 + 1) * 60


def judge(
    store: Store,
    org: int,
    rules: Sequence[AlertRule],
    campaigns: Collection[str],
    firing: Iterable[Alert],
    now: float,
) -> Outcome:
    """Which subjects of ``rules`` over ``campaigns`` cross their rule (to open, unless one
    is open already: the caller's insert decides), and which of the ``firing`` alerts clear."""
    outcome = Outcome()
    firing = list(firing)
    by_id = {r.id: r for r in rules}
    open_subjects = {Subject(a.rule, a.campaign, a.key): a for a in firing}
    open_keys: dict[tuple[str, str], set[str]] = defaultdict(set)
    for alert in firing:
        open_keys[(alert.rule, alert.campaign)].add(alert.key)
    every = sorted(set(campaigns) | {a.campaign for a in firing})
    if not every:
        return outcome
    end = _minute_end(now)
    groups: dict[tuple[int, str | None, int | None], list[AlertRule]] = defaultdict(list)
    for rule in rules:
        groups[(rule.span_minutes, rule.dimension, rule.baseline_minutes)].append(rule)
    for (span, dimension, baseline), group in groups.items():
        named = {r.campaign for r in group}
        subjects = every if None in named else [c for c in every if c in named]
        if not subjects:
            continue
        start = end - span * 60
        found = _Rows(_read(store, org, subjects, start, end, dimension, group))
        before = (
            _Rows(_read(store, org, subjects, start - baseline * 60, start, dimension, group))
            if baseline is not None
            else None
        )
        readings: dict[tuple[str, str, str | None, str | None, str], Reading] = {}
        for rule in group:
            covered = (
                subjects
                if rule.campaign is None
                else [rule.campaign]
                if rule.campaign in subjects
                else []
            )
            for campaign in covered:
                keys = (
                    {rule.key}
                    if rule.key is not None
                    else found.keys(campaign)
                    if rule.dimension
                    else {""}
                )
                for key in keys | open_keys.get((rule.id, campaign), set()):
                    narrow = key if rule.dimension is not None else None
                    scope = (campaign, rule.channel, rule.execution, narrow)
                    found_reading = readings.get((*scope, rule.metric))
                    if found_reading is None:
                        earlier = before.tally(*scope) if before is not None else None
                        found_reading = readings[(*scope, rule.metric)] = reading(
                            rule, found.tally(*scope), earlier
                        )
                    opened = open_subjects.get(Subject(rule.id, campaign, key))
                    if opened is not None:
                        if _same_rule(opened, rule) and not clears(rule, found_reading):
                            continue
                        outcome.resolved.append((opened, found_reading))
                    elif holds(rule, found_reading):
                        outcome.opened.append(_opening(rule, campaign, key, found_reading))
    for alert in firing:
        current = by_id.get(alert.rule)
        # Its rule was removed or no longer covers the campaign: nothing judges it any more.
        if current is None or not current.applies_to(alert.campaign):
            outcome.resolved.append((alert, None))
    return outcome


def _same_rule(alert: Alert, rule: AlertRule) -> bool:
    """Whether the open alert was fired by the rule as it is now (an admin may have changed
    its channel or threshold since: the old alert resolves, the new rule judges afresh)."""
    return (alert.channel, alert.metric, alert.condition, alert.threshold, alert.span_minutes) == (
        rule.channel,
        rule.metric,
        rule.condition,
        rule.threshold,
        rule.span_minutes,
    )


def _opening(rule: AlertRule, campaign: str, key: str, found: Reading) -> Opening:
    return Opening(
        rule=rule.id,
        campaign=campaign,
        channel=rule.channel,
        dimension=rule.dimension,
        key=key,
        execution=rule.execution,
        severity=rule.severity,
        metric=rule.metric,
        condition=rule.condition,
        threshold=rule.threshold,
        span_minutes=rule.span_minutes,
        value=found.value,
        volume=found.volume,
        baseline=found.baseline,
    )
