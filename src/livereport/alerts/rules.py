"""Alert rules: what an org wants to hear about, read from JSON and checked whole.

A rule names a metric of the catalogue (or ``stall``), the channel it is read on, a
condition (``above`` or ``below`` a threshold), the span of minutes it is read over and the
least volume that makes the number mean something. It may narrow itself to one campaign,
execution or breakdown key, and name where to say so and what to call to pause the send.

An org that never saved rules gets :data:`DEFAULT_RULES`: the thresholds mailbox providers
and deliverability guides agree on, without notification targets (the dashboard and the API
show the alerts; an admin adds webhooks, Slack or email).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from livereport.alerts import targets
from livereport.errors import BadRequest
from livereport.events import CAMPAIGN
from livereport.report.catalogue import (
    DIMENSIONS,
    METRICS,
    SCOPES,
    SPLIT_METRICS,
    Format,
    metrics_for,
)

STALL = "stall"
SEVERITIES = ("info", "warning", "critical")
#: Most rules an org keeps, and most targets per rule: evaluation and notification stay cheap.
MAX_RULES = 1000
MAX_TARGETS = 10
MAX_SPAN_MINUTES = 1440
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_FIELDS = frozenset(
    {
        "id",
        "metric",
        "channel",
        "above",
        "below",
        "span_minutes",
        "min_volume",
        "severity",
        "campaign",
        "execution",
        "dimension",
        "key",
        "baseline_minutes",
        "notify",
        "pause",
    }
)
#: Dimensions a rule may narrow to: those kept per key in the rollups (the execution has a
#: field of its own).
RULE_DIMENSIONS = tuple(name for name, d in DIMENSIONS.items() if d.dim != "execution")
#: A firing alert resolves only once its value is this far back on the safe side of the
#: threshold (hysteresis): a rate hovering at the line does not fire and resolve in turns.
RESOLVE_MARGIN = 0.1
REDACTED = "(hidden: admins only)"
#: Float noise ignored when a value is compared with a computed limit (0.05 - 0.005).
_ROUNDING = 1e-12


@dataclass(frozen=True)
class Target:
    """Where a notification goes: ``kind`` is webhook, slack or email."""

    kind: str
    to: str

    def json(self) -> dict[str, str]:
        return {self.kind: self.to}


@dataclass(frozen=True)
class Pause:
    url: str
    secret: str


@dataclass(frozen=True)
class AlertRule:
    id: str
    metric: str
    channel: str
    span_minutes: int
    min_volume: int
    severity: str
    above: float | None = None
    below: float | None = None
    campaign: str | None = None
    execution: str | None = None
    dimension: str | None = None
    key: str | None = None
    baseline_minutes: int | None = None
    notify: tuple[Target, ...] = ()
    pause: Pause | None = None

    @property
    def condition(self) -> str:
        if self.metric == STALL:
            return STALL
        return "above" if self.above is not None else "below"

    @property
    def threshold(self) -> float | None:
        return self.above if self.above is not None else self.below

    @property
    def is_rate(self) -> bool:
        return self.metric != STALL and METRICS[self.metric].format == Format.RATE

    def applies_to(self, campaign: str) -> bool:
        return self.campaign is None or self.campaign == campaign

    @property
    def watches_silence(self) -> bool:
        """A count that must not fall below a number (``sent`` below 1 over 15 minutes): it
        fires on few or no events, so no least volume applies."""
        return self.below is not None and not self.is_rate and self.baseline_minutes is None

    def holds(self, value: float | None, volume: int) -> bool:
        """Whether the condition holds for a reading (stall: ``value`` is the deliveries)."""
        if self.watches_silence:
            return value is not None and value < (self.below or 0)
        if volume < max(self.min_volume, 1) or value is None:
            return False
        if self.metric == STALL:
            return value == 0
        if self.above is not None:
            return value > self.above
        assert self.below is not None
        return value < self.below

    def clears(self, value: float | None, volume: int) -> bool:
        """Whether a firing alert may resolve: nothing left to judge in the span, or the value
        back past the threshold by the margin."""
        if self.watches_silence:
            return value is not None and value >= (self.below or 0) + self.margin - _ROUNDING
        if volume == 0 or value is None:
            return True
        if self.metric == STALL:
            return value > 0
        if self.above is not None:
            return value <= self.above - self.margin + _ROUNDING
        assert self.below is not None
        return value >= self.below + self.margin - _ROUNDING

    @property
    def margin(self) -> float:
        """How far past the threshold a value must come back to resolve: a tenth of the
        threshold, or for a rate that must stay high, a tenth of what it leaves to 100 %."""
        threshold = self.threshold or 0.0
        if self.is_rate and self.below is not None and self.baseline_minutes is None:
            return RESOLVE_MARGIN * (1 - threshold)
        return RESOLVE_MARGIN * abs(threshold)

    def json(self, *, redact: bool = False) -> dict[str, Any]:
        found: dict[str, Any] = {
            "id": self.id,
            "metric": self.metric,
            "channel": self.channel,
        }
        if self.above is not None:
            found["above"] = self.above
        if self.below is not None:
            found["below"] = self.below
        found |= {
            "span_minutes": self.span_minutes,
            "min_volume": self.min_volume,
            "severity": self.severity,
        }
        for name in ("campaign", "execution", "dimension", "key", "baseline_minutes"):
            value = getattr(self, name)
            if value is not None:
                found[name] = value
        if redact:
            found["notify"] = [{t.kind: _redacted(t)} for t in self.notify]
            if self.pause is not None:
                found["pause"] = {"url": REDACTED, "secret": REDACTED}
            return found
        found["notify"] = [t.json() for t in self.notify]
        if self.pause is not None:
            found["pause"] = {"url": self.pause.url, "secret": self.pause.secret}
        return found


def _redacted(target: Target) -> str:
    """What a viewer sees of a target: an email's domain, a URL's host (a Slack webhook's
    path is its credential)."""
    if target.kind == "email":
        return "…@" + target.to.rpartition("@")[2]
    host = re.sub(r"^https?://([^/?#]*).*$", r"\1", target.to)
    return f"{target.to.split(':', 1)[0]}://{host}/…"


def _rule(**fields: Any) -> AlertRule:
    return AlertRule(**fields)


DEFAULT_RULES: tuple[AlertRule, ...] = (
    # Gmail and Yahoo's sender rules (2024) ask bulk senders to stay under 0.3 % of spam
    # reports and aim under 0.1 %.
    _rule(
        id="complaint-rate-warning",
        metric="complaint_rate",
        channel="email",
        above=0.001,
        span_minutes=60,
        min_volume=1000,
        severity="warning",
    ),
    _rule(
        id="complaint-rate-critical",
        metric="complaint_rate",
        channel="email",
        above=0.003,
        span_minutes=60,
        min_volume=1000,
        severity="critical",
    ),
    # A list that bounces hard above 2 % is stale; above 5 % providers start to block.
    _rule(
        id="hard-bounce-rate-warning",
        metric="hard_bounce_rate",
        channel="email",
        above=0.02,
        span_minutes=15,
        min_volume=200,
        severity="warning",
    ),
    _rule(
        id="hard-bounce-rate-critical",
        metric="hard_bounce_rate",
        channel="email",
        above=0.05,
        span_minutes=15,
        min_volume=200,
        severity="critical",
    ),
    # A provider blocking one domain shows as bounces concentrated there.
    _rule(
        id="domain-bounce-rate",
        metric="bounce_rate",
        channel="email",
        dimension="recipient_domain",
        above=0.2,
        span_minutes=15,
        min_volume=100,
        severity="warning",
    ),
    # A broken template or credential fails every send.
    *(
        _rule(
            id=f"{c}-error-rate",
            metric="error_rate",
            channel=c,
            above=0.1,
            span_minutes=15,
            min_volume=100,
            severity="critical",
        )
        for c in ("email", "sms", "push")
    ),
    # Sends going out, nothing delivered: a throttle, a queue stuck behind a provider.
    _rule(
        id="email-stall",
        metric=STALL,
        channel="email",
        span_minutes=15,
        min_volume=100,
        severity="critical",
    ),
)


def parse_rules(items: Any, *, allow_private: bool, check_targets: bool = True) -> list[AlertRule]:
    """Rules from a decoded JSON body, every problem named by rule and field, or BadRequest.

    Rules without an ``id`` get one from their metric and position; ids are unique.
    ``check_targets`` False takes notification and pause targets as they are (rules read
    back from the database, checked when saved).
    """
    if not isinstance(items, list):
        raise BadRequest(
            f"the body is a JSON {_json_type(items)}; expected a JSON list of rules (see "
            "docs/alerts.md), [] for none"
        )
    if len(items) > MAX_RULES:
        raise BadRequest(f"{len(items)} rules; expected at most {MAX_RULES}")
    problems: list[str] = []
    rules: list[AlertRule] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        errors: list[str] = []
        rule = _parse_one(item, index, errors, allow_private if check_targets else None)
        name = f"rule {index}" + (f" ({rule.id!r})" if rule is not None and rule.id else "")
        if rule is not None and rule.id in seen:
            errors.append(f"id: {rule.id!r} is used by an earlier rule; expected unique ids")
        problems.extend(f"{name}: {e}" for e in errors)
        if rule is not None and not errors:
            seen.add(rule.id)
            rules.append(rule)
    if problems:
        shown = problems[:20]
        more = f"; and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise BadRequest("; ".join(shown) + more)
    return rules


def _json_type(value: Any) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


def _parse_one(
    item: Any, index: int, errors: list[str], allow_private: bool | None
) -> AlertRule | None:
    if not isinstance(item, dict):
        errors.append(f"is a JSON {_json_type(item)}; expected an object")
        return None
    unknown = sorted(set(item) - _FIELDS)
    if unknown:
        errors.append(f"unknown field {unknown[0]!r}; expected only {', '.join(sorted(_FIELDS))}")
    rule_id = _text(item, "id", errors, optional=True)
    if rule_id is None:
        rule_id = f"{item.get('metric', 'rule')}-{index + 1}"
        if not isinstance(item.get("metric"), str) or not _ID.match(rule_id):
            rule_id = f"rule-{index + 1}"
    elif not _ID.match(rule_id):
        errors.append(
            f"id: {rule_id[:80]!r} is not a valid id; expected 1 to 64 letters, digits and "
            "._:- starting with a letter or digit"
        )
    metric = _text(item, "metric", errors)
    channel = _text(item, "channel", errors)
    if channel is not None and channel not in SCOPES:
        errors.append(
            f"channel: {channel[:40]!r} is not a channel; expected one of {', '.join(SCOPES)}"
        )
        channel = None
    if metric is not None and metric != STALL and metric not in METRICS:
        errors.append(
            f"metric: {metric[:60]!r} is not a metric of the catalogue; expected one of "
            f"{', '.join(sorted(METRICS))}, or {STALL}"
        )
        metric = None
    if metric in SPLIT_METRICS:
        errors.append(
            f"metric: {metric} reads the human and machine split, which alerts do not watch; "
            "expected a metric of all opens and clicks such as open_rate or click_rate"
        )
        metric = None
    if metric is not None and channel is not None:
        _check_metric_channel(metric, channel, errors)
    span = _whole(item, "span_minutes", errors, 1, MAX_SPAN_MINUTES, default=15)
    volume = _whole(item, "min_volume", errors, 0, 10**12, default=1)
    severity = item.get("severity", "warning")
    if severity not in SEVERITIES:
        errors.append(f"severity: {str(severity)[:40]!r}; expected one of {', '.join(SEVERITIES)}")
    above, below = _thresholds(item, metric, errors)
    campaign = _text(item, "campaign", errors, optional=True)
    execution = _text(item, "execution", errors, optional=True)
    dimension = _text(item, "dimension", errors, optional=True)
    key = _text(item, "key", errors, optional=True, empty=True)
    if dimension is not None:
        _check_dimension(dimension, metric, channel, errors)
    elif key is not None:
        errors.append("key: a key needs the dimension it belongs to; add dimension")
    baseline = None
    if "baseline_minutes" in item:
        baseline = _whole(item, "baseline_minutes", errors, 1, MAX_SPAN_MINUTES * 7, default=None)
        if metric == STALL:
            errors.append("baseline_minutes: a stall has no value to compare; remove it")
    notify = _targets(item.get("notify", []), errors, allow_private)
    pause = _pause(item.get("pause"), errors, allow_private)
    if errors or metric is None or channel is None:
        return AlertRule(rule_id or "", metric or "", channel or "", 1, 0, "info")
    return AlertRule(
        id=rule_id,
        metric=metric,
        channel=channel,
        span_minutes=int(span or 15),
        min_volume=int(volume or 0),
        severity=str(severity),
        above=above,
        below=below,
        campaign=campaign,
        execution=execution,
        dimension=dimension,
        key=key,
        baseline_minutes=baseline,
        notify=notify,
        pause=pause,
    )


def _text(
    item: dict[str, Any],
    name: str,
    errors: list[str],
    *,
    optional: bool = False,
    empty: bool = False,
) -> str | None:
    if name in item and item[name] is None:
        errors.append(f"{name}: null; expected a string, or leave the field out")
        return None
    value = item.get(name)
    if value is None:
        if not optional:
            errors.append(f"{name}: missing; expected a string")
        return None
    if not isinstance(value, str) or (not value and not empty) or len(value) > 1000:
        errors.append(f"{name}: expected a non-empty string of at most 1,000 characters")
        return None
    return value


def _whole(
    item: dict[str, Any],
    name: str,
    errors: list[str],
    least: int,
    most: int,
    default: int | None,
) -> int | None:
    if name in item and item[name] is None:
        errors.append(f"{name}: null; expected a whole number, or leave the field out")
        return None
    value = item.get(name, default)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
        errors.append(f"{name}: {value!r}; expected a whole number from {least} to {most:,}")
        return None
    return value


def _check_metric_channel(metric: str, channel: str, errors: list[str]) -> None:
    if metric == STALL:
        if channel == CAMPAIGN or not {"sent", "delivered"} <= set(metrics_for(channel)):
            errors.append(
                f"channel: {channel} has no sends and deliveries to compare; a stall is read "
                "on email, sms or push"
            )
        return
    applicable = metrics_for(channel)
    if metric not in applicable:
        errors.append(
            f"metric: {metric} does not apply to {channel}; expected one of {', '.join(applicable)}"
        )


def _thresholds(
    item: dict[str, Any], metric: str | None, errors: list[str]
) -> tuple[float | None, float | None]:
    given = [name for name in ("above", "below") if name in item]
    if metric == STALL:
        if given:
            errors.append(
                f"{given[0]}: a stall has no threshold (sends without deliveries in the span); remove it"
            )
        return None, None
    if len(given) != 1:
        errors.append("expected exactly one of above or below (a number)")
        return None, None
    name = given[0]
    value = item[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        errors.append(f"{name}: {str(value)[:40]!r}; expected a number")
        return None, None
    rate = metric is not None and METRICS[metric].format == Format.RATE
    baseline = "baseline_minutes" in item
    # What could never hold: a rate above 1 or below 0, a count below 0 (a change against
    # the baseline may be negative: a rate falling by 0.2).
    if baseline:
        low, high = (-1.0, 1.0) if rate else (-math.inf, math.inf)
    else:
        low, high = (0.0, 1.0) if rate else (0.0, math.inf)
    if name == "above" and not low <= value < high:
        what = (
            "a fraction from 0 up to but not including 1 (0.05 = 5 %)"
            if rate
            else "a number of at least 0"
        )
        errors.append(f"above: {value!r} could never be exceeded; expected {what}")
        return None, None
    if name == "below" and not low < value <= high:
        what = "a fraction above 0 and at most 1 (0.95 = 95 %)" if rate else "a number above 0"
        errors.append(f"below: {value!r} could never be undercut; expected {what}")
        return None, None
    number = float(value)
    return (number, None) if name == "above" else (None, number)


def _check_dimension(
    dimension: str, metric: str | None, channel: str | None, errors: list[str]
) -> None:
    if dimension not in RULE_DIMENSIONS:
        errors.append(
            f"dimension: {dimension[:60]!r}; expected one of {', '.join(RULE_DIMENSIONS)}"
        )
        return
    if metric == STALL:
        errors.append("dimension: a stall is read on the whole channel; remove dimension")
        return
    if metric is None or channel is None:
        return
    found = DIMENSIONS[dimension]
    types = METRICS[metric].types
    if found.types is not None and not types <= found.types:
        errors.append(
            f"dimension: {dimension} only has keys on the events of {', '.join(sorted(found.types))}; "
            f"{metric} cannot be read per {dimension}"
        )


def _targets(value: Any, errors: list[str], allow_private: bool | None) -> tuple[Target, ...]:
    if not isinstance(value, list):
        errors.append(
            'notify: expected a list of {"webhook": URL}, {"slack": URL} or {"email": ADDRESS}'
        )
        return ()
    if len(value) > MAX_TARGETS:
        errors.append(f"notify: {len(value)} targets; expected at most {MAX_TARGETS}")
        return ()
    found: list[Target] = []
    for position, entry in enumerate(value):
        where = f"notify[{position}]"
        if not isinstance(entry, dict) or len(entry) != 1:
            errors.append(
                f'{where}: expected one of {{"webhook": URL}}, {{"slack": URL}}, {{"email": ADDRESS}}'
            )
            continue
        ((kind, to),) = entry.items()
        if kind not in ("webhook", "slack", "email") or not isinstance(to, str):
            errors.append(
                f'{where}: expected one of {{"webhook": URL}}, {{"slack": URL}}, {{"email": ADDRESS}}'
            )
            continue
        try:
            if allow_private is None:
                pass
            elif kind == "email":
                to = targets.check_email(to, f"{where}.email")
            else:
                to = targets.check_url(to, field=f"{where}.{kind}", allow_private=allow_private)
        except BadRequest as exc:
            errors.append(exc.message)
            continue
        found.append(Target(kind, to))
    return tuple(found)


def _pause(value: Any, errors: list[str], allow_private: bool | None) -> Pause | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"url", "secret"}:
        errors.append('pause: expected {"url": URL, "secret": TEXT}')
        return None
    url, secret = value["url"], value["secret"]
    if not isinstance(secret, str) or not 16 <= len(secret) <= 500:
        errors.append("pause.secret: expected a string of 16 to 500 characters")
        return None
    if not isinstance(url, str):
        errors.append("pause.url: expected an http or https URL")
        return None
    try:
        if allow_private is not None:
            url = targets.check_url(url, field="pause.url", allow_private=allow_private)
    except BadRequest as exc:
        errors.append(exc.message)
        return None
    return Pause(url, secret)


def rules_json(rules: Sequence[AlertRule], *, redact: bool = False) -> list[dict[str, Any]]:
    return [r.json(redact=redact) for r in rules]


def with_id(rule: AlertRule, rule_id: str) -> AlertRule:
    return replace(rule, id=rule_id)
