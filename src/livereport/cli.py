"""The command line (SPEC §8): serve, demo, simulate, ingest, report, orgs, keys, users,
webhooks, bounces.

Exit status: 0 success, 2 bad usage, 1 failure with a one-line message on stderr.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
import httpx
from rich.console import Console

from livereport import instance
from livereport.config import Config
from livereport.errors import LivereportError
from livereport.observe import configure_logging
from livereport.report.render import render_report

F = TypeVar("F", bound=Callable[..., Any])
err = Console(stderr=True, highlight=False)
out = Console(highlight=False)

DEMO_CAMPAIGN = "demo-spring-sale"


class Failure(click.ClickException):
    """A failure the user can act on: exit 1, one line on stderr."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        click.echo(f"livereport: {self.message}", err=True)


@contextmanager
def failures() -> Iterator[None]:
    try:
        yield
    except LivereportError as exc:
        raise Failure(exc.message) from None
    except httpx.HTTPError as exc:
        raise Failure(f"cannot reach the server ({exc}); check --url and that it runs") from None
    except (OSError, ValueError) as exc:
        raise Failure(str(exc)) from None


def data_option(f: F) -> F:
    return click.option(
        "--data",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Data directory (default: $LIVEREPORT_DATA, else ./.livereport).",
    )(f)


def _config(data: Path | None) -> Config:
    return Config.load(data=data)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="livereport")
def main() -> None:
    """Live 24-hour reports of messaging campaigns."""


# serving


def _serve(config: Config, host: str, port: int, on_ready: Callable[[str], None] | None) -> None:
    import uvicorn

    from livereport.web.app import create_app

    metadata = instance.open_metadata(config)
    first = instance.bootstrap(config, metadata)
    if first is not None:
        err.print(
            f"First start: created org [bold]{first.org}[/], admin user {first.admin_email} "
            f"and an API key. They are in {first.path} (readable only by you)."
        )
    if instance.running_server(config):
        raise Failure(f"{config.data} is already served by another process; stop it first")
    store = instance.open_store(config)
    app = create_app(config, store, metadata)
    url = f"http://{host}:{port}"
    server = uvicorn.Server(
        uvicorn.Config(
            app, host=host, port=port, log_level="warning",
            timeout_graceful_shutdown=config.shutdown_timeout_s,
        )
    )  # fmt: skip
    configure_logging(config.log_level)
    ready = threading.Event()

    def announce() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            instance.write_server_file(config, url)
            err.print(f"livereport serves {config.data} on {url}")
            ready.set()
            if on_ready is not None:
                on_ready(url)

    threading.Thread(target=announce, daemon=True).start()
    # uvicorn re-raises SIGTERM once it has shut down gracefully (stopped listening, answered
    # in-flight requests, stored what was accepted); unwind with status 0 instead of dying, so
    # the server file goes away (a stale one can name a reused pid: "already served").
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        server.run()
    finally:
        if ready.is_set():
            instance.remove_server_file(config)
    if not server.started:
        raise Failure(f"could not listen on {host}:{port}; is the port in use? try --port")


def _exit_on_signal(signum: int, frame: Any) -> None:
    raise SystemExit(0 if signum == signal.SIGTERM else 128 + signum)


@main.command()
@data_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
def serve(data: Path | None, host: str, port: int) -> None:
    """Serve the API (and dashboard) on an embedded data directory."""
    with failures():
        _serve(_config(data), host, port, None)


