"""The event contract v1 (SPEC §2): channels, types, the channel × type matrix, and validation.

The ingest pipeline decodes each incoming event with :func:`decode_incoming` (or a whole body
at once) and checks it with :func:`normalise`, which returns a normalised :class:`Event` or
raises :class:`~livereport.errors.InvalidEvent` listing each bad field.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Final

import idna
import msgspec

from livereport.errors import InvalidEvent


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"
    INAPP = "inapp"
    WEB = "web"
    DIRECTMAIL = "directmail"


#: The pseudo-channel of campaign-level events and reports.
CAMPAIGN: Final = "campaign"


class EventType(StrEnum):
    ENTERED = "entered"
    TARGETED = "targeted"
    EXCLUDED = "excluded"
    SENT = "sent"
    DELIVERED = "delivered"
    BOUNCE = "bounce"
    ERROR = "error"
    RETRY = "retry"
    OPEN = "open"
    CLICK = "click"
    UNSUBSCRIBE = "unsubscribe"
    SPAM_COMPLAINT = "spam_complaint"
    ACTION = "action"
    IMPRESSION = "impression"
    INTERACTION = "interaction"


class Bounce(StrEnum):
    """What a bounce says about the address: stop (hard), retry later (soft), or nothing."""

    HARD = "hard"
    SOFT = "soft"
    IGNORED = "ignored"


class Platform(StrEnum):
    IOS = "ios"
    ANDROID = "android"
    WEB = "web"
    OTHER = "other"


class Interaction(StrEnum):
    CLICK = "click"
    DISMISS = "dismiss"
    OTHER = "other"


_E, _S, _P, _I, _W, _D = (
    Channel.EMAIL,
    Channel.SMS,
    Channel.PUSH,
    Channel.INAPP,
    Channel.WEB,
    Channel.DIRECTMAIL,
)

#: Which channels each event type may come from. ``entered`` is campaign-level.
MATRIX: Final[Mapping[EventType, frozenset[Channel]]] = {
    EventType.ENTERED: frozenset(),
    EventType.TARGETED: frozenset({_E, _S, _P, _D}),
    EventType.EXCLUDED: frozenset(Channel),
    EventType.SENT: frozenset({_E, _S, _P, _D}),
    EventType.DELIVERED: frozenset({_E, _S, _P}),
    EventType.BOUNCE: frozenset({_E, _S, _P}),
    EventType.ERROR: frozenset(Channel),
    EventType.RETRY: frozenset({_E}),
    EventType.OPEN: frozenset({_E, _P}),
    EventType.CLICK: frozenset({_E, _S}),
    EventType.UNSUBSCRIBE: frozenset({_E}),
    EventType.SPAM_COMPLAINT: frozenset({_E}),
    EventType.ACTION: frozenset({_P}),
    EventType.IMPRESSION: frozenset({_I, _W}),
    EventType.INTERACTION: frozenset({_I, _W}),
}

PLATFORM_ALIASES: Final[Mapping[str, Platform]] = {"apns": Platform.IOS, "fcm": Platform.ANDROID}
FUTURE_TOLERANCE: Final = timedelta(minutes=5)
UNDETERMINED: Final = "Undetermined"

_NO_CONTROL = r"^[^\x00-\x1f\x7f-\x9f]*\Z"  # C0, DEL and C1; \Z: "$" allows a final "\n"
#: An enhanced status code (RFC 3463) as an event may carry it.
SMTP_STATUS = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ().\-]{2,30}$")


def _ip_pattern() -> str:
    """An IPv4 address (no leading zeros) or an IPv6 address in any of its written forms
    (RFC 4291 §2.2: "::" standing for one or more groups, an IPv4 tail), as one regular
    expression that reads the same in Python and in JSON Schema (ECMA-262)."""
    octet = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
    v4 = rf"{octet}(?:\.{octet}){{3}}"
    h = "[0-9A-Fa-f]{1,4}"
    forms = []
    for groups, tail in ((8, ""), (6, v4)):
        last = f":{tail}" if tail else ""
        forms.append(f"(?:{h}:){{{groups - 1}}}{h}" if not tail else f"(?:{h}:){{6}}{tail}")
        for left in range(groups):
            for right in range(groups - left):
                head = f"(?:{h}:){{{left - 1}}}{h}" if left else ""
                rest = f"{h}(?::{h}){{{right - 1}}}" if right else ""
                body = f"{head}::{rest}{last if right else tail}"
                forms.append(body)
    return f"^(?:{v4}|{'|'.join(forms)})\\Z"  # \Z: "$" allows a final "\n"


#: What the ``ip`` field accepts; the OpenAPI schema states the same pattern.
IP_PATTERN: Final = _ip_pattern()
_IP = re.compile(IP_PATTERN)


Text16 = Annotated[str, msgspec.Meta(max_length=16)]
Text45 = Annotated[str, msgspec.Meta(max_length=45)]
Text64 = Annotated[str, msgspec.Meta(max_length=64)]
Text256 = Annotated[str, msgspec.Meta(max_length=256)]
Text320 = Annotated[str, msgspec.Meta(max_length=320)]
Text512 = Annotated[str, msgspec.Meta(max_length=512)]
Text1000 = Annotated[str, msgspec.Meta(max_length=1000)]
Text2048 = Annotated[str, msgspec.Meta(max_length=2048)]
Name128 = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Name256 = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
Domain = Annotated[str, msgspec.Meta(max_length=253)]


class Smtp(msgspec.Struct, forbid_unknown_fields=False, gc=False):
    status: Text16 | None = None
    code: Annotated[int, msgspec.Meta(ge=200, le=599)] | None = None
    diagnostic: Text1000 | None = None


class IncomingEvent(msgspec.Struct, forbid_unknown_fields=False, gc=False):
    """An event as a sender writes it; types and lengths are checked while decoding."""

    id: Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=_NO_CONTROL)]
    time: str | int
    campaign: Name128
    type: str
    profile: Name256
    channel: str | None = None
    execution: Text64 | None = None
    variant: Text64 | None = None
    reason: Text256 | None = None
    code: Text64 | None = None
    bounce: str | None = None
    smtp: Smtp | None = None
    recipient: Text320 | None = None
    recipient_domain: Domain | None = None
    platform: str | None = None
    interaction: str | None = None
    element: Text256 | None = None
    url: Text2048 | None = None
    machine: bool | None = None
    user_agent: Text512 | None = None
    #: The client's IP address of an open or click: read by machine detection, never stored.
    ip: Text45 | None = None


class Event(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A validated, normalised event: what the store keeps. Empty string means "not given"."""

    id: str
    time_ms: int
    campaign: str
    channel: str
    type: str
    profile: str
    execution: str = ""
    variant: str = ""
    reason: str = ""
    code: str = ""
    bounce: str = ""
    smtp_status: str = ""
    smtp_code: int = 0
    smtp_diagnostic: str = ""
    recipient_domain: str = ""
    platform: str = ""
    interaction: str = ""
    element: str = ""
    url: str = ""
    machine: bool = False
    #: Why an open or click counts as a machine's: the rule that decided (ingest/machine.py).
    machine_rule: str = ""


