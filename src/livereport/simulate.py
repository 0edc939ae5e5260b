"""Realistic, seeded campaign traffic in the event format of SPEC §2 (plain JSON-ready dicts).

The source end of the pipeline: `generate` makes a whole campaign for tests and benchmarks,
`LiveTraffic` and `run` stream one into the ingest API for `livereport demo` and `simulate`,
and `history` makes the hours a live stream continues, at its rate. An `Incident` (a bounce
storm, a complaint spike, a stall) makes live traffic go wrong for a while, and
`incident_batch` / `healthy_batch` make one minute of either, so that alerts have something to
catch.
"""

from __future__ import annotations

import copy
import heapq
import math
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from itertools import accumulate
from typing import Any, Final, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from livereport.bounces.mobile import read_failure
from livereport.events import MATRIX, Channel, EventType, normalise_domain

JsonEvent = dict[str, Any]
Draft = tuple[float, JsonEvent]  # (epoch seconds, every field but id and time)
T = TypeVar("T")
Table = tuple[tuple[T, ...], tuple[float, ...]]  # values and cumulative weights

CHANNELS: tuple[str, ...] = tuple(c.value for c in Channel)
LATE_SHARE = 0.03  # delivered after events that happened later
DUPLICATE_SHARE = 0.02  # delivered twice, identical
CONFLICT_SHARE = 0.005  # same id again later, other content: the first one stands
EPOCH_TIME_SHARE = 0.10  # `time` as epoch milliseconds rather than RFC 3339


def _table(*pairs: tuple[T, float]) -> Table[T]:
    return tuple(v for v, _ in pairs), tuple(accumulate(w for _, w in pairs))


def _pick(rng: random.Random, table: Table[T]) -> T:
    return rng.choices(table[0], cum_weights=table[1])[0]


_DOMAINS = _table(
    ("gmail.com", 34),
    ("outlook.com", 10),
    ("yahoo.com", 9),
    ("hotmail.com", 8),
    ("icloud.com", 6),
    ("me.com", 1),
    ("mac.com", 0.5),
    ("aol.com", 3),
    ("gmx.de", 4),
    ("web.de", 3),
    ("orange.fr", 3),
    ("comcast.net", 2),
    ("contoso.com", 1.5),
    ("fabrikam.com", 1),
    ("northwind-traders.com", 1),
    ("bücher.de", 0.5),
)
_FIRST = (
    "anna",
    "ben",
    "chloe",
    "david",
    "emma",
    "farid",
    "grace",
    "hugo",
    "ines",
    "jonas",
    "kim",
    "lucas",
    "maria",
    "noah",
    "olga",
    "pierre",
    "rosa",
    "sven",
    "tom",
    "yuki",
)
_LAST = (
    "smith",
    "muller",
    "martin",
    "garcia",
    "rossi",
    "kowalski",
    "nguyen",
    "dubois",
    "schmidt",
    "johnson",
    "lopez",
    "tanaka",
    "silva",
    "novak",
    "berg",
)
_EXCLUSIONS: dict[str, Table[str]] = {
    "email": _table(
        ("No consent", 30),
        ("Suppressed address", 25),
        ("Frequency rule", 15),
        ("Malformed address", 10),
        ("No address in profile", 12),
        ("Experiment hold-out", 8),
    ),
    "sms": _table(
        ("No phone number", 40), ("No consent", 35), ("Frequency rule", 15), ("Quiet hours", 10)
    ),
    "push": _table(("No push token", 55), ("No consent", 25), ("Frequency rule", 20)),
    "inapp": _table(("Frequency rule", 50), ("Experiment hold-out", 30), ("No consent", 20)),
    "web": _table(("Experiment hold-out", 50), ("Frequency rule", 30), ("No variant", 20)),
    "directmail": _table(
        ("No postal address", 50), ("No consent", 25), ("Address not allowed", 25)
    ),
}
_ERRORS: dict[str, Table[str]] = {
    "email": _table(
        ("Rendering error", 50), ("Dispatch timeout", 35), ("Personalisation data missing", 15)
    ),
    "sms": _table(("Provider timeout", 60), ("Rate limited by provider", 40)),
    "push": _table(("Expired certificate", 40), ("Provider unavailable", 60)),
    "inapp": _table(("Rendering error", 70), ("Asset not found", 30)),
    "web": _table(("Rendering error", 60), ("Script timeout", 40)),
    "directmail": _table(("Print file rejected", 60), ("Address validation failed", 40)),
}
_USER_UNKNOWN = ("5.1.1", 550, "550 5.1.1 <{addr}>: Recipient address rejected: User unknown")
_SMTP = _table(
    (_USER_UNKNOWN, 30),
    (("5.2.2", 552, "552 5.2.2 The email account that you tried to reach is over quota"), 10),
    (("4.4.1", 451, "451 4.4.1 No answer from host: connection timed out"), 8),
    (("5.7.1", 550, "550 5.7.1 Message rejected as spam by content filtering"), 8),
    (("4.2.2", 452, "452 4.2.2 <{addr}>: Mailbox over quota, try again later"), 6),
    (("5.4.4", 550, "550 5.4.4 Unable to route: no MX record for recipient domain"), 5),
    (("5.3.4", 552, "552 5.3.4 Message size exceeds fixed maximum message size"), 3),
    (("4.7.0", 451, "451 4.7.0 Greylisted, please try again later"), 6),
    (("5.7.26", 550, "550 5.7.26 Unauthenticated email is not accepted: DMARC policy fail"), 4),
    (("5.2.1", 550, "550 5.2.1 <{addr}>: The email account is disabled"), 5),
)
_BOUNCES_GIVEN = _table(
    (("hard", "Invalid Recipient"), 30),
    (("soft", "Mailbox Full"), 20),
    (("ignored", "Spam Block"), 15),
    (("hard", "Recipient Refused"), 10),
    (("soft", "DNS Failure"), 10),
    (("ignored", "Timeout"), 15),
)
# Push and SMS bounces carry the provider's failure code, as its API or webhook gives it, with
# the reason and category it means (bounces/mobile.py), as an export of the reference product
# gives them.
_SMS_BOUNCES = _table(
    ("21211", 20),
    ("30003", 25),
    ("30005", 15),
    ("30006", 8),
    ("30007", 17),
    ("21610", 5),
    ("30004", 5),
    ("30008", 5),
)
_APNS_BOUNCES = _table(
    ("Unregistered", 45),
    ("BadDeviceToken", 25),
    ("ExpiredToken", 10),
    ("TooManyRequests", 12),
    ("ServiceUnavailable", 8),
)
_FCM_BOUNCES = _table(
    ("UNREGISTERED", 65), ("SENDER_ID_MISMATCH", 5), ("QUOTA_EXCEEDED", 18), ("UNAVAILABLE", 12)
)
# Some senders qualify their bounces themselves: a reason and a category, no code.
_GIVEN_MOBILE = _table(
    (("Number deactivated", "hard"), 40),
    (("Handset switched off", "soft"), 35),
    (("Blocked by the recipient", "ignored"), 25),
)
_PLATFORMS = _table(("ios", 44), ("android", 44), ("web", 5), ("apns", 4), ("fcm", 3))
_ELEMENTS = _table(
    ("Hero banner", 30),
    ("Add to cart", 25),
    ("Sign up", 15),
    ("Close", 15),
    ("Product carousel", 10),
    ('<b>"Promo"</b> & more', 5),
)
_KINDS = _table(("click", 55), ("dismiss", 35), ("other", 10))
_UA_HUMAN = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)",
)
_UA_GOOGLE = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
_UA_YAHOO = "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html"
#: Apple Mail Privacy Protection's proxy: a bare user agent, Apple's addresses (17.0.0.0/8) or,
#: for a share of fetches, a partner network's.
_UA_MPP = "Mozilla/5.0"
_UA_SCANNER = (
    "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))",
    "Proofpoint URL Defense/1.0",
    "Mimecast-URL-Protect/2.1",
    "python-requests/2.31.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 "
    "Safari/537.36",
)
#: What a scanner that hides looks like: an ordinary browser's user agent.
_UA_DISGUISED = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36"
)
_APPLE_DOMAINS = frozenset({"icloud.com", "me.com", "mac.com"})
#: Companies whose mail gateway scans every link of every mail it lets in.
_CORPORATE = frozenset({"contoso.com", "fabrikam.com", "northwind-traders.com"})
#: Recipients whose mail Apple's privacy proxy fetches: most of Apple's own addresses, and those
#: of other providers read in Apple Mail.
MPP_SHARE_APPLE = 0.75
MPP_SHARE_OTHER = 0.05
#: Machine opens and clicks the sender itself flags as such (its provider recognised them).
MPP_FLAGGED = 0.4
SCANNER_FLAGGED = 0.1
#: Recipients behind a link-scanning gateway: most at companies, a few elsewhere.
SCANNED_CORPORATE = 0.7
SCANNED_OTHER = 0.01
#: The key of a draft's true label (a machine's open or click): never in an event sent.
TRUTH: Final = "__machine__"
_PAGES = ("spring-sale", "new-arrivals", "account", "store-locator")
# Share of entered profiles each channel reaches, and mean lag (s) of its first event.
_REACH = {"email": 0.9, "sms": 0.35, "push": 0.5, "inapp": 0.3, "web": 0.45, "directmail": 0.12}
_LAG = {
    "email": 1.0,
    "sms": 90.0,
    "push": 45.0,
    "inapp": 5400.0,
    "web": 3600.0,
    "directmail": 300.0,
}
_BASE_FIELDS = (
    "id",
    "time",
    "campaign",
    "channel",
    "profile",
    "execution",
    "variant",
    "recipient",
    "platform",
)


