"""The catalogue: every metric, breakdown dimension, widget and tab, declared once.

The API, the dashboard, CSV exports, the CLI and the docs all read these records; nothing
else names a metric's definition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from livereport.events import CAMPAIGN, MATRIX, Channel, EventType

T = EventType


class Format(StrEnum):
    COUNT = "count"
    RATE = "rate"


@dataclass(frozen=True)
class Metric:
    """A number of the report. Exactly one of count / unique / total / ratio defines it."""

    name: str
    label: str
    help: str
    count: EventType | None = None  # events of this type (optionally one bounce category)
    bounce: str | None = None
    unique: EventType | None = None  # distinct profiles with an event of this type
    total: tuple[str, ...] = ()  # sum of other metrics
    ratio: tuple[str, str] | None = None  # numerator / denominator; None when it is 0
    #: With count or unique: only the opens or clicks of machines (True) or of people
    #: (False), whatever the report's engagement filter.
    machine: bool | None = None
    #: The colour of its bars and lines on the dashboard; None: a colour by rank (charts.js).
    colour: str | None = None
    #: A rate where less is better (bounces, complaints): a variant whose rate is clearly
    #: higher than the control's does worse.
    lower_is_better: bool = False

    @property
    def format(self) -> Format:
        return Format.RATE if self.ratio else Format.COUNT

    @property
    def types(self) -> frozenset[EventType]:
        """The event types this metric is computed from."""
        if self.count or self.unique:
            return frozenset({self.count or self.unique})  # type: ignore[arg-type]
        parts = self.total or self.ratio or ()
        return frozenset(t for p in parts for t in METRICS[p].types)


def _m(name: str, label: str, help: str, **definition: object) -> Metric:
    return Metric(name, label, help, **definition)  # type: ignore[arg-type]


METRICS: Final[Mapping[str, Metric]] = {
    m.name: m
    for m in (
        _m(
            "entered_profiles",
            "Entered profiles",
            "Distinct profiles that entered or qualified for the campaign.",
            unique=T.ENTERED,
            colour="#475569",
        ),
        _m(
            "targeted",
            "Targeted",
            "Messages prepared for a profile of the audience, before exclusions.",
            count=T.TARGETED,
            colour="#94a3b8",
        ),
        _m(
            "excluded",
            "Excluded",
            "Profiles removed before sending: consent, suppression, rules, missing address.",
            count=T.EXCLUDED,
            colour="#a78bfa",
        ),
        _m(
            "sent",
            "Sent",
            "Messages handed to the delivery system.",
            count=T.SENT,
            colour="#3b82f6",
        ),
        _m(
            "delivered",
            "Delivered",
            "Messages the receiving server or provider accepted.",
            count=T.DELIVERED,
            colour="#10b981",
        ),
        _m(
            "bounces",
            "Bounces",
            "Messages rejected while sending or returned afterwards.",
            count=T.BOUNCE,
            colour="#f59e0b",
        ),
        _m(
            "hard_bounces",
            "Hard bounces",
            "Bounces that mean the address will not work again.",
            count=T.BOUNCE,
            bounce="hard",
            colour="#dc2626",
        ),
        _m(
            "soft_bounces",
            "Soft bounces",
            "Bounces for a temporary reason; a later message may arrive.",
            count=T.BOUNCE,
            bounce="soft",
            colour="#f59e0b",
        ),
        _m(
            "ignored_bounces",
            "Ignored bounces",
            "Bounces that say nothing about the address, such as a block or an auto-reply.",
            count=T.BOUNCE,
            bounce="ignored",
            colour="#94a3b8",
        ),
        _m(
            "errors",
            "Errors",
            "Failures during sending that kept the message from going out.",
            count=T.ERROR,
            colour="#ef4444",
        ),
        _m(
            "retries",
            "Retries",
            "Messages put back in the queue for another delivery attempt.",
            count=T.RETRY,
            colour="#64748b",
        ),
        _m(
            "opens",
            "Opens",
            "Every open, counting a profile each time it opens.",
            count=T.OPEN,
            colour="#0ea5e9",
        ),
        _m(
            "unique_opens",
            "Unique opens",
            "Distinct profiles that opened at least once.",
            unique=T.OPEN,
            colour="#7dd3fc",
        ),
        _m("clicks", "Clicks", "Every click on a tracked link.", count=T.CLICK, colour="#8b5cf6"),
        _m(
            "unique_clicks",
            "Unique clicks",
            "Distinct profiles that clicked at least once.",
            unique=T.CLICK,
            colour="#c4b5fd",
        ),
        _m(
            "human_opens",
            "Human opens",
            "Opens by people: every open no machine rule claimed.",
            count=T.OPEN,
            machine=False,
        ),
        _m(
            "machine_opens",
            "Machine opens",
            "Opens made by machines, such as a mail privacy proxy fetching the images of every delivered message.",
            count=T.OPEN,
            machine=True,
        ),
        _m(
            "total_opens",
            "All opens",
            "Human and machine opens together, whichever engagement the report shows.",
            total=("human_opens", "machine_opens"),
        ),
        _m(
            "unique_human_opens",
            "Unique human opens",
            "Distinct profiles with at least one human open.",
            unique=T.OPEN,
            machine=False,
        ),
        _m(
            "human_clicks",
            "Human clicks",
            "Clicks by people: every click no machine rule claimed.",
            count=T.CLICK,
            machine=False,
        ),
        _m(
            "machine_clicks",
            "Machine clicks",
            "Clicks made by machines, such as a security scanner following every link of a message.",
            count=T.CLICK,
            machine=True,
        ),
        _m(
            "unique_human_clicks",
            "Unique human clicks",
            "Distinct profiles with at least one human click.",
            unique=T.CLICK,
            machine=False,
        ),
        _m(
            "unsubscribes",
            "Unsubscribes",
            "Uses of the unsubscribe link.",
            count=T.UNSUBSCRIBE,
            colour="#f97316",
        ),
        _m(
            "spam_complaints",
            "Spam complaints",
            "Recipients who reported the message as spam.",
            count=T.SPAM_COMPLAINT,
            colour="#be123c",
        ),
        _m(
            "actions",
            "Actions",
            "Custom actions taken on a push notification, such as a button.",
            count=T.ACTION,
            colour="#14b8a6",
        ),
        _m(
            "impressions",
            "Impressions",
            "Times the message or experience was shown.",
            count=T.IMPRESSION,
            colour="#6366f1",
        ),
        _m(
            "unique_impressions",
            "Unique impressions",
            "Distinct profiles it was shown to.",
            unique=T.IMPRESSION,
            colour="#a5b4fc",
        ),
        _m(
            "interactions",
            "Interactions",
            "Clicks, dismissals and other interactions.",
            count=T.INTERACTION,
            colour="#ec4899",
        ),
        _m(
            "unique_interactions",
            "Unique interactions",
            "Distinct profiles that interacted.",
            unique=T.INTERACTION,
            colour="#f9a8d4",
        ),
        _m(
            "engagements",
            "Engagements",
            "Opens plus actions on the push notification.",
            total=("opens", "actions"),
            colour="#0d9488",
        ),
        _m(
            "delivery_rate",
            "Delivery rate",
            "Delivered divided by sent.",
            ratio=("delivered", "sent"),
        ),
        _m(
            "bounce_rate",
            "Bounce rate",
            "Bounces divided by sent.",
            ratio=("bounces", "sent"),
            lower_is_better=True,
        ),
        _m(
            "hard_bounce_rate",
            "Hard-bounce rate",
            "Hard bounces divided by sent.",
            ratio=("hard_bounces", "sent"),
            lower_is_better=True,
        ),
        _m(
            "error_rate",
            "Error rate",
            "Errors divided by sent.",
            ratio=("errors", "sent"),
            lower_is_better=True,
        ),
        _m(
            "open_rate",
            "Open rate",
            "Unique opens divided by delivered.",
            ratio=("unique_opens", "delivered"),
        ),
        _m(
            "click_rate",
            "Click rate",
            "Unique clicks divided by delivered.",
            ratio=("unique_clicks", "delivered"),
        ),
        _m(
            "human_open_rate",
            "Human open rate",
            "Unique human opens divided by delivered.",
            ratio=("unique_human_opens", "delivered"),
        ),
        _m(
            "human_click_rate",
            "Human click rate",
            "Unique human clicks divided by delivered.",
            ratio=("unique_human_clicks", "delivered"),
        ),
        _m(
            "machine_open_share",
            "Machine share of opens",
            "Machine opens divided by all opens: how much of the open count no person made.",
            ratio=("machine_opens", "total_opens"),
        ),
        _m(
            "click_to_open_rate",
            "Click-to-open rate",
            "Unique clicks divided by unique opens.",
            ratio=("unique_clicks", "unique_opens"),
        ),
        _m(
            "unsubscribe_rate",
            "Unsubscribe rate",
            "Unsubscribes divided by delivered.",
            ratio=("unsubscribes", "delivered"),
            lower_is_better=True,
        ),
        _m(
            "complaint_rate",
            "Complaint rate",
            "Spam complaints divided by delivered.",
            ratio=("spam_complaints", "delivered"),
            lower_is_better=True,
        ),
    )
}


def _splits(name: str) -> bool:
    metric = METRICS[name]
    return metric.machine is not None or any(
        _splits(p) for p in (*metric.total, *(metric.ratio or ()))
    )


#: The metrics read from the human/machine split of opens and clicks: the reports compute
#: them (report/query.py); the campaign overview, org totals' leaders and alerts do not.
SPLIT_METRICS: Final = frozenset(name for name in METRICS if _splits(name))

#: The values of a report's ``engagement`` parameter: which opens and clicks ``opens``,
#: ``clicks``, their distinct profiles and the rates on them count.
ENGAGEMENTS: Final = ("all", "human", "machine")
#: The engagement a report counts when none is asked: every open and click.
DEFAULT_ENGAGEMENT: Final = "all"
#: The event types the engagement filter and the split apply to.
ENGAGEMENT_TYPES: Final = (T.OPEN, T.CLICK)

#: What the campaign level reports: entered profiles, and sums over the channels.
CAMPAIGN_METRICS: Final = ("entered_profiles", "targeted", "sent", "delivered", "errors", "bounces")
#: Campaign-level metrics taken from campaign-level events; the others are summed.
CAMPAIGN_OWN: Final = frozenset({"entered_profiles"})

#: Every value of the ``channel`` parameter: the six channels and the campaign level.
SCOPES: Final = (CAMPAIGN, *(c.value for c in Channel))

#: The numbers of each campaign in the campaign overview (report/overview.py), in order.
OVERVIEW_METRICS: Final = (
    "sent",
    "delivered",
    "delivery_rate",
    "open_rate",
    "click_rate",
    "bounce_rate",
    "complaint_rate",
)
#: What the overview sorts by: its numbers, or one of these.
OVERVIEW_SORTS: Final = ("last", "first", "campaign", "events", *OVERVIEW_METRICS)
#: A campaign's status in the overview: sending now, done sending, or nothing for an hour.
STATUSES: Final = ("sending", "finished", "quiet")


def metrics_for(scope: str) -> tuple[str, ...]:
    """The metrics that apply to a channel: those whose event types it can produce."""
    if scope == CAMPAIGN:
        return CAMPAIGN_METRICS
    channel = Channel(scope)
    return tuple(
        m.name for m in METRICS.values() if m.types and all(channel in MATRIX[t] for t in m.types)
    )


def engagement_channels() -> list[str]:
    """The channels whose opens or clicks are split into people's and machines': the
    dashboard's tabs of these show the switch of which to count."""
    return [c.value for c in Channel if any(METRICS[m].machine is not None for m in metrics_for(c))]


