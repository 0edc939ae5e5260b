"""Bounce qualification: RFC 3463 statuses, RFC 5321 replies and providers' documented wordings."""

from __future__ import annotations

import re
from typing import Any

import pytest

from livereport.bounces import (
    DEFAULT_CATEGORY,
    DEFAULT_RULES,
    FALLBACK_REASONS,
    REASON_HELP,
    Category,
    Qualification,
    Reason,
    Rule,
    parse_rules,
    qualify,
    read_code,
    read_status,
)

R = Reason

GMAIL_NO_SUCH_USER = (
    "550-5.1.1 The email account that you tried to reach does not exist. Please try\n"
    "550-5.1.1 double-checking the recipient's email address for typos or\n"
    "550-5.1.1 unnecessary spaces. For more information, go to\n"
    "550 5.1.1  https://support.google.com/mail/?p=NoSuchUser a1si123456qkb.7 - gsmtp"
)

# (diagnostic, status, code) → (reason, rule that decides)
PROVIDER_CASES: list[tuple[str, str | None, int | None, Reason, str]] = [
    # Gmail (Google Workspace "SMTP errors and codes")
    (GMAIL_NO_SUCH_USER, None, None, R.INVALID_RECIPIENT, "diagnostic:user-unknown"),
    (
        "550 5.2.1 The email account that you tried to reach is disabled. - gsmtp",
        None,
        None,
        R.RECIPIENT_REFUSED,
        "diagnostic:mailbox-disabled",
    ),
    (
        "552-5.2.2 The email account that you tried to reach is over quota. - gsmtp",
        None,
        None,
        R.MAILBOX_FULL,
        "diagnostic:mailbox-full",
    ),
    (
        "452-4.2.2 The email account that you tried to reach is over quota. Please direct\n"
        "452-4.2.2 the recipient to https://support.google.com/mail/?p=OverQuotaTemp - gsmtp",
        None,
        None,
        R.MAILBOX_FULL,
        "diagnostic:mailbox-full",
    ),
    (
        "452 4.2.2 The recipient's inbox is out of storage space. - gsmtp",
        None,
        None,
        R.MAILBOX_FULL,
        "diagnostic:mailbox-full",
    ),
    (
        "552-5.3.4 Your message exceeded Google's message size limits. - gsmtp",
        None,
        None,
        R.TOO_LARGE,
        "diagnostic:too-large",
    ),
    (
        "450-4.2.1 The user you are trying to contact is receiving mail too quickly. Please\n"
        "450-4.2.1 resend your message at a later time. - gsmtp",
        None,
        None,
        R.SOFT_BOUNCE,
        "diagnostic:recipient-rate-limited",
    ),
    (
        "421-4.7.0 Try again later, closing connection. (EHLO) - gsmtp",
        None,
        None,
        R.TRANSIENT_FAILURE,
        "diagnostic:try-again-later",
    ),
    (
        "421-4.7.0 Our system has detected an unusual rate of unsolicited mail originating\n"
        "421-4.7.0 from your IP address. To protect our users from spam, mail sent from your\n"
        "421-4.7.0 IP address has been temporarily blocked. - gsmtp",
        None,
        None,
        R.SPAM_BLOCK,
        "diagnostic:spam-source",
    ),
    (
        "550-5.7.1 Our system has detected that this message is likely unsolicited mail. To\n"
        "550-5.7.1 reduce the amount of spam sent to Gmail, this message has been blocked. - gsmtp",
        None,
        None,
        R.SPAM_CONTENT,
        "diagnostic:spam-content",
    ),
    (
        "550-5.7.26 Unauthenticated email from example.com is not accepted due to domain's\n"
        "550-5.7.26 DMARC policy. Please contact the administrator of example.com domain if\n"
        "550-5.7.26 this was a legitimate mail. - gsmtp",
        None,
        None,
        R.MAIL_BLOCK,
        "diagnostic:unauthenticated",
    ),
    (
        "550-5.7.26 This message does not pass authentication checks (SPF and DKIM both do\n"
        "550-5.7.26 not pass). To best protect our users from spam, the message has been\n"
        "550 5.7.26 blocked. - gsmtp",
        None,
        None,
        R.MAIL_BLOCK,
        "diagnostic:unauthenticated",
    ),
    (
        "421-4.7.0 This message is suspicious due to the very low reputation of the sending\n"
        "421-4.7.0 domain. To best protect our users from spam, the message has been blocked.",
        None,
        None,
        R.SPAM_BLOCK,
        "diagnostic:spam-source",
    ),
    (
        "451 4.4.2 Timeout - closing connection. - gsmtp",
        None,
        None,
        R.TIMEOUT,
        "diagnostic:timed-out",
    ),
    # Microsoft (Outlook.com, Exchange Online NDRs)
    (
        "550 5.5.0 Requested action not taken: mailbox unavailable (1234:3150:-2147467259)",
        None,
        None,
        R.INVALID_RECIPIENT,
        "diagnostic:mailbox-unavailable",
    ),
    (
        "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
        None,
        None,
        R.INVALID_RECIPIENT,
        "diagnostic:user-unknown",
    ),
    (
        "550 5.4.1 Recipient address rejected: Access denied. AS(201806281) "
        "[DM6NAM11FT012.eop-nam11.prod.protection.outlook.com]",
        None,
        None,
        R.INVALID_RECIPIENT,
        "diagnostic:exchange-recipient-rejected",
    ),
    (
        "550 5.7.606 Access denied, banned sending IP [192.0.2.10]. To request removal from this "
        "list please visit https://sender.office.com/ and follow the directions.",
        None,
        None,
        R.SPAM_BLOCK,
        "diagnostic:spam-source",
    ),
    (
        "550 5.7.1 Unfortunately, messages from [192.0.2.10] weren't sent. Please contact your "
        "Internet service provider since part of their network is on our block list (S3150).",
        None,
        None,
        R.SPAM_BLOCK,
        "diagnostic:spam-source",
    ),
    (
        "550 5.7.509 Access denied, sending domain example.com does not pass DMARC verification "
        "and has a DMARC policy of reject.",
        None,
        None,
        R.MAIL_BLOCK,
        "diagnostic:unauthenticated",
    ),
    (
        "554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException",
        None,
        None,
        R.MAILBOX_FULL,
        "diagnostic:mailbox-full",
    ),
    (
        "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; "
        "Failed to process message due to a permanent exception: submission quota exceeded",
        None,
        None,
        R.TRANSIENT_FAILURE,
        "diagnostic:sender-throttled",
    ),
    # Yahoo / AOL (Yahoo Sender Hub error codes)
    (
        "554 delivery error: dd This user doesn't have a yahoo.com account (someone@yahoo.com) [0] "
        "- mta1234.mail.bf1.yahoo.com",
        None,
        None,
        R.INVALID_RECIPIENT,
        "diagnostic:user-unknown",
    ),
    (
        "552 1 Requested mail action aborted, mailbox not found",
        None,
        None,
        R.INVALID_RECIPIENT,
        "diagnostic:user-unknown",
    ),
    (
        "554 delivery error: dd Sorry your message to someone@yahoo.com cannot be delivered. "
        "This mailbox is disabled (554.30). - mta1.mail.ne1.yahoo.com",
        None,
        None,
        R.RECIPIENT_REFUSED,
        "diagnostic:mailbox-disabled",
    ),
    (
        "421 4.7.0 [TSS04] Messages from 192.0.2.10 temporarily deferred due to unexpected volume "
        "or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
        None,
        None,
        R.SPAM_BLOCK,
        "diagnostic:spam-source",
    ),
    (
        "554 5.7.9 Message not accepted for policy reasons. "
        "See https://postmaster.yahooinc.com/error-codes",
        None,
        None,
        R.MAIL_BLOCK,
        "diagnostic:policy-block",
    ),
    (
        "550 5.7.9 This mail has been blocked because the sender is unauthenticated. "
        "Yahoo requires all senders to authenticate with either SPF or DKIM.",
        None,
        None,
        R.MAIL_BLOCK,
        "diagnostic:unauthenticated",
    ),
    (
        "451 example.yahoo.com Resources temporarily unavailable. Please try again later [#4.16.1].",
        None,
        None,
        R.TRANSIENT_FAILURE,
        "diagnostic:try-again-later",
    ),
    # Blocklists, MTAs (Postfix, Exim, Sendmail, qmail)
    (
        "554 5.7.1 Service unavailable; Client host [192.0.2.10] blocked using zen.spamhaus.org; "
        "https://www.spamhaus.org/query/ip/192.0.2.10",
        None,
        None,
        R.SPAM_BLOCK,
        "diagnostic:spam-source",
    ),
    (
        "550 5.7.1 Message rejected as spam by Content Filtering.",
        None,
        None,
        R.SPAM_CONTENT,
        "diagnostic:spam-content",
    ),
    (
        "554 5.7.1 <someone@example.net>: Relay access denied",
        None,
        None,
        R.RELAYING_DENIED,
        "diagnostic:relaying-denied",
    ),
    (
        "554 5.7.1 <x@example.net>: Recipient address rejected: Relay access denied",
        None,
        None,
        R.RELAYING_DENIED,
        "diagnostic:relaying-denied",
    ),
    ("550 relay not permitted", None, None, R.RELAYING_DENIED, "diagnostic:relaying-denied"),
    (
        "552 5.3.4 Message size exceeds fixed maximum message size",
        None,
        None,
        R.TOO_LARGE,
        "diagnostic:too-large",
    ),
    (
        "550 5.1.1 <x@example.com>: Recipient address rejected: User unknown in virtual mailbox "
        "table",
        None,
        None,
        R.INVALID_RECIPIENT,
        "diagnostic:user-unknown",
    ),
    (
        "Host or domain name not found. Name service error for name=example.invalid type=MX: "
        "Host not found, try again",
        "5.4.4",
        None,
        R.DNS_FAILURE,
        "diagnostic:domain-not-found",
    ),
    (
        "450 4.1.2 <x@example.invalid>: Recipient address rejected: Domain not found",
        None,
        None,
        R.DNS_FAILURE,
        "diagnostic:domain-not-found",
    ),
    (
        "connect to mx.example.com[192.0.2.25]:25: Connection timed out",
        "4.4.1",
        None,
        R.TIMEOUT,
        "diagnostic:timed-out",
    ),
    ("retry timeout exceeded", None, None, R.TIMEOUT, "diagnostic:timed-out"),
    ("Unrouteable address", None, 550, R.DNS_FAILURE, "diagnostic:domain-not-found"),
    ("550 No Such User Here", None, None, R.INVALID_RECIPIENT, "diagnostic:user-unknown"),
    (
        "Sorry, no mailbox here by that name. (#5.1.1)",
        None,
        None,
        R.INVALID_RECIPIENT,
        "diagnostic:user-unknown",
    ),
    (
        "553 5.1.8 <sender@example.invalid>... Domain of sender address does not exist",
        None,
        None,
        R.MAIL_BLOCK,
        "diagnostic:sender-rejected",
    ),
    (
        "450 4.1.8 <sender@example.org>: Sender address rejected: Domain not found",
        None,
        None,
        R.MAIL_BLOCK,
        "diagnostic:sender-rejected",
    ),
    (
        "450 4.7.1 <x@example.org>: Recipient address rejected: Greylisted, see "
        "https://postgrey.schweikert.ch/help/example.org.html",
        None,
        None,
        R.TRANSIENT_FAILURE,
        "diagnostic:greylisted",
    ),
    (
        "550 5.7.1 Mail from 192.0.2.10 refused, the IP is not authorized to send by SPF",
        None,
        None,
        R.MAIL_BLOCK,
        "diagnostic:unauthenticated",
    ),
    (
        "This is an automatic reply. I am out of the office until Monday.",
        None,
        None,
        R.AUTO_REPLY,
        "diagnostic:auto-reply",
    ),
    (
        "Your message is held. Please verify that you are human by following this link: "
        "https://example.net/challenge/123",
        None,
        None,
        R.CHALLENGE_RESPONSE,
        "diagnostic:challenge-response",
    ),
]


