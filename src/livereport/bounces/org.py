"""An org's bounce rules in use: loaded from metadata, compiled once per stored version, and
applied wherever a bounce is qualified for that org (SPEC §5), plus push / SMS provider codes.

The rule table is stored whole and versioned (store/metadata/rules.py, `bounce_rule_tables`). Each
use asks metadata for the org's current version (one small query) and compiles the table only
when that version changed, so a table saved through any node applies at once on every node.

The ingest pipeline (ingest/pipeline.py) decodes and validates events first, then runs
:func:`qualify_bounces` (the default rules, then the org's) and :func:`apply_provider_codes`.
An org rule that matches a bounce replaces the reason and category the defaults gave, except
what the sender wrote itself, which the decode step noted.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

import msgspec

from livereport.bounces.mobile import CodeFailure, Outcome, read_failure
from livereport.bounces.overrides import FIELDS, parse_rules
from livereport.bounces.qualify import Qualification, qualify
from livereport.bounces.rules import DEFAULT_CATEGORY, DEFAULT_RULES, Reason, Rule
from livereport.events import Event

#: Prefix of an org rule's name wherever a decision is explained ("org:acme-vip").
ORG_PREFIX = "org:"
UNDETERMINED = "Undetermined"


class RuleStore(Protocol):
    """What this module needs from metadata (store/metadata/rules.py)."""

    path: Any

    def bounce_rules_version(self, org_id: int) -> int: ...

    def bounce_rules(self, org_id: int) -> tuple[int, str] | None: ...


class _Cache:
    """Compiled org tables by (metadata location, org), each with the version it was built from."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tables: dict[tuple[str, int], tuple[int, tuple[Rule, ...]]] = {}

    def org_rules(self, metadata: RuleStore, org_id: int) -> tuple[Rule, ...]:
        version = metadata.bounce_rules_version(org_id)
        place = (str(metadata.path), org_id)
        with self._lock:
            cached = self._tables.get(place)
        if cached is not None and cached[0] == version:
            return cached[1]
        rules: tuple[Rule, ...] = ()
        if version:
            stored = metadata.bounce_rules(org_id)
            if stored is not None:
                version, text = stored
                rules = compile_rows(json.loads(text))
        with self._lock:
            self._tables[place] = (version, rules)
        return rules


_CACHE = _Cache()


def compile_rows(rows: Sequence[Mapping[str, Any]]) -> tuple[Rule, ...]:
    """Stored (already validated) rows as rules, named ``org:<name>``."""
    return tuple(replace(rule, name=ORG_PREFIX + rule.name) for rule in parse_rules(rows))


def org_rules(metadata: RuleStore, org_id: int) -> tuple[Rule, ...]:
    """The org's own rules, compiled (cached by stored version); () when it has none."""
    return _CACHE.org_rules(metadata, org_id)


def rules_for(metadata: RuleStore, org_id: int) -> tuple[Rule, ...]:
    """The full table for an org: its own rules first, then the defaults."""
    own = org_rules(metadata, org_id)
    return (*own, *DEFAULT_RULES) if own else DEFAULT_RULES


def rows_json(rules: Sequence[Rule]) -> list[dict[str, Any]]:
    """Rules (from :func:`parse_rules`) as the rows a user writes, in FIELDS order."""
    rows = []
    for rule in rules:
        row: dict[str, Any] = {
            "name": rule.name,
            "reason": rule.reason,
            "category": rule.category.value,
            "status": rule.status,
            "code": rule.code,
            "pattern": rule.pattern.pattern if rule.pattern is not None else None,
            "note": rule.note or None,
        }
        rows.append({k: row[k] for k in FIELDS if row[k] is not None})
    return rows


# --- applying them to decoded events ---------------------------------------------------------

#: What the sender wrote itself of a decoded event, by its index in the source
#: ({"reason": True, "bounce": False}; None: nothing known). See ingest/decode.py ``Batch.given``.
GivenOf = Callable[[int], Mapping[str, Any] | None]


def _by_provider_code(event: Event) -> bool:
    """A push / SMS failure whose provider code, not the org's rules, says its reason."""
    return (
        event.type in ("bounce", "error")
        and event.channel in ("push", "sms")
        and bool(event.code)
        and event.reason == UNDETERMINED
    )


def qualify_bounces(
    events: list[tuple[int, Event]], given_of: GivenOf, rules: Callable[[], Sequence[Rule]]
) -> list[tuple[int, Event]]:
    """The qualify step (in place): every bounce gets a reason and a category.

    What the sender gave stays. The rest comes from the bounce's SMTP data through the
    default rules (SPEC §5), or, without SMTP data, from the reason given (its usual
    category) or "Undetermined" / ignored. Then an email bounce with SMTP data that one of
    the org's own rules matches takes that rule's reason and category, again unless the
    sender gave them. ``rules`` gives the org's rules; it is called at most once, and only
    when the batch holds a bounce with SMTP data.
    """
    own: Sequence[Rule] | None = None
    for position, (index, event) in enumerate(events):
        if event.type != "bounce":
            continue
        reason, bounce = default_qualification(event)
        if (reason, bounce) != (event.reason, event.bounce):
            event = msgspec.structs.replace(event, reason=reason, bounce=bounce)
        if _has_smtp(event) and not _by_provider_code(event):
            if own is None:
                own = rules()
            changed = _from_org_rules(event, own, given_of, index) if own else None
            event = changed if changed is not None else event
        events[position] = (index, event)
    return events


