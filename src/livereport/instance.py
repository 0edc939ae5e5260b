"""An embedded instance on disk: its engine, its metadata, its first start and its server file.

A data directory is served by one process at a time (chDB locks it). The running server
writes ``server.json`` there, so CLI commands pointed at the directory go through its HTTP
API with the local CLI key instead of opening the engine themselves.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from livereport.config import Config
from livereport.store.base import Store
from livereport.store.chdb import ChdbStore
from livereport.store.metadata import Metadata
from livereport.store.server import ServerStore

FIRST_START_FILE = "first-start.txt"
CLI_KEY_FILE = "cli.key"
SERVER_FILE = "server.json"
ADMIN_EMAIL = "admin@localhost"


@dataclass(frozen=True)
class FirstStart:
    org: str
    admin_email: str
    admin_password: str
    ingest_key: str
    path: Path


def open_metadata(config: Config) -> Metadata:
    """SQLite in the data directory, or the PostgreSQL database of LIVEREPORT_DATABASE."""
    return Metadata(config.metadata_path, config.database)


def open_store(config: Config) -> Store:
    """The embedded engine, or the ClickHouse server or cluster of LIVEREPORT_CLICKHOUSE."""
    if config.clickhouse:
        store = ServerStore(config.clickhouse)
        if store.cluster and not config.database:
            raise ValueError(
                "LIVEREPORT_CLICKHOUSE names a cluster, so LIVEREPORT_DATABASE must name the "
                "PostgreSQL database its app nodes share (postgresql://user@host:5432/name)"
            )
        return store
    return ChdbStore(config.events_dir)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def bootstrap(config: Config, metadata: Metadata) -> FirstStart | None:
    """On the first start, create an org, an admin user, an ingest key and the CLI key."""
    config.data.mkdir(parents=True, exist_ok=True)
    if metadata.orgs():
        return None
    org = metadata.create_org("default")
    password = secrets.token_urlsafe(12)
    metadata.create_user(org, ADMIN_EMAIL, "admin", password)
    key, _ = metadata.create_key(org, ["ingest", "read"], "created at first start")
    cli_key, _ = metadata.create_key(org, ["ingest", "read"], "local command line")
    _write_private(config.data / CLI_KEY_FILE, cli_key + "\n")
    path = config.data / FIRST_START_FILE
    _write_private(
        path,
        "livereport: created at the first start of this instance. Keep this file private.\n"
        f"org:            {org.name}\n"
        f"admin user:     {ADMIN_EMAIL}\n"
        f"admin password: {password}\n"
        f"API key:        {key}  (scopes: ingest, read)\n",
    )
    return FirstStart(org.name, ADMIN_EMAIL, password, key, path)


def cli_key(config: Config) -> str | None:
    path = config.data / CLI_KEY_FILE
    return path.read_text(encoding="utf-8").strip() if path.exists() else None


def write_server_file(config: Config, url: str) -> None:
    _write_private(config.data / SERVER_FILE, json.dumps({"url": url, "pid": os.getpid()}))


def remove_server_file(config: Config) -> None:
    (config.data / SERVER_FILE).unlink(missing_ok=True)


def running_server(config: Config) -> str | None:
    """The URL of the live server process that holds this data directory, if one does."""
    path = config.data / SERVER_FILE
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        if int(info["pid"]) == os.getpid():  # left by a killed server whose pid we reuse
            return None
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(info["url"])
