"""Message builders for the returned-mail corpus: one function per MTA's or provider's format.

Used by make_corpus.py; each follows what the format's documentation shows.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from html import escape as html_escape

from livereport.bounces.attribution import verp_address


@dataclass(frozen=True)
class Case:
    rcpt: str
    domain: str
    status: str
    reply: str
    smtp: bool
    campaign: str
    profile: str
    event: str
    verp_only: bool  # the original carries no X-Livereport headers: VERP decides

    @property
    def verp(self) -> str:
        return verp_address(self.campaign, self.profile, "bounce.shop.example")

    def folded(self, indent: str) -> str:
        """The reply with its continuation lines indented (DSN fields, Exim's quote)."""
        return self.reply.replace("\n", "\n" + indent)

    @property
    def code(self) -> str:
        return self.reply[:3] if self.smtp else ""

    def original(self) -> str:
        tags = (
            ""
            if self.verp_only
            else (
                f"X-Livereport-Campaign: {self.campaign}\nX-Livereport-Profile: {self.profile}\n"
                f"X-Livereport-Event: {self.event}\n"
            )
        )
        return (
            f"Return-Path: <{self.verp}>\nFrom: Shop <news@shop.example>\nTo: <{self.rcpt}>\n"
            f"Subject: Our spring offers\nDate: Thu, 26 Nov 2026 09:00:00 +0000\n"
            f"Message-ID: <{self.event}@shop.example>\n{tags}MIME-Version: 1.0\n"
            f"Content-Type: text/plain; charset=utf-8\n"
        )


def _head(sender: str, subject: str, case: Case, extra: str = "") -> str:
    return (
        f"Return-Path: <>\nFrom: {sender}\nTo: <{case.verp}>\nSubject: {subject}\n"
        f"Date: Thu, 26 Nov 2026 09:00:05 +0000\nMessage-ID: <b{zlib.crc32(case.event.encode())}@mta.example>\n"
        f"Auto-Submitted: auto-replied\nMIME-Version: 1.0\n{extra}"
    )


def _report(
    case: Case, text: str, mta: str, diag_type: str, tail: str, action: str = "failed"
) -> str:
    diagnostic = f"{diag_type}; {case.folded('    ')}"
    remote = f"Remote-MTA: dns; mx.{case.domain}\n" if case.smtp else ""
    return (
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="=B="\n\n'
        f"This is a MIME-encapsulated message.\n\n--=B=\nContent-Type: text/plain; charset=utf-8\n\n"
        f"{text}\n--=B=\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; {mta}\n"
        f"Arrival-Date: Thu, 26 Nov 2026 09:00:00 +0000\n\nFinal-Recipient: rfc822; {case.rcpt}\n"
        f"Original-Recipient: rfc822;{case.rcpt}\nAction: {action}\nStatus: {case.status}\n"
        f"{remote}Diagnostic-Code: {diagnostic}\n\n--=B=\n{tail}\n{case.original()}\n--=B=--\n"
    )


def postfix_dsn(case: Case) -> str:
    said = (
        f"host mx.{case.domain}[192.0.2.10] said: {case.reply} (in reply to RCPT TO command)"
        if case.smtp
        else case.reply
    )
    text = (
        "This is the mail system at host mta.shop.example.\n\nI'm sorry to have to inform you "
        "that your message could not\nbe delivered to one or more recipients. It's attached "
        "below.\n\nFor further assistance, please send mail to postmaster.\n\nIf you do so, "
        "please include this problem report. You can\ndelete your own text from the attached "
        f"returned message.\n\n                   The mail system\n\n<{case.rcpt}>: {said}\n"
    )
    head = _head(
        "MAILER-DAEMON@mta.shop.example (Mail Delivery System)",
        "Undelivered Mail Returned to Sender",
        case,
    )
    return head + _report(
        case,
        text,
        "mta.shop.example",
        "smtp" if case.smtp else "X-Postfix",
        "Content-Type: text/rfc822-headers\n",
    )


def exim_text(case: Case) -> str:
    where = (
        f"  {case.rcpt}\n    host mx.{case.domain} [192.0.2.11]\n    SMTP error from remote "
        f"mail server after RCPT TO:<{case.rcpt}>:\n    {case.folded('    ')}\n"
        if case.smtp
        else f"  {case.rcpt}\n    {case.reply}\n"
    )
    head = _head(
        "Mail Delivery System <Mailer-Daemon@mta.shop.example>",
        "Mail delivery failed: returning message to sender",
        case,
        f"X-Failed-Recipients: {case.rcpt}\nContent-Type: text/plain; charset=utf-8\n",
    )
    return (
        head + "\nThis message was created automatically by mail delivery software.\n\n"
        "A message that you sent could not be delivered to one or more of its\nrecipients. "
        f"This is a permanent error. The following address(es) failed:\n\n{where}\n"
        "------ This is a copy of the message, including all the headers. ------\n\n"
        f"{case.original()}\nHello, here are our spring offers.\n"
    )


def sendmail_dsn(case: Case) -> str:
    transcript = (
        f"... while talking to mx.{case.domain}.:\n>>> RCPT To:<{case.rcpt}>\n<<< {case.reply}\n"
        f"{case.code} {case.status} <{case.rcpt}>... {case.reply[4:] if case.smtp else case.reply}\n"
        if case.smtp
        else f"<{case.rcpt}>... {case.reply}\n"
    )
    text = (
        "The original message was received at Thu, 26 Nov 2026 09:00:00 GMT\nfrom "
        "localhost [127.0.0.1]\n\n   ----- The following addresses had permanent fatal "
        f"errors -----\n<{case.rcpt}>\n\n   ----- Transcript of session follows -----\n{transcript}"
    )
    head = _head(
        "Mail Delivery Subsystem <MAILER-DAEMON@mta.shop.example>",
        "Returned mail: see transcript for details",
        case,
    )
    return head + _report(
        case,
        text,
        "mta.shop.example",
        "SMTP" if case.smtp else "X-Unix",
        "Content-Type: message/rfc822\n",
    )


def qmail_text(case: Case) -> str:
    said = f"Remote host said: {case.reply}\nGiving up on 192.0.2.12." if case.smtp else case.reply
    head = _head(
        "MAILER-DAEMON@mta.shop.example", "failure notice", case, "Content-Type: text/plain\n"
    )
    return (
        head + "\nHi. This is the qmail-send program at mta.shop.example.\nI'm afraid I "
        "wasn't able to deliver your message to the following addresses.\nThis is a permanent "
        f"error; I've given up. Sorry it didn't work out.\n\n<{case.rcpt}>:\n{said}\n\n"
        f"--- Below this line is a copy of the message.\n\n{case.original()}\nHello.\n"
    )


def exchange_dsn(case: Case) -> str:
    text = (
        "Delivery has failed to these recipients or groups:\n\n"
        f"{case.rcpt}\nA problem occurred while delivering this message to this email "
        "address.\n\nDiagnostic information for administrators:\n\nGenerating server: "
        f"EX01.shop.example\n\n{case.rcpt}\nmx.{case.domain}\nRemote Server returned "
        f"'{case.reply}'\n"
    )
    head = _head("postmaster@shop.example", "Undeliverable: Our spring offers", case)
    return head + _report(
        case, text, "EX01.shop.example", "smtp", "Content-Type: text/rfc822-headers\n"
    )


def o365_text(case: Case) -> str:
    head = _head(
        "Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@shop.example>",
        "Undeliverable: Our spring offers",
        case,
        "Content-Type: text/plain; charset=utf-8\n",
    )
    return (
        head + f"\nYour message to {case.rcpt} couldn't be delivered.\n\n{case.domain} "
        "suggests the address might be wrong, or the message was refused.\n\nAction Required\n\n"
        "Diagnostic information for administrators:\n\nGenerating server: "
        f"AM0PR01MB1234.eurprd01.prod.exchangelabs.com\n{case.rcpt}\nRemote server returned "
        f"'{case.reply}'\n\nOriginal message headers:\n\n{case.original()}"
    )


def o365_html(case: Case) -> str:
    """Office 365's HTML notice, base64-encoded, with the original as an attachment."""
    html = (
        "<html><head><style>td {font-family: Segoe UI;}</style></head><body>"
        f'<p><b><font color="#000000">Your message to <a href="mailto:{case.rcpt}">{case.rcpt}'
        "</a> couldn't be delivered.</font></b></p><p>The message was refused by the recipient's "
        "email system.</p><p><b>Diagnostic information for administrators:</b></p>"
        f"<p>Generating server: DB8PR01MB5678.eurprd01.prod.outlook.com<br>{case.rcpt}<br>"
        f"Remote server returned '{html_escape(case.reply)}'</p></body></html>"
    )
    body = base64.encodebytes(html.encode()).decode()
    head = _head("postmaster@outlook.com", "Undeliverable: Our spring offers", case)
    return (
        head + 'Content-Type: multipart/mixed; boundary="=M="\n\n--=M=\n'
        "Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
        f"{body}\n--=M=\nContent-Type: message/rfc822\n\n{case.original()}\nHello.\n--=M=--\n"
    )


def gmail_dsn(case: Case) -> str:
    text = (
        (
            f"** Address not found **\n\nYour message wasn't delivered to {case.rcpt} because of a "
            "problem at the receiving side.\n\nThe response was:\n\n"
            f"{case.reply}\n"
        )
        if case.smtp
        else (
            f"** Message not delivered **\n\nThere was a problem delivering your message to {case.rcpt}.\n\n"
            f"The response was:\n\n{case.reply}\n"
        )
    )
    head = _head(
        "Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
        "Delivery Status Notification (Failure)",
        case,
    )
    return head + _report(
        case,
        text,
        "mx.google.com",
        "smtp" if case.smtp else "X-Gmail",
        "Content-Type: message/rfc822\n",
    )


def yahoo_text(case: Case) -> str:
    head = _head("MAILER-DAEMON@yahoo.com", "Failure Notice", case, "Content-Type: text/plain\n")
    return (
        head + "\nSorry, we were unable to deliver your message to the following address.\n\n"
        f"<{case.rcpt}>:\nRemote host said: {case.reply} [RCPT_TO]\n\n"
        f"--- Below this line is a copy of the message.\n\n{case.original()}\nHello.\n"
    )


Template = Callable[[Case], str]
SMTP_TEMPLATES: list[tuple[str, Template]] = [
    ("postfix", postfix_dsn),
    ("exim", exim_text),
    ("sendmail", sendmail_dsn),
    ("qmail", qmail_text),
    ("exchange", exchange_dsn),
    ("o365", o365_text),
    ("o365html", o365_html),
    ("gmail", gmail_dsn),
    ("yahoo", yahoo_text),
]
LOCAL_TEMPLATES = [t for t in SMTP_TEMPLATES if t[0] in ("postfix", "exim", "qmail", "sendmail")]


def auto_reply(headers: str, subject: str, n: int) -> str:
    return (
        f"From: Kim Lee <kim.lee@example.com>\nTo: <bounces+spring-sale=p-{700 + n}@bounce.shop.example>\n"
        f"Subject: {subject}\nDate: Thu, 26 Nov 2026 09:01:00 +0000\n{headers}"
        "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
        "Thank you for your message. I am out of the office until 3 December with limited "
        "access to email. For urgent matters please contact my colleague.\n"
    )


def ordinary(sender: str, subject: str, body: str) -> str:
    return (
        f"From: {sender}\nTo: Shop <news@shop.example>\nSubject: {subject}\n"
        "Date: Thu, 26 Nov 2026 10:00:00 +0000\nMIME-Version: 1.0\n"
        f"Content-Type: text/plain; charset=utf-8\n\n{body}\n"
    )


def arf(case: Case, feedback_type: str) -> str:
    return (
        f"From: Feedback Loop <fbl@isp.example>\nTo: <fbl-reports@shop.example>\n"
        f"Subject: FW: Our spring offers\nDate: Thu, 26 Nov 2026 11:00:00 +0000\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="part1_13d.2e68ed54"\n\n'
        '--part1_13d.2e68ed54\nContent-Type: text/plain; charset="US-ASCII"\n\n'
        "This is an email abuse report for an email message received from IP 192.0.2.1 on "
        "Thu, 26 Nov 2026 09:00:00 +0000.\nFor more information about this format please see "
        "http://www.mipassoc.org/arf/.\n\n--part1_13d.2e68ed54\nContent-Type: message/feedback-report\n\n"
        f"Feedback-Type: {feedback_type}\nUser-Agent: SomeGenerator/1.0\nVersion: 1\n"
        f"Original-Mail-From: <{case.verp}>\nOriginal-Rcpt-To: <{case.rcpt}>\n"
        "Arrival-Date: Thu, 26 Nov 2026 09:00:00 +0000\nReporting-MTA: dns; mail.isp.example\n"
        "Source-IP: 192.0.2.1\n\n--part1_13d.2e68ed54\nContent-Type: message/rfc822\n"
        f"Content-Disposition: inline\n\n{case.original()}\nHello, here are our spring offers.\n"
        "--part1_13d.2e68ed54--\n"
    )


def multi_line(reply: str) -> str:
    """A long reply as a server sends it: "550-5.1.1 …" continuation lines, then "550 5.1.1 …"."""
    code, status = reply[:3], reply[4:].split(" ", 1)[0]
    words = reply[4 + len(status) + 1 :].split()
    lines = [" ".join(words[i : i + 9]) for i in range(0, len(words), 9)]
    prefix = f"{code}-{status} "
    return "\n".join(prefix + line for line in lines[:-1]) + f"\n{code} {status} {lines[-1]}"


def crlf(text: str) -> str:
    return text.replace("\n", "\r\n")
