"""Generate the labelled returned-mail corpus under tests/bounces/corpus/ (run: python make_corpus.py).

Templates (corpus_formats.py) follow the formats MTAs and providers document (RFC 3464, Postfix, Exim, Sendmail,
qmail, Exchange, Gmail, Yahoo); replies follow RFC 3463 and providers' published error lists.
Labels are written by hand here, per scenario, not by running the classifier. Real Postfix
bounces in corpus/postfix-real/ are kept as they are and labelled in REAL_LABELS.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from corpus_formats import (
    LOCAL_TEMPLATES,
    SMTP_TEMPLATES,
    Case,
    arf,
    auto_reply,
    crlf,
    multi_line,
    ordinary,
)

CORPUS = Path(__file__).resolve().parent / "corpus"
GENERATED = CORPUS / "generated"

H, S, IG = "hard", "soft", "ignored"


@dataclass(frozen=True)
class Scenario:
    slug: str
    status: str
    reply: str  # what the receiving side said: an SMTP reply, or a local delivery error
    reason: str
    category: str
    smtp: bool = True  # False: a local error without reply code (Postfix/Exim/qmail texts)


# fmt: off
SCENARIOS: list[Scenario] = [
    Scenario("user-unknown-vmailbox", "5.1.1", "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in virtual mailbox table", "Invalid Recipient", H),
    Scenario("user-unknown-local", "5.1.1", "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in local recipient table", "Invalid Recipient", H),
    Scenario("gmail-no-such-user", "5.1.1", "550-5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser d2si1234567qkb.7 - gsmtp", "Invalid Recipient", H),
    Scenario("o365-recipient-not-found", "5.1.10", "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", "Invalid Recipient", H),
    Scenario("outlook-mailbox-unavailable", "5.5.0", "550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). [DM6NAM11FT045.eop-nam11.prod.protection.outlook.com]", "Invalid Recipient", H),
    Scenario("sendmail-user-unknown", "5.1.1", "550 5.1.1 <{rcpt}>... User unknown", "Invalid Recipient", H),
    Scenario("yahoo-no-account", "5.0.0", "554 delivery error: dd This user doesn't have a yahoo.com account ({rcpt}) [0] - mta1042.mail.ne1.yahoo.com", "Invalid Recipient", H),
    Scenario("no-such-mailbox", "5.1.1", "550 5.1.1 No such mailbox", "Invalid Recipient", H),
    Scenario("exchange-access-denied", "5.4.1", "550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [BN8NAM12FT003.eop-nam12.prod.protection.outlook.com]", "Invalid Recipient", H),
    Scenario("bad-address-syntax", "5.1.3", "501 5.1.3 Bad recipient address syntax", "Invalid Recipient", H),
    Scenario("address-moved", "5.1.6", "550 5.1.6 Recipient addresses moved; no forwarding address", "Invalid Recipient", H),
    Scenario("qmail-no-mailbox", "5.1.1", "Sorry, no mailbox here by that name. (#5.1.1)", "Invalid Recipient", H, smtp=False),
    Scenario("gmail-disabled", "5.2.1", "550-5.2.1 The email account that you tried to reach is disabled. https://support.google.com/mail/?p=DisabledUser 6si123qkb.1 - gsmtp", "Recipient Refused", H),
    Scenario("yahoo-disabled", "5.0.0", "554 delivery error: dd Sorry your message to {rcpt} cannot be delivered. This mailbox is disabled (554.30). - mta4012.mail.bf1.yahoo.com", "Recipient Refused", H),
    Scenario("account-suspended", "5.2.1", "550 5.2.1 <{rcpt}>: account has been suspended", "Recipient Refused", H),
    Scenario("gmail-over-quota", "5.2.2", "552-5.2.2 The email account that you tried to reach is over quota. Please direct the recipient to https://support.google.com/mail/?p=OverQuotaPerm - gsmtp", "Mailbox Full", S),
    Scenario("mailbox-full", "5.2.2", "552 5.2.2 <{rcpt}>: Mailbox full", "Mailbox Full", S),
    Scenario("over-quota-transient", "4.2.2", "452 4.2.2 <{rcpt}>: Over quota", "Mailbox Full", S),
    Scenario("quota-exceeded-local", "5.2.2", "mailbox is full: retry timeout exceeded", "Mailbox Full", S, smtp=False),
    Scenario("domain-not-found", "5.4.4", "Host or domain name not found. Name service error for name={domain} type=A: Host not found", "DNS Failure", S, smtp=False),
    Scenario("null-mx", "5.1.10", "556 5.1.10 Recipient address has null MX", "DNS Failure", S),
    Scenario("qmail-no-host", "5.1.2", "Sorry, I couldn't find any host named {domain}. (#5.1.2)", "DNS Failure", S, smtp=False),
    Scenario("exim-unrouteable", "5.4.4", "Unrouteable address", "DNS Failure", S, smtp=False),
    Scenario("relay-denied", "5.7.1", "554 5.7.1 <{rcpt}>: Relay access denied", "Relaying Denied", S),
    Scenario("spamhaus", "5.7.1", "554 5.7.1 Service unavailable; Client host [203.0.113.7] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/203.0.113.7", "Spam Block", IG),
    Scenario("yahoo-bl21", "5.7.1", "553 5.7.1 [BL21] Connections will not be accepted from 203.0.113.7, because the ip is in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes", "Spam Block", IG),
    Scenario("o365-banned-ip", "5.7.606", "550 5.7.606 Access denied, banned sending IP [203.0.113.7]. To request removal from this list please visit https://sender.office.com/", "Spam Block", IG),
    Scenario("gmail-unsolicited", "5.7.1", "550-5.7.1 [203.0.113.7] Our system has detected that this message is likely unsolicited mail. To reduce the amount of spam sent to Gmail, this message has been blocked. - gsmtp", "Spam Content", IG),
    Scenario("virus", "5.7.1", "554 5.7.1 Message rejected: virus found (Eicar-Test-Signature)", "Spam Content", IG),
    Scenario("gmail-dmarc", "5.7.26", "550-5.7.26 Unauthenticated email from shop.example is not accepted due to domain's DMARC policy. Please contact the administrator of shop.example domain. - gsmtp", "Mail Block", IG),
    Scenario("spf-fail", "5.7.23", "550 5.7.23 <{rcpt}>: Recipient address rejected: SPF check failed", "Mail Block", IG),
    Scenario("local-policy", "5.7.1", "550 5.7.1 Message rejected due to local policy", "Mail Block", IG),
    Scenario("sender-domain", "5.1.8", "553 5.1.8 <news@shop.example>: Sender address rejected: Domain not found", "Mail Block", IG),
    Scenario("o365-auth-required", "5.7.1", "550 5.7.1 RESOLVER.RST.AuthRequired; authentication required", "Mail Block", IG),
    Scenario("too-large", "5.3.4", "552 5.3.4 Message size exceeds fixed maximum message size", "Too Large", IG),
    Scenario("gmail-too-large", "5.2.3", "552-5.2.3 Your message exceeded Google's message size limits. https://support.google.com/mail/?p=MaxSizeError - gsmtp", "Too Large", IG),
    Scenario("connect-timeout", "4.4.1", "connect to mx.{domain}[192.0.2.25]:25: Connection timed out", "Timeout", IG, smtp=False),
    Scenario("no-route", "4.4.1", "connect to mx.{domain}[192.0.2.26]:25: No route to host", "Timeout", IG, smtp=False),
    Scenario("expired", "4.4.7", "delivery temporarily suspended: conversation with mx.{domain}[192.0.2.27] timed out while receiving the initial server greeting", "Timeout", IG, smtp=False),
    Scenario("greylisted", "4.2.0", "450 4.2.0 <{rcpt}>: Recipient address rejected: Greylisted, see https://postgrey.schweikert.ch/help/{domain}.html", "Transient Failure", IG),
    Scenario("service-unavailable", "4.3.2", "421 4.3.2 Service not available, closing transmission channel", "Transient Failure", IG),
    Scenario("generic-550", "5.0.0", "550 Requested action not taken", "Generic Bounce", IG),
]
# fmt: on
DOMAINS = [
    "example.com",
    "example.org",
    "example.net",
    "mail.example",
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "corp.example.co.uk",
    "münchen.example",
]
NAMES = [
    "ana",
    "ben.w",
    "carla_r",
    "d.okafor",
    "eli",
    "fatima.z",
    "g.tanaka",
    "hugo",
    "ines",
    "jonas.k",
    "kim",
    "lea.m",
]


def _label(
    is_bounce: bool,
    category: str | None = None,
    reason: str | None = None,
    campaign: str | None = None,
) -> dict[str, object]:
    return {"is_bounce": is_bounce, "category": category, "reason": reason, "campaign": campaign}


# Fixed messages in corpus/static/: RFC 3464's example DSNs re-typed, and hand-written
# delay and success reports (not bounces), and formats and traps written from their docs.
STATIC_LABELS = {
    "rfc3464-simple.eml": _label(True, IG, "Timeout"),
    "rfc3464-multi.eml": _label(True, H, "Invalid Recipient"),
    "rfc3464-delayed.eml": _label(False),
    "postfix-delayed.eml": _label(False, campaign="spring-sale"),
    "success-dsn.eml": _label(False, campaign="spring-sale"),
    "lotus-notes-not-listed.eml": _label(True, H, "Invalid Recipient", "spring-sale"),
    "exchange-de-unzustellbar.eml": _label(True, H, "Invalid Recipient", "winter-2026"),
    "exchange-fr-non-remis.eml": _label(True, S, "Mailbox Full", "welcome-series"),
    "exim-delay-warning.eml": _label(False, campaign="spring-sale"),
    "sendmail-delay-warning.eml": _label(False, campaign="spring-sale"),
    "gmail-delay.eml": _label(False, campaign="spring-sale"),
    "hotmail-dsn-text.eml": _label(True, IG, "Generic Bounce", "spring-sale"),
    "yahoo-old-mailbox-not-found.eml": _label(True, H, "Invalid Recipient", "spring-sale"),
    "forwarded-bounce-by-person.eml": _label(False),
    "ordinary-office-party.eml": _label(False),
    "courier-dsn.eml": _label(True, H, "Invalid Recipient", "winter-2026"),
}


AUTO_REPLIES: list[tuple[str, str]] = [
    ("Auto-Submitted: auto-replied\n", "Out of Office: Our spring offers"),
    ("Auto-Submitted: auto-replied (vacation)\n", "Re: Our spring offers"),
    ("X-Autoreply: yes\n", "Away"),
    ("Precedence: auto_reply\n", "Re: Our spring offers"),
    ("X-Autogenerated: Reply\n", "Thank you for your message"),
    ("", "Automatic reply: Our spring offers"),
    ("", "Out of the office until Monday"),
    ("", "Abwesenheitsnotiz: Our spring offers"),
    ("", "Réponse automatique : Our spring offers"),
    ("", "AutoReply: Our spring offers"),
    (
        "Auto-Submitted: auto-replied\nX-Auto-Response-Suppress: All\n",
        "Automatische Antwort: Angebote",
    ),
    ("", "On vacation"),
]

ORDINARY: list[tuple[str, str, str]] = [
    (
        "Ana <ana@example.net>",
        "Re: Our spring offers",
        "Thanks, I will have a look at the offers next week.",
    ),
    (
        "Ben <ben@example.org>",
        "Question about my order",
        "Where is my parcel? It was returned to sender twice.",
    ),
    ("Carla <carla@example.com>", "Unsubscribe", "Please remove me from this list."),
    (
        "Newsletter <news@other.example>",
        "Weekly digest",
        "Five stories about delivery failures in logistics.",
    ),
    (
        "Dan <dan@example.com>",
        "Fwd: meeting",
        "See below; the mailbox full issue was fixed yesterday.",
    ),
    ("Support <help@vendor.example>", "Ticket 4412 updated", "Your ticket has been answered."),
    ("Eve <eve@example.net>", "Re: Our spring offers", "Is the 20% discount valid on shoes?"),
    ("Billing <billing@vendor.example>", "Your invoice", "Your invoice for November is attached."),
    (
        "Fred <fred@example.org>",
        "wrong address",
        "You sent this to the wrong person, I am not a customer.",
    ),
    ("Gina <gina@example.com>", "Hello", "Can we talk about the campaign results tomorrow?"),
]

ARF_TYPES = ["abuse", "abuse", "fraud", "abuse", "other"]


# Real bounces from Postfix 3.7 on this machine (see corpus/postfix-real/README), by name prefix.
REAL_LABELS = {
    "unknown-user": _label(True, H, "Invalid Recipient", "realmta-unknown"),
    "mailbox-full": _label(True, S, "Mailbox Full", "realmta-full"),
    "too-large": _label(True, IG, "Too Large", "realmta-large"),
    "relay-denied": _label(True, S, "Relaying Denied", "realmta-relay"),
    # Aliases to commands exiting with sysexits codes: Postfix maps each to a status.
    "sysexit-nouser": _label(True, H, "Invalid Recipient", "realmta-sysexit"),  # EX_NOUSER
    "sysexit-unavailable": _label(True, IG, "Generic Bounce", "realmta-sysexit"),  # EX_UNAVAILABLE
    "sysexit-noperm": _label(True, IG, "Mail Block", "realmta-sysexit"),  # EX_NOPERM
    "sysexit-cantcreat": _label(True, S, "Soft Bounce", "realmta-sysexit"),  # EX_CANTCREAT
}


def main() -> None:
    rng = random.Random(3464)
    GENERATED.mkdir(parents=True, exist_ok=True)
    for old in GENERATED.glob("*.eml"):
        old.unlink()
    labels: dict[str, dict[str, object]] = {}

    def write(name: str, text: str, label: dict[str, object]) -> None:
        (GENERATED / name).write_text(text, encoding="utf-8")
        labels[f"generated/{name}"] = label

    n = 0
    for scenario in SCENARIOS:
        templates = SMTP_TEMPLATES if scenario.smtp else LOCAL_TEMPLATES
        for fmt, template in rng.sample(templates, 4):
            n += 1
            domain = rng.choice(DOMAINS)
            rcpt = f"{rng.choice(NAMES)}@{domain}"
            campaign = rng.choice(["spring-sale", "winter-2026", "welcome-series", "promo-ß"])
            reply = scenario.reply.format(rcpt=rcpt, domain=domain)
            if scenario.smtp and len(reply) > 90 and rng.random() < 0.5:
                reply = multi_line(reply)
            case = Case(
                rcpt,
                domain,
                scenario.status,
                reply,
                scenario.smtp,
                campaign,
                f"p-{n}",
                f"evt-{n:04d}",
                verp_only=n % 5 == 0,
            )
            write(
                f"{fmt}-{scenario.slug}-{n:03d}.eml",
                crlf(template(case)) if n % 4 == 0 else template(case),
                _label(True, scenario.category, scenario.reason, campaign),
            )
    labels.update({f"static/{name}": label for name, label in STATIC_LABELS.items()})
    for i, (headers, subject) in enumerate(AUTO_REPLIES):
        write(
            f"autoreply-{i:02d}.eml",
            auto_reply(headers, subject, i),
            _label(True, IG, "Auto-Reply", "spring-sale"),
        )
    for i, (sender, subject, body) in enumerate(ORDINARY):
        write(f"ordinary-{i:02d}.eml", ordinary(sender, subject, body), _label(False))
    for i, feedback_type in enumerate(ARF_TYPES):
        case = Case(
            f"{NAMES[i]}@{DOMAINS[i]}",
            DOMAINS[i],
            "",
            "",
            True,
            "spring-sale",
            f"p-{800 + i}",
            f"evt-8{i:03d}",
            verp_only=i % 2 == 1,
        )
        write(
            f"arf-{feedback_type}-{i}.eml",
            arf(case, feedback_type),
            _label(False, campaign="spring-sale"),
        )
    for path in sorted((CORPUS / "postfix-real").glob("*.eml")):
        prefix = next((p for p in REAL_LABELS if path.name.startswith(p)), None)
        if prefix is not None:  # the later scenarios are labelled in the file (tests/bounces/mta)
            labels[f"postfix-real/{path.name}"] = REAL_LABELS[prefix]
    # The other sources (real MTAs, public collections) are labelled by hand in the file
    # itself: keep their entries.
    path = CORPUS / "labels.json"
    kept = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    labels.update(
        {k: v for k, v in kept.items() if k not in labels and not k.startswith("generated/")}
    )
    path.write_text(
        json.dumps(labels, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(f"{len(labels)} labelled messages in {CORPUS}")


if __name__ == "__main__":
    main()