#: The rates a variant comparison may judge (report/variants.py): shares of their
#: denominator, each success one of the exposures, in the order a channel's default is chosen.
VARIANT_RATES: Final = (
    "open_rate",
    "click_rate",
    "click_to_open_rate",
    "delivery_rate",
    "bounce_rate",
    "hard_bounce_rate",
    "error_rate",
    "unsubscribe_rate",
    "complaint_rate",
)


def variant_rates(channel: str) -> tuple[str, ...]:
    """The rates the variants of ``channel`` may be compared on; the first is its default."""
    return tuple(r for r in VARIANT_RATES if r in metrics_for(channel))


def variant_channels() -> list[str]:
    """The channels with a rate their variants can be compared on."""
    return [c.value for c in Channel if variant_rates(c)]


@dataclass(frozen=True)
class Dimension:
    """A breakdown key. ``dim`` names it in the rollups; ``types`` restricts the events."""

    name: str
    label: str
    dim: str
    types: frozenset[EventType] | None = None
    sort: tuple[str, ...] = ()  # main metric, first that applies to the channel
    #: Kept only in the rollups of opens and clicks (engagement_counts / engagement_uniques).
    engagement: bool = False


DIMENSIONS: Final[Mapping[str, Dimension]] = {
    d.name: d
    for d in (
        Dimension(
            "bounce_category", "Bounce category", "bounce", frozenset({T.BOUNCE}), ("bounces",)
        ),
        Dimension("bounce_reason", "Bounce reason", "reason", frozenset({T.BOUNCE}), ("bounces",)),
        Dimension("error_reason", "Error reason", "reason", frozenset({T.ERROR}), ("errors",)),
        Dimension(
            "exclusion_reason", "Exclusion reason", "reason", frozenset({T.EXCLUDED}), ("excluded",)
        ),
        Dimension(
            "recipient_domain",
            "Recipient domain",
            "recipient_domain",
            None,
            ("opens", "delivered", "sent"),
        ),
        Dimension("platform", "Platform", "platform", None, ("delivered", "sent", "opens")),
        Dimension(
            "interaction_type",
            "Interaction type",
            "interaction",
            frozenset({T.INTERACTION}),
            ("interactions",),
        ),
        Dimension("element", "Element", "element", None, ("interactions", "impressions")),
        Dimension(
            "execution",
            "Execution",
            "execution",
            None,
            ("sent", "impressions", "entered_profiles", "excluded"),
        ),
        Dimension(
            "variant",
            "Variant",
            "variant",
            None,
            ("sent", "impressions", "entered_profiles", "excluded"),
        ),
        Dimension(
            "machine_rule",
            "Machine rule",
            "machine_rule",
            frozenset({T.OPEN, T.CLICK}),
            ("opens", "clicks"),
            engagement=True,
        ),
    )
}