@dataclass(frozen=True)
class _Profile:
    id: str
    email: str
    phone: str
    platform: str
    execution: str | None
    variant: str | None
    lift: float = 1.0  # the variant's true lift: every human engagement chance is multiplied


def _make_profile(
    rng: random.Random,
    name: str,
    execution: str | None,
    variants: Sequence[str],
    lifts: Mapping[str, float],
) -> _Profile:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    local = rng.choice((f"{first}.{last}", f"{first}{rng.randint(1, 99)}", f"{first[0]}{last}"))
    email = f"{local}@{_pick(rng, _DOMAINS)}"
    if rng.random() < 0.03:
        email = email.upper()
    phone = f"+{rng.choice(('1', '44', '33', '49'))}{rng.randrange(10**9, 10**10)}"
    variant = rng.choice(variants) if variants else None
    lift = lifts.get(variant, 1.0) if variant is not None else 1.0
    return _Profile(name, email, phone, _pick(rng, _PLATFORMS), execution, variant, lift)


class _Funnel:
    """Collects one profile's events on one channel; every delay is stretched by `scale`."""

    def __init__(self, rng: random.Random, scale: float, common: JsonEvent) -> None:
        self.rng, self.scale, self.common = rng, scale, common
        self.drafts: list[Draft] = []

    def add(self, t: float, type_: str, **fields: Any) -> float:
        self.drafts.append((t, {**self.common, "type": type_, **fields}))
        return t

    def after(self, t: float, mean: float) -> float:
        return t + self.rng.expovariate(1.0 / mean) * self.scale

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def repeats(self, p_more: float) -> int:
        n = 1
        while self.rng.random() < p_more:
            n += 1
        return n

    def url(self, page: str | None = None) -> str:
        page = page or self.rng.choice(_PAGES)
        source, campaign = self.common["channel"], quote(self.common["campaign"], safe="")
        return f"https://shop.example.com/{page}?utm_source={source}&utm_campaign={campaign}"


def _send(f: _Funnel, t: float, excluded: float) -> float | None:
    """Targeted, then excluded or sent: when it was sent, None when it was excluded."""
    f.add(t, "targeted")
    if f.chance(excluded):
        f.add(f.after(t, 2), "excluded", reason=_pick(f.rng, _EXCLUSIONS[f.common["channel"]]))
        return None
    return f.add(f.after(t, 10), "sent")


def _fail(f: _Funnel, t: float) -> None:
    f.add(t, "error", reason=_pick(f.rng, _ERRORS[f.common["channel"]]))


def _plan_email(f: _Funnel, p: _Profile, t: float) -> None:
    if (sent := _send(f, t, 0.03)) is None:
        return
    roll = f.rng.random()
    if roll < 0.01:
        _fail(f, f.after(sent, 5))
        return
    if roll < 0.03:  # deferred by the receiving server, retried, then settled
        for _ in range(f.repeats(0.3)):
            sent = f.add(f.after(sent, 600), "retry")
        if f.chance(0.3):
            _bounce_email(f, p, f.after(sent, 900))
            return
        delivered = f.add(f.after(sent, 900), "delivered")
    elif roll < 0.07:
        _bounce_email(f, p, f.after(sent, 30))
        return
    else:
        delivered = f.add(f.after(sent, 8), "delivered")
    _engage_email(f, p, delivered)


