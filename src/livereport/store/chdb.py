"""The embedded backend: ClickHouse in this process through chDB, data in a directory."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import chdb
import msgspec

from livereport.errors import StorageUnavailable
from livereport.events import Event
from livereport.store.base import bind, check_identifier

_encode = msgspec.json.Encoder().encode
_INSERT = (
    b"INSERT INTO %s.events (org, id, time, ms, received, campaign, channel, type, profile, "
    b"execution, variant, reason, code, bounce, smtp_status, smtp_code, smtp_diagnostic, "
    b"recipient_domain, platform, interaction, element, url, machine) FORMAT JSONCompactEachRow\n"
)

# chDB keeps one engine per process: every ChdbStore of a process must share its path.
_connections: dict[str, Any] = {}
_connections_lock = threading.Lock()


def _connect(path: Path) -> Any:
    key = str(path.resolve())
    with _connections_lock:
        if _connections and key not in _connections:
            raise StorageUnavailable(
                f"this process already has an embedded engine on {next(iter(_connections))}; "
                "one process serves one data directory"
            )
        if key not in _connections:
            path.mkdir(parents=True, exist_ok=True)
            _connections[key] = chdb.connect(key)  # type: ignore[no-untyped-call]
        return _connections[key]


class ChdbStore:
    def __init__(self, path: Path, database: str = "livereport") -> None:
        self.database = check_identifier(database)
        self._conn = _connect(path)

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        statement = bind(sql, params, self.database)
        cursor = self._conn.cursor()
        try:
            cursor.execute(statement)
            return list(cursor.fetchall() or ())
        except Exception as exc:  # chDB raises bare RuntimeError for every engine error
            raise _unavailable(exc) from exc
        finally:
            cursor.close()

    def insert_events(self, rows: Sequence[tuple[int, Event]], received: int) -> None:
        if not rows:
            return
        lines = [_INSERT % self.database.encode()]
        for org, e in rows:
            lines.append(
                _encode(
                    (
                        org, e.id, e.time_ms // 1000, e.time_ms % 1000, received, e.campaign,
                        e.channel, e.type, e.profile, e.execution, e.variant, e.reason, e.code,
                        e.bounce, e.smtp_status, e.smtp_code, e.smtp_diagnostic,
                        e.recipient_domain, e.platform, e.interaction, e.element, e.url,
                        int(e.machine),
                    )
                )
            )  # fmt: skip
        body = b"\n".join(lines).decode()
        cursor = self._conn.cursor()
        try:
            cursor.execute(body)
        except Exception as exc:
            raise _unavailable(exc) from exc
        finally:
            cursor.close()

    def iter_event_keys(self, since: int) -> Iterator[tuple[int, str]]:
        parts = self.execute(
            "SELECT DISTINCT partition FROM system.parts WHERE database = %(db)s "
            "AND table = 'events' AND active ORDER BY partition",
            {"db": self.database},
        )
        for (partition,) in parts:
            yield from self.execute(
                "SELECT org, id FROM {db}.events WHERE toYYYYMMDD(time) = %(p)s "
                "AND time >= %(since)s",
                {"p": int(partition), "since": since},
            )

    def close(self) -> None:
        """The engine lives as long as the process: chDB cannot reopen a path once closed."""


def _unavailable(exc: Exception) -> StorageUnavailable:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return StorageUnavailable(f"the embedded ClickHouse engine failed: {text[:500]}")
