"""The two background tasks of alerts on every app node: judging and notifying.

Judging: the writer tells which campaigns it stored events for; at most every
:data:`MIN_PASS_S` the judge reads their rules' numbers (alerts/evaluate.py) and opens or
resolves alerts. Every :data:`PERIODIC_S` it also judges again the campaigns it saw within the
longest span and those with open alerts, so that minutes leaving a span resolve an alert and a
stall is seen although nothing more arrives. Several nodes may judge the same campaign: the
metadata database lets one of them open (or resolve) each alert (store/metadata/alerts.py).

Notifying: each opened or resolved alert adds one delivery per target of its rule to the
delivery log. A dispatcher claims due deliveries for a lease and sends each in a task of its
own, so a slow or failing receiver delays nothing else; failures are retried with backoff.
Ingest never waits for either task: the writer's callback only marks campaigns.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import msgspec
from starlette.concurrency import run_in_threadpool

from livereport.alerts import send, targets
from livereport.alerts.evaluate import Outcome, Reading, judge
from livereport.alerts.rules import DEFAULT_RULES, AlertRule, parse_rules
from livereport.errors import LivereportError
from livereport.observe import AlertMetrics
from livereport.store.base import Store
from livereport.store.metadata import Alert, Delivery, Metadata, NewDelivery

log = logging.getLogger(__name__)
_encode = msgspec.json.Encoder().encode

MIN_PASS_S = 0.25
PERIODIC_S = 10.0
#: Retries of a notification: after 1, 2, 4 … seconds, at most 5 minutes apart, 10 tries in
#: all (about a quarter of an hour); a pause is called once.
MAX_ATTEMPTS = 10
MAX_BACKOFF_S = 300.0
LEASE_S = 60.0
PRUNE_S = 3600.0
DELIVERY_TIMEOUT_S = 5.0
#: Answers that say the receiver will never take this delivery: not retried.
_PERMANENT = frozenset(range(400, 500)) - {408, 425, 429}

Key = tuple[int, str]


class RuleBook:
    """Each org's rules, parsed once per saved version (the defaults when none is saved)."""

    def __init__(self, metadata: Metadata) -> None:
        self._metadata = metadata
        self._parsed: dict[int, tuple[str | None, tuple[AlertRule, ...]]] = {}

    def rules(self, org: int) -> tuple[AlertRule, ...]:
        text = self._metadata.alert_rules(org)
        cached = self._parsed.get(org)
        if cached is not None and cached[0] == text:
            return cached[1]
        if text is None:
            rules = DEFAULT_RULES
        else:
            # Targets were checked when the rules were saved; they are checked again, with
            # the addresses they resolve to then, at each delivery.
            rules = tuple(parse_rules(json.loads(text), allow_private=True, check_targets=False))
        self._parsed[org] = (text, rules)
        return rules

    def cached(self, org: int) -> tuple[AlertRule, ...] | None:
        """The org's rules as last read, without asking the database (None: not read yet)."""
        found = self._parsed.get(org)
        return found[1] if found is not None else None

    def rule(self, org: int, rule_id: str) -> AlertRule | None:
        return next((r for r in self.rules(org) if r.id == rule_id), None)


