"""Qualify a bounce: SMTP status, reply code and diagnostic text → reason, category and rule.

Called by ingest for bounce events that carry no reason/category, and by the CLI's classifier.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from livereport.bounces.rules import (
    DEFAULT_CATEGORY,
    DEFAULT_RULES,
    FALLBACK_REASONS,
    Category,
    Rule,
)

# Not inside a longer dotted number ("4.16.55.1" is Yahoo's server id, not a status).
_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)")
_CODE_AT_START = re.compile(r"^\s*(?:smtp\s*;\s*)?([2-5]\d\d)(?![\d.])")
_CODE_BEFORE_STATUS = re.compile(r"(?<![\d.])([2-5]\d\d)[ -]+[245]\.\d{1,3}\.\d{1,3}(?!\.?\d)")
# Postfix "host x said: 550 …", Exim "after RCPT TO:<a@b>: 550 …" (not ports: "mx:465").
_CODE_AFTER_COLON = re.compile(r":\s+'?([45]\d\d)(?=[ -])")
# "[SMTP Error Code 550]", "Reply code: 550".
_CODE_NAMED = re.compile(r"\b(?:reply|error|response|status) code:?\s*([45]\d\d)\b", re.I)
# Continuation lines of a multi-line reply repeat "550-5.1.1 "; drop that to rejoin sentences.
_CONTINUATION = re.compile(
    r"\n[ \t]*[2-5]\d\d[ -](?:[245]\.\d{1,3}\.\d{1,3}[ \t]+)?"
    # The same prefixes inside one line, where a report unfolded the reply's lines.
    r"|(?<=\s)[2-5]\d\d-[245]\.\d{1,3}\.\d{1,3}[ \t]+"
)
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Qualification:
    """Why a bounce happened (`reason`), what it means for the address, and who decided."""

    reason: str
    category: Category
    status: str | None  # the enhanced status code given or found in the text
    rule: str  # e.g. "diagnostic:user-unknown", "status:5.1.1", "code:552", "fallback:undetermined"


def qualify(
    *,
    status: str | None = None,
    code: int | None = None,
    diagnostic: str | None = None,
    rules: Sequence[Rule] = DEFAULT_RULES,
) -> Qualification:
    """Apply `rules` in order to a bounce's SMTP data; the first rule that matches decides.

    A missing status or reply code is read from the diagnostic text. A transient failure
    (4.x.x status, or a 4xx reply without a status) never yields a hard bounce: hard rules are
    skipped for it. When no rule matches, the failure's class decides (FALLBACK_REASONS).
    """
    text = diagnostic or ""
    found_status = read_status(status or "")
    said = read_status(text)
    if found_status is None or (
        said is not None and found_status.endswith(".0.0") and said[0] == found_status[0]
    ):  # Exim reports "Status: 5.0.0" whatever the server's reply said
        found_status = said or found_status
    found_code = code if _is_reply_code(code) else read_code(text)
    body = flatten_diagnostic(text)
    failure_class = _failure_class(found_status, found_code)
    for rule in rules:
        if failure_class == "4" and rule.category == Category.HARD:
            continue
        if rule.matches(found_status, found_code, body):
            return Qualification(rule.reason, rule.category, found_status, rule.name)
    fallback = {"5": "permanent", "4": "transient"}.get(failure_class or "", "undetermined")
    reason = FALLBACK_REASONS[fallback]
    return Qualification(reason, DEFAULT_CATEGORY[reason], found_status, f"fallback:{fallback}")


def read_status(text: str) -> str | None:
    """The first enhanced status code (RFC 3463) in a text, normalised: "5.01.1" → "5.1.1"."""
    match = _STATUS.search(text)
    if match is None:
        return None
    return ".".join(str(int(part)) for part in match.groups())


def read_code(text: str) -> int | None:
    """The SMTP reply code opening a diagnostic, else the one before a status or after "said:"."""
    match = (
        _CODE_AT_START.search(text)
        or _CODE_BEFORE_STATUS.search(text)
        or _CODE_AFTER_COLON.search(text)
        or _CODE_NAMED.search(text)
    )
    return int(match.group(1)) if match else None


def flatten_diagnostic(text: str) -> str:
    """One line of text: multi-line reply prefixes dropped, runs of whitespace made one space."""
    return _SPACE.sub(" ", _CONTINUATION.sub(" ", text)).strip()


def _is_reply_code(code: object) -> bool:
    return isinstance(code, int) and not isinstance(code, bool) and 200 <= code <= 599


def _failure_class(status: str | None, code: int | None) -> str | None:
    if status is not None:
        return status[0]
    return str(code)[0] if code is not None else None
