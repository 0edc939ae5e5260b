"""The machine step of the ingest pipeline (ingest/pipeline.py): which opens and clicks a
machine made, and by which rule (SPEC §11, docs/machine-detection.md).

The rules are declared once, in :data:`RULES`, in the order they are tried; the first that
decides names itself on the event (``machine_rule``), as a bounce keeps its reason. Machine
events are stored and counted apart, never dropped. Two rules remember recent deliveries and
clicks (:class:`Memory`): one per ingest process, bounded, and blind to what another process
saw or what came before a restart.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

import msgspec

from livereport.events import Event

#: (user agent, IP) of an open or click, "" when not given (ingest/decode.py ``Batch.clients``).
Client = tuple[str, str]
_NO_CLIENT: Final = ("", "")

#: An open within this time of the same profile's delivery is a machine's: a person's client
#: must sync the mail (a push takes about a second) and the person notice and open it, which
#: seldom happens within 3 s; a prefetching proxy or a gateway scanner fetches at once.
FAST_OPEN_MS: Final = 3_000
#: A click within this time of the delivery is a machine's: a person must open the mail, read
#: it and find the link, which takes well over 10 s; a link scanner follows links on arrival.
FAST_CLICK_MS: Final = 10_000
#: A delivery stamped up to this much after the open or click still counts (clock skew
#: between the sender's delivery event and the tracking server's).
SKEW_MS: Final = 1_000
#: Clicks of at least this many distinct links of a campaign by one profile within
#: BURST_MS are a machine's: a scanner requests every link of the mail at once.
BURST_LINKS: Final = 3
BURST_MS: Final = 2_000

#: Apple Mail Privacy Protection fetches remote content with this bare user agent.
APPLE_PROXY_AGENT: Final = "Mozilla/5.0"
#: Where Apple's proxy fetches from: Apple's own address blocks, as registered. As of
#: 2026-12-04, from the registries' records (ARIN NET-17-0-0-0-1 "Apple Inc." for 17.0.0.0/8;
#: ARIN 2620:149::/32 and RIPE 2a01:b740::/32, both Apple Inc.). iCloud Private Relay's egress
#: ranges are not here: they serve people browsing too.
APPLE_RANGES_AS_OF: Final = "2026-12-04"
APPLE_RANGES: Final = tuple(
    ipaddress.ip_network(block) for block in ("17.0.0.0/8", "2620:149::/32", "2a01:b740::/32")
)

#: User agents of security scanners, link checkers, previews and scripts. Not Gmail's or
#: Yahoo's image proxies: they fetch when the person opens the mail, so those opens are human.
#: Looked for in the lower-cased user agent: one substring search each is far faster than a
#: regular expression of as many alternatives.
SCANNER_WORDS: Final = (
    "barracuda",
    "proofpoint",
    "mimecast",
    "symantec",
    "messagelabs",
    "trendmicro",
    "trend micro",
    "fireeye",
    "forcepoint",
    "sophos",
    "fortinet",
    "ironport",
    "safelinks",
    "bot/",
    "crawler",
    "spider",
    "scanner",
    "headlesschrome",
    "phantomjs",
    "curl/",
    "wget/",
    "python-requests",
    "python-urllib",
    "aiohttp",
    "go-http-client",
    "libwww-perl",
    "apache-httpclient",
    "okhttp/",
    "facebookexternalhit",
    "whatsapp/",
    "slackbot",
    "discordbot",
    "telegrambot",
    "twitterbot",
    "skypeuripreview",
)
#: What a substring cannot say: "bot" as a word ("Googlebot" has "bot/"), a Java client.
_SCANNER_PATTERNS: Final = (r"\bbot\b", r"java/\d")
_SCANNER_REST: Final = re.compile("|".join(_SCANNER_PATTERNS))
#: The same test as one case-insensitive expression, for readers and other tools (tests,
#: exports); :func:`is_scanner_agent` is its fast equivalent.
SCANNER_AGENT: Final = re.compile(
    "|".join([*(re.escape(word) for word in SCANNER_WORDS), *_SCANNER_PATTERNS]), re.IGNORECASE
)


@functools.lru_cache(maxsize=16_384)
def is_scanner_agent(user_agent: str) -> bool:
    """Whether a user agent is a scanner's, bot's or script's: SCANNER_AGENT, faster (cached:
    a campaign's opens and clicks come from a few thousand user agents)."""
    lowered = user_agent.lower()
    return any(word in lowered for word in SCANNER_WORDS) or bool(_SCANNER_REST.search(lowered))


