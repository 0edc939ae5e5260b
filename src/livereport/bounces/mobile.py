"""Push and SMS failure codes (APNs reasons, FCM error codes, Twilio error codes) → our outcome.

An outcome says which event a failure becomes (``bounce``: the address or token was refused;
``error``: our side or the service failed before the message could go out), its reason and
bounce category, and whether the token or number is dead (stop sending to it).
Facts from Apple's, Google's and Twilio's public error references; the wording is ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    BOUNCE = "bounce"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class CodeFailure:
    """What one provider failure code means for the report and for the address."""

    service: str  # apns, fcm or twilio
    code: str
    outcome: Outcome
    reason: str
    category: str  # hard, soft or ignored (bounces); "" for errors
    dead: bool  # the token / number will not work again: remove it
    note: str


_B, _E = Outcome.BOUNCE, Outcome.ERROR


def _rows(service: str, *rows: tuple[str, Outcome, str, str, bool, str]) -> dict[str, CodeFailure]:
    return {
        code: CodeFailure(service, code, outcome, reason, category, dead, note)
        for code, outcome, reason, category, dead, note in rows
    }


#: APNs: the `reason` of an HTTP/2 error response.
APNS = _rows(
    "apns",
    (
        "BadDeviceToken",
        _B,
        "Invalid device token",
        "hard",
        True,
        "The token is malformed or belongs to the other APNs environment.",
    ),
    (
        "Unregistered",
        _B,
        "Device token unregistered",
        "hard",
        True,
        "The app was removed or the token is no longer active (HTTP 410).",
    ),
    (
        "DeviceTokenNotForTopic",
        _B,
        "Token not for this app",
        "hard",
        True,
        "The token was issued for another bundle id than the topic.",
    ),
    ("ExpiredToken", _B, "Device token expired", "hard", True, "The device token has expired."),
    (
        "PayloadTooLarge",
        _E,
        "Payload too large",
        "",
        False,
        "The notification is over the size limit (4 KB for most pushes).",
    ),
    (
        "TooManyRequests",
        _B,
        "Too many requests to the device",
        "soft",
        False,
        "Too many notifications to this token in a short time; later ones may pass.",
    ),
    (
        "TooManyProviderTokenUpdates",
        _E,
        "Provider token refreshed too often",
        "",
        False,
        "The signing token was changed too often.",
    ),
    ("BadTopic", _E, "Invalid topic", "", False, "The apns-topic header is not valid."),
    (
        "MissingTopic",
        _E,
        "Missing topic",
        "",
        False,
        "The apns-topic header is required for this certificate.",
    ),
    (
        "TopicDisallowed",
        _E,
        "Topic not allowed",
        "",
        False,
        "Pushing to this topic is not allowed.",
    ),
    ("BadCertificate", _E, "Bad certificate", "", False, "The client certificate is not valid."),
    (
        "BadCertificateEnvironment",
        _E,
        "Certificate for the other environment",
        "",
        False,
        "Sandbox certificate used on production, or the reverse.",
    ),
    (
        "ExpiredProviderToken",
        _E,
        "Provider token expired",
        "",
        False,
        "The signing token is older than an hour.",
    ),
    (
        "InvalidProviderToken",
        _E,
        "Invalid provider token",
        "",
        False,
        "The signing token or its key id is not valid.",
    ),
    (
        "MissingProviderToken",
        _E,
        "Missing provider token",
        "",
        False,
        "Neither a certificate nor a signing token was sent.",
    ),
    (
        "MissingDeviceToken",
        _E,
        "Missing device token",
        "",
        False,
        "The request path names no device token.",
    ),
    ("BadPriority", _E, "Invalid priority", "", False, "The apns-priority value is not valid."),
    (
        "BadExpirationDate",
        _E,
        "Invalid expiration date",
        "",
        False,
        "The apns-expiration value is not valid.",
    ),
    ("BadCollapseId", _E, "Invalid collapse id", "", False, "The apns-collapse-id is too long."),
    ("BadMessageId", _E, "Invalid message id", "", False, "The apns-id value is not valid."),
    ("PayloadEmpty", _E, "Empty payload", "", False, "The notification has no payload."),
    ("Forbidden", _E, "Forbidden", "", False, "The action is not allowed for this sender."),
    (
        "InternalServerError",
        _B,
        "Push service internal error",
        "ignored",
        False,
        "An error inside APNs; retry later.",
    ),
    (
        "ServiceUnavailable",
        _B,
        "Push service unavailable",
        "ignored",
        False,
        "APNs is down for maintenance or overloaded; retry later.",
    ),
    (
        "Shutdown",
        _B,
        "Push service shutting down",
        "ignored",
        False,
        "The APNs server was shutting down; retry on another connection.",
    ),
)

#: FCM HTTP v1: the `errorCode` of an error response's FcmError detail.
FCM = _rows(
    "fcm",
    (
        "UNREGISTERED",
        _B,
        "Device token unregistered",
        "hard",
        True,
        "The app was removed or the registration token is no longer valid.",
    ),
    (
        "INVALID_ARGUMENT",
        _E,
        "Invalid request",
        "",
        False,
        "A field of the request is not valid (a token that is not a token too: see the details).",
    ),
    (
        "SENDER_ID_MISMATCH",
        _B,
        "Token of another sender",
        "hard",
        True,
        "The token was registered for another sender id.",
    ),
    (
        "QUOTA_EXCEEDED",
        _B,
        "Sending quota exceeded",
        "soft",
        False,
        "Too many messages for the project or for this device; retry later with backoff.",
    ),
    (
        "UNAVAILABLE",
        _B,
        "Push service unavailable",
        "ignored",
        False,
        "FCM was overloaded; retry later with backoff.",
    ),
    (
        "INTERNAL",
        _B,
        "Push service internal error",
        "ignored",
        False,
        "An error inside FCM; retry later.",
    ),
    (
        "THIRD_PARTY_AUTH_ERROR",
        _E,
        "APNs or Web Push credentials refused",
        "",
        False,
        "The APNs certificate / key or Web Push credentials are not valid.",
    ),
    ("UNSPECIFIED_ERROR", _B, "Unspecified push error", "ignored", False, "FCM gave no details."),
)

#: Twilio: the `ErrorCode` of an undelivered / failed message.
TWILIO = _rows(
    "twilio",
    ("30001", _E, "Queue overflow", "", False, "Too many messages queued on the sending number."),
    ("30002", _E, "Account suspended", "", False, "The Twilio account is suspended."),
    (
        "30003",
        _B,
        "Unreachable destination handset",
        "soft",
        False,
        "The phone is off or out of coverage.",
    ),
    (
        "30004",
        _B,
        "Message blocked",
        "ignored",
        False,
        "The recipient or the carrier blocked the message.",
    ),
    (
        "30005",
        _B,
        "Unknown destination handset",
        "hard",
        True,
        "The number does not exist or is no longer in service.",
    ),
    (
        "30006",
        _B,
        "Landline or unreachable carrier",
        "hard",
        True,
        "A landline, or a carrier that takes no text messages.",
    ),
    (
        "30007",
        _B,
        "Message filtered by the carrier",
        "ignored",
        False,
        "The carrier filtered the message as spam or unregistered traffic.",
    ),
    ("30008", _B, "Unknown error", "ignored", False, "The carrier gave no reason."),
    (
        "30010",
        _E,
        "Message price exceeds max price",
        "",
        False,
        "The message costs more than the MaxPrice set.",
    ),
    (
        "30034",
        _E,
        "Message from an unregistered number",
        "",
        False,
        "US A2P 10DLC: the sending number is not registered to a campaign.",
    ),
    (
        "21211",
        _B,
        "Invalid 'To' phone number",
        "hard",
        True,
        "The recipient number is not a valid phone number.",
    ),
    (
        "21408",
        _E,
        "Region not enabled",
        "",
        False,
        "Sending to this region is not enabled on the account.",
    ),
    (
        "21610",
        _B,
        "Recipient unsubscribed (STOP)",
        "hard",
        True,
        "The recipient replied STOP: no more messages until they opt in again.",
    ),
    (
        "21612",
        _B,
        "Route not possible",
        "hard",
        False,
        "No route between the sending and the receiving number.",
    ),
    (
        "21614",
        _B,
        "'To' number is not a mobile number",
        "hard",
        True,
        "The number cannot receive text messages.",
    ),
)

SERVICES: dict[str, dict[str, CodeFailure]] = {"apns": APNS, "fcm": FCM, "twilio": TWILIO}


def read_failure(service: str, code: str | int | None) -> CodeFailure | None:
    """The meaning of a provider's failure code, or None when the code is not in the table.

    APNs reasons are matched as written; FCM codes in any case; Twilio codes as digits.
    """
    table = SERVICES.get(service)
    if table is None or code is None or code == "":
        return None
    key = str(code).strip()
    if service == "fcm":
        key = key.upper()
    return table.get(key)