def default_qualification(event: Event) -> tuple[str, str]:
    """A bounce's reason and category by the default rules, keeping what it has already."""
    if _has_smtp(event):
        found = qualify_event(event, DEFAULT_RULES)
        return event.reason or found.reason, event.bounce or found.category
    bounce = event.bounce
    if not bounce and event.reason in Reason._value2member_map_:
        bounce = DEFAULT_CATEGORY[Reason(event.reason)]
    return event.reason or UNDETERMINED, bounce or "ignored"


def apply_provider_codes(
    events: list[tuple[int, Event]], given_of: GivenOf
) -> list[tuple[int, Event]]:
    """The codes step (in place): a push / SMS bounce or error with a known provider ``code``
    and no reason of the sender's takes the code's reason (and, for a bounce, its category
    when the sender gave none)."""
    for position, (index, event) in enumerate(events):
        if _by_provider_code(event):
            changed = _from_provider_code(event, given_of(index))
            if changed is not None:
                events[position] = (index, changed)
    return events


def _has_smtp(event: Event) -> bool:
    return bool(event.smtp_status or event.smtp_code or event.smtp_diagnostic)


def qualify_event(event: Event, rules: Sequence[Rule]) -> Qualification:
    """Qualify a stored or decoded bounce's SMTP data with a rule table."""
    return qualify(
        status=event.smtp_status or None,
        code=event.smtp_code or None,
        diagnostic=event.smtp_diagnostic or None,
        rules=rules,
    )


def _from_org_rules(
    event: Event, own: Sequence[Rule], given_of: GivenOf, index: int
) -> Event | None:
    found = qualify_event(event, (*own, *DEFAULT_RULES))
    if not found.rule.startswith(ORG_PREFIX):
        return None  # no org rule matched: the defaults already decided at decoding
    given = given_of(index) or {}
    reason = event.reason if given.get("reason") else found.reason
    bounce = event.bounce if given.get("bounce") else found.category.value
    if (reason, bounce) == (event.reason, event.bounce):
        return None
    return msgspec.structs.replace(event, reason=reason, bounce=bounce)


def provider_failure(channel: str, platform: str, code: str) -> CodeFailure | None:
    """The meaning of a push / SMS event's provider code: Twilio for SMS; APNs for iOS, FCM for
    Android, both (APNs first) for other push platforms."""
    if channel == "sms":
        return read_failure("twilio", code)
    if channel == "push":
        services = {"ios": ("apns",), "android": ("fcm",)}.get(platform, ("apns", "fcm"))
        for service in services:
            found = read_failure(service, code)
            if found is not None:
                return found
    return None


def _from_provider_code(event: Event, given: Mapping[str, Any] | None) -> Event | None:
    if given and given.get("reason"):
        return None  # the sender wrote "Undetermined" itself
    failure = provider_failure(event.channel, event.platform, event.code)
    if failure is None:
        return None
    bounce = event.bounce
    if (
        event.type == "bounce"
        and failure.outcome == Outcome.BOUNCE
        and failure.category
        and not (given and given.get("bounce"))
    ):
        bounce = failure.category
    return msgspec.structs.replace(event, reason=failure.reason, bounce=bounce)


# --- rule files (livereport bounces rules set FILE) -------------------------------------------


def read_rule_file(name: str, content: bytes) -> list[dict[str, Any]]:
    """The rows of a rule file: JSON (an array of rows, or {"rules": [...]}) or CSV with a
    header line naming the columns (FIELDS). Raise ValueError saying what is wrong."""
    text = content.decode("utf-8-sig", errors="strict")
    stripped = text.lstrip()
    if name.lower().endswith(".json") or stripped.startswith(("[", "{")):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{name}: not valid JSON ({exc}); expected an array of rules"
            ) from None
        if isinstance(value, dict) and "rules" in value:
            value = value["rules"]
        if not isinstance(value, list):
            raise ValueError(f'{name}: expected a JSON array of rules or {{"rules": [...]}}')
        return value
    import csv
    import io

    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise ValueError(f"{name}: empty; expected a CSV header line: {','.join(FIELDS)}")
    unknown = [f for f in reader.fieldnames if f not in FIELDS]
    if unknown:
        raise ValueError(
            f"{name}: unknown column {unknown[0]!r}; expected columns among {', '.join(FIELDS)}"
        )
    return [
        {k: v for k, v in row.items() if k is not None and v not in (None, "")} for row in reader
    ]