#: The colour of each key of a breakdown whose keys are known: a bounce category takes the
#: colour of the metric that counts it, so that hard bounces look the same in every chart.
KEY_COLOURS: Final[Mapping[str, Mapping[str, str]]] = {
    "bounce_category": {m.bounce: m.colour for m in METRICS.values() if m.bounce and m.colour},
}


def breakdown_metrics(dimension: Dimension, scope: str) -> tuple[str, ...]:
    """Metrics that make sense per key: for a reason, only those of its event types."""
    names = metrics_for(scope)
    if dimension.types is None:
        return names
    return tuple(n for n in names if METRICS[n].types and METRICS[n].types <= dimension.types)


def sort_metric(dimension: Dimension, scope: str) -> str:
    applicable = breakdown_metrics(dimension, scope)
    for name in dimension.sort:
        if name in applicable:
            return name
    return applicable[0]


class Kind(StrEnum):
    KPI = "kpi"  # a few numbers
    STATISTICS = "statistics"  # a table, one row per execution plus the total
    BREAKDOWN = "breakdown"  # rows per key of a dimension
    REASONS = "reasons"  # a breakdown with shares; long tail folded in the chart only
    SERIES = "series"  # metrics over time
    CHANNELS = "channels"  # the campaign level, one row per channel


class Vis(StrEnum):
    TILES = "tiles"
    TABLE = "table"
    BARS = "bars"
    DONUT = "donut"
    LINE = "line"


