"""Alert rules read from JSON: ids, limits, the round trip, hysteresis and what viewers see."""

from __future__ import annotations

import pytest

from livereport.alerts.evaluate import Reading, clears, holds
from livereport.alerts.rules import DEFAULT_RULES, AlertRule, parse_rules, rules_json
from livereport.errors import BadRequest


def _one(**fields: object) -> AlertRule:
    (rule,) = parse_rules([fields], allow_private=True)
    return rule


def test_defaults_are_valid_rules_and_survive_a_round_trip() -> None:
    again = parse_rules(rules_json(DEFAULT_RULES), allow_private=False)
    assert tuple(again) == DEFAULT_RULES


def test_missing_ids_are_made_from_the_metric_and_position_and_ids_are_unique() -> None:
    rules = parse_rules(
        [
            {"metric": "bounce_rate", "channel": "email", "above": 0.1},
            {"metric": "stall", "channel": "sms"},
        ],
        allow_private=True,
    )
    assert [r.id for r in rules] == ["bounce_rate-1", "stall-2"]
    with pytest.raises(BadRequest, match="used by an earlier rule"):
        parse_rules(
            [{"id": "a", "metric": "errors", "channel": "sms", "above": 1}] * 2, allow_private=True
        )


def test_every_problem_of_every_rule_is_named_and_nothing_is_kept() -> None:
    with pytest.raises(BadRequest) as refused:
        parse_rules(
            [
                {"id": "x", "metric": "nope", "channel": "fax"},
                {"metric": "bounce_rate", "channel": "email", "above": 0.1, "colour": "red"},
            ],
            allow_private=True,
        )
    message = refused.value.message
    assert "rule 0 ('x'): metric" in message and "rule 0 ('x'): channel" in message
    assert "unknown field 'colour'" in message
    with pytest.raises(BadRequest, match="expected a JSON list of rules"):
        parse_rules({"rules": []}, allow_private=True)


def test_a_rule_fires_above_its_threshold_and_resolves_only_past_the_margin() -> None:
    rule = _one(metric="bounce_rate", channel="email", above=0.05, min_volume=100)
    assert not holds(rule, Reading(0.5, 99))  # too little volume to judge
    assert holds(rule, Reading(0.051, 100))
    assert not holds(rule, Reading(0.05, 100))
    assert not clears(rule, Reading(0.046, 100))  # under the line, inside the margin
    assert clears(rule, Reading(0.045, 100))
    assert clears(rule, Reading(None, 0))  # nothing left in the span


def test_below_and_stall_rules() -> None:
    rule = _one(metric="delivery_rate", channel="sms", below=0.9, min_volume=10)
    assert holds(rule, Reading(0.5, 10)) and not clears(rule, Reading(0.905, 10))
    assert clears(rule, Reading(0.91, 10))  # a tenth of the way from 90 % to 100 %
    stall = _one(metric="stall", channel="email", min_volume=50)
    assert holds(stall, Reading(0, 50)) and not holds(stall, Reading(1, 500))
    assert clears(stall, Reading(1, 500)) and not clears(stall, Reading(0, 500))


def test_a_baseline_rule_judges_the_change_and_needs_volume_before_too() -> None:
    rule = _one(
        metric="bounce_rate", channel="email", above=0.1, baseline_minutes=60, min_volume=50
    )
    assert holds(rule, Reading(0.2, 100, 0.05, 100))
    assert not holds(rule, Reading(0.2, 100, 0.15, 100))
    assert not holds(rule, Reading(0.2, 100, 0.0, 10))  # too little before to compare
    falling = _one(metric="delivery_rate", channel="email", below=-0.2, baseline_minutes=60)
    assert holds(falling, Reading(0.6, 100, 0.9, 100))


def test_viewers_see_targets_without_their_credentials() -> None:
    rule = _one(
        metric="bounce_rate",
        channel="email",
        above=0.1,
        notify=[
            {"slack": "https://hooks.slack.com/services/T0/B0/SECRET"},
            {"email": "ops@example.com"},
        ],
        pause={"url": "https://sender.example/pause?token=SECRET", "secret": "s" * 20},
    )
    shown = str(rule.json(redact=True))
    assert "SECRET" not in shown and "ops@" not in shown and "s" * 20 not in shown
    assert "hooks.slack.com" in shown and "example.com" in shown
    assert "SECRET" in str(rule.json())


def test_a_count_below_a_number_watches_for_silence() -> None:
    """`sent` below 1 over 15 minutes: a campaign that stopped sending. No least volume
    applies (the volume of a count is the count), and an empty span does not resolve it."""
    quiet = _one(metric="sent", channel="email", below=1, span_minutes=15, min_volume=100)
    assert quiet.watches_silence
    assert holds(quiet, Reading(0.0, 0)) and not holds(quiet, Reading(1.0, 1))
    assert not clears(quiet, Reading(0.0, 0))
    assert not clears(quiet, Reading(1.0, 1))  # back at the line, inside the margin
    assert clears(quiet, Reading(2.0, 2))
    slow = _one(metric="sent", channel="email", below=100)
    assert holds(slow, Reading(40.0, 40)) and clears(slow, Reading(110.0, 110))
    rate = _one(metric="delivery_rate", channel="email", below=0.9)
    assert not rate.watches_silence and not holds(rate, Reading(None, 0))
