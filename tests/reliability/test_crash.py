"""SIGKILL at random moments under sustained load, from a client that retries unanswered
requests with the same ids: at the end every acknowledged id is stored, each exactly once.

CRASH_TEST_KILLS (default 5) runs it longer locally."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

from reliability_client import Sender, sent_total

from conftest import Server

KILLS = int(os.environ.get("CRASH_TEST_KILLS", "5"))


def test_random_kills_lose_no_acknowledged_event_and_count_none_twice(tmp_path: Path) -> None:
    rng = random.Random(int(os.environ.get("CRASH_TEST_SEED", "7")))
    srv = Server(tmp_path / "data").start()
    try:
        key = srv.key("ingest", "read")
        sender = Sender(srv, key, "crash", batch=200).start(threads=8)
        started = time.monotonic()
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.3, 2.5))  # anywhere in a flush, a merge, or between
            srv.stop(signal.SIGKILL)
            srv.start()
        time.sleep(1.0)
        sender.stop(finish=True)  # each batch retried with the same ids until it gets a 200
        total = sent_total(srv, key, "crash")
        print(
            f"crash: {KILLS} kills in {time.monotonic() - started:.0f} s, "
            f"{len(sender.acked)} distinct ids acknowledged, {sender.accepted} answered as "
            f"accepted, {sender.unanswered} unanswered requests retried, totals {total}"
        )
        assert sender.unanswered > 0, "no request was in flight at a kill"
        assert total == len(sender.acked)
        # Stored but unanswered before a kill, then a duplicate on retry: counted once.
        assert total >= sender.accepted
    finally:
        srv.stop()
