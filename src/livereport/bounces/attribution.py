"""Attribute a returned mail to its campaign and profile: X-Livereport-* headers or a VERP address.

VERP format: ``bounces+<campaign>=<profile>@<bounce domain>``, where each id keeps
``A-Z a-z 0-9 . _ -`` and writes any other byte of its UTF-8 form as ``~XX`` (upper-case hex).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from livereport.bounces.mail import ADDRESS, header

VERP_PREFIX = "bounces"
_SAFE = re.compile(r"[A-Za-z0-9._-]")
_VERP = re.compile(rf"^{VERP_PREFIX}\+([A-Za-z0-9._~-]+)=([A-Za-z0-9._~-]+)@", re.IGNORECASE)
_ESCAPE = re.compile(r"~([0-9A-Fa-f]{2})")
# Where the address the original was sent from shows up again in its bounce.
_VERP_HEADERS = ("To", "Delivered-To", "X-Original-To", "Envelope-To", "Return-Path")


@dataclass(frozen=True, slots=True)
class Attribution:
    """Which send a returned mail is about; `source` says where that was read."""

    campaign: str | None = None
    profile: str | None = None
    event: str | None = None  # X-Livereport-Event, else the original's Message-ID
    source: str | None = None  # "headers", "verp" or None (not attributed)
    execution: str | None = None  # X-Livereport-Execution of the original, if returned
    variant: str | None = None  # X-Livereport-Variant of the original, if returned


def verp_address(campaign: str, profile: str, domain: str) -> str:
    """The envelope sender (Return-Path) to send a campaign's message to a profile with."""
    return f"{VERP_PREFIX}+{_encode(campaign)}={_encode(profile)}@{domain}"


def read_verp(address: str) -> tuple[str, str] | None:
    """(campaign, profile) from a VERP address, or None if it is not one."""
    match = _VERP.match(address.strip().strip("<>"))
    if match is None:
        return None
    try:
        return _decode(match.group(1)), _decode(match.group(2))
    except UnicodeDecodeError:
        return None


def attribute(bounce: Message, original: Message | None) -> Attribution:
    """Read the returned original's headers first; else a VERP address on either message."""
    event: str | None = None
    execution = variant = None
    if original is not None:
        execution = header(original, "X-Livereport-Execution") or None
        variant = header(original, "X-Livereport-Variant") or None
        campaign = header(original, "X-Livereport-Campaign") or None
        profile = header(original, "X-Livereport-Profile") or None
        event = (
            header(original, "X-Livereport-Event") or header(original, "Message-ID").strip("<>")
        ) or None
        if campaign and profile:
            return Attribution(campaign, profile, event, "headers", execution, variant)
    for message in (bounce, original):
        if message is None:
            continue
        for name in _VERP_HEADERS:
            for address in ADDRESS.findall(header(message, name)):
                found = read_verp(address)
                if found is not None:
                    return Attribution(found[0], found[1], event, "verp", execution, variant)
    return Attribution(event=event)


def _encode(value: str) -> str:
    return "".join(
        char if _SAFE.fullmatch(char) else "".join(f"~{b:02X}" for b in char.encode())
        for char in value
    )


def _decode(value: str) -> str:
    data = bytearray()
    position = 0
    for match in _ESCAPE.finditer(value):
        data += value[position : match.start()].encode()
        data.append(int(match.group(1), 16))
        position = match.end()
    data += value[position:].encode()
    return data.decode("utf-8")
