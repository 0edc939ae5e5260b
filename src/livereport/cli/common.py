"""What every command shares: the one-line failures, the options that say where a command
works and the one decision they stand for (a server, or this process on a data directory),
the request to a server, the opened data directory, JSON or tables on the terminal and the
audit of admin actions."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
import httpx
from rich.console import Console

from livereport import instance
from livereport.config import Config
from livereport.errors import LivereportError
from livereport.report.render import Column, fit_tables
from livereport.store.metadata import Metadata

F = TypeVar("F", bound=Callable[..., Any])


err = Console(stderr=True, highlight=False)


out = Console(highlight=False)


class Failure(click.ClickException):
    """A failure the user can act on: exit 1, one line on stderr."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        # One line, even when the message quotes a driver's multi-line error.
        click.echo(f"livereport: {' '.join(self.message.split())}", err=True)


@contextmanager
def failures() -> Iterator[None]:
    try:
        yield
    except LivereportError as exc:
        raise Failure(exc.message) from None
    except httpx.HTTPStatusError as exc:
        raise Failure(refusal(exc.response)) from None
    except httpx.HTTPError as exc:
        raise Failure(f"cannot reach the server ({exc}); check --url and that it runs") from None
    except (OSError, ValueError) as exc:
        raise Failure(str(exc)) from None


def refusal(response: httpx.Response) -> str:
    """A server's refusal as the one line a user can act on: its own message, and for a key
    it does not take, that the key is the problem."""
    try:
        said = str(response.json().get("error") or "")
    except (ValueError, AttributeError):
        said = ""
    said = said or response.text[:300] or f"the server answered {response.status_code}"
    if response.status_code == 401:
        return f"key rejected by {response.url.host}: {said}; check --key"
    if response.status_code == 403:
        return f"key refused by {response.url.host}: {said}"
    return said


class ServerURL(click.ParamType[str]):
    """The base URL of a livereport server: http or https, a host; no trailing slash."""

    name = "url"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        url = httpx.URL(str(value).strip())
        if url.scheme not in ("http", "https") or not url.host:
            self.fail(
                f"{value!r} is not a server URL; expected one like http://127.0.0.1:8000",
                param,
                ctx,
            )
        return str(url).rstrip("/")


SERVER_URL = ServerURL()


def data_option(f: F) -> F:
    return click.option(
        "--data",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Data directory (default: $LIVEREPORT_DATA, else ./.livereport).",
    )(f)


#: Help texts of the options that say where a command works.
ORG_HELP = "Org (with --data; default: the first org)."
URL_HELP = "A server's base URL, e.g. http://127.0.0.1:8000."


def place_options(
    scope: str,
    *,
    org: bool = True,
    org_help: str | None = ORG_HELP,
    url_help: str | None = URL_HELP,
) -> Callable[[F], F]:
    """--data, --org (unless ``org`` is false), --url and --key, with a key of ``scope``: where
    a command works (``server_to_ask``)."""

    def add(f: F) -> F:
        f = click.option(
            "--key", default=None, help=f"An API key with the {scope} scope (with --url)."
        )(f)
        f = click.option("--url", default=None, type=SERVER_URL, help=url_help)(f)
        if org:
            f = click.option("--org", default=None, help=org_help)(f)
        return data_option(f)

    return add


#: A server to ask: its base URL and an API key.
Server = tuple[str, str]


def server_to_ask(
    data: Path | None,
    url: str | None,
    key: str | None,
    org: str | None = None,
    *,
    running: bool = False,
) -> Server | None:
    """The server a command asks, or None: the command does its work in this process, on
    the data directory.

    --url asks that server with --key, for the key's org; --org names an org of a data
    directory, so it goes without a server. Without --url, a command that may (``running``:
    it reads, or ingests) asks the server running on the data directory with its local key,
    since the engine is that server's alone; the others work on the data directory's
    metadata, which such a server reads too."""
    if url:
        if org is not None and not running:
            raise click.UsageError(
                "--org names an org of a data directory; with --url the "
                "key's org is used: leave --org out"
            )
        if not key:
            raise click.UsageError("--url needs --key (an API key of your org)")
        found: Server | None = (url.rstrip("/"), key)
    elif running:
        found = _served(data)
    else:
        if key:
            raise click.UsageError("--key goes with --url, the server to use it on")
        return None
    if found is not None and org is not None:
        # Through a server the key decides the org: never act on another org silently.
        raise Failure(
            "--org works only on a data directory no server runs on; "
            "use --url and --key with a key of that org"
        )
    return found


