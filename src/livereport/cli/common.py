"""What every command shares: the one-line failures, the server and data directory
options, where a command's work runs (a server, or this process on a data directory),
tables on the terminal and the audit of admin actions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
        raise Failure(_refusal(exc.response)) from None
    except httpx.HTTPError as exc:
        raise Failure(f"cannot reach the server ({exc}); check --url and that it runs") from None
    except (OSError, ValueError) as exc:
        raise Failure(str(exc)) from None


def _refusal(response: httpx.Response) -> str:
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


def _config(data: Path | None) -> Config:
    return Config.load(data=data)


def _print_table(columns: list[Column], rows: list[list[str]], title: str | None = None) -> None:
    """A table on stdout as wide as the terminal, continued below when it is wider: free text
    wraps, ids and numbers stay whole (``fit_tables``)."""
    for table in fit_tables(columns, rows, out.width, title=title):
        out.print(table)


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


def _audit(metadata: Any, org_id: int, action: str, target: str) -> None:
    """Admin actions made on the command line go to the audit log like the API's."""
    import getpass

    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    metadata.audit(org_id, f"command line ({who})", action, target, "local")


def _existing(data: Path | None) -> Config:
    """The configuration of a data directory that holds an instance (never made here)."""
    config = _config(data)
    if not config.database and not config.metadata_path.exists():
        raise Failure(
            f"{config.data} holds no livereport instance (no {config.metadata_path.name}); "
            "check --data or $LIVEREPORT_DATA"
        )
    return config


def _rules_target(url: str | None, key: str | None) -> tuple[str, str] | None:
    """(url, key) with --url; else None: the data directory's metadata, which a server running
    on it reads too (the rules take effect there at once, by their version)."""
    if not url:
        if key:
            raise click.UsageError("--key goes with --url, the server to use it on")
        return None
    if not key:
        raise click.UsageError("--url needs --key (an API key of your org)")
    return url.rstrip("/"), key


def _printable(text: str) -> str:
    """Text from users as one safe line: control characters (tabs, newlines, terminal
    escapes) are shown escaped instead of acting on the terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _when(epoch: float | None, seconds: bool = False) -> str:
    shape = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return "" if epoch is None else datetime.fromtimestamp(epoch, UTC).strftime(shape)
