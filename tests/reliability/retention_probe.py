"""Run in a child process (chDB holds one engine per process): stores events around the
retention limit through the real writer, then reports as JSON what de-duplication and the
partition drop decided. Used by test_retention.py."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from livereport.events import Event
from livereport.ingest.writer import Writer
from livereport.store.base import drop_partitions_before, retention_start
from livereport.store.chdb import ChdbStore
from livereport.store.schema import migrate

DAY = 86_400
RETENTION_DAYS = 3


def event(id_: str, at: float) -> Event:
    return Event(
        id=id_,
        time_ms=int(at * 1000),
        campaign="ret",
        channel="email",
        type="sent",
        profile=f"p-{id_}",
    )


def main(data: Path) -> None:
    store = ChdbStore(data)
    migrate(store)
    now = time.time()
    ages = {"beyond": RETENTION_DAYS * DAY + 600, "long-gone": 5 * DAY, "inside": 2 * DAY}
    first = Writer(store, linger_s=0, retention_s=RETENTION_DAYS * DAY)
    first.start()
    for run in ("live", "restarted"):
        first.submit_nowait(
            1, [event(f"{run}-{name}", now - age) for name, age in ages.items()]
        ).result()
    # The same ids again, now: a writer that has them in memory, and one started afterwards
    # (memory loaded from the table), must agree.
    again = {"live": first}
    restarted = Writer(store, linger_s=0, retention_s=RETENTION_DAYS * DAY)
    restarted.start()
    again["restarted"] = restarted
    new = {
        run: dict(
            zip(
                ages,
                writer.submit_nowait(1, [event(f"{run}-{n}", now) for n in ages]).result(),
                strict=True,
            )
        )
        for run, writer in again.items()
    }
    keep_from = retention_start(RETENTION_DAYS, now)
    dropped = drop_partitions_before(store, keep_from)
    left = store.execute("SELECT id, toUnixTimestamp(time) FROM {db}.events ORDER BY id, time")
    json.dump(
        {
            "new": new,
            "dropped": dropped,
            "keep_from": keep_from.isoformat(),
            "now": now,
            "left": [[i, int(t)] for i, t in left],
        },
        sys.stdout,
    )
    first.stop()
    restarted.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