@pytest.mark.parametrize(("diagnostic", "status", "code", "reason", "rule"), PROVIDER_CASES)
def test_provider_wordings(
    diagnostic: str, status: str | None, code: int | None, reason: Reason, rule: str
) -> None:
    found = qualify(status=status, code=code, diagnostic=diagnostic)
    assert (found.reason, found.rule) == (reason, rule)
    assert found.category == DEFAULT_CATEGORY[reason]


# RFC 3463 status alone (with a text that says nothing) → reason.
STATUS_CASES: list[tuple[str, Reason, str]] = [
    ("5.1.1", R.INVALID_RECIPIENT, "status:5.1.1"),
    ("5.1.2", R.DNS_FAILURE, "status:5.1.2"),
    ("5.1.3", R.INVALID_RECIPIENT, "status:5.1.3"),
    ("5.1.6", R.INVALID_RECIPIENT, "status:5.1.6"),
    ("5.1.7", R.MAIL_BLOCK, "status:5.1.7"),
    ("5.1.10", R.INVALID_RECIPIENT, "status:5.1.10"),
    ("5.2.1", R.RECIPIENT_REFUSED, "status:5.2.1"),
    ("5.2.2", R.MAILBOX_FULL, "status:5.2.2"),
    ("5.2.3", R.TOO_LARGE, "status:5.2.3"),
    ("5.3.4", R.TOO_LARGE, "status:5.3.4"),
    ("5.4.1", R.TIMEOUT, "status:5.4.1"),
    ("5.4.4", R.DNS_FAILURE, "status:5.4.4"),
    ("5.4.7", R.TIMEOUT, "status:5.4.7"),
    ("5.7.1", R.MAIL_BLOCK, "status:5.7"),
    ("5.7.26", R.MAIL_BLOCK, "status:5.7"),
    ("5.7.13", R.RECIPIENT_REFUSED, "status:5.7.13"),
    ("5.0.0", R.GENERIC_BOUNCE, "fallback:permanent"),
    ("5.6.1", R.GENERIC_BOUNCE, "fallback:permanent"),
    ("4.1.1", R.SOFT_BOUNCE, "status:4.1"),
    ("4.1.2", R.DNS_FAILURE, "status:4.1.2"),
    ("4.2.0", R.SOFT_BOUNCE, "status:4.2"),
    ("4.2.1", R.SOFT_BOUNCE, "status:4.2.1"),
    ("4.2.2", R.MAILBOX_FULL, "status:4.2.2"),
    ("4.3.0", R.TRANSIENT_FAILURE, "status:4.3"),
    ("4.3.4", R.TOO_LARGE, "status:4.3.4"),
    ("4.4.1", R.TIMEOUT, "status:4.4.1"),
    ("4.4.4", R.DNS_FAILURE, "status:4.4.4"),
    ("4.4.5", R.TRANSIENT_FAILURE, "status:4.4"),
    ("4.4.7", R.TIMEOUT, "status:4.4.7"),
    ("4.5.3", R.TRANSIENT_FAILURE, "status:4.5"),
    ("4.7.1", R.MAIL_BLOCK, "status:4.7"),
    ("4.0.0", R.SOFT_BOUNCE, "fallback:transient"),
]