def _bounce_email(f: _Funnel, p: _Profile, t: float) -> None:
    fields: JsonEvent = {}
    roll = f.rng.random()
    if roll < 0.3:
        fields["bounce"], fields["reason"] = _pick(f.rng, _BOUNCES_GIVEN)
    if roll < 0.15 or 0.3 <= roll < 0.9:  # the rest carries nothing: Undetermined
        status, code, text = _pick(f.rng, _SMTP)
        fields["smtp"] = {"status": status, "code": code, "diagnostic": text.format(addr=p.email)}
    f.add(t, "bounce", **fields)


def _engage_email(f: _Funnel, p: _Profile, delivered: float) -> None:
    domain = p.email.rsplit("@", 1)[1].lower()
    proxied = f.chance(MPP_SHARE_APPLE if domain in _APPLE_DOMAINS else MPP_SHARE_OTHER)
    if proxied:
        _proxy_open(f, delivered)
    if f.chance(SCANNED_CORPORATE if domain in _CORPORATE else SCANNED_OTHER):
        _scan(f, delivered)
    if f.chance(0.35 * p.lift):
        t = delivered
        for _ in range(f.repeats(0.3)):
            t = f.after(t, 7200)
            if proxied:  # the person's own opens are served from the proxy's copy: unseen
                continue
            f.add(t, "open", **_person(f, domain, proxy_ok=True))
        if f.chance(0.2):
            for _ in range(f.repeats(0.25)):
                t = f.after(t, 300)
                f.add(t, "click", url=f.url(), **_person(f, domain, proxy_ok=False))
    if f.chance(0.005):
        f.add(f.after(delivered, 14400), "unsubscribe", url=f.url("unsubscribe"))
    if f.chance(0.001):
        f.add(f.after(delivered, 10800), "spam_complaint")


def _person(f: _Funnel, domain: str, *, proxy_ok: bool) -> JsonEvent:
    """The client fields of a person's open or click, as a sender passes them on: Gmail's and
    Yahoo's image proxies for their users' opens, else a mail client or browser; not always
    the user agent or the address."""
    if proxy_ok and domain == "gmail.com":
        agent, ip = _UA_GOOGLE, f"66.249.{f.rng.randint(80, 95)}.{f.rng.randint(1, 254)}"
    elif proxy_ok and domain == "yahoo.com":
        agent, ip = _UA_YAHOO, f"98.137.{f.rng.randint(0, 255)}.{f.rng.randint(1, 254)}"
    else:
        agent, ip = f.rng.choice(_UA_HUMAN), _home_ip(f.rng)
    fields: JsonEvent = {}
    if f.chance(0.7):
        fields["user_agent"] = agent
    if f.chance(0.8):
        fields["ip"] = ip
    return fields


def _home_ip(rng: random.Random) -> str:
    """An address of a home or mobile network (never Apple's 17.0.0.0/8)."""
    if rng.random() < 0.2:
        return f"2a02:{rng.randrange(0x1000, 0xFFFF):x}:{rng.randrange(0xFFFF):x}::{rng.randrange(1, 0xFFFF):x}"
    return f"{rng.choice((31, 46, 78, 81, 86, 92, 109, 176, 188, 212))}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def _proxy_open(f: _Funnel, delivered: float) -> None:
    """Apple's proxy fetching the images of a mail it received: half at once, the rest when
    the device comes online; the bare user agent, and Apple's address or a partner's."""
    at = delivered + f.rng.uniform(0.3, 2.5) if f.chance(0.5) else f.after(delivered, 1200)
    ip = (
        f"17.{f.rng.randint(0, 255)}.{f.rng.randint(0, 255)}.{f.rng.randint(1, 254)}"
        if f.chance(0.85)
        else f"104.28.{f.rng.randint(0, 255)}.{f.rng.randint(1, 254)}"
    )
    fields: JsonEvent = {TRUTH: True}
    if f.chance(0.8):
        fields["user_agent"] = _UA_MPP
    if f.chance(0.8):
        fields["ip"] = ip
    if f.chance(MPP_FLAGGED):
        fields["machine"] = True
    f.add(at, "open", **fields)


def _scan(f: _Funnel, delivered: float) -> None:
    """A gateway scanner following every link of the mail, most on arrival, some later from a
    sandbox; named by its user agent, hidden behind a browser's, or with none."""
    at = delivered + f.rng.uniform(0.2, 2.0) if f.chance(0.8) else f.after(delivered, 90)
    roll = f.rng.random()
    fields: JsonEvent = {
        TRUTH: True,
        "ip": f"52.{f.rng.randint(0, 255)}.{f.rng.randint(0, 255)}.{f.rng.randint(1, 254)}",
    }
    if roll < 0.5:
        fields["user_agent"] = f.rng.choice(_UA_SCANNER)
    elif roll < 0.75:
        fields["user_agent"] = _UA_DISGUISED
    if f.chance(SCANNER_FLAGGED):
        fields["machine"] = True
    if f.chance(0.5):
        f.add(at, "open", **fields)
    pages = f.rng.sample(_PAGES, f.rng.randint(3, len(_PAGES)))
    for page in pages:
        f.add(at + f.rng.uniform(0.05, 0.9), "click", url=f.url(page), **fields)


def _plan_mobile(f: _Funnel, p: _Profile, t: float) -> None:
    """SMS and push: the provider answers within seconds; the few who engage come later."""
    push = f.common["channel"] == "push"
    if (sent := _send(f, t, 0.06 if push else 0.04)) is None:
        return
    roll = f.rng.random()
    if roll < 0.01:
        _fail(f, f.after(sent, 5))
    elif roll < (0.05 if push else 0.04):
        _bounce_mobile(f, p, f.after(sent, 10))
    else:
        delivered = f.add(f.after(sent, 3), "delivered")
        engagements = (
            (("open", 0.1, 0.1), ("action", 0.04, 0.0)) if push else (("click", 0.08, 0.2),)
        )
        for kind, first, more in engagements:
            if f.chance(first * p.lift):
                for _ in range(f.repeats(more)):
                    f.add(f.after(delivered, 1800), kind, **({} if push else {"url": f.url()}))


def _bounce_mobile(f: _Funnel, p: _Profile, t: float) -> None:
    if f.chance(0.15):
        reason, category = _pick(f.rng, _GIVEN_MOBILE)
        f.add(t, "bounce", reason=reason, bounce=category)
        return
    if f.common["channel"] == "sms":
        service, codes = "twilio", _SMS_BOUNCES
    else:
        service = _push_service(p.platform)
        codes = _APNS_BOUNCES if service == "apns" else _FCM_BOUNCES
    code = _pick(f.rng, codes)
    failure = read_failure(service, code)
    assert failure is not None, code  # the tables above hold known codes only
    f.add(t, "bounce", code=code, reason=failure.reason, bounce=failure.category)