@main.command()
@data_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--rate", default=200, show_default=True, help="Simulated events per second.")
@click.option("--seed", default=1, show_default=True)
def demo(data: Path | None, host: str, port: int, rate: int, seed: int) -> None:
    """Serve, and stream a simulated multi-channel campaign into it through the HTTP API."""
    from livereport import simulate

    config = _config(data)
    if "LIVEREPORT_LOG_LEVEL" not in os.environ:  # keep the demo's terminal readable
        config = dataclasses.replace(config, log_level="warning")

    def stream(url: str) -> None:
        key = instance.cli_key(config)
        assert key is not None  # written at first start
        now = datetime.now(UTC)
        history = simulate.generate(
            seed=seed, campaign=DEMO_CAMPAIGN, profiles=3000,
            start=now - timedelta(hours=6), end=now, executions=("morning", "evening"),
            variants=("A", "B"),
        )  # fmt: skip
        with httpx.Client(timeout=30) as client:
            simulate.post_events(client, url, key, history)
        err.print(
            f"Demo campaign [bold]{DEMO_CAMPAIGN}[/] streams {rate} events/s into {url}. "
            f"Watch it at {url} (sign in with the admin in "
            f"{config.data / instance.FIRST_START_FILE}) or with: livereport report {DEMO_CAMPAIGN}"
            + (f" --data {config.data}" if data else "")
        )
        simulate.run(url, key, campaign=DEMO_CAMPAIGN, rate=rate, duration=None, seed=seed + 1)

    def start(url: str) -> None:
        threading.Thread(target=_quietly(stream), args=(url,), daemon=True).start()

    with failures():
        _serve(config, host, port, start)


def _quietly(fn: Callable[[str], None]) -> Callable[[str], None]:
    def run(url: str) -> None:
        try:
            fn(url)
        except Exception as exc:  # the demo stream must not take the server down
            err.print(f"demo stream stopped: {exc}")

    return run


# clients of a running server


def _client_target(data: Path | None, url: str | None, key: str | None) -> tuple[str, str] | None:
    """(url, key) to reach a server, or None to open the data directory in this process."""
    if url:
        if not key:
            raise click.UsageError("--url needs --key (an API key of your org)")
        return url.rstrip("/"), key
    config = _config(data)
    running = instance.running_server(config)
    if running:
        cli_key = instance.cli_key(config)
        if cli_key is None:
            raise Failure(f"{config.data} has no {instance.CLI_KEY_FILE}; use --url and --key")
        return running, cli_key
    return None


@main.command()
@click.argument("campaign")
@click.option("--tab", default="campaign", show_default=True, help="campaign, email, inapp, push, sms, web or directmail.")
@click.option("--execution", default=None, help="Only this execution.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@data_option
@click.option("--url", default=None, help="A server's base URL, e.g. http://127.0.0.1:8000.")
@click.option("--key", default=None, help="An API key with the read scope (with --url).")
def report(campaign: str, tab: str, execution: str | None, as_json: bool, data: Path | None, url: str | None, key: str | None) -> None:  # fmt: skip
    """Show a campaign's live report tab in the terminal."""
    import msgspec

    with failures():
        target = _client_target(data, url, key)
        if target is not None:
            base, token = target
            params = {"tab": tab, **({"execution": execution} if execution else {})}
            response = httpx.get(
                f"{base}/v1/campaigns/{httpx.URL(campaign).raw_path.decode()}/report",
                params=params, headers={"Authorization": f"Bearer {token}"}, timeout=30,
            )  # fmt: skip
            body = response.json()
            if response.status_code != 200:
                raise Failure(body.get("error", response.text))
        else:
            body = _local(data, lambda store, org: _local_report(store, org, campaign, tab, execution))
        if as_json:
            sys.stdout.write(msgspec.json.encode(body).decode() + "\n")
        else:
            render_report(out, body)


def _local_report(store: Any, org: int, campaign: str, tab: str, execution: str | None) -> Any:
    from livereport.report.build import Reports

    return Reports(store).report(org, campaign, tab, execution)


def _local(data: Path | None, fn: Callable[[Any, int], Any], org_name: str | None = None) -> Any:
    """Run ``fn(store, org_id)`` on the data directory opened in this process."""
    from livereport.store.schema import migrate

    config = _config(data)
    metadata = instance.open_metadata(config)
    instance.bootstrap(config, metadata)
    store = instance.open_store(config)
    migrate(store)
    return fn(store, metadata.org(org_name).id)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["canonical"]), default="canonical", show_default=True, help="canonical: livereport events, one JSON object per line.")
