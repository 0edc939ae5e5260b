"""The command line (SPEC §8), one module a concept:

- serve.py: serve, demo — a server on a data directory; the demo's campaign streamed into it
- report.py: report, campaigns, variants — the reports on the terminal
- ingest.py: ingest, simulate — events from files, or simulated traffic
- accounts.py: orgs, keys, users, audit — the accounts and the audit log
- webhooks.py: webhooks — the secrets of the providers' webhooks
- bounces.py: bounces — raw mails classified, the org's bounce rules, reclassification
- returns.py: returns — returned mails from mailboxes or SMTP, and those that made no event
- alerts.py: alerts — alerts, their rules, notifications and the delivery log
- common.py: what they share, such as where a command works: a server, or this process on
  the data directory (``server_to_ask``)

Exit status: 0 success, 2 bad usage, 1 failure with a one-line message on stderr.
"""

from __future__ import annotations

import os

import click

from livereport.cli import accounts, alerts, bounces, ingest, report, returns, serve, webhooks


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="livereport")
def main() -> None:
    """Live 24-hour reports of messaging campaigns."""
    # livereport writes only into data directories, which hold password and key hashes: what
    # any command makes there (metadata, the engine's parts, journals) is its owner's only.
    os.umask(os.umask(0o077) | 0o077)


for command in (
    serve.serve,
    serve.demo,
    report.report,
    report.campaigns,
    report.variants,
    ingest.ingest,
    ingest.simulate,
    accounts.orgs,
    accounts.keys,
    accounts.users,
    accounts.audit,
    webhooks.webhooks,
    bounces.bounces,
    returns.returns,
    alerts.alerts,
):
    main.add_command(command)


if __name__ == "__main__":
    main()