#: How the dashboard names each visualisation in a widget's chooser.
VIS_LABELS: Final[Mapping[Vis, str]] = {
    Vis.TILES: "Tiles",
    Vis.TABLE: "Table",
    Vis.BARS: "Bars",
    Vis.DONUT: "Donut",
    Vis.LINE: "Line",
}


@dataclass(frozen=True)
class Widget:
    id: str
    title: str
    help: str
    kind: Kind
    metrics: tuple[str, ...]
    dimension: str | None = None
    visualisations: tuple[Vis, ...] = (Vis.TABLE,)
    size: tuple[int, int] = (6, 4)  # default width (of 12 columns) and height (rows)

    @property
    def tab(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def channel(self) -> str:
        return self.tab

    @property
    def visualisation(self) -> Vis:
        """The default: the first allowed visualisation."""
        return self.visualisations[0]


_KPI = (Vis.TILES, Vis.BARS, Vis.DONUT, Vis.TABLE)
_COUNTS = (Vis.BARS, Vis.DONUT, Vis.TABLE)
_REASONS = (Vis.DONUT, Vis.BARS, Vis.TABLE)
_SERIES = (Vis.LINE, Vis.BARS, Vis.TABLE)
_RANKED = (Vis.BARS, Vis.TABLE)
_STATS = ("targeted", "excluded", "sent", "delivered", "bounces", "errors")


def _reasons(
    tab: str,
    name: str,
    dimension: str,
    metric: str,
    title: str,
    help: str,
    size: tuple[int, int] = (6, 5),
) -> Widget:
    return Widget(
        id=f"{tab}.{name}",
        title=title,
        help=help,
        kind=Kind.REASONS,
        metrics=(metric,),
        dimension=dimension,
        visualisations=_REASONS,
        size=size,
    )


WIDGETS: Final[tuple[Widget, ...]] = (
    # Campaign
    Widget(
        id="campaign.statistics",
        title="Campaign statistics",
        help=(
            "How many profiles entered the campaign, and how many messages were targeted, "
            "delivered or failed across all channels."
        ),
        kind=Kind.KPI,
        metrics=("entered_profiles", "targeted", "delivered", "errors"),
        visualisations=_KPI,
        size=(12, 2),
    ),
    Widget(
        id="campaign.channels",
        title="Channels",
        help=(
            "The main counts of each channel side by side, to see where the campaign is doing well."
        ),
        kind=Kind.CHANNELS,
        metrics=("targeted", "sent", "delivered", "bounces", "errors", "opens", "impressions"),
        visualisations=(Vis.TABLE, Vis.BARS),
        size=(12, 4),
    ),
    # Email
    Widget(
        id="email.sending_performance",
        title="Email sending performance",
        help=(
            "How many emails were targeted, and what became of them: delivered, bounced, queued "
            "again or failed."
        ),
        kind=Kind.KPI,
        metrics=("targeted", "delivered", "bounces", "retries", "errors"),
        visualisations=(Vis.BARS, Vis.DONUT, Vis.TILES, Vis.TABLE),
        size=(12, 4),
    ),
    Widget(
        id="email.statistics",
        title="Email statistics",
        help=(
            "The email funnel from targeting to engagement, per execution and in total, with the "
            "rates that matter."
        ),
        kind=Kind.STATISTICS,
        metrics=(
            *_STATS,
            "opens",
            "unique_opens",
            "clicks",
            "unique_clicks",
            "unsubscribes",
            "spam_complaints",
            "retries",
            "delivery_rate",
            "bounce_rate",
            "hard_bounce_rate",
            "error_rate",
            "open_rate",
            "click_rate",
            "click_to_open_rate",
            "unsubscribe_rate",
            "complaint_rate",
        ),
        size=(12, 6),
    ),
    Widget(
        id="email.engagement_quality",
        title="Human and machine engagement",
        help=(
            "Opens and clicks split into those of people and those of machines (privacy proxies, "
            "security scanners), with the share of opens no person made. It shows both whichever "
            "engagement the tab is set to."
        ),
        kind=Kind.KPI,
        metrics=(
            "human_opens",
            "machine_opens",
            "machine_open_share",
            "human_clicks",
            "machine_clicks",
        ),
        visualisations=_KPI,
        size=(12, 3),
    ),
    Widget(
        id="email.machine_rules",
        title="Machine opens and clicks by rule",
        help=(
            "Which detection rule claimed the machine opens and clicks: the sender's or "
            "provider's flag, Apple's privacy proxy, a scanner's user agent, too soon after "
            "delivery, every link at once."
        ),
        kind=Kind.BREAKDOWN,
        metrics=("opens", "clicks"),
        dimension="machine_rule",
        visualisations=_RANKED,
        size=(12, 4),
    ),
    Widget(
        id="email.bounce_categories",
        title="Bounce categories",
        help=(
            "Bounces split into hard (the address is dead), soft (try again later) and ignored "
            "(nothing learned about the address)."
        ),
        kind=Kind.REASONS,
        metrics=("bounces",),
        dimension="bounce_category",
        visualisations=_REASONS,
        size=(6, 5),
    ),
    _reasons(
        "email",
        "bounce_reasons",
        "bounce_reason",
        "bounces",
        "Bounce reasons",
        "Why receiving servers refused or returned the email, most frequent first.",
    ),
    Widget(
        id="email.performance_by_date",
        title="Email performance over time",
        help="Sending and engagement over the last 24 hours, in time buckets.",
        kind=Kind.SERIES,
        metrics=(
            "sent",
            "delivered",
            "bounces",
            "errors",
            "opens",
            "clicks",
            "unsubscribes",
            "spam_complaints",
        ),
        visualisations=_SERIES,
        size=(12, 5),
    ),
    _reasons(
        "email",
        "error_reasons",
        "error_reason",
        "errors",
        "Error reasons",
        "What went wrong in the sending system for emails that never left.",
    ),
    _reasons(
        "email",
        "excluded_reasons",
        "exclusion_reason",
        "excluded",
        "Exclusion reasons",
        "Why profiles of the audience were left out before sending.",
    ),
    Widget(
        id="email.best_recipient_domains",
        title="Best recipient domains",
        help=(
            "The mailbox domains where the email was opened most, with how much reached them and "
            "their open rate."
        ),
        kind=Kind.BREAKDOWN,
        metrics=("opens", "unique_opens", "delivered", "open_rate"),
        dimension="recipient_domain",
        visualisations=_RANKED,
        size=(12, 5),
    ),
    # In-app
    Widget(
        id="inapp.performance",
        title="In-app performance",
        help=(
            "How often the in-app message was shown, to how many profiles, and how often people "
            "interacted."
        ),
        kind=Kind.KPI,
        metrics=("impressions", "unique_impressions", "interactions"),
        visualisations=_KPI,
        size=(12, 2),
    ),
    Widget(
        id="inapp.summary",
        title="In-app summary",
        help="Impressions and interactions over the last 24 hours.",
        kind=Kind.SERIES,
        metrics=("impressions", "interactions"),
        visualisations=_SERIES,
        size=(8, 5),
    ),
    Widget(
        id="inapp.interactions_by_type",
        title="Interactions by type",
        help="Interactions split into clicks, dismissals and the rest.",
        kind=Kind.BREAKDOWN,
        metrics=("interactions", "unique_interactions"),
        dimension="interaction_type",
        visualisations=_COUNTS,
        size=(4, 5),
    ),
    # Push
    Widget(
        id="push.sending_performance",
        title="Push sending performance",
        help=(
            "Notifications sent, what the push services accepted, refused or could not take, and "
            "how often people engaged with them."
        ),
        kind=Kind.KPI,
        metrics=("sent", "delivered", "bounces", "errors", "engagements"),
        visualisations=(Vis.BARS, Vis.DONUT, Vis.TILES, Vis.TABLE),
        size=(12, 4),
    ),
    Widget(
        id="push.statistics",
        title="Push statistics",
        help="The push funnel from targeting to engagement, per execution and in total.",
        kind=Kind.STATISTICS,
        metrics=(*_STATS, "opens", "actions", "engagements"),
        size=(12, 5),
    ),
    Widget(
        id="push.sending_summary",
        title="Push summary over time",
        help="Sending, delivery and engagement of the notification over the last 24 hours.",
        kind=Kind.SERIES,
        metrics=("sent", "delivered", "bounces", "errors", "opens", "actions", "engagements"),
        visualisations=_SERIES,
        size=(12, 5),
    ),
    Widget(
        id="push.engagement_quality",
        title="Human and machine opens",
        help=(
            "Opens of the notification split into those of people and those a machine made, with "
            "the machine share."
        ),
        kind=Kind.KPI,
        metrics=("human_opens", "machine_opens", "machine_open_share"),
        visualisations=_KPI,
        size=(12, 2),
    ),
    _reasons(
        "push",
        "excluded_reasons",
        "exclusion_reason",
        "excluded",
        "Exclusion reasons",
        "Why profiles were left out before the notification was sent, such as a missing push token.",
    ),
    _reasons(
        "push",
        "error_reasons",
        "error_reason",
        "errors",
        "Error reasons",
        "What went wrong in the sending system for notifications that never left.",
    ),
    Widget(
        id="push.failed",
        title="Failed notifications",
        help="Errors and bounces side by side: how many notifications did not arrive.",
        kind=Kind.KPI,
        metrics=("errors", "bounces"),
        visualisations=(Vis.DONUT, Vis.BARS, Vis.TILES, Vis.TABLE),
        size=(4, 4),
    ),
    Widget(
        id="push.tracking_by_platform",
        title="Tracking by platform",
        help="Opens and actions per operating system.",
        kind=Kind.BREAKDOWN,
        metrics=("opens", "actions"),
        dimension="platform",
        visualisations=_COUNTS,
        size=(4, 4),
    ),
    Widget(
        id="push.sending_by_platform",
        title="Sending by platform",
        help="Notifications sent and delivered per operating system.",
        kind=Kind.BREAKDOWN,
        metrics=("sent", "delivered"),
        dimension="platform",
        visualisations=_COUNTS,
        size=(4, 4),
    ),
    Widget(
        id="push.breakdown_by_platform",
        title="Breakdown by platform",
        help="The whole push funnel per operating system.",
        kind=Kind.BREAKDOWN,
        metrics=("targeted", "delivered", "opens", "actions", "bounces", "errors", "excluded"),
        dimension="platform",
        visualisations=(Vis.TABLE, Vis.BARS),
        size=(12, 4),
    ),
    # SMS
    Widget(
        id="sms.statistics",
        title="SMS statistics",
        help=(
            "The SMS funnel per execution and in total: targeted, left out, sent, delivered, "
            "failed and clicked."
        ),
        kind=Kind.STATISTICS,
        metrics=(*_STATS, "clicks"),
        size=(12, 4),
    ),
    Widget(
        id="sms.performance_by_date",
        title="SMS performance over time",
        help="Messages sent, bounced and failed over the last 24 hours.",
        kind=Kind.SERIES,
        metrics=("sent", "bounces", "errors"),
        visualisations=_SERIES,
        size=(12, 5),
    ),
    _reasons(
        "sms",
        "excluded_reasons",
        "exclusion_reason",
        "excluded",
        "Exclusion reasons",
        "Why profiles were left out before the text was sent, such as a missing phone number.",
    ),
    _reasons(
        "sms",
        "bounce_reasons",
        "bounce_reason",
        "bounces",
        "Bounce reasons",
        "Why carriers or the provider refused the text message.",
    ),
    _reasons(
        "sms",
        "error_reasons",
        "error_reason",
        "errors",
        "Error reasons",
        "What went wrong in the sending system for texts that never left.",
        size=(12, 5),
    ),
    # Web
    Widget(
        id="web.performance",
        title="Web performance",
        help=(
            "How often the web experience was shown, to how many profiles, and how often visitors "
            "interacted."
        ),
        kind=Kind.KPI,
        metrics=("impressions", "unique_impressions", "interactions"),
        visualisations=_KPI,
        size=(12, 2),
    ),
    Widget(
        id="web.summary",
        title="Web summary",
        help="Impressions, unique impressions and interactions over the last 24 hours.",
        kind=Kind.SERIES,
        metrics=("impressions", "unique_impressions", "interactions"),
        visualisations=_SERIES,
        size=(12, 5),
    ),
    Widget(
        id="web.interactions_by_element",
        title="Interactions by element",
        help=(
            "Which tracked page elements visitors used, with how many distinct visitors used each."
        ),
        kind=Kind.BREAKDOWN,
        metrics=("interactions", "unique_interactions"),
        dimension="element",
        visualisations=(Vis.TABLE, Vis.BARS),
        size=(12, 4),
    ),
    # Direct mail
    Widget(
        id="directmail.statistics",
        title="Direct mail statistics",
        help=(
            "Letters targeted, sent to the mail provider, failed or left out, per execution and "
            "in total."
        ),
        kind=Kind.STATISTICS,
        metrics=("targeted", "sent", "errors", "excluded"),
        size=(12, 3),
    ),
    _reasons(
        "directmail",
        "excluded_reasons",
        "exclusion_reason",
        "excluded",
        "Exclusion reasons",
        "Why profiles were left out of the mailing, such as a missing postal address.",
    ),
    _reasons(
        "directmail",
        "error_reasons",
        "error_reason",
        "errors",
        "Error reasons",
        "What went wrong while preparing or handing over the mailing.",
    ),
)

TABS: Final[Mapping[str, str]] = {
    "campaign": "Campaign",
    "email": "Email",
    "inapp": "In-app",
    "push": "Push",
    "sms": "SMS",
    "web": "Web",
    "directmail": "Direct mail",
}

WIDGETS_BY_ID: Final[Mapping[str, Widget]] = {w.id: w for w in WIDGETS}


def widgets_of(tab: str) -> tuple[Widget, ...]:
    return tuple(w for w in WIDGETS if w.tab == tab)


@dataclass(frozen=True)
class Bucket:
    name: str
    seconds: int


BUCKETS: Final[Mapping[str, Bucket]] = {
    b.name: b
    for b in (
        Bucket("1m", 60),
        Bucket("5m", 300),
        Bucket("10m", 600),
        Bucket("15m", 900),
        Bucket("30m", 1800),
        Bucket("1h", 3600),
        Bucket("6h", 6 * 3600),
        Bucket("1d", 86_400),
    )
}
DEFAULT_BUCKET: Final = "5m"
WINDOW_SECONDS: Final = 86_400
#: The preset periods of a report (report/period.py) and their length in seconds; ``life``
#: starts with the campaign's first event.
PERIODS: Final[Mapping[str, int | None]] = {
    "1h": 3600,
    "24h": 86_400,
    "7d": 7 * 86_400,
    "30d": 30 * 86_400,
    "life": None,
}
DEFAULT_PERIOD: Final = "24h"
#: How the dashboard names each preset period: in its picker and titles ("Last 7 days"), and
#: in a sentence ("No events on the Email channel in the last 7 days").
PERIOD_NAMES: Final[Mapping[str, tuple[str, str]]] = {
    "1h": ("Last hour", "in the last hour"),
    "24h": ("Last 24 hours", "in the last 24 hours"),
    "7d": ("Last 7 days", "in the last 7 days"),
    "30d": ("Last 30 days", "in the last 30 days"),
    "life": ("Whole life", "so far"),
}