@data_option
@click.option("--org", default=None, help="Org to ingest into (with --data; default: the first org).")
@click.option("--url", default=None)
@click.option("--key", default=None, help="An API key with the ingest scope (with --url).")
@click.option("--batch", default=5000, show_default=True, type=click.IntRange(1, 10_000))
def ingest(files: tuple[Path, ...], fmt: str, data: Path | None, org: str | None, url: str | None, key: str | None, batch: int) -> None:  # fmt: skip
    """Load NDJSON event files (.gz too) with a progress bar and a summary of rejections."""
    from livereport.ingest.load import load_files

    with failures():
        target = _client_target(data, url, key)
        if target is not None and org is not None:
            # Through a server the key decides the org: never load another org's events silently.
            raise Failure("--org works only on a data directory no server runs on; "
                          "use --url and --key with a key of that org")
        if target is not None:
            summary = load_files(files, batch=batch, url=target[0], key=target[1])
        else:
            summary = _local(data, lambda store, org_id: load_files(files, batch=batch, store=store, org=org_id), org)
    err.print(
        f"{summary.lines} lines: [green]{summary.accepted} accepted[/], "
        f"{summary.duplicates} duplicates, [red]{len(summary.rejected)} rejected[/]"
    )
    for where, errors in summary.rejected[:20]:
        err.print(f"  {where}: {'; '.join(errors)}", markup=False)
    if len(summary.rejected) > 20:
        err.print(f"  … and {len(summary.rejected) - 20} more")


@main.command()
@click.option("--url", required=True, help="The server's base URL.")
@click.option("--key", required=True, help="An API key with the ingest scope.")
@click.option("--campaign", default="simulated-campaign", show_default=True)
@click.option("--rate", default=500, show_default=True, type=click.IntRange(1, 1_000_000), help="Events per second.")
@click.option("--duration", default=60.0, show_default=True, help="Seconds; 0 runs until interrupted.")
@click.option("--seed", default=1, show_default=True)
@click.option("--channel", "channels", multiple=True, type=click.Choice(["email", "sms", "push", "inapp", "web", "directmail"]), help="Channels to simulate (repeat; default all).")
def simulate(url: str, key: str, campaign: str, rate: int, duration: float, seed: int, channels: tuple[str, ...]) -> None:  # fmt: skip
    """Send realistic campaign traffic to a running instance."""
    from livereport import simulate as sim

    with failures():
        totals = sim.run(
            url.rstrip("/"), key, campaign=campaign, rate=rate, duration=duration or None,
            seed=seed, channels=channels or None,
        )  # fmt: skip
    err.print(
        f"{campaign}: {totals['accepted']} accepted, {totals['duplicates']} duplicates, "
        f"{totals['rejected']} rejected"
    )


# orgs, keys, users


@main.group()
def orgs() -> None:
    """Organisations (tenants)."""


@orgs.command("create")
@click.argument("name")
@data_option
def orgs_create(name: str, data: Path | None) -> None:
    """Create an org."""
    with failures():
        config = _config(data)
        metadata = instance.open_metadata(config)
        instance.bootstrap(config, metadata)  # else this org would stand in for the first start
        org = metadata.create_org(name)
    click.echo(org.name)


@main.group()
def keys() -> None:
    """API keys of an org."""


@keys.command("create")
@data_option
@click.option("--org", default=None, help="Org name (default: the org made at first start).")
@click.option("--scope", "scopes", multiple=True, required=True, type=click.Choice(["ingest", "read", "admin"]))
@click.option("--name", default="", help="What the key is for.")
def keys_create(data: Path | None, org: str | None, scopes: tuple[str, ...], name: str) -> None:
    """Create a key; prints only the key (shown once)."""
    with failures():
        config = _config(data)
        metadata = instance.open_metadata(config)
        instance.bootstrap(config, metadata)
        plain, _ = metadata.create_key(metadata.org(org), scopes, name)
    click.echo(plain)


@keys.command("list")
@data_option
@click.option("--org", default=None)
def keys_list(data: Path | None, org: str | None) -> None:
    """List the keys of an org (never their values)."""
    from rich.table import Table

    with failures():
        metadata = instance.open_metadata(_config(data))
        the_org = metadata.org(org)
        table = Table("id", "prefix", "name", "scopes", "created", "revoked")
        for k in metadata.keys(the_org):
            table.add_row(
                str(k.id), k.prefix + "…", k.name, ",".join(sorted(k.scopes)),
                _when(k.created), _when(k.revoked) if k.revoked else "",
            )  # fmt: skip
    out.print(table)