def _push_service(platform: str) -> str:
    """Who delivers a push: APNs for iOS, FCM for Android and web push."""
    return "apns" if platform in ("ios", "apns") else "fcm"


def _plan_onsite(f: _Funnel, p: _Profile, t: float) -> None:
    """In-app messages and web experiences: shown when the person visits, nothing is sent."""
    channel = f.common["channel"]
    if f.chance(0.03):
        f.add(t, "excluded", reason=_pick(f.rng, _EXCLUSIONS[channel]))
        return
    if f.chance(0.005):
        _fail(f, t)
        return
    if not f.chance(0.7):
        return
    for _ in range(f.repeats(0.35)):
        t = f.add(f.after(t, 3600), "impression")
        if not f.chance(0.3):
            continue
        if channel == "inapp":
            f.add(f.after(t, 15), "interaction", interaction=_pick(f.rng, _KINDS))
            continue
        element = _pick(f.rng, _ELEMENTS)
        kind = "dismiss" if element == "Close" else "other" if f.chance(0.1) else "click"
        f.add(f.after(t, 15), "interaction", interaction=kind, element=element)


def _plan_directmail(f: _Funnel, p: _Profile, t: float) -> None:
    """Printed and posted in one batch: a print failure stops the piece before it is sent."""
    f.add(t, "targeted")
    if f.chance(0.05):
        f.add(f.after(t, 2), "excluded", reason=_pick(f.rng, _EXCLUSIONS["directmail"]))
    elif f.chance(0.02):
        _fail(f, f.after(t, 60))
    else:
        f.add(f.after(t, 60), "sent")


_PLANS: dict[str, Callable[[_Funnel, _Profile, float], None]] = {
    "email": _plan_email,
    "sms": _plan_mobile,
    "push": _plan_mobile,
    "inapp": _plan_onsite,
    "web": _plan_onsite,
    "directmail": _plan_directmail,
}


def _plan_profile(
    rng: random.Random, campaign: str, p: _Profile, channels: Sequence[str], t: float, scale: float
) -> list[Draft]:
    """One profile's whole journey: it enters, then moves down each channel's funnel."""
    base: JsonEvent = {"campaign": campaign, "profile": p.id}
    base |= {"execution": p.execution} if p.execution else {}
    base |= {"variant": p.variant} if p.variant else {}
    drafts: list[Draft] = [(t, {"type": "entered", **base})]
    for channel in channels:
        if rng.random() >= _REACH[channel]:
            continue
        common = {**base, "channel": channel, **_address(p, channel)}
        funnel = _Funnel(rng, scale, common)
        _PLANS[channel](funnel, p, funnel.after(t, _LAG[channel]))
        drafts.extend(funnel.drafts)
    return drafts


def _address(p: _Profile, channel: str) -> JsonEvent:
    """Where a channel's message goes: the profile's address, number or push platform."""
    if channel in ("email", "sms"):
        return {"recipient": p.email if channel == "email" else p.phone}
    return {"platform": p.platform} if channel == "push" else {}


class _Stamper:
    """Gives drafts their ids and times, and decides which get delivered again."""

    def __init__(self, rng: random.Random, campaign: str, tag: str = "") -> None:
        self.rng, self.count = rng, 0
        prefix = "".join(c for c in campaign[:96] if c.isprintable())
        self.prefix = f"{prefix}-{rng.getrandbits(32):08x}{tag[:12]}"

    def stamp(self, t: float, fields: JsonEvent) -> JsonEvent:
        """The event as sent: with its id and time, without its true label (TRUTH)."""
        self.count += 1
        ms = math.floor(t * 1000)
        when: str | int = ms if self.rng.random() < EPOCH_TIME_SHARE else _format_time(ms)
        if TRUTH in fields:
            fields = {k: v for k, v in fields.items() if k != TRUTH}
        return {"id": f"{self.prefix}-{self.count}", "time": when, **fields}

    def redeliveries(self, event: JsonEvent) -> list[JsonEvent]:
        roll = self.rng.random()
        if roll < DUPLICATE_SHARE:
            return [copy.deepcopy(event)]
        if roll < DUPLICATE_SHARE + CONFLICT_SHARE:
            return [self.conflict(event)]
        return []

    def conflict(self, event: JsonEvent) -> JsonEvent:
        """The same id with other content, as a buggy or replaying sender would send it."""
        other = {k: v for k, v in event.items() if k in _BASE_FIELDS}
        channel = event.get("channel")
        if channel is None:
            other |= {"type": "entered", "profile": f"{event['profile']}-replay"}
            return other
        types = sorted(t for t, chs in MATRIX.items() if channel in chs and t != event["type"])
        other["type"] = kind = str(self.rng.choice(types))
        if kind in ("excluded", "error"):
            other["reason"] = _pick(
                self.rng, (_EXCLUSIONS if kind == "excluded" else _ERRORS)[channel]
            )
        elif kind == "interaction":
            other["interaction"] = "other"
        elif kind == "click":
            other["url"] = "https://shop.example.com/"
        return other


