"""The catalogue is consistent: widgets name real metrics and dimensions that fit their tab."""

from __future__ import annotations

import pytest

from livereport.events import MATRIX, Channel, EventType
from livereport.report.catalogue import (
    DIMENSIONS,
    METRICS,
    TABS,
    WIDGETS,
    Kind,
    metrics_for,
    widgets_of,
)

SPEC_WIDGETS = {
    "campaign": ["statistics", "channels"],
    # engagement_quality: SPEC §11, the machine share of the email tab (and of push opens).
    "email": [
        "sending_performance",
        "statistics",
        "engagement_quality",
        "machine_rules",
        "bounce_categories",
        "bounce_reasons",
        "performance_by_date",
        "error_reasons",
        "excluded_reasons",
        "best_recipient_domains",
    ],
    "inapp": ["performance", "summary", "interactions_by_type"],
    "push": [
        "sending_performance",
        "statistics",
        "sending_summary",
        "engagement_quality",
        "excluded_reasons",
        "error_reasons",
        "failed",
        "tracking_by_platform",
        "sending_by_platform",
        "breakdown_by_platform",
    ],
    "sms": [
        "statistics",
        "performance_by_date",
        "excluded_reasons",
        "bounce_reasons",
        "error_reasons",
    ],
    "web": ["performance", "summary", "interactions_by_element"],
    "directmail": ["statistics", "excluded_reasons", "error_reasons"],
}


def test_every_widget_of_the_spec_exists_in_its_tab() -> None:
    for tab, names in SPEC_WIDGETS.items():
        assert [w.id for w in widgets_of(tab)] == [f"{tab}.{n}" for n in names]
    assert set(TABS) == set(SPEC_WIDGETS)


def test_widget_ids_are_unique() -> None:
    ids = [w.id for w in WIDGETS]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("widget", WIDGETS, ids=lambda w: w.id)
def test_widget_metrics_exist_and_apply_to_its_channel(widget: object) -> None:
    from livereport.report.catalogue import Widget

    assert isinstance(widget, Widget)
    assert widget.metrics
    for name in widget.metrics:
        assert name in METRICS, f"{widget.id} names unknown metric {name}"
        if widget.kind != Kind.CHANNELS:
            assert name in metrics_for(widget.channel), f"{name} does not apply to {widget.tab}"
    if widget.kind in (Kind.BREAKDOWN, Kind.REASONS):
        assert widget.dimension in DIMENSIONS
    assert widget.visualisations and len(set(widget.visualisations)) == len(widget.visualisations)
    assert 1 <= widget.size[0] <= 12 and 1 <= widget.size[1] <= 12
    assert widget.title and len(widget.help) > 20


def test_metrics_apply_only_where_their_events_can_happen() -> None:
    assert "opens" in metrics_for("email") and "opens" in metrics_for("push")
    assert "opens" not in metrics_for("sms")
    assert "retries" in metrics_for("email") and "retries" not in metrics_for("push")
    assert "engagements" in metrics_for("push") and "engagements" not in metrics_for("email")
    assert metrics_for("campaign") == (
        "entered_profiles",
        "targeted",
        "sent",
        "delivered",
        "errors",
        "bounces",
    )
    for channel in Channel:
        for name in metrics_for(channel):
            for type_ in METRICS[name].types:
                assert channel in MATRIX[EventType(type_)]


def test_every_rate_has_a_count_numerator_and_denominator() -> None:
    for metric in METRICS.values():
        if metric.ratio:
            assert all(part in METRICS and not METRICS[part].ratio for part in metric.ratio)
