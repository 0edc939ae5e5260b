"""Provider webhooks: one module per outside format, each verifying the provider's own
signature and mapping its documented events to ours (SPEC §2), before the common validation."""

from __future__ import annotations

from livereport.providers.base import Fields, Parsed, Provider
from livereport.providers.mailgun import MAILGUN
from livereport.providers.postmark import POSTMARK
from livereport.providers.sendgrid import SENDGRID
from livereport.providers.ses import SES
from livereport.providers.twilio import TWILIO

#: Every provider by the name used in the webhook URL and the CLI.
PROVIDERS: dict[str, Provider] = {p.name: p for p in (MAILGUN, POSTMARK, SENDGRID, SES, TWILIO)}

__all__ = ["PROVIDERS", "Fields", "Parsed", "Provider"]
