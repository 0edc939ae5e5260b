"""Bounce reasons, their categories, and the ordered rule table that maps SMTP data to them.

Used at ingest (events without a reason) and by `livereport bounces classify`; see qualify.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from types import MappingProxyType

from livereport.events import Bounce

#: What a bounce says about the address: the event's own ``bounce`` field (one enum, two
#: names: rules speak of a category, events of their bounce).
Category = Bounce


class Reason(StrEnum):
    """The default bounce reasons (SPEC §5); values are what reports display."""

    INVALID_RECIPIENT = "Invalid Recipient"
    RECIPIENT_REFUSED = "Recipient Refused"
    SOFT_BOUNCE = "Soft Bounce"
    DNS_FAILURE = "DNS Failure"
    MAILBOX_FULL = "Mailbox Full"
    RELAYING_DENIED = "Relaying Denied"
    CHALLENGE_RESPONSE = "Challenge-Response"
    TOO_LARGE = "Too Large"
    TIMEOUT = "Timeout"
    GENERIC_BOUNCE = "Generic Bounce"
    MAIL_BLOCK = "Mail Block"
    SPAM_BLOCK = "Spam Block"
    SPAM_CONTENT = "Spam Content"
    AUTO_REPLY = "Auto-Reply"
    TRANSIENT_FAILURE = "Transient Failure"
    UNDETERMINED = "Undetermined"


_H, _S, _I = Category.HARD, Category.SOFT, Category.IGNORED

DEFAULT_CATEGORY: Mapping[Reason, Category] = MappingProxyType(
    {
        Reason.INVALID_RECIPIENT: _H,
        Reason.RECIPIENT_REFUSED: _H,
        Reason.SOFT_BOUNCE: _S,
        Reason.DNS_FAILURE: _S,
        Reason.MAILBOX_FULL: _S,
        Reason.RELAYING_DENIED: _S,
        Reason.CHALLENGE_RESPONSE: _S,
        Reason.TOO_LARGE: _I,
        Reason.TIMEOUT: _I,
        Reason.GENERIC_BOUNCE: _I,
        Reason.MAIL_BLOCK: _I,
        Reason.SPAM_BLOCK: _I,
        Reason.SPAM_CONTENT: _I,
        Reason.AUTO_REPLY: _I,
        Reason.TRANSIENT_FAILURE: _I,
        Reason.UNDETERMINED: _I,
    }
)

REASON_HELP: Mapping[Reason, str] = MappingProxyType(
    {
        Reason.INVALID_RECIPIENT: "The address does not exist at the receiving domain.",
        Reason.RECIPIENT_REFUSED: "The mailbox exists but is disabled, closed or refuses mail.",
        Reason.SOFT_BOUNCE: "The mailbox could not take the message for now.",
        Reason.DNS_FAILURE: "The recipient's domain could not be found or cannot receive mail.",
        Reason.MAILBOX_FULL: "The recipient's mailbox is over its storage quota.",
        Reason.RELAYING_DENIED: "A server refused to pass the message on towards the recipient.",
        Reason.CHALLENGE_RESPONSE: "The recipient's system asks the sender to prove it is human.",
        Reason.TOO_LARGE: "The message is bigger than the receiving system accepts.",
        Reason.TIMEOUT: "The receiving server did not answer, or delivery took too long.",
        Reason.GENERIC_BOUNCE: "A permanent failure that names no more precise cause.",
        Reason.MAIL_BLOCK: "Refused by the receiver's policy (authentication, sender, access).",
        Reason.SPAM_BLOCK: "Refused because the sending IP or domain has a poor reputation.",
        Reason.SPAM_CONTENT: "Refused because the message itself looked like spam or malware.",
        Reason.AUTO_REPLY: "An automatic answer (out of office, vacation), not a failure.",
        Reason.TRANSIENT_FAILURE: "The receiving system was busy or failing, not the address.",
        Reason.UNDETERMINED: "Not enough information to tell why the message bounced.",
    }
)

#: What decides when no rule matches, by the class of the failure found.
FALLBACK_REASONS: Mapping[str, Reason] = MappingProxyType(
    {
        "permanent": Reason.GENERIC_BOUNCE,  # a 5.x.x status or 5xx reply no rule recognised
        "transient": Reason.SOFT_BOUNCE,  # a 4.x.x status or 4xx reply no rule recognised
        "undetermined": Reason.UNDETERMINED,  # no status, no reply code, no telling text
    }
)


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of a qualification table; it applies when every condition it sets holds.

    `status` is an enhanced status code or a prefix of one ("5.1.1", "5.1.", "4."), compared
    component by component (so "5.1.1" does not cover "5.1.10"); `code` is an SMTP reply code;
    `pattern` is searched in the diagnostic text. `note` says why the row exists, for docs.
    `learned_from` names the corpus sources (tests/bounces/corpus) a wording was taken from,
    when it is one server's own and not a standard or documented text: the corpus figures
    leave them out to score those sources (tests/bounces/scores.py).
    """

    name: str
    reason: str
    category: Category
    status: str | None = None
    code: int | None = None
    pattern: re.Pattern[str] | None = None
    note: str = ""
    learned_from: frozenset[str] = frozenset()

    def matches(self, status: str | None, code: int | None, text: str) -> bool:
        """Whether this rule holds for a found status, reply code and diagnostic text."""
        if self.status is not None:
            if status is None:
                return False
            prefix = split_status(self.status)
            if split_status(status)[: len(prefix)] != prefix:
                return False
        if self.code is not None and code != self.code:
            return False
        return self.pattern is None or self.pattern.search(text) is not None


