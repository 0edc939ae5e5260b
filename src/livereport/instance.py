"""An embedded instance on disk: its engine, its metadata, its first start and its server file.

A data directory is served by one process at a time (chDB locks it). The running server
writes ``server.json`` there, so CLI commands pointed at the directory go through its HTTP
API with the local CLI key instead of opening the engine themselves.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from livereport.config import SETTINGS, Config
from livereport.errors import StorageUnavailable
from livereport.store.base import Store
from livereport.store.chdb import ChdbStore
from livereport.store.metadata import Metadata
from livereport.store.server import ServerAddress, ServerStore

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


#: The least value of the numeric settings that 0 or less would break (the others: 0).
_AT_LEAST_ONE = frozenset(
    {
        "retention_days",
        "max_body_bytes",
        "max_events_per_request",
        "flush_max_events",
        "max_pending_events",
        "retention_check_s",
        "key_burst",
        "signin_lock_after",
    }
)


def check_config(config: Config) -> None:
    """Refuse settings a server cannot work with before anything is made or opened: a
    negative retention, an empty ingest buffer, a URL that is not one."""
    for setting in SETTINGS:
        value = getattr(config, setting.name)
        least = 1 if setting.name in _AT_LEAST_ONE else 0
        if isinstance(value, int) and value < least:
            raise ValueError(
                f"{setting.env}={value} is not valid: expected a whole number of at least "
                f"{least} ({setting.help})"
            )
    if config.clickhouse:
        ServerAddress.parse(config.clickhouse)
    _check_database_url(config.database)


def _check_database_url(url: str) -> None:
    if not url:
        return
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        conninfo_to_dict(url)
    except ProgrammingError:  # its message repeats the URL, which may hold a password
        raise ValueError(
            "LIVEREPORT_DATABASE is not a PostgreSQL URL: expected postgresql://user@host:5432/name"
        ) from None


def open_metadata(config: Config) -> Metadata:
    """SQLite in the data directory, or the PostgreSQL database of LIVEREPORT_DATABASE."""
    _check_database_url(config.database)
    return Metadata(
        config.metadata_path,
        config.database,
        cheap_passwords=bool(config.test_cheap_passwords),
    )


def open_store(config: Config) -> Store:
    """The embedded engine, or the ClickHouse server or cluster of LIVEREPORT_CLICKHOUSE
    (asked a trivial query at once, so that an unreachable server fails here, clearly)."""
    if config.clickhouse:
        store = ServerStore(config.clickhouse)
        if store.cluster and not config.database:
            raise ValueError(
                "LIVEREPORT_CLICKHOUSE names a cluster, so LIVEREPORT_DATABASE must name the "
                "PostgreSQL database its app nodes share (postgresql://user@host:5432/name)"
            )
        driver = logging.getLogger("clickhouse_driver")
        level = driver.level
        driver.setLevel(logging.ERROR)  # its warning of a failed connection is a traceback
        try:
            store.execute("SELECT 1")
        except StorageUnavailable as exc:
            raise StorageUnavailable(
                f"{exc.message}; check LIVEREPORT_CLICKHOUSE and that the server is reachable"
            ) from None
        finally:
            driver.setLevel(level)
        return store
    try:
        return ChdbStore(config.events_dir)
    except RuntimeError as exc:  # chDB raises a bare RuntimeError for every engine error
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StorageUnavailable(
            f"the embedded engine cannot open {config.events_dir} ({why[:300]}); another "
            f"process may be using {config.data} (a livereport command run without a server): "
            "stop it first"
        ) from None


def engine_in_use(config: Config) -> bool:
    """Whether another process holds the embedded engine of the data directory (a command
    run on it without a server): ClickHouse holds a lock on its status file while open.
    Asked before this process opens the engine, which would fail on it less clearly."""
    if config.clickhouse:
        return False
    try:
        fd = os.open(config.events_dir / "status", os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # and the lock with it: the engine takes it next
    return False


def private_data_dir(config: Config) -> list[str]:
    """Make the data directory ready to serve: created readable by its owner only (it holds
    password and key hashes, as PostgreSQL's holds its data), writable, and if it or a file
    in it is open to other users, closed to them. Returns what was tightened, to log."""
    data = config.data
    hint = "choose another data directory with --data or LIVEREPORT_DATA"
    if data.exists() and not data.is_dir():
        raise ValueError(f"{data} is a file, not a directory; {hint}")
    try:
        data.mkdir(mode=0o700, parents=True, exist_ok=True)
    except NotADirectoryError:
        raise ValueError(f"cannot create {data}: a part of its path is a file; {hint}") from None
    except OSError as exc:
        raise ValueError(f"cannot create {data} ({exc.strerror}); {hint}") from None
    probe = data / f".write-test-{os.getpid()}"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        probe.unlink()
    except OSError as exc:
        raise ValueError(
            f"the data directory {data} is not writable by this user ({exc.strerror}); "
            f"give this user write access to it or {hint}"
        ) from None
    changed = []
    for path in [data, *sorted(data.iterdir())]:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode) or not mode & 0o077:
            continue
        was, private = stat.S_IMODE(mode), stat.S_IMODE(mode) & 0o700
        try:
            path.chmod(private)
        except OSError as exc:
            raise ValueError(
                f"{path} is open to other users (mode {was:04o}) and this user cannot close it "
                f"({exc.strerror}); run livereport as its owner, or chmod it {private:04o}"
            ) from None
        changed.append(f"{path if path == data else path.name} {was:04o} -> {private:04o}")
    return changed


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def bootstrap(config: Config, metadata: Metadata) -> FirstStart | None:
    """On the first start, create an org, an admin user, an ingest key and the CLI key."""
    config.data.mkdir(mode=0o700, parents=True, exist_ok=True)  # readable by its owner only
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
