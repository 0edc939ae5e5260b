"""`livereport demo` (issue 16, the first hour): its history comes at the live stream's rate,
so its charts show a running campaign; push and SMS bounces have categories; a restarted
demo fills only the hours it missed and sends new events."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from statistics import mean
from typing import Any, TypeVar

import httpx
import pytest

from conftest import free_port

CAMPAIGN = "demo-spring-sale"
RATE = 20
T = TypeVar("T")


class Demo:
    """A `livereport demo` child process and what it printed."""

    def __init__(self, data: Path, *args: str) -> None:
        self.data, self.port = data, free_port()
        self.log = data.parent / f"demo-{self.port}.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "livereport",
                    "demo",
                    "--data",
                    str(data),
                    "--port",
                    str(self.port),
                    "--rate",
                    str(RATE),
                    *args,
                ],
                stdout=log,
                stderr=log,
            )

    def said(self) -> str:
        # rich wraps lines to the width it assumes off a terminal
        return " ".join(self.log.read_text(errors="replace").split())

    def wait(self, what: str, check: Callable[[], T | None], seconds: float = 180) -> T:
        deadline = time.monotonic() + seconds
        while True:
            assert self.process.poll() is None, f"the demo exited: {self.said()}"
            found = check()
            if found:
                return found
            assert time.monotonic() < deadline, f"waited {seconds}s for {what}: {self.said()}"
            time.sleep(0.5)

    def get(self, path: str, **params: str) -> Any:
        key = (self.data / "cli.key").read_text(encoding="utf-8").strip()
        response = httpx.get(
            f"http://127.0.0.1:{self.port}{path}",
            params=params,
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def events(self) -> int:
        rows = self.get("/v1/campaigns")["campaigns"]
        return sum(r["events_in_window"] for r in rows if r["campaign"] == CAMPAIGN)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            assert self.process.wait(timeout=60) == 0, self.said()


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    started = Demo(tmp_path / "data", "--history", "1")
    yield started
    started.stop()


def test_the_history_comes_at_the_live_rate_and_a_restart_continues(
    demo: Demo, tmp_path: Path
) -> None:
    demo.wait("the history", lambda: "Demo history loaded" in demo.said())
    assert (
        "Demo history: loading the 1 hours before now, about 72,000 events, the latest first"
        in demo.said()
    )
    assert demo.events() >= 0.95 * RATE * 3600
    # The hour of history, in 5-minute buckets: about as many sends in each (the first
    # bucket holds the start of the history, the last ones the live stream).
    series = demo.get(f"/v1/campaigns/{CAMPAIGN}/series", channel="campaign", metrics="targeted")
    full = [n for n in series["series"]["targeted"][-12:-2]]
    assert min(full) > 0.6 * mean(full) and mean(full) > 0.1 * RATE * 300, full

    for channel in ("sms", "push"):
        keys = {
            row["key"]
            for row in demo.get(
                f"/v1/campaigns/{CAMPAIGN}/breakdown", channel=channel, by="bounce_category"
            )["rows"]
        }
        assert {"hard", "soft"} <= keys, (channel, keys)

    before = demo.events()
    demo.stop()
    again = Demo(demo.data, "--history", "1")
    try:
        again.wait("the missed minutes", lambda: "Demo history loaded" in again.said(), 120)
        loading = again.said().split("Demo history: loading the ", 1)[1]
        assert float(loading.split(" hours", 1)[0]) < 0.1, loading  # only the minutes missed
        first = again.wait("new events", lambda: (n := again.events()) > before and n)
        # the live stream of a new run is new events, not the first run's ids again
        again.wait("more new events", lambda: again.events() > first + 2 * RATE, 60)
    finally:
        again.stop()