class Memory:
    """Recent deliveries and clicks of this process, by (org, campaign, channel, profile).

    Bounded two ways: at most ``capacity`` keys each (the oldest noted go first), and nothing
    kept longer than ``horizon_s`` seconds of wall time after it was noted (a late delivery
    still meets its open within that time). Thread-safe: requests are prepared in parallel.
    """

    def __init__(self, capacity: int = 100_000, horizon_s: float = 900.0) -> None:
        self.capacity = capacity
        self.horizon_s = horizon_s
        self._lock = threading.Lock()
        #: key → (latest delivery time ms, monotonic time noted)
        self._deliveries: OrderedDict[tuple[int, str, str, str], tuple[int, float]] = OrderedDict()
        #: key → [(click time ms, url)], at most 16, and the monotonic time last noted
        self._clicks: OrderedDict[
            tuple[int, str, str, str], tuple[list[tuple[int, str]], float]
        ] = OrderedDict()

    def __len__(self) -> int:
        return len(self._deliveries) + len(self._clicks)

    def note(self, org: int, events: Sequence[Event]) -> None:
        """Remember the deliveries and clicks of a batch (given in time order)."""
        now = time.monotonic()
        deliveries, clicks = self._deliveries, self._clicks
        with self._lock:
            for e in events:
                key = (org, e.campaign, e.channel, e.profile)
                if e.type == "delivered":
                    known = deliveries.pop(key, None)
                    at = e.time_ms if known is None else max(known[0], e.time_ms)
                    deliveries[key] = (at, now)
                elif e.type == "click":
                    seen, _ = clicks.pop(key, ([], now))
                    seen.append((e.time_ms, e.url))
                    if len(seen) > 16:
                        del seen[0]
                    clicks[key] = (seen, now)
            for table in (deliveries, clicks):
                while table and (
                    len(table) > self.capacity
                    or next(iter(table.values()))[1] < now - self.horizon_s
                ):
                    table.popitem(last=False)

    def delivered_at(self, key: tuple[int, str, str, str]) -> int | None:
        with self._lock:
            found = self._deliveries.get(key)
        return None if found is None else found[0]

    def links_near(self, key: tuple[int, str, str, str], at_ms: int, within_ms: int) -> int:
        """How many distinct links the profile clicked within ``within_ms`` either side."""
        with self._lock:
            found = self._clicks.get(key)
            seen = list(found[0]) if found is not None else []
        return len({url for t, url in seen if abs(t - at_ms) <= within_ms})


#: The memory of this ingest process (a command's); a server's app keeps one of its own.
PROCESS_MEMORY: Final = Memory()


@dataclass(frozen=True)
class Look:
    """What a rule may look at for one open or click."""

    org: int
    event: Event
    user_agent: str
    ip: str
    memory: Memory

    @property
    def key(self) -> tuple[int, str, str, str]:
        e = self.event
        return (self.org, e.campaign, e.channel, e.profile)


@dataclass(frozen=True)
class MachineRule:
    """One way of recognising a machine's open or click."""

    name: str
    label: str
    help: str
    #: What the rule needs from the events.
    needs: str
    #: The (type, channel) pairs it looks at.
    applies_to: frozenset[tuple[str, str]]
    decide: Callable[[Look], bool]
    #: False for the sender's and provider's own word, which an org cannot overrule.
    can_turn_off: bool = True