def _served(data: Path | None) -> Server | None:
    """The server running on the data directory, with the local key, if one runs there."""
    config = config_of(data)
    running = instance.running_server(config)
    if not running:
        return None
    cli_key = instance.cli_key(config)
    if cli_key is None:
        raise Failure(f"{config.data} has no {instance.CLI_KEY_FILE}; use --url and --key")
    return running, cli_key


#: ``ask`` without a body; a body of None is sent (as JSON null).
NO_BODY = object()


def ask(
    server: Server,
    method: str,
    path: str,
    body: Any = NO_BODY,
    *,
    params: Mapping[str, Any] | None = None,
    timeout: float | httpx.Timeout = 30,
) -> Any:
    """The server's JSON answer to a request of the API (parameters of None left out), or
    Failure with its refusal."""
    base, token = server
    headers = {"Authorization": f"Bearer {token}"}
    content = None
    if body is not NO_BODY:
        content = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    response = httpx.request(
        method,
        f"{base}{path}",
        content=content,
        headers=headers,
        timeout=timeout,
        params={k: v for k, v in (params or {}).items() if v is not None},
    )
    if response.status_code != 200:
        raise Failure(refusal(response))
    return response.json()


def url_part(name: str) -> str:
    """A name (a campaign, a rule) as one segment of an API path."""
    return httpx.URL(name).raw_path.decode()


def config_of(data: Path | None) -> Config:
    return Config.load(data=data)


def existing_config(data: Path | None) -> Config:
    """The configuration of a data directory that holds an instance (never made here)."""
    config = config_of(data)
    if not config.database and not config.metadata_path.exists():
        raise Failure(
            f"{config.data} holds no livereport instance (no {config.metadata_path.name}); "
            "check --data or $LIVEREPORT_DATA"
        )
    return config


def made(data: Path | None) -> tuple[Config, Metadata]:
    """The data directory's settings and metadata, with the instance a server's first start
    makes made first (else what a command makes would stand in for that first start)."""
    config = config_of(data)
    metadata = instance.open_metadata(config)
    instance.bootstrap(config, metadata)
    return config, metadata


def on_data_directory(
    data: Path | None,
    work: Callable[[Any, int], Any],
    org: str | None = None,
    *,
    writes: bool = False,
) -> Any:
    """Run ``work(store, org_id)`` on the data directory opened in this process. The store is
    the report layer's (store/tenant.py: reads only, each of one org) unless ``work`` writes."""
    from livereport.store.schema import migrate
    from livereport.store.tenant import TenantStore

    config, metadata = made(data)
    store = instance.open_store(config)
    migrate(store)
    return work(store if writes else TenantStore(store), metadata.org(org).id)


def answer(found: Any, as_json: bool, show: Callable[[Any], None]) -> None:
    """With --json, what a command found as JSON on one line of stdout (as the API answers
    it); else as ``show`` shows it to people."""
    import msgspec

    if as_json:
        sys.stdout.write(msgspec.json.encode(found).decode() + "\n")
    else:
        show(found)


def echo_json(value: Any) -> None:
    """JSON for people to read and edit, and for commands to read back."""
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def print_table(columns: list[Column], rows: list[list[str]], title: str | None = None) -> None:
    """A table on stdout as wide as the terminal, continued below when it is wider: free text
    wraps, ids and numbers stay whole (``fit_tables``)."""
    for table in fit_tables(columns, rows, out.width, title=title):
        out.print(table)


def audit_action(metadata: Any, org_id: int, action: str, target: str) -> None:
    """Admin actions made on the command line go to the audit log like the API's."""
    import getpass

    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    metadata.audit(org_id, f"command line ({who})", action, target, "local")


def printable(text: str) -> str:
    """Text from users as one safe line: control characters (tabs, newlines, terminal
    escapes) are shown escaped instead of acting on the terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def when(epoch: float | None, seconds: bool = False) -> str:
    shape = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return "" if epoch is None else datetime.fromtimestamp(epoch, UTC).strftime(shape)