@pytest.mark.parametrize(("status", "reason", "rule"), STATUS_CASES)
def test_rfc3463_status_alone(status: str, reason: Reason, rule: str) -> None:
    found = qualify(status=status, diagnostic="Delivery failed.")
    assert (found.reason, found.category, found.status, found.rule) == (
        reason,
        DEFAULT_CATEGORY[reason],
        status,
        rule,
    )


def test_status_prefix_compares_components_not_characters() -> None:
    assert qualify(status="5.1.10").rule == "status:5.1.10"
    assert qualify(status="5.1.10", code=556).reason == R.DNS_FAILURE  # RFC 7505 null MX


# RFC 5321 reply code alone → reason.
CODE_CASES: list[tuple[int, Reason]] = [
    (421, R.TRANSIENT_FAILURE),
    (450, R.SOFT_BOUNCE),
    (451, R.TRANSIENT_FAILURE),
    (452, R.TRANSIENT_FAILURE),
    (550, R.GENERIC_BOUNCE),
    (551, R.INVALID_RECIPIENT),
    (552, R.MAILBOX_FULL),
    (553, R.INVALID_RECIPIENT),
    (554, R.MAIL_BLOCK),
    (556, R.DNS_FAILURE),
]


@pytest.mark.parametrize(("code", "reason"), CODE_CASES)
def test_reply_code_alone(code: int, reason: Reason) -> None:
    found = qualify(code=code)
    assert (found.reason, found.rule, found.status) == (reason, f"code:{code}", None)


