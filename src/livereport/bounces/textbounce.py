"""Non-standard bounces: the plain-text formats of common MTAs and mailbox providers.

Recognises the format from its fixed wordings, then finds the SMTP reply and diagnostic in it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from livereport.bounces.mail import first_recipient, header

_I = re.IGNORECASE | re.MULTILINE


@dataclass(frozen=True, slots=True)
class Format:
    """A layout of bounce that one kind of server writes, told by a fixed wording in its
    body or subject. ``learned_from`` names the corpus sources a wording was taken from
    when it is not a documented default (tests/bounces/scores.py leaves them out)."""

    name: str
    wording: re.Pattern[str]
    learned_from: frozenset[str] = frozenset()


# First match wins.
FORMATS: tuple[Format, ...] = (
    Format(
        "postfix",
        re.compile(
            r"this is the mail system at host|^Subject: Undelivered Mail Returned to Sender", _I
        ),
    ),
    Format(
        "qmail",
        re.compile(r"this is the qmail-send program|I'm afraid I wasn't able to deliver", _I),
    ),
    Format(
        "exim", re.compile(r"this message was created automatically by mail delivery software", _I)
    ),
    Format(
        "sendmail",
        re.compile(
            r"-+ ?transcript of session follows ?-+|the original message was received at|^Subject: Returned mail:",
            _I,
        ),
    ),
    Format(
        "exchange",
        re.compile(
            r"delivery has failed to these recipients|your message to .{1,200}? couldn't be delivered|diagnostic information for administrators|^Subject: Undeliverable:",
            _I,
        ),
    ),
    Format(
        "gmail",
        re.compile(
            r"your message wasn't delivered to|^address not found$|^message not delivered$",
            _I,
        ),
    ),
    Format(
        "yahoo",
        re.compile(r"sorry, we were unable to deliver your message to the following address", _I),
    ),
    Format(
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


@dataclass(frozen=True, slots=True)
class Notice:
    """A wording with which a mail server says, in no layout of FORMATS, that a message was
    not delivered. It makes a bounce only of a message a server sent (see _from_server).
    ``learned_from`` as for Format."""

    wording: re.Pattern[str]
    learned_from: frozenset[str] = frozenset()


def _notice(pattern: str, learned_from: str = "") -> Notice:
    return Notice(re.compile(pattern, _I), frozenset(learned_from.split()))


NOTICES: tuple[Notice, ...] = (
    # English, as servers of every make word it.
    _notice(
        r"(?:could not|couldn't|cannot|can't|can not|was not|wasn't|has not been|have not been"
        r"|were not|could ?not be|unable to be) (?:be )?(?:delivered|deliver)\b"
        r"|(?:unable|failed) to deliver|undeliverable|non-?delivery (?:report|notification)"
        r"|delivery (?:to [^\n]{1,200} )?(?:has )?failed|(?:permanent )?delivery failure"
        r"|failed recipients?:|did not (?:receive|reach) (?:this|your|the)"
        r"|(?:mail|message) (?:was )?(?:returned|rejected|refused)\b"
        r"|was automatically rejected"  # Sieve's reject (RFC 5429) in Dovecot's and Cyrus's words
        # A server naming a recipient it has not: the mail was not delivered.
        r"|user unknown|unknown user|no such (?:user|mailbox|recipient)"
        r"|not a valid (?:user|recipient|mailbox|address)"
    ),
    # One make's own wording each, seen in the corpus (tests/bounces/corpus/public-*).
    _notice(r"encountered a delivery problem", "public-bounceparser"),  # XWall
    _notice(r"^Subject: mail (?:delivery )?(?:problem|error)", "public-bounceparser public-flufl"),
    _notice(r"^Subject: (?:failed mail|mail failed)|failed addresses follow", "public-flufl"),
    _notice(r"^Subject: [^\n]*user unknown", "public-flufl"),  # MDaemon
    # Other languages (the wordings of their mail servers' notices).
    _notice(
        r"n'a (?:pas )?pu (?:être|etre) (?:remis|délivré|delivre|distribué|distribue|acheminé)"
        r"|non remis|non distribuable|konnte nicht (?:zugestellt|ausgeliefert) werden"
        r"|unzustellbar|nicht zugestellt|no (?:se )?(?:ha )?pudo (?:ser )?entregad|no entregado"
        r"|non (?:è|e') stato (?:possibile )?(?:recapitat|consegnat)|non recapitabile"
        r"|não (?:foi|pôde ser|pode ser) entregue|kon niet (?:worden )?(?:afgeleverd|bezorgd)"
        r"|onbestelbaar|nie (?:może|mogła|mogla|został|zostala|została) (?:być |byc )?dostarczon"
        r"|не (?:может быть|был|было|удалось|могу) (?:доставлен|достав)|недоставлен"
        r"|无法(?:发送|送达|投递)|退信|配送できませんでした|届きませんでした|送信できませんでした"
    ),
)
# A server's own address: the sender of a report by RFC 5321 §4.5.5 and common practice.
_FROM_ROBOT = re.compile(
    r"mailer-?daemon|postmaster|mail delivery (?:system|subsystem)|\bmdaemon\b|mail-daemon"
    r"|system administrator|mail ?(?:delivery )?service|mail ?system\b|(?<![a-z])smtp(?![a-z])",
    re.I,
)
_FORWARD = re.compile(r"^\s*(?:fwd?|fw|wg|tr|rv|doorst)\s*:", re.IGNORECASE)
_DELAY = re.compile(
    r"^Subject: (?:delayed mail|warning: (?:message\b.*\bdelayed|could not send message)"
    r"|delivery status notification \(delay\)|delivery delayed)|^Action: delayed"
    # A warning that the server is still trying, in the body.
    r"|has not yet been delivered|no action is required on your part"
    r"|(?:delivery attempts|it|we|the server|the system) will (?:continue to|keep) (?:be made|try|retry)"
    r"|will (?:continue to )?(?:retry|try again) (?:for|until)|still (?:trying|being retried)",
    _I,
)
# A line quoting an SMTP failure: a 4xx/5xx reply or a 4.x.x/5.x.x status (qmail: "(#5.1.1)").
_FAILURE_LINE = re.compile(
    r"(?<![\d.:/(-])[45]\d\d(?:[ -]|$)(?!\s*(?:bytes|kb|mb|days|hours)\b)(?!\d{3}-\d{4})"
    r"|(?<![\d.])[45]\.\d{1,3}\.\d{1,3}(?![\d.])",
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
    r" your message to the following address\.?|unknown or permanent error\.?"
    r"|\*+ ?message from interscan[^*\n]*\*+",
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
    name = next((f.name for f in FORMATS if f.wording.search(probe)), None)
    if name is None and any(n.wording.search(probe) for n in NOTICES):
        name = "notice"
    if name is None:
        return None
    if _FORWARD.match(subject) or (name in ("generic", "notice") and not _from_server(message)):
        return None  # a person writing "permanent error", or forwarding a bounce they got
    failed = header(message, "X-Failed-Recipients").split(",")[0].strip() or None
    skip = {a.lower() for a in re.findall(r"[\w.+=~-]+@[\w.-]+", sender)}
    recipient = failed or first_recipient(_without_headers(text), skip)
    diagnostic = _diagnostic(text)
    code = _REPLY_CODE.search(diagnostic)
    return TextBounce(
        name, bool(_DELAY.search(probe)), recipient, diagnostic, int(code[1]) if code else None
    )


def _from_server(message: Message) -> bool:
    """Whether a mail server, not a person, sent the message: a server's address, the null
    return path of reports (RFC 5321 §4.5.5), or the returned original attached."""
    sender, returns = header(message, "From"), header(message, "Return-Path")
    if _FROM_ROBOT.search(sender) or _FROM_ROBOT.search(returns) or "<>" in (sender, returns):
        return True
    return any(
        part.get_content_type() in ("message/rfc822", "text/rfc822-headers")
        for part in message.walk()
    )


def _without_headers(text: str) -> str:
    return "\n".join(
        line
        for line in text.splitlines()
        if not re.match(r"^\s*(?:From|To|Reply-To|Return-Path|Sender):", line, re.I)
    )


def report_diagnostic(text: str) -> str:
    """What a report's human-readable text says of the failure (see _diagnostic)."""
    return _diagnostic(text)


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
    # No quoted reply: the prose, without the returned mail's own headers that many
    # reports repeat ("Subject: Virus alert" is not why the mail failed).
    prose = _QUOTED_HEADER.sub(" ", text)
    return " ".join(_BOILERPLATE.sub(" ", prose).split())


_QUOTED_HEADER = re.compile(r"^[ \t>]*(?:Subject|To|Cc|From|Sent|Date)[ \t]*:.*$", _I)