@functools.lru_cache(maxsize=65_536)
def in_apple_ranges(ip: str) -> bool:
    """Whether an address lies in Apple's blocks (APPLE_RANGES); False for a bad address."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == net.version and address in net for net in APPLE_RANGES)


def _flagged(look: Look) -> bool:
    return look.event.machine


def _apple_proxy(look: Look) -> bool:
    return look.user_agent.strip() == APPLE_PROXY_AGENT or bool(
        look.ip and in_apple_ranges(look.ip)
    )


def _scanner_agent(look: Look) -> bool:
    return bool(look.user_agent) and is_scanner_agent(look.user_agent)


def _fast_after_delivery(look: Look) -> bool:
    delivered = look.memory.delivered_at(look.key)
    if delivered is None:
        return False
    limit = FAST_OPEN_MS if look.event.type == "open" else FAST_CLICK_MS
    return -SKEW_MS <= look.event.time_ms - delivered <= limit


def _link_burst(look: Look) -> bool:
    return bool(look.event.url) and (
        look.memory.links_near(look.key, look.event.time_ms, BURST_MS) >= BURST_LINKS
    )


_EMAIL_OPEN = ("open", "email")
_EMAIL_CLICK = ("click", "email")
_SMS_CLICK = ("click", "sms")
_PUSH_OPEN = ("open", "push")

#: Every rule, in the order they are tried.
RULES: Final[tuple[MachineRule, ...]] = (
    MachineRule(
        name="flagged",
        label="Flagged by the sender or provider",
        help="The event came with machine: true, set by the sender or by the provider's own "
        "bot detection (SendGrid's machine open, Mailgun's bot field for Apple's proxy "
        "and scanners). It is their word, so it cannot be turned off.",
        needs="the event's machine field",
        applies_to=frozenset({_EMAIL_OPEN, _EMAIL_CLICK, _SMS_CLICK, _PUSH_OPEN}),
        decide=_flagged,
        can_turn_off=False,
    ),
    MachineRule(
        name="apple_proxy",
        label="Apple Mail Privacy Protection",
        help="An email open fetched by Apple's privacy proxy, which loads the images of every "
        "mail it receives whether or not the person reads it: the bare user agent "
        f"'{APPLE_PROXY_AGENT}', or a client IP in Apple's own address blocks "
        f"(as of {APPLE_RANGES_AS_OF}).",
        needs="the open's user_agent or ip",
        applies_to=frozenset({_EMAIL_OPEN}),
        decide=_apple_proxy,
    ),
    MachineRule(
        name="scanner_agent",
        label="Scanner or bot user agent",
        help="An open or click whose user agent names a mail security gateway (Barracuda, "
        "Proofpoint, Mimecast…), a link checker, a crawler, a headless browser or an HTTP "
        "library. Gmail's and Yahoo's image proxies are not in the list: they fetch when "
        "the person opens the mail.",
        needs="the event's user_agent",
        applies_to=frozenset({_EMAIL_OPEN, _EMAIL_CLICK, _SMS_CLICK}),
        decide=_scanner_agent,
    ),
    MachineRule(
        name="fast_after_delivery",
        label="Too soon after delivery",
        help=f"An open within {FAST_OPEN_MS // 1000} s, or a click within "
        f"{FAST_CLICK_MS // 1000} s, of the delivery of the same campaign and channel to "
        "the same profile: quicker than a person reads, as fast as a gateway scanner. "
        "Needs the delivered event, sent to the same ingest node before or with the open.",
        needs="the delivered event of the same profile, campaign and channel",
        applies_to=frozenset({_EMAIL_OPEN, _EMAIL_CLICK, _SMS_CLICK}),
        decide=_fast_after_delivery,
    ),
    MachineRule(
        name="link_burst",
        label="Every link clicked at once",
        help=f"A click among {BURST_LINKS} or more distinct links of the campaign clicked by the "
        f"same profile within {BURST_MS / 1000:g} s: a scanner following every link of the "
        "mail. People click one link, then another after reading.",
        needs="the clicks' url, sent to the same ingest node",
        applies_to=frozenset({_EMAIL_CLICK, _SMS_CLICK}),
        decide=_link_burst,
    ),
)
NAMES: Final = tuple(rule.name for rule in RULES)
BY_NAME: Final[Mapping[str, MachineRule]] = {rule.name: rule for rule in RULES}
FIXED: Final = frozenset(rule.name for rule in RULES if not rule.can_turn_off)


def check_disabled(names: Sequence[object]) -> tuple[str, ...]:
    """The rule names an org asks to turn off, checked; ValueError naming what is wrong."""
    unknown = [n for n in names if not isinstance(n, str) or n not in BY_NAME]
    if unknown:
        raise ValueError(
            f"{str(unknown[0])[:64]!r} is not a machine rule; expected some of {', '.join(NAMES)}"
        )
    fixed = sorted(FIXED.intersection(str(n) for n in names))
    if fixed:
        raise ValueError(
            f"{fixed[0]!r} cannot be turned off: it is the sender's or provider's own flag"
        )
    return tuple(sorted(set(str(n) for n in names)))


def detect(
    events: list[tuple[int, Event]],
    clients: Mapping[int, Client],
    org: int,
    disabled: Callable[[], Collection[str]],
    memory: Memory,
    rules: Sequence[MachineRule] = RULES,
) -> int:
    """Decide ``machine`` and ``machine_rule`` of every open and click in place; return how
    many are a machine's. ``disabled`` is called once, and only when there is an open or click;
    ``rules`` are all of them but for a study of what each contributes (bench/).

    Deliveries and clicks are noted first, in time order (a batch may come out of order), so
    that a delivery later in the batch than its open still counts.
    """
    noted: list[Event] = []
    engaged: list[int] = []
    for position, (_, e) in enumerate(events):
        kind = e.type
        if kind == "open" or kind == "click":
            engaged.append(position)
            if kind == "click":
                noted.append(e)
        elif kind == "delivered":
            noted.append(e)
    if not engaged:
        if noted:
            memory.note(org, sorted(noted, key=_time))
        return 0
    if noted:
        memory.note(org, sorted(noted, key=_time))
    off = disabled()
    if off:
        rules = [r for r in rules if r.name not in off or not r.can_turn_off]
    machines = 0
    for position in engaged:
        index, e = events[position]
        user_agent, ip = clients.get(index, _NO_CLIENT)
        look = Look(org, e, user_agent, ip, memory)
        pair = (e.type, e.channel)
        rule = next((r.name for r in rules if pair in r.applies_to and r.decide(look)), "")
        if rule:
            machines += 1
        if bool(rule) != e.machine or rule != e.machine_rule:
            events[position] = (
                index,
                msgspec.structs.replace(e, machine=bool(rule), machine_rule=rule),
            )
    return machines


def _time(e: Event) -> int:
    return e.time_ms


# --- an org's settings, cached ------------------------------------------------------------------


class SettingsStore(Protocol):
    """What this module needs from metadata (store/metadata/rules.py)."""

    @property
    def path(self) -> object: ...

    def machine_rules_version(self, org_id: int) -> int: ...

    def disabled_machine_rules(self, org_id: int) -> tuple[int, tuple[str, ...]]: ...


#: How long a node trusts its cached settings before asking metadata for their version again.
RECHECK_S: Final = 1.0


class _Settings:
    """The rules each org turned off, by (metadata location, org): checked against the stored
    version at most once a second, so a change saved through any node applies on every node
    within a second, and at once on the node that saved it (:func:`forget`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cached: dict[tuple[str, int], tuple[int, frozenset[str], float]] = {}

    def disabled(self, metadata: SettingsStore, org_id: int) -> frozenset[str]:
        place = (str(metadata.path), org_id)
        now = time.monotonic()
        with self._lock:
            cached = self._cached.get(place)
        if cached is not None and now - cached[2] < RECHECK_S:
            return cached[1]
        version = metadata.machine_rules_version(org_id)
        if cached is not None and cached[0] == version:
            names = cached[1]
        else:
            version, stored = metadata.disabled_machine_rules(org_id) if version else (0, ())
            names = frozenset(stored)
        with self._lock:
            self._cached[place] = (version, names, now)
        return names

    def forget(self, metadata: SettingsStore, org_id: int) -> None:
        with self._lock:
            self._cached.pop((str(metadata.path), org_id), None)


_SETTINGS = _Settings()


def disabled_rules(metadata: SettingsStore, org_id: int) -> frozenset[str]:
    """The names of the rules the org turned off (cached; see _Settings)."""
    return _SETTINGS.disabled(metadata, org_id)


def forget(metadata: SettingsStore, org_id: int) -> None:
    """Drop the org's cached settings: the next batch reads them again."""
    _SETTINGS.forget(metadata, org_id)