class Problems(list[str]):
    """What is wrong with one event: a message per problem ("field: what is wrong"), in the
    order the checks found them, with the fields at fault (``fields``). A list, so that the
    common case — nothing wrong — costs no more than an empty list."""

    __slots__ = ("fields", "out_of_time")

    def add(self, field: str, message: str) -> None:
        if not self:
            self.fields: list[str] = []
            #: Only the time is wrong, and only for being outside the accepted range.
            self.out_of_time = False
        self.fields.append(field)
        self.append(f"{field}: {message}")

    def error(self) -> InvalidEvent:
        only_time = self.out_of_time and self.fields == ["time"]
        return InvalidEvent(list(self), self.fields, "out_of_time" if only_time else "invalid")


_decoder = msgspec.json.Decoder(IncomingEvent)
_convert_error = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$")


def decode_incoming(
    raw: bytes | Mapping[str, Any],
    *,
    now: datetime | None = None,
    retention: timedelta | None = None,
) -> IncomingEvent:
    """Decode one event's JSON document (or a door's mapping) into its typed fields; raise
    InvalidEvent (reason "unreadable") naming every field of the wrong type. Given ``now``
    and ``retention``, the error names the other fields that break the contract too, so that
    a sender fixes every field at once."""
    try:
        if isinstance(raw, bytes | bytearray | memoryview):
            return _decoder.decode(raw)
        return msgspec.convert(raw, IncomingEvent)
    except msgspec.ValidationError as exc:
        first = str(exc)
    except msgspec.DecodeError as exc:
        raise InvalidEvent(
            [f"event: not valid JSON ({exc}); expected one JSON object"], ["event"], "unreadable"
        ) from None
    # The slow path, for events with a field of the wrong type only: field by field.
    try:
        value = msgspec.json.decode(raw) if isinstance(raw, bytes | bytearray | memoryview) else raw
    except msgspec.DecodeError:  # a number no Python value holds (1e999), after the field
        value = None
    if not isinstance(value, Mapping):
        field, message = _explain(first)
        raise InvalidEvent([f"{field}: {message}"], [field], "unreadable")
    fields, problems = _read_fields(IncomingEvent, value, "")
    errors = [f"{field}: {message}" for field, message in problems]
    at_fault = [field for field, _ in problems]
    if now is not None and retention is not None:
        # The fields of the wrong type get stand-ins that pass every check of the contract
        # (an unknown type only hides the checks that depend on the type).
        stand_ins = {
            "id": "?",
            "campaign": "?",
            "profile": "?",
            "type": "",
            "time": int(now.timestamp() * 1000),
        }
        for name, stand_in in stand_ins.items():
            fields.setdefault(name, stand_in)
        try:
            normalise(IncomingEvent(**fields), now=now, retention=retention)
        except InvalidEvent as exc:
            for field, message in zip(exc.fields, exc.errors, strict=True):
                if field not in at_fault:
                    at_fault.append(field)
                    errors.append(message)
    raise InvalidEvent(errors, at_fault, "unreadable")


