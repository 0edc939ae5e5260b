"""What the live report must show, counted by hand from the posted events (SPEC §2–§4).

The contract, the metrics and the widget list are written out again here on purpose: the
product is checked against the spec, never against its own catalogue or normalisation.
Only bounce qualification (SPEC §5, tested on its own) is borrowed from the product.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import idna

from livereport.bounces import qualify
from livereport.ingest.machine import APPLE_PROXY_AGENT, SCANNER_AGENT, in_apple_ranges

Value = int | float | None
Metrics = dict[str, Value]

CHANNELS = ("email", "sms", "push", "inapp", "web", "directmail")
CAMPAIGN = "campaign"
SCOPES = (CAMPAIGN, *CHANNELS)
UNDETERMINED = "Undetermined"

_ALL = set(CHANNELS)
_SENDING = {"email", "sms", "push", "directmail"}
#: SPEC §2: the channels each event type may come from (`entered` is campaign level).
MATRIX: Mapping[str, set[str]] = {
    "entered": {CAMPAIGN},
    "targeted": _SENDING,
    "excluded": _ALL,
    "sent": _SENDING,
    "delivered": {"email", "sms", "push"},
    "bounce": {"email", "sms", "push"},
    "error": _ALL,
    "retry": {"email"},
    "open": {"email", "push"},
    "click": {"email", "sms"},
    "unsubscribe": {"email"},
    "spam_complaint": {"email"},
    "action": {"push"},
    "impression": {"inapp", "web"},
    "interaction": {"inapp", "web"},
}

# SPEC §3, one table per kind of definition.
COUNTS: Mapping[str, str] = {
    "targeted": "targeted",
    "excluded": "excluded",
    "sent": "sent",
    "delivered": "delivered",
    "bounces": "bounce",
    "errors": "error",
    "retries": "retry",
    "opens": "open",
    "clicks": "click",
    "unsubscribes": "unsubscribe",
    "spam_complaints": "spam_complaint",
    "actions": "action",
    "impressions": "impression",
    "interactions": "interaction",
}
BOUNCE_CATEGORIES: Mapping[str, str] = {
    "hard_bounces": "hard",
    "soft_bounces": "soft",
    "ignored_bounces": "ignored",
}
UNIQUES: Mapping[str, str] = {
    "entered_profiles": "entered",
    "unique_opens": "open",
    "unique_clicks": "click",
    "unique_impressions": "impression",
    "unique_interactions": "interaction",
}
#: SPEC §11: opens and clicks of people (False) or machines (True), whatever the filter.
SPLIT_COUNTS: Mapping[str, tuple[str, bool]] = {
    "human_opens": ("open", False),
    "machine_opens": ("open", True),
    "human_clicks": ("click", False),
    "machine_clicks": ("click", True),
}
SPLIT_UNIQUES: Mapping[str, tuple[str, bool]] = {
    "unique_human_opens": ("open", False),
    "unique_human_clicks": ("click", False),
}
SUMS: Mapping[str, tuple[str, ...]] = {
    "engagements": ("opens", "actions"),
    "total_opens": ("human_opens", "machine_opens"),
}
RATIOS: Mapping[str, tuple[str, str]] = {
    "delivery_rate": ("delivered", "sent"),
    "bounce_rate": ("bounces", "sent"),
    "hard_bounce_rate": ("hard_bounces", "sent"),
    "error_rate": ("errors", "sent"),
    "open_rate": ("unique_opens", "delivered"),
    "click_rate": ("unique_clicks", "delivered"),
    "click_to_open_rate": ("unique_clicks", "unique_opens"),
    "unsubscribe_rate": ("unsubscribes", "delivered"),
    "complaint_rate": ("spam_complaints", "delivered"),
    "human_open_rate": ("unique_human_opens", "delivered"),
    "human_click_rate": ("unique_human_clicks", "delivered"),
    "machine_open_share": ("machine_opens", "total_opens"),
}
METRICS = (*COUNTS, *BOUNCE_CATEGORIES, *UNIQUES, *SPLIT_COUNTS, *SPLIT_UNIQUES, *SUMS, *RATIOS)
CAMPAIGN_METRICS = ("entered_profiles", "targeted", "sent", "delivered", "errors", "bounces")

#: Breakdown dimensions: the stored field that keys a row, and the event types it reads
#: (None: every event that carries the field).
DIMENSIONS: Mapping[str, tuple[str, frozenset[str] | None]] = {
    "bounce_category": ("bounce", frozenset({"bounce"})),
    "bounce_reason": ("reason", frozenset({"bounce"})),
    "error_reason": ("reason", frozenset({"error"})),
    "exclusion_reason": ("reason", frozenset({"excluded"})),
    "recipient_domain": ("recipient_domain", None),
    "platform": ("platform", None),
    "interaction_type": ("interaction", frozenset({"interaction"})),
    "element": ("element", None),
    "execution": ("execution", None),
    "variant": ("variant", None),
    "machine_rule": ("machine_rule", frozenset({"open", "click"})),
}

#: SPEC §4: the widgets of each tab.
WIDGETS: Mapping[str, set[str]] = {
    "campaign": {"campaign.statistics", "campaign.channels"},
    "email": {
        "email.sending_performance",
        "email.statistics",
        "email.engagement_quality",
        "email.machine_rules",
        "email.bounce_categories",
        "email.bounce_reasons",
        "email.performance_by_date",
        "email.error_reasons",
        "email.excluded_reasons",
        "email.best_recipient_domains",
    },
    "inapp": {"inapp.performance", "inapp.summary", "inapp.interactions_by_type"},
    "push": {
        "push.sending_performance",
        "push.statistics",
        "push.sending_summary",
        "push.engagement_quality",
        "push.excluded_reasons",
        "push.error_reasons",
        "push.failed",
        "push.tracking_by_platform",
        "push.sending_by_platform",
        "push.breakdown_by_platform",
    },
    "sms": {
        "sms.statistics",
        "sms.performance_by_date",
        "sms.excluded_reasons",
        "sms.bounce_reasons",
        "sms.error_reasons",
    },
    "web": {"web.performance", "web.summary", "web.interactions_by_element"},
    "directmail": {
        "directmail.statistics",
        "directmail.excluded_reasons",
        "directmail.error_reasons",
    },
}

#: The reference product's page (the campaign live report): numbers some widgets must show,
#: beside whatever else they show.
SHOWN: Mapping[str, set[str]] = {
    "campaign.statistics": {"entered_profiles"},
    "email.sending_performance": {"targeted", "delivered", "bounces", "errors"},
    "email.statistics": {
        "sent",
        "delivered",
        "bounces",
        "errors",
        "opens",
        "clicks",
        "unsubscribes",
        "spam_complaints",
    },
    "inapp.performance": {"impressions", "interactions"},
    "inapp.summary": {"impressions", "interactions"},
    "push.sending_performance": {"sent", "delivered", "bounces", "errors", "engagements"},
    "push.statistics": {
        "sent",
        "delivered",
        "bounces",
        "errors",
        "opens",
        "actions",
        "engagements",
    },
    "push.sending_summary": {
        "sent",
        "delivered",
        "bounces",
        "errors",
        "opens",
        "actions",
        "engagements",
    },
    "push.failed": {"errors", "bounces"},
    "sms.statistics": {"targeted", "excluded", "sent", "bounces", "errors", "clicks"},
    "sms.performance_by_date": {"sent", "bounces", "errors"},
    "web.performance": {"impressions", "interactions"},
    "web.summary": {"impressions", "unique_impressions", "interactions"},
    "directmail.statistics": {"targeted", "sent", "errors", "excluded"},
}

#: SPEC §5: the category of each default bounce reason.
REASON_CATEGORIES: Mapping[str, str] = {
    "Invalid Recipient": "hard",
    "Recipient Refused": "hard",
    "Soft Bounce": "soft",
    "DNS Failure": "soft",
    "Mailbox Full": "soft",
    "Relaying Denied": "soft",
    "Challenge-Response": "soft",
    "Too Large": "ignored",
    "Timeout": "ignored",
    "Generic Bounce": "ignored",
    "Mail Block": "ignored",
    "Spam Block": "ignored",
    "Spam Content": "ignored",
    "Auto-Reply": "ignored",
    "Transient Failure": "ignored",
    "Undetermined": "ignored",
}
PLATFORM_ALIASES = {"apns": "ios", "fcm": "android"}


def metric_types(name: str) -> set[str]:
    """The event types a metric is computed from."""
    if name in COUNTS:
        return {COUNTS[name]}
    if name in BOUNCE_CATEGORIES:
        return {"bounce"}
    if name in UNIQUES:
        return {UNIQUES[name]}
    if name in SPLIT_COUNTS or name in SPLIT_UNIQUES:
        return {(SPLIT_COUNTS.get(name) or SPLIT_UNIQUES[name])[0]}
    parts = SUMS.get(name) or RATIOS[name]
    return set().union(*(metric_types(p) for p in parts))


def metrics_for(scope: str) -> tuple[str, ...]:
    """The metrics a channel reports: those whose event types the channel can produce."""
    if scope == CAMPAIGN:
        return CAMPAIGN_METRICS
    return tuple(m for m in METRICS if all(scope in MATRIX[t] for t in metric_types(m)))


def breakdown_metrics(by: str, scope: str) -> tuple[str, ...]:
    """Per-key metrics: for a dimension bound to event types, only those computed from them."""
    types = DIMENSIONS[by][1]
    names = metrics_for(scope)
    return names if types is None else tuple(m for m in names if metric_types(m) <= types)


# --- normalisation (SPEC §2) ---------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    """One accepted event as the report should see it; "" means "not given"."""

    org: str
    id: str
    time_ms: int
    campaign: str
    channel: str
    type: str
    profile: str
    execution: str = ""
    variant: str = ""
    reason: str = ""
    bounce: str = ""
    recipient_domain: str = ""
    platform: str = ""
    interaction: str = ""
    element: str = ""
    machine: bool = False
    machine_rule: str = ""


def epoch_ms(value: str | int) -> int:
    if isinstance(value, int):
        return value
    delta = datetime.fromisoformat(value) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def domain_of(raw: Mapping[str, Any]) -> str:
    """Only the email domain of the recipient is kept: lower-cased, IDNA (UTS 46) normalised."""
    recipient = raw.get("recipient")
    domain = raw.get("recipient_domain") or ""
    if recipient is not None:
        domain = recipient.rpartition("@")[2] if "@" in recipient else ""
    if not domain:
        return ""
    return str(idna.decode(idna.encode(domain.strip().rstrip("."), uts46=True)))


def qualify_bounce(raw: Mapping[str, Any]) -> tuple[str, str]:
    """(reason, category): given values first, then the SMTP data, then the defaults."""
    reason, category = raw.get("reason") or "", raw.get("bounce") or ""
    smtp = raw.get("smtp") or {}
    if smtp.get("status") or smtp.get("code") or smtp.get("diagnostic"):
        found = qualify(
            status=smtp.get("status"), code=smtp.get("code"), diagnostic=smtp.get("diagnostic")
        )
        return reason or str(found.reason), category or str(found.category)
    category = category or REASON_CATEGORIES.get(reason, "ignored")
    return reason or UNDETERMINED, category


#: The (type, channel) pairs each per-event machine rule looks at.
_PROXY_OPENS = {("open", "email")}
_SCANNED = {("open", "email"), ("click", "email"), ("click", "sms")}


def machine_rule_of(raw: Mapping[str, Any]) -> str:
    """SPEC §11: an open or click is a machine's when the event says so, or when a rule of the
    product decides from the event alone: Apple's privacy proxy (its user agent or address)
    or a scanner's user agent — borrowed from ingest/machine.py, whose rules are tested on
    their own. The rule's name, or "" for a person's. Worlds counted by hand turn off the
    rules that look at other events."""
    pair = (raw["type"], raw.get("channel"))
    if pair not in _SCANNED and pair != ("open", "push"):
        return ""
    if raw.get("machine"):
        return "flagged"
    agent, ip = raw.get("user_agent") or "", raw.get("ip") or ""
    if pair in _PROXY_OPENS and (
        agent.strip() == APPLE_PROXY_AGENT or (ip and in_apple_ranges(ip))
    ):
        return "apple_proxy"
    if pair in _SCANNED and agent and SCANNER_AGENT.search(agent) is not None:
        return "scanner_agent"
    return ""


def normalise(org: str, raw: Mapping[str, Any]) -> Stored:
    type_ = raw["type"]
    reason, bounce = raw.get("reason") or "", ""
    if type_ == "bounce":
        reason, bounce = qualify_bounce(raw)
    elif type_ in ("excluded", "error"):
        reason = reason or UNDETERMINED
    platform = raw.get("platform") or ""
    return Stored(
        org=org,
        id=raw["id"],
        time_ms=epoch_ms(raw["time"]),
        campaign=raw["campaign"],
        channel=CAMPAIGN if type_ == "entered" else raw["channel"],
        type=type_,
        profile=raw["profile"],
        execution=raw.get("execution") or "",
        variant=raw.get("variant") or "",
        reason=reason,
        bounce=bounce,
        recipient_domain=domain_of(raw),
        platform=PLATFORM_ALIASES.get(platform.lower(), platform),
        interaction=raw.get("interaction") or "",
        element=raw.get("element") or "",
        machine=bool(machine_rule_of(raw)),
        machine_rule=machine_rule_of(raw),
    )


class Ledger:
    """The events the server should hold: per org, the first accepted event of each id stands."""

    def __init__(self) -> None:
        self.events: list[Stored] = []
        self._ids: set[tuple[str, str]] = set()
        self._by_campaign: dict[tuple[str, str], list[Stored]] = {}

    def record(self, org: str, raw: Mapping[str, Any]) -> bool:
        """Take one event the server did not reject; True if it is new (not a duplicate)."""
        key = (org, raw["id"])
        if key in self._ids:
            return False
        self._ids.add(key)
        event = normalise(org, raw)
        self.events.append(event)
        self._by_campaign.setdefault((org, event.campaign), []).append(event)
        return True

    def select(
        self,
        org: str,
        campaign: str,
        scope: str,
        start_ms: int,
        end_ms: int,
        execution: str | None = None,
    ) -> list[Stored]:
        """The events of one report scope in [start, end): the campaign level takes them all."""
        return [
            e
            for e in self._by_campaign.get((org, campaign), [])
            if (scope == CAMPAIGN or e.channel == scope)
            and (execution is None or e.execution == execution)
            and start_ms <= e.time_ms < end_ms
        ]

    def campaigns(self, org: str) -> set[str]:
        return {campaign for o, campaign in self._by_campaign if o == org}

    def of_campaign(self, org: str, campaign: str) -> list[Stored]:
        """Every stored event of a campaign, in or out of the window."""
        return list(self._by_campaign.get((org, campaign), []))


# --- metrics (SPEC §3) ---------------------------------------------------------------------


def value(name: str, events: Iterable[Stored]) -> Value:
    events = list(events)
    if name in COUNTS:
        return sum(1 for e in events if e.type == COUNTS[name])
    if name in BOUNCE_CATEGORIES:
        return sum(1 for e in events if e.type == "bounce" and e.bounce == BOUNCE_CATEGORIES[name])
    if name in UNIQUES:
        return len({e.profile for e in events if e.type == UNIQUES[name]})
    if name in SPLIT_COUNTS:
        type_, machine = SPLIT_COUNTS[name]
        return sum(1 for e in events if e.type == type_ and e.machine == machine)
    if name in SPLIT_UNIQUES:
        type_, machine = SPLIT_UNIQUES[name]
        return len({e.profile for e in events if e.type == type_ and e.machine == machine})
    if name in SUMS:
        return sum(int(value(part, events) or 0) for part in SUMS[name])
    numerator, denominator = (value(part, events) for part in RATIOS[name])
    return (numerator or 0) / denominator if denominator else None


def compute(names: Iterable[str], events: Iterable[Stored]) -> Metrics:
    events = list(events)
    return {name: value(name, events) for name in names}


def group(events: Iterable[Stored], by: str) -> dict[str, list[Stored]]:
    """Events per non-empty key of a dimension, only of the dimension's event types."""
    field, types = DIMENSIONS[by]
    groups: dict[str, list[Stored]] = {}
    for e in events:
        key = getattr(e, field)
        if key and (types is None or e.type in types):
            groups.setdefault(key, []).append(e)
    return groups


def series(
    names: Iterable[str], events: Iterable[Stored], starts_ms: list[int], size_ms: int, end_ms: int
) -> dict[str, list[Value]]:
    """Each metric per bucket [t, t + size), nothing at or after the window's end."""
    buckets: dict[int, list[Stored]] = {t: [] for t in starts_ms}
    first = starts_ms[0]
    for e in events:
        if first <= e.time_ms < end_ms:
            start = first + (e.time_ms - first) // size_ms * size_ms
            buckets.setdefault(start, []).append(e)
    values = [compute(names, buckets[t]) for t in starts_ms]
    return {name: [v[name] for v in values] for name in names}
