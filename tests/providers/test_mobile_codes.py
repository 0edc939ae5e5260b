"""Push and SMS failure codes: each maps to bounce or error, a reason, a category and whether
the token or number is dead; docs/bounces.md lists every one."""

from __future__ import annotations

from pathlib import Path

import pytest

from livereport.bounces.mobile import SERVICES, Outcome, read_failure

DOC = (Path(__file__).resolve().parents[2] / "docs" / "bounces.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("service", "code", "outcome", "category", "dead"),
    [
        ("apns", "BadDeviceToken", Outcome.BOUNCE, "hard", True),
        ("apns", "Unregistered", Outcome.BOUNCE, "hard", True),
        ("apns", "DeviceTokenNotForTopic", Outcome.BOUNCE, "hard", True),
        ("apns", "PayloadTooLarge", Outcome.ERROR, "", False),
        ("apns", "TooManyRequests", Outcome.BOUNCE, "soft", False),
        ("fcm", "UNREGISTERED", Outcome.BOUNCE, "hard", True),
        ("fcm", "invalid_argument", Outcome.ERROR, "", False),
        ("fcm", "SENDER_ID_MISMATCH", Outcome.BOUNCE, "hard", True),
        ("fcm", "QUOTA_EXCEEDED", Outcome.BOUNCE, "soft", False),
        ("fcm", "UNAVAILABLE", Outcome.BOUNCE, "ignored", False),
        ("fcm", "INTERNAL", Outcome.BOUNCE, "ignored", False),
        ("fcm", "THIRD_PARTY_AUTH_ERROR", Outcome.ERROR, "", False),
        ("twilio", "30003", Outcome.BOUNCE, "soft", False),
        ("twilio", 30005, Outcome.BOUNCE, "hard", True),
        ("twilio", "30007", Outcome.BOUNCE, "ignored", False),
        ("twilio", "30034", Outcome.ERROR, "", False),
        ("twilio", "21610", Outcome.BOUNCE, "hard", True),
        ("twilio", "21211", Outcome.BOUNCE, "hard", True),
    ],
)
def test_codes_map_to_their_outcome(
    service: str, code: str | int, outcome: Outcome, category: str, dead: bool
) -> None:
    found = read_failure(service, code)
    assert found is not None
    assert (found.outcome, found.category, found.dead) == (outcome, category, dead)
    assert found.reason


def test_unknown_codes_and_services_are_not_guessed() -> None:
    assert read_failure("apns", "badDeviceToken") is None  # APNs reasons are case-sensitive
    assert read_failure("twilio", "99999") is None
    assert read_failure("twilio", None) is None
    assert read_failure("pager", "1") is None


def test_every_code_is_documented() -> None:
    for service, table in SERVICES.items():
        for code, failure in table.items():
            assert f"| `{code}` | {failure.outcome.value} | {failure.reason} |" in DOC, (
                service,
                code,
            )
    for failure in (f for table in SERVICES.values() for f in table.values()):
        if failure.outcome == Outcome.ERROR:
            assert failure.category == "" and not failure.dead