def test_unknown_reply_codes_fall_back_by_class() -> None:
    assert qualify(code=571).rule == "fallback:permanent"
    assert qualify(code=471).reason == R.SOFT_BOUNCE


def test_no_data_is_undetermined() -> None:
    assert qualify() == Qualification(
        R.UNDETERMINED, Category.IGNORED, None, "fallback:undetermined"
    )
    assert qualify(diagnostic="Something went wrong").rule == "fallback:undetermined"


def test_status_code_given_wins_over_the_text() -> None:
    found = qualify(status="5.2.2", diagnostic="550 5.1.1 whatever")
    assert found.status == "5.2.2"
    assert found.reason == R.MAILBOX_FULL


def test_status_and_code_are_read_from_the_diagnostic() -> None:
    assert read_status("smtp; 550 5.1.1 <a@example.com>... User unknown") == "5.1.1"
    assert read_status("Remote Server returned '550 5.4.1 [a@example.com]'") == "5.4.1"
    assert read_status("(#5.1.1)") == "5.1.1"
    assert read_status("5.1.1.") == "5.1.1"  # end of a sentence
    assert read_status("server 10.5.1.1 and id 4.16.55.1") is None  # addresses, not statuses
    assert read_status("dd This mailbox is disabled (554.30)") is None
    assert read_code("smtp; 550 5.1.1 User unknown") == 550
    assert read_code("550-5.1.1 The email account") == 550
    assert read_code("host mx.example.com said: 552 5.2.2 Mailbox full") == 552
    assert read_code("Mailbox full") is None
    assert read_code("connect to mx.example.com:465: Connection refused") is None
    found = qualify(diagnostic="host mx.example.com said: 552 Quota problem")
    assert (found.reason, found.status) == (R.MAILBOX_FULL, None)


