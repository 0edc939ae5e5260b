"""`livereport webhooks`: the secrets of an org's provider webhooks, and what an admin must
act on for them."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from livereport import instance
from livereport.cli.common import Failure, config_of, data_option, failures, made, when


@click.group()
def webhooks() -> None:
    """Provider webhooks (Mailgun, Postmark, SendGrid, Amazon SES, Twilio) of an org."""


@webhooks.command("set")
@click.argument("provider", type=click.Choice(["mailgun", "postmark", "sendgrid", "ses", "twilio"]))
@data_option
@click.option("--org", default=None, help="Org name (default: the org made at first start).")
@click.option(
    "--secret-stdin",
    is_flag=True,
    required=True,
    help="Read the secret from standard input: Mailgun signing key, Postmark USER:PASSWORD, SendGrid verification key, SES: the SNS signing certificate(s) in PEM, Twilio auth token.",
)
@click.option(
    "--campaign-field", default=None, help="Metadata name of the campaign id (default: campaign)."
)
@click.option(
    "--profile-field", default=None, help="Metadata name of the profile id (default: profile)."
)
@click.option(
    "--execution-field", default=None, help="Metadata name of the execution (default: execution)."
)
@click.option(
    "--variant-field", default=None, help="Metadata name of the variant (default: variant)."
)
def webhooks_set(
    provider: str,
    data: Path | None,
    org: str | None,
    secret_stdin: bool,
    campaign_field: str | None,
    profile_field: str | None,
    execution_field: str | None,
    variant_field: str | None,
) -> None:
    """Store a provider's secret; prints the URL path to give the provider."""
    secret = (sys.stdin.read() if provider == "ses" else sys.stdin.readline()).strip()
    if not secret:
        raise Failure("expected the secret on standard input")
    if provider == "postmark" and ":" not in secret:
        raise Failure("postmark: expected USER:PASSWORD, the basic auth credentials of the webhook")
    if provider == "sendgrid":
        from livereport.providers.sendgrid import load_key

        with failures():
            load_key(secret)
    if provider == "ses":
        from livereport.providers.ses import load_certificates

        with failures():
            if not load_certificates(secret):
                raise Failure("ses: expected an RSA signing certificate in PEM")
    names = {
        "campaign": campaign_field,
        "profile": profile_field,
        "execution": execution_field,
        "variant": variant_field,
    }
    with failures():
        _, metadata = made(data)
        token = metadata.set_webhook(
            metadata.org(org), provider, secret, {k: v for k, v in names.items() if v}
        )
    click.echo(f"/v1/webhooks/{provider}/{token}")


@webhooks.command("notes")
@data_option
@click.option("--org", default=None)
def webhooks_notes(data: Path | None, org: str | None) -> None:
    """What an admin must act on, such as SNS subscriptions to confirm (open their URL)."""
    with failures():
        metadata = instance.open_metadata(config_of(data))
        notes = metadata.webhook_notes(metadata.org(org))
    for created, provider, note in notes:
        click.echo(f"{when(created)}  {provider}  {note}")