@lru_cache(maxsize=512)
def split_status(status: str) -> tuple[int, ...]:
    """Components of a status or status prefix: "5.1." → (5, 1)."""
    return tuple(int(part) for part in status.split(".") if part)


def _when_text(
    slug: str,
    reason: Reason,
    pattern: str,
    *,
    status: str | None = None,
    code: int | None = None,
    note: str = "",
    learned_from: str = "",
) -> Rule:
    compiled = re.compile(pattern, re.IGNORECASE)
    sources = frozenset(learned_from.split()) if learned_from else frozenset()
    return Rule(
        f"diagnostic:{slug}",
        reason,
        DEFAULT_CATEGORY[reason],
        status,
        code,
        compiled,
        note,
        sources,
    )


def _when_status(status: str, reason: Reason, note: str = "", code: int | None = None) -> Rule:
    name = f"status:{status.rstrip('.')}" + (f"+code:{code}" if code is not None else "")
    return Rule(name, reason, DEFAULT_CATEGORY[reason], status=status, code=code, note=note)


def _when_code(code: int, reason: Reason, note: str = "") -> Rule:
    return Rule(f"code:{code}", reason, DEFAULT_CATEGORY[reason], code=code, note=note)


R = Reason

# fmt: off
# The first matching row decides. Diagnostic wordings come first because servers often pair a
# precise text with a vague or misused status (Microsoft's 5.4.1 and 5.5.0 mean "no such user").
# A row whose category is hard is skipped for a transient (4.x.x / 4xx) failure: see qualify().
DEFAULT_RULES: tuple[Rule, ...] = (
    # --- 1. Diagnostic text, most telling first -------------------------------------------
    _when_text("relaying-denied", R.RELAYING_DENIED,
               r"relay(?:ing)? (?:access )?(?:denied|not permitted|prohibited|not allowed)"
               r"|(?:use|using) (?:me|this (?:server|host)) [^.]{0,80}?as a relay"
               r"|not in my list of allowed rcpthosts"
               r"|(?:not allowed|unable|cannot|can't|do not|don't|will not|won't) (?:to )?relay",
               note="Before the recipient rows: Postfix says "
                    "'Recipient address rejected: Relay access denied'."),
    _when_text("exchange-recipient-rejected", R.INVALID_RECIPIENT,
               r"recipient address rejected: access denied", status="5.4.1",
               note="Exchange Online rejects unknown addresses at its edge with 5.4.1."),
    _when_text("recipient-access-denied", R.RECIPIENT_REFUSED,
               r"recipient address rejected: access denied",
               note="Elsewhere (Postfix access maps) an admin refuses this recipient."),
    _when_text("unauthenticated", R.MAIL_BLOCK,
               r"dmarc|\bspf\b|dkim|unauthenticated|not authenticated"
               r"|authentication (?:failed|failure|required|checks?)|reverse dns|\brdns\b|\bptr\b",
               note="A policy the sender can fix, not a verdict on reputation; first because "
                    "Gmail's texts for it also mention spam."),
    _when_text("spam-source", R.SPAM_BLOCK,
               r"spamhaus|spamcop|barracudacentral|barracuda reputation|\bsorbs\b"
               r"|\b(?:rbl|dnsbl)\b|black ?list|block ?list"
               r"|deny ?list|blocked using|(?<!not )(?:is|are|been) listed (?:at|on|in|by)"
               r"|banned sending ip|traffic not accepted from this ip|unusual rate of unsolicited"
               r"|(?:low|poor|bad) reputation|user complaints|known spam|spam source|spam ?list",
               note="The sending IP or domain is listed or has a poor reputation."),
    _when_text("spam-content", R.SPAM_CONTENT,
               r"spam|unsolicited|junk|phish|virus|malware|infected|nature of the content"
               r"|bulk (?:e-?mail|mail)|mass ?mail"
               r"|content (?:filter|rejected|policy)|\buribl\b|\bsurbl\b",
               note="After spam-source: texts about the sender's reputation mention spam too."),
    _when_text("sender-rejected", R.MAIL_BLOCK,
               r"sender (?:address )?(?:rejected|denied|refused|blocked|not allowed)"
               r"|sender (?:verify|verification) failed|(?:bad|invalid|unknown) sender"
               r"|domain of sender address|sender (?:domain|address) (?:does not exist|not found)"
               r"|client host rejected|helo command rejected"
               r"|not accepting (?:e-?mail|mail|messages) from",
               note="The refused party is the sender (address, HELO, host), not the recipient."),
    _when_text("domain-not-found", R.DNS_FAILURE,
               r"host or domain name not found|(?:domain|host)(?: name)? not found"
               r"|(?:domain|host)(?: name)? (?:does not|doesn't) exist|no such domain"
               r"|unknown (?:domain|host)|(?:domain|host) unknown|no mx\b|no valid mx|null mx"
               r"|mx (?:record|lookup)|unroutea?ble|name service error|nxdomain"
               r"|dns (?:error|failure|lookup)|name or service not known",
               note="Before user-unknown, so that a missing domain is not a missing user."),
    _when_text("null-mx-exim", R.DNS_FAILURE, r"record indicated no smtp service",
               note="Exim's words for a null MX (RFC 7505).", learned_from="exim-real"),
    _when_text("mailbox-unavailable", R.INVALID_RECIPIENT, r"mailbox (?:is )?unavailable",
               status="5.5.0",
               note="Outlook.com answers an unknown address with 5.5.0 and RFC 5321's wording; "
                    "elsewhere that wording may be a policy refusal."),
    _when_text("user-unknown", R.INVALID_RECIPIENT,
               r"user unknown|unknown (?:user|recipient|mailbox|address|account)"
               r"|no such (?:user|mailbox|recipient|address|account|person)"
               r"|no (?:mail ?box|account) (?:here )?by that name"
               r"|(?:user|mail-?box|recipient|address|account|rcpt)\b[^.;:]{0,40}?\b"
               r"(?:does not|doesn't|did not) exist"
               r"|(?:user|mail-?box|recipient|address|account) (?:not found|unknown|not known)"
               r"|(?:invalid|not a valid|not an active|bad[ _]) ?(?:recipient|mailbox|address|user)"
               r"|invalid\b[^.;:]{0,30}?\b(?:user ?id|user ?name)"
               r"|non-?existent (?:user|recipient|mailbox|address|account)"
               r"|not a known user|no (?:mail ?box|mailbox|account) (?:found|available)"
               r"|(?:recipient|user|address)(?: name)? (?:is )?not recognized"
               r"|doesn't have an? \S+ account|recip(?:ient)?notfound|undeliverable address(?!:)"
               r"|not a registered gateway user|not listed in (?:the )?(?:Domino )?Directory",
               note="The wordings of RFC 5321's 550 and of common MTAs for a missing mailbox."),
    _when_text("user-unknown-rfc5321", R.INVALID_RECIPIENT,
               r"requested action not taken: mailbox unavailable", code=550,
               note="RFC 5321's text for 550; Microsoft's servers give it for unknown users."),
    _when_text("user-unknown-languages", R.INVALID_RECIPIENT,
               r"(?:adresse|destinataire|utilisateur)[^.;:]{0,60}?n'existe pas"
               r"|(?:empfänger|benutzer|adresse)[^.;:]{0,30}?(?:unbekannt|existiert nicht)"
               r"|(?:usuario|destinatario|dirección)[^.;:]{0,30}?no existe"
               r"|(?:utente|indirizzo|destinatario)[^.;:]{0,30}?(?:non esiste|sconosciut)"
               r"|(?:usuário|destinatário|endereço)[^.;:]{0,30}?não existe"
               r"|(?:użytkownik|adres|odbiorca)[^.;:]{0,30}?nie istnieje"
               r"|(?:пользовател|адрес|получател)[^.;:]{0,40}?не (?:существует|найден)",
               note="'No such user' as mail servers say it in French, German, Spanish, Italian, "
                    "Portuguese, Polish and Russian."),
    _when_text("user-unknown-makes", R.INVALID_RECIPIENT,
               r"invalid final delivery userid|does not have a final (?:e-?mail )?delivery point"
               r"|no matches to nameserver query",
               note="SMTP32 and phquery's words for an unknown user.", learned_from="public-flufl"),
    _when_text("user-unknown-domino", R.INVALID_RECIPIENT,
               r"not unique\. several matches found in domino directory",
               note="Domino: the address names no single person.", learned_from="public-bounced"),
    _when_text("user-unknown-courier", R.INVALID_RECIPIENT, r"user <[^>\n]{1,100}> unknown",
               note="Courier names the local part between the words.", learned_from="courier-real"),
    _when_text("user-unknown-cox", R.INVALID_RECIPIENT, r"mailbox unavailable or access denied",
               note="Cox's answer to an unknown address.", learned_from="public-baunsu"),
    _when_text("mailbox-disabled", R.RECIPIENT_REFUSED,
               r"(?:account|mailbox|user)\b[^.;:]{0,40}?\b"
               r"(?:disabled|deactivated|suspended|inactive|closed|terminated|deleted|expired)\b"
               r"|(?:disabled|deactivated|suspended|inactive|closed|terminated) (?:account|mailbox)"
               r"|no longer (?:active|in use|accepting|valid|available)"
               r"|not accepting (?:e-?mail|mail|messages)(?! (?:with|from|containing))"),
    _when_text("sender-throttled", R.TRANSIENT_FAILURE,
               r"sending (?:quota|limit|rate)|submission quota|(?:daily|hourly) (?:sending )?"
               r"(?:quota|limit)|rate limit|throttl|too many (?:connections|concurrent)",
               note="Sender-side quotas read like 'quota exceeded': keep them from Mailbox Full."),
    _when_text("mailbox-full", R.MAILBOX_FULL,
               r"mailbox (?:is )?full|over (?:the |its |disk |storage )?quota|overquota"
               r"|quota (?:exceeded|full|limit)|out of storage|would exceed (?:the )?quota"
               r"|exceed(?:s|ed)? (?:its |the |their |his |her )?(?:storage|quota|mailbox)"
               r"|mailbox size limit|insufficient (?:disk )?space|(?:storage|disk) (?:is )?full"
               r"|(?:disk ?space|disk|storage) (?:quota|limit)|mail ?box space not enough"
               r"|not enough (?:storage |disk )?space|full mailbox|mailbox (?:size )?exceeds"
               r"|(?:mail ?box|mail ?folder|account|inbox) (?:is )?(?:full|over (?:its )?(?:limit|size))",
               note="Over quota, in the words of common MTAs and mailbox providers."),
    _when_text("mailbox-full-webde", R.MAILBOX_FULL, r"too many messages on the server",
               note="Web.de's answer for a full mailbox.", learned_from="public-bounceparser"),
    _when_text("too-large", R.TOO_LARGE,
               r"(?:message|mail|e-?mail) (?:is )?too (?:large|big)|too big for system"
               r"|size exceeds|exceed(?:s|ed)? (?:the )?(?:fixed |allowed |maximum |max |incoming )+"
               r"(?:message )?size"
               r"|size limits?\b|message length exceeds|(?:maximum|max) (?:message )?size exceeded",
               note="After mailbox-full, which owns 'mailbox size limit'."),
    _when_text("greylisted", R.TRANSIENT_FAILURE, r"gr[ea]ylist",
               note="Before timed-out: Exim adds 'retry timeout exceeded' to the last reply "
                    "when it gives up, and the reply says why."),
    _when_text("timed-out", R.TIMEOUT,
               r"time(?:d)?[ -]?out|connection (?:refused|reset|lost|dropped)|no answer from host"
               r"|no route to host|(?:host|server|network) (?:is )?unreachable"
               r"|(?:unable|failed) to connect|(?:could not|couldn't) connect"
               r"|message (?:has )?expired|expired in queue|too long in (?:the )?queue"
               r"|delivery (?:time|period) expired|allowed queue period|not reachable within"
               r"|(?:maximum|max|too many) (?:delivery )?(?:attempts|retries)"
               r"|(?:failed|after) \d+ (?:delivery )?(?:attempts|tries|retries)"
               r"|(?:host|server) (?:is )?not responding|all (?:relevant )?(?:mx )?hosts? (?:have been )?failing",
               note="Given up after retrying: timeouts, expiry in the queue, attempts used up."),
    _when_text("recipient-rate-limited", R.SOFT_BOUNCE,
               r"receiving mail (?:too quickly|at a rate)|too many messages for this",
               note="A mailbox receiving too fast is that mailbox's state; a busy server is not."),
    _when_text("policy-block", R.MAIL_BLOCK,
               r"\bblocked\b|\bbanned\b|access denied|ip not in whitelist|tls (?:is )?required"
               r"|(?:policy|administrative) (?:reasons|prohibited|denied|violation|rejection)"
               r"|(?:rejected|refused|not accepted) (?:for|due to|by) (?:local |our )?polic"
               r"|not (?:authori[sz]ed|permitted) to send"),
    _when_text("try-again-later", R.TRANSIENT_FAILURE,
               r"try again later|please retry|retry later"
               r"|temporar(?:il)?y (?:deferred|rejected|unavailable|failed|failure|problem|error)"
               r"|server (?:is )?busy|resources temporarily unavailable|local error in processing"),
    _when_text("service-unavailable", R.TRANSIENT_FAILURE,
               r"service (?:is )?(?:currently |temporarily )?(?:unavailable|not available)",
               status="4.", note="RFC 5321's 421; for a 5.x.x failure it names no cause."),
    _when_text("challenge-response", R.CHALLENGE_RESPONSE,
               r"challenge[- ]?response|(?:verify|prove|confirm) (?:that )?you(?:'re| are) (?:a )?"
               r"(?:human|real person)|\bboxbe\b|awaiting (?:your )?(?:verification|confirmation)"
               r"|sender (?:has not been|is not yet) (?:verified|approved)",
               note="Not a failure; last, as real failures sometimes quote such texts."),
    _when_text("auto-reply", R.AUTO_REPLY,
               r"\bauto[- ]?(?:reply|response|responder)\b|automatic (?:reply|response)"
               r"|out of (?:the )?office|on (?:vacation|holiday|annual leave)"
               r"|away from (?:the|my) office",
               note="Not a failure; last, as real failures sometimes quote such texts."),
    # --- 2. Enhanced status codes (RFC 3463 and the IANA registry) --------------------------
    _when_status("5.1.1", R.INVALID_RECIPIENT, "Bad destination mailbox address."),
    _when_status("5.1.2", R.DNS_FAILURE, "Bad destination system: the domain takes no mail."),
    _when_status("4.1.2", R.DNS_FAILURE, "Domain lookup failed for now."),
    _when_status("5.1.3", R.INVALID_RECIPIENT, "Destination address syntax is invalid."),
    _when_status("5.1.6", R.INVALID_RECIPIENT, "Mailbox moved, no forwarding address."),
    _when_status("5.1.7", R.MAIL_BLOCK, "The sender's address was refused, not the recipient."),
    _when_status("4.1.7", R.MAIL_BLOCK, "The sender's address was refused, not the recipient."),
    _when_status("5.1.8", R.MAIL_BLOCK, "The sender's domain was refused, not the recipient."),
    _when_status("4.1.8", R.MAIL_BLOCK, "The sender's domain was refused, not the recipient."),
    _when_status("4.1.", R.SOFT_BOUNCE, "Address not verifiable for now (4.1.1 on a deferral)."),
    _when_status("5.1.10", R.DNS_FAILURE, "RFC 7505: the domain has a null MX.", code=556),
    _when_status("5.1.10", R.INVALID_RECIPIENT, "Exchange Online: RecipientNotFound."),
    _when_status("5.2.1", R.RECIPIENT_REFUSED, "Mailbox disabled, not accepting messages."),
    _when_status("4.2.1", R.SOFT_BOUNCE, "Mailbox unavailable now (Gmail: receiving too fast)."),
    _when_status("5.2.2", R.MAILBOX_FULL, "Mailbox full."),
    _when_status("4.2.2", R.MAILBOX_FULL, "Mailbox full (Gmail's over-quota reply)."),
    _when_status("5.2.3", R.TOO_LARGE, "Message length exceeds an administrative limit."),
    _when_status("4.2.3", R.TOO_LARGE, "Message length exceeds an administrative limit."),
    _when_status("4.2.", R.SOFT_BOUNCE, "The mailbox cannot take mail for now."),
    _when_status("5.3.4", R.TOO_LARGE, "Message too big for the system."),
    _when_status("4.3.4", R.TOO_LARGE, "Message too big for the system."),
    _when_status("4.3.", R.TRANSIENT_FAILURE, "Receiving system trouble, not the address."),
    _when_status("5.4.1", R.TIMEOUT, "No answer from host."),
    _when_status("4.4.1", R.TIMEOUT, "No answer from host."),
    _when_status("5.4.2", R.TIMEOUT, "Bad connection."),
    _when_status("4.4.2", R.TIMEOUT, "Bad connection."),
    _when_status("5.4.3", R.DNS_FAILURE, "Directory (DNS) server failure."),
    _when_status("4.4.3", R.DNS_FAILURE, "Directory (DNS) server failure."),
    _when_status("5.4.4", R.DNS_FAILURE, "Unable to route: no usable MX or address."),
    _when_status("4.4.4", R.DNS_FAILURE, "Unable to route: no usable MX or address."),
    _when_status("5.4.7", R.TIMEOUT, "Delivery time expired."),
    _when_status("4.4.7", R.TIMEOUT, "Delivery time expired."),
    _when_status("4.4.", R.TRANSIENT_FAILURE, "Congestion and other network trouble."),
    _when_status("4.5.", R.TRANSIENT_FAILURE, "Protocol trouble, e.g. 4.5.3 too many recipients."),
    _when_status("5.7.13", R.RECIPIENT_REFUSED, "User account disabled."),
    _when_status("5.7.17", R.RECIPIENT_REFUSED, "Mailbox owner has changed."),
    _when_status("5.7.18", R.RECIPIENT_REFUSED, "Domain owner has changed."),
    _when_status("5.7.", R.MAIL_BLOCK, "Security or policy refusal: 5.7.1, SPF/DKIM/DMARC…"),
    _when_status("4.7.", R.MAIL_BLOCK, "Security or policy deferral."),
    # --- 3. Reply codes (RFC 5321 §4.2.3; RFC 7504) when there is no telling status --------
    _when_code(421, R.TRANSIENT_FAILURE, "Service not available: the server, not the address."),
    _when_code(450, R.SOFT_BOUNCE, "Mailbox unavailable for now."),
    _when_code(451, R.TRANSIENT_FAILURE, "Local error in processing."),
    _when_code(452, R.TRANSIENT_FAILURE, "Insufficient system storage (a full mailbox: 4.2.2)."),
    _when_code(521, R.DNS_FAILURE, "RFC 7504: this host accepts no mail."),
    _when_code(550, R.GENERIC_BOUNCE,
               "Unknown mailbox *or* policy refusal per RFC 5321: too vague to be hard."),
    _when_code(551, R.INVALID_RECIPIENT, "User not local."),
    _when_code(552, R.MAILBOX_FULL, "Exceeded storage allocation (too large: 5.3.4)."),
    _when_code(553, R.INVALID_RECIPIENT, "Mailbox name not allowed."),
    _when_code(554, R.MAIL_BLOCK, "Transaction failed: in practice a policy refusal."),
    _when_code(556, R.DNS_FAILURE, "RFC 7504: the domain accepts no mail."),
)
# fmt: on