def _format_time(ms: int) -> str:
    second = datetime.fromtimestamp(ms // 1000, UTC)
    return f"{second:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def _send_offset(rng: random.Random, span: float, run: int, runs: int) -> float:
    """Seconds after the start: each run opens with bursts of sends, then a tail."""
    run_start = span * 0.8 * run / runs
    room = span - run_start
    if rng.random() < 0.8:
        offset = rng.choice((0.0, 0.0, 0.02, 0.05)) * room + rng.expovariate(200 / room)
    else:
        offset = rng.expovariate(4 / room)
    return run_start + (offset if offset < room else rng.uniform(0, room))


#: The largest true lift a variant may be given: its email open chance (35 %) stays below 1.
MAX_LIFT = 2.5


def _check_lifts(lifts: Mapping[str, float], variants: Sequence[str]) -> None:
    if unknown := sorted(set(lifts) - set(variants)):
        raise ValueError(f"lifts: {unknown} are not variants; expected some of {list(variants)}")
    for variant, lift in lifts.items():
        if not (isinstance(lift, int | float) and 0 < lift <= MAX_LIFT):
            raise ValueError(
                f"lifts: {variant} has {lift!r}; expected a factor above 0, at most {MAX_LIFT}"
            )


def _check(campaign: str, channels: Sequence[str], labels: Sequence[str]) -> None:
    if not 1 <= len(campaign) <= 128:
        raise ValueError("campaign: expected 1 to 128 characters")
    if unknown := sorted(set(channels) - set(CHANNELS)):
        raise ValueError(f"unknown channel(s) {unknown}; expected some of {', '.join(CHANNELS)}")
    if any(not 1 <= len(label) <= 64 for label in labels):
        raise ValueError("executions and variants: expected 1 to 64 characters each")


def generate(
    *,
    seed: int,
    campaign: str,
    channels: Sequence[str] | None = CHANNELS,
    profiles: int = 1000,
    start: datetime,
    end: datetime,
    executions: Sequence[str] = (),
    variants: Sequence[str] = (),
    lifts: Mapping[str, float] | None = None,
) -> list[JsonEvent]:
    """A whole campaign's events between `start` and `end`, in the order a sender posts them.
    `lifts` gives variants a known true lift: each human open, click and push action chance
    of their recipients is multiplied by it (the others keep 1)."""
    return [
        event
        for event, _ in generate_labelled(
            seed=seed,
            campaign=campaign,
            channels=channels,
            profiles=profiles,
            start=start,
            end=end,
            executions=executions,
            variants=variants,
            lifts=lifts,
        )
    ]


def generate_labelled(
    *,
    seed: int,
    campaign: str,
    channels: Sequence[str] | None = CHANNELS,
    profiles: int = 1000,
    start: datetime,
    end: datetime,
    executions: Sequence[str] = (),
    variants: Sequence[str] = (),
    lifts: Mapping[str, float] | None = None,
) -> list[tuple[JsonEvent, bool]]:
    """:func:`generate`'s events (the same for the same arguments), each with its true label:
    True for an open or click a machine made (Apple's proxy, a scanner), whether or not the
    event says so. The label is never in the event; a repeated id carries its first one's."""
    channels = tuple(str(c) for c in channels or CHANNELS)
    _check(campaign, channels, (*executions, *variants))
    lifts = dict(lifts or {})
    _check_lifts(lifts, variants)
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise ValueError("start and end: expected timezone-aware datetimes, start before end")
    rng = random.Random(seed)
    stamper = _Stamper(rng, campaign)
    first, last = math.ceil(start.timestamp() * 1000), math.floor(end.timestamp() * 1000)
    runs = max(1, len(executions))
    drafts: list[Draft] = []
    for n in range(profiles):
        run = rng.randrange(runs)
        execution = executions[run] if executions else None
        p = _make_profile(rng, f"{stamper.prefix}-p{n}", execution, variants, lifts)
        at = first / 1000 + _send_offset(rng, (last - first) / 1000, run, runs)
        drafts.extend(_plan_profile(rng, campaign, p, channels, at, 1.0))
    drafts = [d for d in drafts if first <= math.floor(d[0] * 1000) <= last]
    drafts.sort(key=lambda d: d[0])
    queue: list[tuple[float, int, JsonEvent, bool]] = []
    for t, fields in drafts:
        label = bool(fields.get(TRUTH))
        event = stamper.stamp(t, fields)
        sent_at = t + (rng.expovariate(1 / 300) + 1 if rng.random() < LATE_SHARE else 0.0)
        queue.append((sent_at, len(queue), event, label))
        for again in stamper.redeliveries(event):
            queue.append((sent_at + rng.uniform(1, 3600), len(queue), again, label))
    queue.sort(key=lambda q: (q[0], q[1]))
    return [(event, label) for _, _, event, label in queue]


class LiveTraffic:
    """An endless campaign: profiles keep entering, earlier ones move down their funnels.

    `speed` compresses the funnels' delays (60: an open that would come an hour after
    delivery comes a minute after), so a live report shows engagement within minutes.
    `tag` goes into every id: two runs of the same seed with other tags send other events.
    `incidents` go wrong from their `start`, in seconds after `origin` (by default the start
    of the first batch), by the time of the events they change.
    """

    def __init__(
        self,
        seed: int,
        campaign: str,
        channels: Sequence[str] | None = CHANNELS,
        rate: float = 50.0,
        *,
        executions: Sequence[str] = (),
        variants: Sequence[str] = (),
        speed: float = 60.0,
        tag: str = "",
        incidents: Sequence[Incident] = (),
        origin: datetime | None = None,
        lifts: Mapping[str, float] | None = None,
    ) -> None:
        self.channels = tuple(str(c) for c in channels or CHANNELS)
        _check(campaign, self.channels, (*executions, *variants))
        self.lifts = dict(lifts or {})
        _check_lifts(self.lifts, variants)
        _check_incidents(incidents, self.channels)
        if origin is not None and origin.tzinfo is None:
            raise ValueError("origin: expected a timezone-aware datetime")
        self.incidents = tuple(incidents)
        self._origin = None if origin is None else origin.timestamp()
        self._windows: tuple[_Window, ...] | None = None  # placed in time by the first batch
        # Incidents draw from a generator of their own: outside their time, the traffic is
        # the very one the seed makes without them.
        self._incident_rng = random.Random(f"incidents-{seed}")
        self.campaign, self.rate, self.speed = campaign, rate, speed
        self.executions, self.variants = tuple(executions), tuple(variants)
        self._rng = random.Random(seed)
        self._stamper = _Stamper(self._rng, campaign, tag)
        self._pending: list[tuple[float, int, JsonEvent]] = []  # heap of future events
        self._held: list[JsonEvent] = []  # late and repeated deliveries, for the next batch
        self._profiles = self._seq = 0
        self._credit = 0.0

    def next_batch(self, now: datetime, seconds: float) -> list[JsonEvent]:
        """About `rate * seconds` events that happened by `now` (which must not go back)."""
        end = now.timestamp()
        begin = end - max(seconds, 0.0)
        if self._windows is None:
            origin = begin if self._origin is None else self._origin
            self._windows = tuple(_Window.place(i, origin) for i in self.incidents)
        self._credit += self.rate * max(seconds, 0.0)
        want = int(self._credit)
        self._credit -= want
        held, self._held = self._held, []
        fresh: list[Draft] = []
        while len(fresh) + len(held) < want:
            if self._pending and self._pending[0][0] <= end:
                t, _, fields = heapq.heappop(self._pending)
                event = self._stamper.stamp(t, fields)
                late = self._rng.random() < LATE_SHARE
                if late:
                    self._held.append(event)
                else:
                    fresh.append((t, event))
                self._held.extend(self._stamper.redeliveries(event))
            else:  # every new profile brings at least its `entered`, due at once
                self._enter(self._rng.uniform(begin, end))
        fresh.sort(key=lambda d: d[0])
        return [event for _, event in fresh] + held

    def warm_up(self, start: datetime, end: datetime) -> None:
        """Run from `start` to `end` delivering nothing: at `end`, funnels are under way."""
        for _ in replay(self, start, end):
            pass
        # Nor later: late deliveries of those events, and those due but not yet taken.
        self._held.clear()
        while self._pending and self._pending[0][0] <= end.timestamp():
            heapq.heappop(self._pending)

    def _enter(self, t: float) -> None:
        rng, self._profiles = self._rng, self._profiles + 1
        execution = rng.choice(self.executions) if self.executions else None
        name = f"{self._stamper.prefix}-p{self._profiles}"
        p = _make_profile(rng, name, execution, self.variants, self.lifts)
        drafts = _plan_profile(rng, self.campaign, p, self.channels, t, 1 / self.speed)
        for window in self._windows or ():
            drafts = window.disturb(drafts, self._incident_rng, 1 / self.speed)
        for when, fields in drafts:
            self._seq += 1
            heapq.heappush(self._pending, (when, self._seq, fields))


def replay(
    traffic: LiveTraffic, start: datetime, end: datetime, batch: int = 5000
) -> Iterator[list[JsonEvent]]:
    """The traffic between `start` and `end`, at its rate, made as fast as it is read, about
    `batch` events at a time: the history a live stream continues (`livereport demo`)."""
    step = timedelta(seconds=batch / traffic.rate)
    t = start
    while t < end:
        later = min(t + step, end)
        yield traffic.next_batch(later, (later - t).total_seconds())
        t = later


def history(
    traffic: Callable[[int], LiveTraffic],
    start: datetime,
    end: datetime,
    *,
    chunk: timedelta = timedelta(hours=1),
    warmup: timedelta = timedelta(minutes=15),
    batch: int = 5000,
) -> Iterator[list[JsonEvent]]:
    """The traffic of the hours between `start` and `end`, the latest hour first, so that a
    report read while it loads shows a campaign running until now. Each hour comes from its
    own `traffic(n)` (n = 0, 1, …), run for `warmup` first: its funnels are under way from
    the hour's first minute, as they would be had the campaign run all along."""
    top, n = end, 0
    while top > start:
        bottom = max(start, top - chunk)
        hour = traffic(n)
        hour.warm_up(bottom - warmup, bottom)
        yield from replay(hour, bottom, top, batch)
        top, n = bottom, n + 1


# incidents: what alert rules are written to catch


class IncidentKind(StrEnum):
    BOUNCE_STORM = "bounce-storm"
    COMPLAINT_SPIKE = "complaint-spike"
    STALL = "stall"


#: The share of the sends (bounce storm) or of the deliveries (complaint spike) hit by default.
INCIDENT_SHARES: Final[Mapping[IncidentKind, float]] = {
    IncidentKind.BOUNCE_STORM: 0.4,
    IncidentKind.COMPLAINT_SPIKE: 0.02,
}
#: Channels that report deliveries: where bounces and stalls can happen.
_ANSWERING: Final = tuple(c.value for c in Channel if c in MATRIX[EventType.DELIVERED])
_INCIDENT_CHANNELS: Final[Mapping[IncidentKind, tuple[str, ...]]] = {
    IncidentKind.BOUNCE_STORM: _ANSWERING,
    IncidentKind.COMPLAINT_SPIKE: tuple(c.value for c in MATRIX[EventType.SPAM_COMPLAINT]),
    IncidentKind.STALL: _ANSWERING,
}
#: What a stalled channel stops reporting: every answer of the provider or the recipient.
_STALLED: Final = frozenset(
    {"delivered", "bounce", "retry", "open", "click", "unsubscribe", "spam_complaint", "action"}
)
#: The failure code of a recipient that does not exist, by provider: a stale list's bounces.
_UNKNOWN_CODES: Final = {"twilio": "21211", "apns": "Unregistered", "fcm": "UNREGISTERED"}


@dataclass(frozen=True, kw_only=True)
class Incident:
    """Something going wrong on one channel, from `start` for `duration` seconds.

    bounce-storm     `share` of the sends (0.4) bounce hard as unknown users (SMTP 550 5.1.1;
                     the provider's code on SMS and push), their addresses at `domain`: a stale
                     list from one mailbox provider, so that a rule on recipient_domain fires too
    complaint-spike  `share` of the deliveries (0.02) draw a spam complaint
    stall            the provider goes quiet: no delivered, bounce, open… on the channel, while
                     the sends go on
    """

    kind: IncidentKind
    channel: str = "email"
    start: float = 0.0
    duration: float = 300.0
    share: float | None = None
    domain: str = "outlook.com"

    def __post_init__(self) -> None:
        kind = _incident_kind(self.kind)
        object.__setattr__(self, "kind", kind)
        if self.channel not in _INCIDENT_CHANNELS[kind]:
            raise ValueError(
                f"incident channel: a {kind} cannot happen on {self.channel!r}; "
                f"expected one of {', '.join(_INCIDENT_CHANNELS[kind])}"
            )
        if not (math.isfinite(self.start) and self.start >= 0):
            raise ValueError(f"incident start: {self.start} s; expected 0 or more seconds")
        if not (math.isfinite(self.duration) and self.duration > 0):
            raise ValueError(f"incident duration: {self.duration} s; expected more than 0 seconds")
        if self.share is not None and kind not in INCIDENT_SHARES:
            raise ValueError(f"incident share: a {kind} has none; expected no share")
        if self.share is not None and not 0 < self.share <= 1:
            raise ValueError(f"incident share: {self.share}; expected more than 0, at most 1")
        if normalise_domain(self.domain) is None:
            raise ValueError(f"incident domain: {self.domain!r}; expected a domain name")

    @property
    def fraction(self) -> float:
        """The share it hits: the one given, or its kind's (1: a stall stops every answer)."""
        return INCIDENT_SHARES.get(self.kind, 1.0) if self.share is None else self.share

    @classmethod
    def parse(cls, spec: str) -> Incident:
        """One from the command line: ``KIND[:key=value,…]`` with the keys channel, start and
        duration (seconds, or with s, m, h), share (0.4 or 40%) and domain; for instance
        ``bounce-storm:start=2m,duration=5m,share=0.4``. A ValueError says what is wrong."""
        kind, _, rest = spec.strip().partition(":")
        fields: dict[str, Any] = {}
        for item in filter(None, (part.strip() for part in rest.split(","))):
            key, equals, value = (part.strip() for part in item.partition("="))
            if not equals or key not in _SPEC_KEYS or key in fields:
                raise ValueError(
                    f"incident {spec!r}: {item!r}; expected key=value, each key "
                    f"once, the keys {', '.join(_SPEC_KEYS)}"
                )
            try:
                fields[key] = _SPEC_KEYS[key](value)
            except ValueError as exc:
                raise ValueError(f"incident {spec!r}: {key}: {exc}") from None
        return cls(kind=_incident_kind(kind), **fields)


def _incident_kind(value: str) -> IncidentKind:
    try:
        return IncidentKind(value)
    except ValueError:
        kinds = ", ".join(k.value for k in IncidentKind)
        raise ValueError(f"incident kind {value!r} is unknown; expected one of {kinds}") from None


def _seconds(value: str) -> float:
    unit = {"s": 1, "m": 60, "h": 3600}.get(value[-1:].lower())
    try:
        return float(value[:-1] if unit else value) * (unit or 1)
    except ValueError:
        raise ValueError(f"{value!r}; expected seconds, or a number with s, m or h") from None


def _share(value: str) -> float:
    try:
        return float(value[:-1]) / 100 if value.endswith("%") else float(value)
    except ValueError:
        raise ValueError(f"{value!r}; expected a share such as 0.4 or 40%") from None


_SPEC_KEYS: Final[Mapping[str, Callable[[str], Any]]] = {
    "channel": str,
    "start": _seconds,
    "duration": _seconds,
    "share": _share,
    "domain": str,
}


def _check_incidents(incidents: Sequence[Incident], channels: Sequence[str]) -> None:
    for incident in incidents:
        if incident.channel not in channels:
            raise ValueError(
                f"incident {incident.kind} on {incident.channel}: the traffic has no "
                f"{incident.channel}; expected one of {', '.join(channels)}"
            )


@dataclass(frozen=True)
class _Window:
    """An incident placed in time (epoch seconds), applied to each profile's planned events."""

    incident: Incident
    begin: float
    end: float

    @classmethod
    def place(cls, incident: Incident, origin: float) -> _Window:
        start = origin + incident.start
        return cls(incident, start, start + incident.duration)

    def covers(self, t: float) -> bool:
        return self.begin <= t < self.end

    def disturb(self, drafts: list[Draft], rng: random.Random, scale: float) -> list[Draft]:
        return _DISTURB[self.incident.kind](self, drafts, rng, scale)


def _without_type(event: JsonEvent) -> JsonEvent:
    return {k: v for k, v in event.items() if k != "type"}


def _storm(w: _Window, drafts: list[Draft], rng: random.Random, scale: float) -> list[Draft]:
    """A profile whose message went out within the storm may get a hard bounce at once, in
    place of whatever was to follow; its address moves to the storm's domain."""
    channel = w.incident.channel
    mine = [(t, e) for t, e in drafts if e.get("channel") == channel]
    sent = next(((t, e) for t, e in mine if e["type"] == "sent"), None)
    # From its first event on: no event before the storm changes.
    if sent is None or not (w.covers(min(t for t, _ in mine)) and w.covers(sent[0])):
        return drafts
    if rng.random() >= w.incident.fraction:
        return drafts
    kept: list[Draft] = []
    for t, e in drafts:
        if e.get("channel") != channel:
            kept.append((t, e))
        elif t <= sent[0]:
            kept.append((t, _moved(e, w.incident.domain)))
    fields = _without_type(_moved(sent[1], w.incident.domain))
    bounce = {**fields, "type": "bounce", **_unknown_user(fields)}
    return [*kept, (sent[0] + rng.expovariate(1 / 30) * scale, bounce)]


def _moved(event: JsonEvent, domain: str) -> JsonEvent:
    """The event with its email address at another domain."""
    if event.get("channel") != "email" or "recipient" not in event:
        return event
    return {**event, "recipient": f"{event['recipient'].rsplit('@', 1)[0]}@{domain}"}


def _unknown_user(event: JsonEvent) -> JsonEvent:
    """A hard bounce's fields for a recipient that does not exist, as its channel says it."""
    if event["channel"] == "email":
        status, code, text = _USER_UNKNOWN
        smtp = {"status": status, "code": code, "diagnostic": text.format(addr=event["recipient"])}
        return {"bounce": "hard", "reason": "Invalid Recipient", "smtp": smtp}
    service = "twilio" if event["channel"] == "sms" else _push_service(event.get("platform", ""))
    failure = read_failure(service, _UNKNOWN_CODES[service])
    assert failure is not None  # the table above holds known codes only
    return {"code": failure.code, "reason": failure.reason, "bounce": failure.category}


def _complaints(w: _Window, drafts: list[Draft], rng: random.Random, scale: float) -> list[Draft]:
    """Some deliveries within the spike draw a spam complaint, a couple of minutes later."""
    added: list[Draft] = []
    for t, e in drafts:
        if e.get("channel") == w.incident.channel and e["type"] == "delivered" and w.covers(t):
            if rng.random() < w.incident.fraction:
                complaint = {**_without_type(e), "type": "spam_complaint"}
                added.append((t + rng.expovariate(1 / 120) * scale, complaint))
    return drafts + added


def _stall(w: _Window, drafts: list[Draft], rng: random.Random, scale: float) -> list[Draft]:
    """The provider goes quiet: what it or the recipient would answer within the stall is lost."""
    channel = w.incident.channel
    return [
        (t, e)
        for t, e in drafts
        if not (e.get("channel") == channel and e["type"] in _STALLED and w.covers(t))
    ]


_DISTURB: Final[
    Mapping[IncidentKind, Callable[[_Window, list[Draft], random.Random, float], list[Draft]]]
] = {
    IncidentKind.BOUNCE_STORM: _storm,
    IncidentKind.COMPLAINT_SPIKE: _complaints,
    IncidentKind.STALL: _stall,
}


class _Minute:
    """A batch of events within the minute of `now`, none after it, with ids of their own."""

    def __init__(
        self, label: str, *, campaign: str, channel: str, sends: int, now: datetime, seed: int
    ) -> None:
        _check(campaign, (channel,), ())
        if now.tzinfo is None:
            raise ValueError("now: expected a timezone-aware datetime")
        if sends < 0:
            raise ValueError(f"sends: {sends}; expected 0 or more")
        self.campaign, self.channel = campaign, channel
        self.rng = random.Random(f"{label}-{seed}")
        self.last = math.floor(now.timestamp() * 1000)
        self.first = self.last - self.last % 60_000
        name = "".join(c for c in campaign[:56] if c.isprintable())
        # Unique to the minute, the seed and the label: batches of several minutes all count.
        self.prefix = f"{name}-{label}-{channel}-{self.first // 60_000}-s{seed % 10**9}"
        self.drafts: list[tuple[int, JsonEvent]] = []

    def recipient(self, n: int) -> tuple[_Profile, JsonEvent, list[int]]:
        """The n-th recipient, the fields of its events, and three times in order."""
        p = _make_profile(self.rng, f"{self.prefix}-p{n}", None, (), {})
        common = {
            "campaign": self.campaign,
            "profile": p.id,
            "channel": self.channel,
            **_address(p, self.channel),
        }
        return p, common, sorted(self.rng.randint(self.first, self.last) for _ in range(3))

    def add(self, ms: int, fields: JsonEvent, type_: str) -> None:
        self.drafts.append((ms, {**fields, "type": type_}))

    def events(self) -> list[JsonEvent]:
        ordered = sorted(self.drafts, key=lambda d: d[0])
        return [
            {"id": f"{self.prefix}-{n}", "time": _format_time(ms), **fields}
            for n, (ms, fields) in enumerate(ordered, 1)
        ]


def incident_batch(
    kind: IncidentKind | str,
    *,
    campaign: str,
    channel: str = "email",
    sends: int = 200,
    share: float | None = None,
    domain: str = "outlook.com",
    now: datetime,
    seed: int = 1,
) -> list[JsonEvent]:
    """One minute that makes an incident plain, its rates known exactly by counting:
    `sends` sent, then for a bounce-storm round(sends × share) hard bounces of unknown users at
    `domain` and the rest delivered; for a complaint-spike every one delivered and
    round(sends × share) spam complaints; for a stall nothing more."""
    incident = Incident(kind=_incident_kind(kind), channel=channel, share=share, domain=domain)
    minute = _Minute(
        incident.kind, campaign=campaign, channel=channel, sends=sends, now=now, seed=seed
    )
    hit = set(minute.rng.sample(range(sends), round(sends * incident.fraction)))
    for n in range(sends):
        _, common, (sent, answered, later) = minute.recipient(n)
        if incident.kind == IncidentKind.BOUNCE_STORM and n in hit:
            common = _moved(common, domain)
            minute.add(sent, common, "sent")
            minute.add(answered, {**common, **_unknown_user(common)}, "bounce")
            continue
        minute.add(sent, common, "sent")
        if incident.kind != IncidentKind.STALL:
            minute.add(answered, common, "delivered")
        if incident.kind == IncidentKind.COMPLAINT_SPIKE and n in hit:
            minute.add(later, common, "spam_complaint")
    return minute.events()


def healthy_batch(
    *, campaign: str, channel: str = "email", sends: int = 200, now: datetime, seed: int = 1
) -> list[JsonEvent]:
    """One ordinary minute in the same form: `sends` sent, sends // 100 of them bounced (as
    the simulator's bounces come), the rest delivered, a quarter of those opened (email and
    push); no complaint."""
    if channel not in _ANSWERING:
        raise ValueError(f"channel: {channel!r}; expected one of {', '.join(_ANSWERING)}")
    minute = _Minute("healthy", campaign=campaign, channel=channel, sends=sends, now=now, seed=seed)
    bounced = set(minute.rng.sample(range(sends), sends // 100))
    delivered = [n for n in range(sends) if n not in bounced]
    opened = set(minute.rng.sample(delivered, len(delivered) // 4))
    opens = channel in MATRIX[EventType.OPEN]
    for n in range(sends):
        p, common, (sent, answered, later) = minute.recipient(n)
        minute.add(sent, common, "sent")
        if n in bounced:
            funnel = _Funnel(minute.rng, 1.0, common)
            (_bounce_email if channel == "email" else _bounce_mobile)(funnel, p, 0.0)
            minute.drafts.append((answered, funnel.drafts[0][1]))
            continue
        minute.add(answered, common, "delivered")
        if opens and n in opened:
            minute.add(later, common, "open")
    return minute.events()


class _Reply(msgspec.Struct):
    accepted: int
    duplicates: int
    rejected: list[Any]


_RETRY_STATUSES = frozenset({429, 503})
_MAX_ATTEMPTS = 8
_sleep = time.sleep  # tests replace it


def post_events(
    client: httpx.Client, url: str, key: str, events: list[JsonEvent], batch: int = 1000
) -> dict[str, int]:
    """POST events in batches; retry what the server could not take. Returns summed counts."""
    endpoint = f"{url.rstrip('/')}/v1/events"
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    totals = {"accepted": 0, "duplicates": 0, "rejected": 0}
    for i in range(0, len(events), batch):
        reply = _post(client, endpoint, headers, msgspec.json.encode(events[i : i + batch]))
        totals["accepted"] += reply.accepted
        totals["duplicates"] += reply.duplicates
        totals["rejected"] += len(reply.rejected)
    return totals


def _post(client: httpx.Client, endpoint: str, headers: dict[str, str], body: bytes) -> _Reply:
    """Send one body until it is answered; the events' ids make resending it safe."""
    attempt = 0
    while True:
        attempt += 1
        try:
            response = client.post(endpoint, content=body, headers=headers)
        except httpx.TransportError:
            if attempt >= _MAX_ATTEMPTS:
                raise
            _sleep(_backoff(attempt))
            continue
        if response.status_code in _RETRY_STATUSES and attempt < _MAX_ATTEMPTS:
            _sleep(_retry_after(response, attempt))
            continue
        response.raise_for_status()
        return msgspec.json.decode(response.content, type=_Reply)


def _backoff(attempt: int) -> float:
    return min(10.0, 0.25 * 2.0**attempt)


def _retry_after(response: httpx.Response, attempt: int) -> float:
    value = response.headers.get("Retry-After", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            seconds = _backoff(attempt)
    return min(max(seconds, 0.0), 60.0)


def run(
    url: str,
    key: str,
    *,
    campaign: str = "simulated-campaign",
    rate: float = 50.0,
    duration: float | None = None,
    seed: int = 1,
    channels: Sequence[str] | None = None,
    on_batch: Callable[[list[JsonEvent], dict[str, int]], None] | None = None,
    incidents: Sequence[Incident] = (),
) -> dict[str, int]:
    """Stream live traffic to a server, one POST a second, for `duration` s or until Ctrl-C.

    Returns the summed counts; `on_batch(events, counts)` sees each batch as it is answered.
    `incidents` start their seconds after the run does.
    """
    traffic = LiveTraffic(seed, campaign, channels, rate, incidents=incidents)
    totals = {"accepted": 0, "duplicates": 0, "rejected": 0}
    stop = time.monotonic() + duration if duration else math.inf
    last = datetime.now(UTC) - timedelta(seconds=1)
    try:
        with httpx.Client(timeout=30.0) as client:
            while (tick := time.monotonic()) < stop:
                now = datetime.now(UTC)
                events = traffic.next_batch(now, (now - last).total_seconds())
                last = now
                counts = post_events(client, url, key, events)
                for name, count in counts.items():
                    totals[name] += count
                if on_batch is not None:
                    on_batch(events, counts)
                _sleep(max(0.0, min(tick + 1.0, stop) - time.monotonic()))
    except KeyboardInterrupt:
        pass  # the way to stop an endless run; what was sent is counted
    return totals
