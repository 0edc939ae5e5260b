"""Reading returned mails: MIME parsing, the readable text of a report, the returned original.

Shared by the DSN, text-bounce, auto-reply and ARF readers (normalise stage, before qualify).
"""

from __future__ import annotations

import email
import email.policy
import html
import re
from email.message import EmailMessage, Message
from email.parser import HeaderParser

from livereport.events import normalise_domain

# A domain's labels are joined by single dots: "a@b.net...User unknown" ends at "net".
ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)
# Where a text bounce stops explaining and starts quoting the returned message.
_QUOTE_START = re.compile(
    r"^[ \t>]*(?:-{2,}\s*)?(?:"
    r"this is a copy of the message|below this line is a copy of the message"
    r"|(?:your )?original message (?:headers|follows?)|-*\s*original message\s*-*$|unsent message follows"
    r"|the header of the original message|returned message|the original message (?:headers )?"
    r"(?:is|was|are) (?:attached|included|as follows|below)|message headers follow"
    r"|undelivered message (?:headers )?follows|included is a copy of the message"
    r"|-+ ?returned mail ?-+|(?:the )?first \d+ lines of (?:your |the )?original message)",
    re.IGNORECASE | re.MULTILINE,
)
_EMPTY_QUOTE = re.compile(r"<>|\[\]|''|\"\"|\(\)")
_TAG = re.compile(r"<[^>]*>")
_HTML_SKIP = re.compile(r"<(style|script|head)\b.*?</\1>", re.IGNORECASE | re.DOTALL)
_ROBOTS = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon|noreply|no-reply)$", re.I)


def parse_message(raw: bytes) -> EmailMessage:
    """The message parsed with the stdlib's modern policy (never raises on malformed input)."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def header(message: Message, name: str) -> str:
    """A header's value as one line of text, or "" when absent or undecodable."""
    try:
        value = message.get(name)
    except Exception:  # the stdlib parser fails on some malformed headers (even AttributeError)
        return ""
    if value is None:
        return ""
    text = " ".join(str(value).split())
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # raw 8-bit header bytes: UTF-8 when they are, else Latin-1
        data = text.encode("utf-8", "surrogateescape")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
    return text


def part_text(part: Message) -> str:
    """A leaf part's decoded text: its charset, else UTF-8, else Latin-1 (never fails)."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    for charset in (part.get_content_charset(), "utf-8"):
        if charset:
            try:
                return payload.decode(charset)
            except (LookupError, UnicodeDecodeError):
                continue
    return payload.decode("latin-1")


def report_text(message: Message) -> str:
    """The human-readable text of a returned mail, without the quoted original message."""
    texts: list[str] = []
    _collect_text(message, texts)
    text = "\n".join(texts).replace("\r\n", "\n")
    match = _QUOTE_START.search(text)
    return text[: match.start()] if match else text


def _collect_text(part: Message, texts: list[str]) -> None:
    kind = part.get_content_type()
    if kind in ("message/rfc822", "text/rfc822-headers", "message/delivery-status"):
        return
    if part.is_multipart():
        children = [c for c in part.get_payload() if isinstance(c, Message)]
        has_plain = any(c.get_content_type() == "text/plain" for c in children)
        for child in children:
            if (
                kind == "multipart/alternative"
                and has_plain
                and child.get_content_type() != "text/plain"
            ):
                continue
            _collect_text(child, texts)
    elif kind == "text/plain":
        texts.append(part_text(part))
    elif kind == "text/html":
        texts.append(html.unescape(_TAG.sub(" ", _HTML_SKIP.sub(" ", part_text(part)))))


def original_headers(message: Message) -> Message | None:
    """The returned original's headers: a message/rfc822 or text/rfc822-headers part, or the
    headers quoted after the text of a non-MIME bounce."""
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822" and part is not message:
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                return inner[0]
        if kind == "text/rfc822-headers":
            return _headers_from_text(part_text(part))
    texts: list[str] = []
    _collect_text(message, texts)
    text = "\n".join(texts).replace("\r\n", "\n")
    match = _QUOTE_START.search(text)
    if match is None:
        return None
    quoted = text[match.end() :].split("\n", 1)[-1]
    return _headers_from_text(quoted)


def _headers_from_text(text: str) -> Message | None:
    lines = [
        line.lstrip(">").lstrip() if line.startswith((">", "  ")) else line
        for line in text.lstrip("\n -").splitlines()
    ]
    while lines and not re.match(r"^[!-9;-~]+:", lines[0]):
        lines.pop(0)
        if not lines or len(lines) > 400:
            break
    if not lines:
        return None
    return HeaderParser(policy=email.policy.default).parsestr("\n".join(lines) + "\n\n")


def first_recipient(text: str, skip: set[str]) -> str | None:
    """The first address in a text that is not the sender's, a robot's or in `skip`."""
    for match in ADDRESS.finditer(text):
        address = match.group(0).strip(".").lower()
        local = address.rpartition("@")[0]
        if address in skip or _ROBOTS.match(local) or local.startswith("bounces+"):
            continue
        return address
    return None


def redact(text: str) -> str:
    """A text with every address's local part masked: "ana@x.org" → "*@x.org" (SPEC §2)."""
    return ADDRESS.sub(lambda m: "*@" + m.group(0).rpartition("@")[2], text)


def strip_addresses(text: str) -> str:
    """A diagnostic without its addresses, so rules read the wording ("User <a@b> not found")."""
    return _EMPTY_QUOTE.sub("", ADDRESS.sub("", text))


def address_domain(address: str | None) -> str | None:
    """Only the domain of an address, normalised (SPEC §2: the rest is never kept)."""
    if not address or "@" not in address:
        return None
    domain = address.rpartition("@")[2].strip().strip(">").rstrip(".")
    return normalise_domain(domain) if domain else None