def test_every_default_rule_has_its_reasons_category() -> None:
    for rule in DEFAULT_RULES:
        assert rule.category == DEFAULT_CATEGORY[Reason(rule.reason)], rule.name


def test_default_rules_are_self_describing() -> None:
    names = [rule.name for rule in DEFAULT_RULES]
    assert len(names) == len(set(names)), "rule names must be unique"
    for rule in DEFAULT_RULES:
        assert re.fullmatch(r"(diagnostic|status|code):[\w.+:-]+", rule.name), rule.name
        assert rule.status or rule.code or rule.pattern, rule.name
    assert set(REASON_HELP) == set(Reason)
    assert set(FALLBACK_REASONS.values()) <= set(Reason)


def test_reasons_and_categories_follow_the_spec() -> None:
    assert [r.value for r in Reason] == [
        "Invalid Recipient",
        "Recipient Refused",
        "Soft Bounce",
        "DNS Failure",
        "Mailbox Full",
        "Relaying Denied",
        "Challenge-Response",
        "Too Large",
        "Timeout",
        "Generic Bounce",
        "Mail Block",
        "Spam Block",
        "Spam Content",
        "Auto-Reply",
        "Transient Failure",
        "Undetermined",
    ]
    hard = {r for r, c in DEFAULT_CATEGORY.items() if c == Category.HARD}
    soft = {r for r, c in DEFAULT_CATEGORY.items() if c == Category.SOFT}
    assert hard == {R.INVALID_RECIPIENT, R.RECIPIENT_REFUSED}
    assert soft == {
        R.SOFT_BOUNCE,
        R.DNS_FAILURE,
        R.MAILBOX_FULL,
        R.RELAYING_DENIED,
        R.CHALLENGE_RESPONSE,
    }


TEXTS = [case[0] for case in PROVIDER_CASES] + ["User unknown", "mailbox disabled", ""]


@pytest.mark.parametrize("text", TEXTS)
def test_a_transient_failure_is_never_hard(text: str) -> None:
    for status in ("4.0.0", "4.1.1", "4.1.6", "4.2.1", "4.5.0", "4.7.13", "4.7.17"):
        assert qualify(status=status, diagnostic=text).category != Category.HARD
    for code in (421, 450, 451, 452, 454):
        body = re.sub(r"(?m)^\d{3}[ -](?:\d\.\d+\.\d+ +)?", "", text)  # no status left
        found = qualify(code=code, diagnostic=body)
        if found.status is None:
            assert found.category != Category.HARD, (code, body)


def test_user_unknown_on_a_deferral_is_soft() -> None:
    text = "450 4.1.1 <a@example.com>: Recipient address rejected: User unknown in local table"
    found = qualify(diagnostic=text)
    assert (found.reason, found.category) == (R.SOFT_BOUNCE, Category.SOFT)
    assert found.rule == "status:4.1"


# --- an org's own rules ------------------------------------------------------------------