@dataclass
class Alerts:
    """Judging and notifying for one app node."""

    store: Store
    metadata: Metadata
    allow_private: bool = False
    #: Days the delivery log keeps finished deliveries (the events' retention).
    keep_days: int = 30
    on_change: Callable[[Iterable[Key]], None] | None = None
    metrics: AlertMetrics | None = None

    def __post_init__(self) -> None:
        self.book = RuleBook(self.metadata)
        self._dirty: set[Key] = set()
        self._seen: dict[Key, float] = {}
        self._wake: asyncio.Event | None = None
        self._deliver: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._sending: set[asyncio.Task[None]] = set()
        self.passes = 0

    # the writer's side

    def stored(self, keys: Iterable[Key]) -> None:
        """What the writer thread calls with the (org, campaign) pairs of each insert."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._mark, set(keys))

    def _mark(self, keys: set[Key]) -> None:
        self._dirty |= keys
        if self._wake is not None:
            self._wake.set()

    def changed(self, keys: Iterable[Key]) -> None:
        """Tell the live streams of these campaigns that their alerts changed."""
        if self.on_change is not None:
            self.on_change(keys)

    # the tasks

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake, self._deliver = asyncio.Event(), asyncio.Event()
        self._tasks = [
            asyncio.create_task(self._judging()),
            asyncio.create_task(self._dispatching()),
        ]

    async def stop(self) -> None:
        for task in [*self._tasks, *self._sending]:
            task.cancel()
        for task in [*self._tasks, *self._sending]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _judging(self) -> None:
        assert self._wake is not None
        periodic_at = time.monotonic() + PERIODIC_S
        while True:
            timeout = max(0.0, periodic_at - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()
            now = time.time()
            due, self._dirty = self._dirty, set()
            for key in due:
                self._seen[key] = now
            everything = time.monotonic() >= periodic_at
            if everything:
                periodic_at = time.monotonic() + PERIODIC_S
                self._forget(now)
                due |= set(self._seen)
            started = time.monotonic()
            try:
                await run_in_threadpool(self.judge_pass, due, everything, now)
            except LivereportError as exc:
                log.warning("alerts: cannot judge the rules now: %s", exc.message)
            except Exception:
                log.exception("alerts: judging failed")
            took = time.monotonic() - started
            if self.metrics is not None:
                self.metrics.pass_seconds.observe(took)
            # At least as long as the pass took: judging takes at most half of one core's
            # time from ingest and reports, however many rules and campaigns there are.
            await asyncio.sleep(max(MIN_PASS_S, took))

    def _forget(self, now: float) -> None:
        """Campaigns quiet for longer than their org's longest span (with its baseline) read
        nothing in any span: only their open alerts are judged again, not they."""
        reach: dict[int, float] = {}
        for org, _ in self._seen:
            if org not in reach:
                rules = self.book.cached(org)
                if rules is None:  # not judged yet: keep it until it is
                    reach[org] = float("inf")
                    continue
                longest = max(
                    (r.span_minutes + (r.baseline_minutes or 0) for r in rules), default=0
                )
                reach[org] = (longest + 1) * 60
        for key in [k for k, t in self._seen.items() if t < now - reach[k[0]]]:
            del self._seen[key]

    def judge_pass(self, due: set[Key], everything: bool, now: float) -> None:
        """Judge the campaigns ``due``, and with ``everything`` every open alert too."""
        firing: dict[int, list[Alert]] = {}
        for alert in self.metadata.firing_alerts():
            if everything or (alert.org_id, alert.campaign) in due:
                firing.setdefault(alert.org_id, []).append(alert)
        campaigns: dict[int, set[str]] = {}
        for org, campaign in due:
            campaigns.setdefault(org, set()).add(campaign)
        changed: set[Key] = set()
        for org in sorted(set(campaigns) | set(firing)):
            rules = self.book.rules(org)
            outcome = judge(
                self.store, org, rules, campaigns.get(org, ()), firing.get(org, ()), now
            )
            changed |= self._apply(org, outcome, now)
        self.passes += 1
        if changed and self.on_change is not None:
            self.on_change(changed)

    def _apply(self, org: int, outcome: Outcome, now: float) -> set[Key]:
        changed: set[Key] = set()
        deliveries: list[NewDelivery] = []
        for opening in outcome.opened:
            alert = self.metadata.open_alert(org, opening, now)
            if alert is None:  # open already: another node was first
                continue
            log.warning(
                "alert %d fired: rule %s on campaign %r (%s), value %s over volume %d",
                alert.id,
                alert.rule,
                alert.campaign[:80],
                alert.channel,
                alert.value,
                alert.volume,
            )
            changed.add((org, alert.campaign))
            self._count("fired", alert.severity)
            deliveries += self._notifications(org, alert, "fired")
        for alert, found in outcome.resolved:
            reading = found or Reading(None, 0)
            resolved = self.metadata.resolve_alert(alert.id, reading.value, reading.volume, now)
            if resolved is None:
                continue
            log.info(
                "alert %d resolved: rule %s on campaign %r",
                alert.id,
                alert.rule,
                alert.campaign[:80],
            )
            changed.add((org, alert.campaign))
            self._count("resolved", alert.severity)
            deliveries += self._notifications(org, resolved, "resolved")
        if deliveries:
            self.metadata.add_deliveries(deliveries, now)
            if self._loop is not None and self._deliver is not None:
                self._loop.call_soon_threadsafe(self._deliver.set)
        return changed

    def _count(self, event: str, severity: str) -> None:
        if self.metrics is not None:
            self.metrics.alerts.inc(1, event, severity)

    def _notifications(self, org: int, alert: Alert, event: str) -> list[NewDelivery]:
        rule = self.book.rule(org, alert.rule)
        if rule is None:
            return []
        body = _encode({**alert.json(), "event": event}).decode()
        found = [NewDelivery(org, alert.id, event, t.kind, t.to, body) for t in rule.notify]
        if event == "fired" and rule.pause is not None:
            pause = {
                "action": "pause",
                "campaign": alert.campaign,
                "channel": alert.channel,
                "execution": alert.execution,
                "alert": alert.json(),
            }
            found.append(
                NewDelivery(
                    org, alert.id, "pause", "pause", rule.pause.url, _encode(pause).decode()
                )
            )
        return found

    async def _dispatching(self) -> None:
        assert self._deliver is not None
        pruned_at = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._deliver.wait(), 1.0)
            self._deliver.clear()
            if time.monotonic() - pruned_at > PRUNE_S:
                pruned_at = time.monotonic()
                with contextlib.suppress(LivereportError):
                    horizon = time.time() - self.keep_days * 86_400
                    await run_in_threadpool(self.metadata.prune_deliveries, horizon)
            try:
                due = await run_in_threadpool(self.metadata.claim_deliveries, time.time(), LEASE_S)
            except LivereportError as exc:
                log.warning("alerts: cannot read the delivery log now: %s", exc.message)
                continue
            for delivery in due:
                task = asyncio.create_task(self._send(delivery))
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)

    async def _send(self, delivery: Delivery) -> None:
        attempts = delivery.attempts + 1
        status: int | None = None
        error: str | None = None
        try:
            status, answer = await self.deliver(delivery)
            if not 200 <= status < 300:
                error = f"answered {status}: {answer[:200].decode('utf-8', 'replace')}"
        except targets.DeliveryFailed as exc:
            error = str(exc)[:500]
        except LivereportError as exc:  # a target the org's settings make unusable
            error = exc.message[:500]
        except Exception as exc:  # a bug must not stop the dispatcher: log and give up
            log.exception("alerts: delivery %s failed", delivery.id)
            error = f"internal error: {type(exc).__name__}"
            attempts = MAX_ATTEMPTS
        if delivery.kind == "pause":
            await run_in_threadpool(self._audit_pause, delivery, status, error)
        final = error is None or attempts >= _attempts(delivery) or (status in _PERMANENT)
        state = "delivered" if error is None else ("failed" if final else "pending")
        if self.metrics is not None:
            outcome = "retry" if state == "pending" else state
            self.metrics.deliveries.inc(1, delivery.kind, outcome)
        next_at = time.time() + min(2.0 ** (attempts - 1), MAX_BACKOFF_S)
        if error is not None:
            log.warning(
                "alerts: delivery %s to %s: %s (attempt %d)",
                delivery.id,
                delivery.kind,
                error,
                attempts,
            )
        try:
            await run_in_threadpool(
                lambda: self.metadata.finish_delivery(
                    delivery.id,
                    state=state,
                    attempts=attempts,
                    next_at=next_at,
                    status=status,
                    error=error,
                )
            )
        except LivereportError as exc:  # the lease runs out; another pass sends it again
            log.warning("alerts: cannot record delivery %s: %s", delivery.id, exc.message)

    async def deliver(self, delivery: Delivery) -> tuple[int, bytes]:
        """Send one delivery once: (HTTP status, start of the answer); raises on failure."""
        content: dict[str, Any] = json.loads(delivery.body)
        if delivery.kind == "pause":
            rule = await run_in_threadpool(
                self.book.rule, delivery.org_id, str(content["alert"]["rule"])
            )
            if rule is None or rule.pause is None:
                raise targets.DeliveryFailed("the rule no longer names a pause action")
            if delivery.alert_id is not None and not await run_in_threadpool(
                self.metadata.mark_paused, delivery.alert_id, time.time()
            ):
                raise targets.DeliveryFailed("the campaign was paused for this alert already")
            body, headers = send.pause_request(content["alert"], rule.pause.secret, delivery.id)
            return await targets.post(
                delivery.target,
                body,
                headers,
                allow_private=self.allow_private,
                timeout=DELIVERY_TIMEOUT_S,
            )
        event = str(content.pop("event"))
        if delivery.kind == "email":
            settings, message = await run_in_threadpool(
                email_of, self.metadata, delivery.org_id, content, event, delivery.target
            )
            await run_in_threadpool(
                send.send_email, settings, message, allow_private=self.allow_private
            )
            return 250, b""
        body, headers = await run_in_threadpool(
            request_of, self.metadata, delivery.org_id, delivery.kind, content, event, delivery.id
        )
        return await targets.post(
            delivery.target,
            body,
            headers,
            allow_private=self.allow_private,
            timeout=DELIVERY_TIMEOUT_S,
        )

    def _audit_pause(self, delivery: Delivery, status: int | None, error: str | None) -> None:
        answer = f"answered {status}" if error is None else error
        campaign = json.loads(delivery.body).get("campaign", "")
        self.metadata.audit(
            delivery.org_id,
            "alerts",
            "alert.pause",
            f"alert {delivery.alert_id} campaign {campaign[:200]!r}: POST {delivery.target} {answer}"[
                :1000
            ],
            "",
        )


def request_of(
    metadata: Metadata, org: int, kind: str, alert: dict[str, Any], event: str, delivery_id: str
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a webhook (signed with the org's secret) or Slack message."""
    if kind == "slack":
        return send.slack_request(alert, event), {"Content-Type": "application/json"}
    return send.webhook_request(alert, event, metadata.alert_secret(org), delivery_id)


def email_of(
    metadata: Metadata, org: int, alert: dict[str, Any], event: str, to: str
) -> tuple[dict[str, Any], EmailMessage]:
    """The org's SMTP settings and the alert's email to ``to``."""
    smtp = metadata.alert_smtp(org)
    if smtp is None:
        raise targets.DeliveryFailed(
            "no SMTP server is set for alert emails; set one (PUT /v1/alert-smtp, or "
            "`livereport alerts smtp set FILE`)"
        )
    settings: dict[str, Any] = json.loads(smtp)
    return settings, send.email_message(alert, event, settings["sender"], to)


def _attempts(delivery: Delivery) -> int:
    return 1 if delivery.kind == "pause" else MAX_ATTEMPTS
