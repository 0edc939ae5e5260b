"""Non-standard bounces: the plain-text formats of common MTAs and mailbox providers.

Recognises the format from its fixed wordings, then finds the SMTP reply and diagnostic in it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from livereport.bounces.mail import first_recipient, header

_I = re.IGNORECASE | re.MULTILINE

# (format, wording in the body or subject that only that format's bounces use), first match wins.
FORMATS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "postfix",
        re.compile(
            r"this is the mail system at host|^Subject: Undelivered Mail Returned to Sender", _I
        ),
    ),
    (
        "qmail",
        re.compile(r"this is the qmail-send program|I'm afraid I wasn't able to deliver", _I),
    ),
    ("exim", re.compile(r"this message was created automatically by mail delivery software", _I)),
    (
        "sendmail",
        re.compile(
            r"-+ ?transcript of session follows ?-+|the original message was received at|^Subject: Returned mail:",
            _I,
        ),
    ),
    (
        "exchange",
        re.compile(
            r"delivery has failed to these recipients|your message to .{1,200}? couldn't be delivered|diagnostic information for administrators|^Subject: Undeliverable:",
            _I,
        ),
    ),
    (
        "gmail",
        re.compile(
            r"your message wasn't delivered to|^address not found$|^message not delivered$",
            _I,
        ),
    ),
    (
        "yahoo",
        re.compile(r"sorry, we were unable to deliver your message to the following address", _I),
    ),
    (
        "generic",
        re.compile(
            r"^Subject: (?:failure notice|delivery (?:status notification|failure|failed|notification)"
            r"|undeliverable|undelivered mail|returned mail|mail delivery failed|mail system error"
            r"|non ?remis|unzustellbar|nondeliverable|message not delivered|delivery report)"
            r"|(?:could not|couldn't|was not|wasn't|cannot be) (?:be )?delivered to (?:one or more|the following)"
            r"|permanent (?:fatal )?error|delivery to the following recipients? failed",
            _I,
        ),
    ),
)
_FROM_ROBOT = re.compile(r"mailer-daemon|postmaster|mail delivery (?:system|subsystem)", re.I)
_FORWARD = re.compile(r"^\s*(?:fwd?|fw|wg|tr|rv|doorst)\s*:", re.IGNORECASE)
_DELAY = re.compile(
    r"^Subject: (?:delayed mail|warning: (?:message .* delayed|could not send message)"
    r"|delivery status notification \(delay\)|delivery delayed)|^Action: delayed",
    _I,
)
# A line quoting an SMTP failure: a 4xx/5xx reply or a 4.x.x/5.x.x status (qmail: "(#5.1.1)").
_FAILURE_LINE = re.compile(
    r"(?<![\d.:/-])[45]\d\d(?:[ -]|$)(?!\s*(?:bytes|kb|mb|days|hours)\b)|(?<![\d.])[45]\.\d{1,3}\.\d{1,3}(?![\d.])",
    re.I,
)
_REPLY_CODE = re.compile(r"(?<![\d.:/-])([45]\d\d)(?:[ -]|$)", re.MULTILINE)
_BOILERPLATE = re.compile(
    r"this is the mail system at host \S+\.?|I'm sorry to have to inform you that your message could"
    r" not be delivered to one or more recipients\.[^\n]*|it's attached below\.?|for further "
    r"assistance, please send mail to postmaster\.?|if you do so, please include this problem "
    r"report\.[^\n]*|you can delete your own text from the attached returned message\.?"
    r"|the mail system|this message was created automatically by mail delivery software\.?"
    r"|a message that you sent could not be delivered to one or more of its\s+recipients\.?"
    r"|this is a permanent error\.?|the following address(?:\(es\))? failed:?"
    r"|hi\. this is the qmail-send program at \S+\.?|I'm afraid I wasn't able to deliver your"
    r" message to the following addresses\.?|I've given up\. sorry it didn't work out\.?"
    r"|-+ ?the following addresses had permanent fatal errors ?-+|-+ ?transcript of session "
    r"follows ?-+|the original message was received at [^\n]*|from [^\n]*localhost[^\n]*"
    r"|delivery has failed to these recipients or groups:?|your message to \S+ couldn't be "
    r"delivered\.?|diagnostic information for administrators:?|sorry, we were unable to deliver"
    r" your message to the following address\.?|unknown or permanent error\.?",
    _I,
)


@dataclass(frozen=True, slots=True)
class TextBounce:
    """What a plain-text bounce says: its format, failed recipient and SMTP diagnostic."""

    format: str
    delayed: bool
    recipient: str | None
    diagnostic: str  # the lines quoting the failure, else the text without boilerplate
    code: int | None  # the first 4xx/5xx reply code in those lines


def read_text_bounce(message: Message, text: str) -> TextBounce | None:
    """A non-standard bounce's contents, or None when the message is not one."""
    subject = header(message, "Subject")
    sender = header(message, "From")
    probe = f"Subject: {subject}\n{text}"
    name = next((n for n, wording in FORMATS if wording.search(probe)), None)
    if name is None:
        return None
    robot = _FROM_ROBOT.search(sender) or _FROM_ROBOT.search(header(message, "Return-Path"))
    if not robot and (name == "generic" or _FORWARD.match(subject)):
        return None  # a person writing "permanent error", or forwarding a bounce they got
    failed = header(message, "X-Failed-Recipients").split(",")[0].strip() or None
    skip = {a.lower() for a in re.findall(r"[\w.+=~-]+@[\w.-]+", sender)}
    recipient = failed or first_recipient(_without_headers(text), skip)
    diagnostic = _diagnostic(text)
    code = _REPLY_CODE.search(diagnostic)
    return TextBounce(
        name, bool(_DELAY.search(probe)), recipient, diagnostic, int(code[1]) if code else None
    )


def _without_headers(text: str) -> str:
    return "\n".join(
        line
        for line in text.splitlines()
        if not re.match(r"^\s*(?:From|To|Reply-To|Return-Path|Sender):", line, re.I)
    )


def _diagnostic(text: str) -> str:
    """The failure lines with their indented continuations; else the text minus boilerplate."""
    lines = text.splitlines()
    picked: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if _FAILURE_LINE.search(line) and not re.match(
            r"^\s*(?:Date|Received|Arrival-Date):", line, re.I
        ):
            picked.append(line.strip())
            index += 1
            while index < len(lines) and lines[index][:1] in (" ", "\t") and lines[index].strip():
                if _FAILURE_LINE.search(lines[index]):
                    break
                picked.append(lines[index].strip())
                index += 1
            continue
        index += 1
    if picked:
        return "\n".join(picked)
    return " ".join(_BOILERPLATE.sub(" ", text).split())