def test_org_rules_go_first_and_decide() -> None:
    org = parse_rules(
        [
            {"name": "acme-vip", "reason": "VIP gateway", "category": "soft", "pattern": r"vip-gw"},
            {"name": "all-550", "reason": "Hard 550", "category": "hard", "code": 550},
            {"name": "no-5-7", "reason": "Policy", "category": "ignored", "status": "5.7."},
        ]
    )
    rules = (*org, *DEFAULT_RULES)
    found = qualify(diagnostic="550 5.1.1 rejected by VIP-GW", rules=rules)
    assert (found.reason, found.category, found.rule) == ("VIP gateway", Category.SOFT, "acme-vip")
    assert qualify(code=550, rules=rules).category == Category.HARD
    assert qualify(status="5.7.1", rules=rules).rule == "no-5-7"
    assert qualify(status="5.1.1", rules=rules).rule == "status:5.1.1"


def test_parse_rules_accepts_blank_conditions_and_string_codes() -> None:
    row = {"name": "n", "reason": "r", "category": "Hard", "status": "", "code": "551"}
    (rule,) = parse_rules([{**row, "pattern": None, "note": "why"}])
    assert rule == Rule("n", "r", Category.HARD, None, 551, None, "why")


BAD_ROWS: list[tuple[Any, str]] = [
    ({"reason": "r", "category": "hard", "code": 550}, r"rules\[0\]\.name: missing"),
    ({"name": "n", "reason": "", "category": "hard", "code": 550}, r"rules\[0\]\.reason: ''"),
    (
        {"name": "n", "reason": "x" * 65, "category": "hard", "code": 550},
        r"rules\[0\]\.reason: too long.*at most 64",
    ),
    (
        {"name": "n", "reason": "r", "category": "harde", "code": 550},
        r"rules\[0\]\.category: 'harde' is not a category; expected one of hard, soft, ignored",
    ),
    ({"name": "n", "reason": "r", "code": 550}, r"rules\[0\]\.category: missing"),
    (
        {"name": "n", "reason": "r", "category": "soft"},
        r"rules\[0\]: no condition; expected at least one of status, code, pattern",
    ),
    (
        {"name": "n", "reason": "r", "category": "soft", "status": "5.1.1.1"},
        r"rules\[0\]\.status: '5\.1\.1\.1' is not a status; expected",
    ),
    (
        {"name": "n", "reason": "r", "category": "soft", "status": "2.0.0"},
        r"rules\[0\]\.status: '2\.0\.0' is not a status",
    ),
    (
        {"name": "n", "reason": "r", "category": "hard", "status": "4.1.1"},
        r"rules\[0\]\.status: a 4\.x\.x status is transient",
    ),
    (
        {"name": "n", "reason": "r", "category": "hard", "code": 450},
        r"rules\[0\]\.code: a 4xx reply is transient",
    ),
    (
        {"name": "n", "reason": "r", "category": "soft", "code": 250},
        r"rules\[0\]\.code: 250 is not a reply code; expected an integer 400-599",
    ),
    (
        {"name": "n", "reason": "r", "category": "soft", "code": True},
        r"rules\[0\]\.code: True is not a reply code",
    ),
    (
        {"name": "n", "reason": "r", "category": "soft", "pattern": "user (unknown"},
        r"rules\[0\]\.pattern: not a valid regular expression \(.*\); expected Python re syntax",
    ),
    (
        {"name": "n", "reason": "r", "category": "soft", "pattern": "a" * 501},
        r"rules\[0\]\.pattern: expected a regular expression of at most 500",
    ),
    (
        {"name": "n", "reason": "r", "category": "soft", "code": 550, "stauts": "5.1.1"},
        r"rules\[0\]\.stauts: unknown field; expected one of name, reason",
    ),
    (
        {"name": "n\x00", "reason": "r", "category": "soft", "code": 550},
        r"rules\[0\]\.name: too long or has control characters",
    ),
    ("not a row", r"rules\[0\]: expected an object"),
]


@pytest.mark.parametrize(("row", "message"), BAD_ROWS)
def test_parse_rules_names_the_row_and_field(row: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_rules([row])


def test_parse_rules_reports_every_problem_with_its_row() -> None:
    good = {"name": "ok", "reason": "r", "category": "soft", "code": 550}
    with pytest.raises(ValueError) as caught:
        duplicate = {"name": "ok", "reason": "r", "category": "soft", "code": 551}
        parse_rules(
            [good, duplicate, {"name": "x", "reason": "r", "category": "no", "pattern": "("}]
        )
    message = str(caught.value)
    assert "rules[1].name: 'ok' is used twice" in message
    assert "rules[2].category:" in message
    assert "rules[2].pattern:" in message
    assert "rules[0]" not in message
