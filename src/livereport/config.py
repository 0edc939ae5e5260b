"""Settings: each one declared once with its default and help, read from the environment.

The CLI and the docs read the same declarations (``SETTINGS``).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any


@dataclasses.dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str

    @property
    def env(self) -> str:
        return "LIVEREPORT_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("data", ".livereport", "Directory of the embedded instance: events, metadata, keys."),
    Setting(
        "clickhouse",
        "",
        "Events on a ClickHouse server or cluster instead of the embedded engine: clickhouse://host:9000/database, with ?cluster=NAME for a cluster, plus &on_cluster=0|1 and &replicated=1 (empty: embedded).",
    ),
    Setting(
        "database",
        "",
        "Metadata (orgs, keys, users, sessions, layouts) in PostgreSQL instead of SQLite: postgresql://user@host:5432/name; required with a cluster (empty: SQLite in the data directory).",
    ),
    Setting("retention_days", 30, "Days of events kept; older partitions are dropped."),
    Setting("max_body_bytes", 10 * 1024 * 1024, "Largest decoded request body accepted."),
    Setting("max_events_per_request", 10_000, "Most events accepted in one request."),
    Setting("flush_linger_ms", 20, "How long the writer waits to gather more events per insert."),
    Setting("flush_max_events", 50_000, "Most events written to the engine in one insert."),
    Setting(
        "max_pending_events", 400_000, "Events waiting to be stored before ingest answers 503."
    ),
    Setting("retention_check_s", 3600, "Seconds between two checks for partitions to drop."),
    Setting(
        "log_level",
        "info",
        "Lowest level of the JSON log lines on stderr: debug, info (one line per request), warning or error. `livereport demo` logs warnings unless this is set.",
    ),
    Setting(
        "shutdown_timeout_s",
        30,
        "On SIGTERM, longest wait for open requests (live streams) before they are cut.",
    ),
    Setting(
        "test_insert_delay_ms",
        0,
        "For tests only: delay added to every insert, to make storage slower than input.",
    ),
    Setting(
        "test_cheap_passwords",
        0,
        "For tests only: 1 hashes passwords with argon2's least cost (fast, and weak); 0: its default cost.",
    ),
    Setting(
        "key_requests_per_s",
        100,
        "Requests per second each API key may send (a token bucket; 0: no limit); more get 429 with Retry-After.",
    ),
    Setting(
        "key_burst", 300, "Requests an API key may send at once before its per-second rate applies."
    ),
    Setting(
        "signin_max_failures",
        10,
        "Failed sign-ins per account and per address within 15 minutes before further tries are slowed down (429).",
    ),
    Setting(
        "signin_lock_after",
        20,
        "Wrong passwords in a row that lock an account; while locked even the right password fails.",
    ),
    Setting(
        "signin_lock_s",
        1800,
        "Seconds an account stays locked after too many wrong passwords (admins can unlock it sooner).",
    ),
    Setting(
        "alert_private_targets",
        0,
        "1: alert notifications, pause calls and the SMTP server may be on loopback, private or link-local addresses (a receiver on the same network, tests); 0: such targets are refused, so that rules cannot make the server call internal services.",
    ),
    Setting(
        "trusted_proxies",
        "",
        "Addresses or networks of the reverse proxies in front of livereport, comma-separated (10.0.0.5,10.1.0.0/16; * for any): only requests from them may say, with X-Forwarded-Proto and X-Forwarded-For, that the browser used HTTPS (the session cookie is then Secure) and from which address (sign-in throttling, audit log). Empty: no proxy is trusted.",
    ),
)


@dataclasses.dataclass(frozen=True)
class Config:
    data: Path = Path(".livereport")
    clickhouse: str = ""
    database: str = ""
    retention_days: int = 30
    max_body_bytes: int = 10 * 1024 * 1024
    max_events_per_request: int = 10_000
    flush_linger_ms: int = 20
    flush_max_events: int = 50_000
    max_pending_events: int = 400_000
    retention_check_s: int = 3600
    log_level: str = "info"
    shutdown_timeout_s: int = 30
    test_insert_delay_ms: int = 0
    test_cheap_passwords: int = 0
    key_requests_per_s: int = 100
    key_burst: int = 300
    signin_max_failures: int = 10
    signin_lock_after: int = 20
    signin_lock_s: int = 1800
    trusted_proxies: str = ""
    alert_private_targets: int = 0

    def __post_init__(self) -> None:
        _check_proxies(self.proxies)

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Config:
        """Defaults, then ``LIVEREPORT_*`` variables, then explicit overrides (CLI flags)."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            raw = env.get(setting.env)
            if raw is None:
                continue
            try:
                values[setting.name] = type(setting.default)(raw)
            except ValueError:
                raise ValueError(
                    f"{setting.env}={raw!r} is not valid: expected "
                    f"{type(setting.default).__name__} ({setting.help})"
                ) from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        values["data"] = Path(values.get("data", SETTINGS[0].default))
        return cls(**values)

    @property
    def proxies(self) -> list[str]:
        """The trusted proxies as uvicorn's ``forwarded_allow_ips`` takes them."""
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @property
    def events_dir(self) -> Path:
        return self.data / "events"

    @property
    def metadata_path(self) -> Path:
        return self.data / "metadata.sqlite3"


def _check_proxies(items: list[str]) -> None:
    """Refuse what uvicorn would silently never match (a host name, a network with host bits,
    * beside addresses), so a typo cannot leave the cookie without Secure behind a proxy."""
    if items == ["*"]:
        return
    for item in items:
        try:
            if "/" in item:
                ipaddress.ip_network(item)
            else:
                ipaddress.ip_address(item)
        except ValueError as exc:
            raise ValueError(
                f"LIVEREPORT_TRUSTED_PROXIES={','.join(items)!r} is not valid: {exc}; expected "
                "IP addresses or networks, comma-separated (10.0.0.5,10.1.0.0/16), or * alone"
            ) from None