@keys.command("revoke")
@click.argument("key_id", type=int)
@data_option
@click.option("--org", default=None)
def keys_revoke(key_id: int, data: Path | None, org: str | None) -> None:
    """Revoke a key at once."""
    with failures():
        metadata = instance.open_metadata(_config(data))
        metadata.revoke_key(metadata.org(org), key_id)
    err.print(f"key {key_id} revoked")


@main.group()
def users() -> None:
    """Users of an org."""


@users.command("create")
@click.argument("email")
@data_option
@click.option("--org", default=None)
@click.option("--role", required=True, type=click.Choice(["admin", "editor", "viewer"]))
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from standard input.")
def users_create(email: str, data: Path | None, org: str | None, role: str, password_stdin: bool) -> None:  # fmt: skip
    """Create a user; the password is read from stdin."""
    password = sys.stdin.readline().rstrip("\r\n")
    with failures():
        config = _config(data)
        metadata = instance.open_metadata(config)
        instance.bootstrap(config, metadata)
        user = metadata.create_user(metadata.org(org), email, role, password)
    err.print(f"user {user.email} created with role {user.role}")


# provider webhooks


@main.group()
def webhooks() -> None:
    """Provider webhooks (Mailgun, Postmark, SendGrid, Amazon SES, Twilio) of an org."""


@webhooks.command("set")
@click.argument("provider", type=click.Choice(["mailgun", "postmark", "sendgrid", "ses", "twilio"]))
@data_option
@click.option("--org", default=None, help="Org name (default: the org made at first start).")
@click.option("--secret-stdin", is_flag=True, required=True, help="Read the secret from standard input: Mailgun signing key, Postmark USER:PASSWORD, SendGrid verification key, SES: the SNS signing certificate(s) in PEM, Twilio auth token.")  # fmt: skip
@click.option("--campaign-field", default=None, help="Metadata name of the campaign id (default: campaign).")  # fmt: skip
@click.option("--profile-field", default=None, help="Metadata name of the profile id (default: profile).")  # fmt: skip
@click.option("--execution-field", default=None, help="Metadata name of the execution (default: execution).")  # fmt: skip
@click.option("--variant-field", default=None, help="Metadata name of the variant (default: variant).")  # fmt: skip
def webhooks_set(provider: str, data: Path | None, org: str | None, secret_stdin: bool, campaign_field: str | None, profile_field: str | None, execution_field: str | None, variant_field: str | None) -> None:  # fmt: skip
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
    names = {"campaign": campaign_field, "profile": profile_field, "execution": execution_field, "variant": variant_field}  # fmt: skip
    with failures():
        config = _config(data)
        metadata = instance.open_metadata(config)
        instance.bootstrap(config, metadata)
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
        metadata = instance.open_metadata(_config(data))
        notes = metadata.webhook_notes(metadata.org(org))
    for created, provider, note in notes:
        click.echo(f"{_when(created)}  {provider}  {note}")


# returned mails


@main.group()
def bounces() -> None:
    """Returned mails: bounces, auto-replies and feedback reports."""


@bounces.command("classify")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def bounces_classify(files: tuple[Path, ...], as_json: bool) -> None:
    """Say whether each raw mail is a bounce, with its category, reason, status and rule."""
    import json

    from rich.table import Table

    from livereport.bounces.classify import classify_message

    table = Table("file", "bounce", "category", "reason", "status", "rule")
    for path in files:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise Failure(f"cannot read {path}: {exc.strerror or exc}; check the path") from None
        found = classify_message(raw)
        row = {
            "file": str(path), "is_bounce": found.is_bounce,
            "category": found.category.value if found.category else None,
            "reason": found.reason, "status": found.status, "rule": found.rule,
        }  # fmt: skip
        if as_json:
            click.echo(json.dumps(row, ensure_ascii=False))
        else:
            table.add_row(*("" if v is None else str(v) for v in row.values()))
    if not as_json:
        out.print(table)


def _when(epoch: float | None) -> str:
    return "" if epoch is None else datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M")


if __name__ == "__main__":
    main()