def _validation_error(value: object, kind: Any) -> str:
    try:
        msgspec.convert(value, kind)
    except msgspec.ValidationError as exc:
        return str(exc)
    return ""


def _read_fields(
    struct: type[msgspec.Struct], value: Mapping[str, Any], prefix: str
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The fields of ``value`` that have their type in ``struct``, and (field, message) for
    each of the others; a nested struct (``smtp``) is read the same way."""
    fields: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for info in msgspec.structs.fields(struct):
        name = f"{prefix}{info.name}"
        if info.encode_name not in value:
            if info.required:
                problems.append((name, "is required"))
            continue
        given = value[info.encode_name]
        if info.type == Smtp | None and isinstance(given, Mapping):
            inner, found = _read_fields(Smtp, given, f"{name}.")
            fields[info.name] = Smtp(**inner)
            problems += found
            continue
        error = _validation_error(given, info.type)
        if error:
            _, message = _explain(error)
            problems.append((name, message))
        else:
            fields[info.name] = msgspec.convert(given, info.type)
    return fields, problems


_TYPE_NAMES = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "object": "a JSON object",
    "array": "an array",
    "null": "null",
    "str | int": "a string or an integer",
    "int | str": "an RFC 3339 string or integer epoch milliseconds",
    "bool | null": "true or false",
    "str | null": "a string",
    "int | null": "an integer",
    "object | null": "a JSON object",
}


def _explain(message: str) -> tuple[str, str]:
    """Turn msgspec's "Expected `str`, got `int` - at `$.id`" into ("id", "expected a string, …")."""
    match = _convert_error.match(message)
    assert match is not None  # the pattern matches any string
    path = (match["path"] or "").lstrip(".") or "event"
    what = match["what"]
    if what.startswith("Object missing required field"):
        field = what.split("`")[1]
        return (field if path == "event" else f"{path}.{field}"), "is required"
    what = re.sub(r"`str` of length >= 1", "a non-empty string", what)
    what = re.sub(r"`str` of length <= (\d+)", r"a string of at most \1 characters", what)
    what = re.sub(r"`int` >= (\d+)", r"an integer of at least \1", what)
    what = re.sub(r"`int` <= (\d+)", r"an integer of at most \1", what)
    what = re.sub(r"`str` matching regex .*$", "a string without control characters", what)
    what = re.sub(r"`([^`]+)`", lambda m: _TYPE_NAMES.get(m[1], m[1]), what)
    return path, f"{what[:1].lower()}{what[1:]}"


#: Every valid (type, channel) pair of a channel event, to its normalised values: one lookup
#: instead of two enum conversions and a matrix check on the common path.
_PAIRS: Final[Mapping[tuple[str, str | None], tuple[str, str]]] = {
    (kind.value, chan.value): (kind, chan) for kind, chans in MATRIX.items() for chan in chans
}
_NO_SMTP: Final = Smtp()
_ENGAGEMENT: Final = frozenset({EventType.OPEN, EventType.CLICK})


@functools.lru_cache(maxsize=16_384)
def is_ip_address(value: str) -> bool:
    """Whether ``value`` is what the ``ip`` field accepts, an IPv4 or IPv6 address (cached: a
    proxy's few addresses come again and again). None is longer than 45 characters."""
    return _IP.match(value) is not None


@functools.lru_cache(maxsize=16)
def _time_bounds(now: datetime, retention: timedelta) -> tuple[int, int]:
    """Epoch milliseconds strictly inside which an integer time needs no further check.

    A margin of a few milliseconds keeps the float rounding of the full check out of it: a
    time near either limit takes the full check and gets its exact answer.
    """
    low = int((now - retention).timestamp() * 1000) + 2
    high = int((now + FUTURE_TOLERANCE).timestamp() * 1000) - 2
    return low, high


def normalise(e: IncomingEvent, *, now: datetime, retention: timedelta) -> Event:
    """Apply every rule of the contract that a type check cannot express.

    The common case (integer time well within range, a known type and channel, no optional
    choice to check) takes shortcuts; anything else goes through the full checks, which
    write the error messages, in the same order.
    """
    errors = Problems()
    low, high = _time_bounds(now, retention)
    if type(e.time) is int and low < e.time < high:
        time_ms = e.time
    else:
        time_ms = _check_time(e.time, now, retention, errors)
    type_: str
    channel: str
    if e.type == "entered":
        type_, channel = EventType.ENTERED, CAMPAIGN
    else:
        pair = _PAIRS.get((e.type, e.channel))
        if pair is None:
            type_, channel = _check_type_and_channel(e.type, e.channel, errors)
        else:
            type_, channel = pair
    bounce = "" if e.bounce is None else _check_choice("bounce", e.bounce, Bounce, errors)
    platform = "" if e.platform is None else _check_platform(e.platform, errors)
    interaction = (
        ""
        if e.interaction is None
        else _check_choice("interaction", e.interaction, Interaction, errors)
    )
    if e.recipient is None and not e.recipient_domain:
        domain = ""
    else:
        domain = _check_domain(e.recipient, e.recipient_domain, errors)
    smtp = e.smtp or _NO_SMTP
    if smtp.status is not None and not SMTP_STATUS.match(smtp.status):
        errors.add(
            "smtp.status",
            f"{smtp.status!r} is not an enhanced status code; expected X.Y.Z, e.g. 5.1.1",
        )
    if e.ip is not None and not is_ip_address(e.ip):
        errors.add(
            "ip",
            f"{e.ip[:45]!r} is not an IP address; expected IPv4 (192.0.2.7) or IPv6 (2001:db8::7)",
        )
    if errors:
        raise errors.error()
    reason = e.reason or ""
    # A bounce's reason and category, when not given, come from the qualify step of the
    # ingest pipeline (bounces/org.py qualify_bounces), which knows the org's rules.
    if type_ in (EventType.EXCLUDED, EventType.ERROR) and not reason:
        reason = UNDETERMINED
    # Whether an open or click was a machine's is decided by the machine step of the ingest
    # pipeline (ingest/machine.py), from this flag, the user agent and IP, and the timing.
    machine = bool(e.machine) and type_ in _ENGAGEMENT
    return Event(
        id=e.id,
        time_ms=time_ms,
        campaign=e.campaign,
        channel=channel,
        type=type_,
        profile=e.profile,
        execution=e.execution or "",
        variant=e.variant or "",
        reason=reason,
        code=e.code or "",
        bounce=bounce,
        smtp_status=smtp.status or "",
        smtp_code=smtp.code or 0,
        smtp_diagnostic=smtp.diagnostic or "",
        recipient_domain=domain,
        platform=platform,
        interaction=interaction,
        element=e.element or "",
        url=e.url or "",
        machine=machine,
    )


def _check_time(value: str | int, now: datetime, retention: timedelta, errors: Problems) -> int:
    if isinstance(value, int):
        try:
            # Beyond the years datetime can hold, fromtimestamp raises (a 500 for the request).
            when = datetime.fromtimestamp(value / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            errors.add(
                "time",
                "the epoch milliseconds are out of range; expected integer epoch "
                "milliseconds (e.g. 1795000000000)",
            )
            return 0
        ms = value
    else:
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            errors.add(
                "time",
                f"{value[:40]!r} is not a timestamp; expected RFC 3339 with an offset "
                "(2026-11-26T10:15:30.123Z) or integer epoch milliseconds",
            )
            return 0
        if when.tzinfo is None:
            errors.add(
                "time",
                f"{value[:40]!r} has no UTC offset; expected e.g. 2026-11-26T10:15:30Z or +01:00",
            )
            return 0
        ms = round(when.timestamp() * 1000)
    if when > now + FUTURE_TOLERANCE:
        errors.add(
            "time",
            f"{when.isoformat()} is more than 5 minutes in the future; "
            "expected the time the event happened",
        )
        errors.out_of_time = True
    elif when < now - retention:
        errors.add(
            "time",
            f"{when.isoformat()} is older than the retention period "
            f"({retention.days} days); expected a later time",
        )
        errors.out_of_time = True
    return ms


def _check_type_and_channel(type_: str, channel: str | None, errors: Problems) -> tuple[str, str]:
    try:
        kind = EventType(type_)
    except ValueError:
        errors.add("type", f"{type_[:40]!r} is unknown; expected one of {_listing(EventType)}")
        if channel is not None and channel not in Channel._value2member_map_:
            errors.add(
                "channel", f"{channel[:40]!r} is unknown; expected one of {_listing(Channel)}"
            )
        return type_, channel or ""
    if kind == EventType.ENTERED:
        return kind, CAMPAIGN
    if channel is None:
        errors.add("channel", f"is required for {kind}; expected one of {_listing(Channel)}")
        return kind, ""
    try:
        chan = Channel(channel)
    except ValueError:
        errors.add("channel", f"{channel[:40]!r} is unknown; expected one of {_listing(Channel)}")
        return kind, channel
    if chan not in MATRIX[kind]:
        valid = sorted(t for t, chans in MATRIX.items() if chan in chans)
        errors.add(
            "type",
            f"{kind} is not a {chan} event; expected one of {', '.join(valid)} for channel {chan}",
        )
    return kind, chan


def _check_choice(field: str, value: str | None, choices: type[StrEnum], errors: Problems) -> str:
    if value is None:
        return ""
    if value in choices._value2member_map_:
        return value
    errors.add(field, f"{value[:40]!r} is unknown; expected one of {_listing(choices)}")
    return ""


def _check_platform(value: str | None, errors: Problems) -> str:
    if value is not None and value.lower() in PLATFORM_ALIASES:
        return PLATFORM_ALIASES[value.lower()]
    return _check_choice("platform", value, Platform, errors)


def _check_domain(recipient: str | None, domain: str | None, errors: Problems) -> str:
    """Keep only the recipient's email domain; the rest of the address is never stored."""
    field = "recipient_domain"
    if recipient is not None:
        if "@" in recipient:
            local, _, domain = recipient.rpartition("@")
            field = "recipient"
            if not local or not domain:
                errors.add("recipient", "expected an email address (name@domain) or a phone number")
                return ""
        elif _PHONE.match(recipient):
            return ""
        else:
            errors.add("recipient", "expected an email address or a phone number")
            return ""
    if not domain:
        return ""
    normalised = normalise_domain(domain)
    if normalised is None:
        errors.add(field, "the domain is not a valid domain name; expected e.g. example.com")
        return ""
    return normalised


@functools.lru_cache(maxsize=65_536)
def normalise_domain(domain: str) -> str | None:
    """Lower-cased, IDNA (UTS 46) normalised Unicode form; None if not a domain name.

    Cached: a campaign's recipients share a few thousand domains, and IDNA checks are slow.
    """
    try:
        return str(idna.decode(idna.encode(domain.strip().rstrip("."), uts46=True)))
    except idna.IDNAError:
        return None


def _listing(choices: type[StrEnum]) -> str:
    return ", ".join(str(c.value) for c in choices)
