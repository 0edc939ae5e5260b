"""Freshness: from the 200 of a POST to the change arriving on a live-stream client.

    .venv/bin/python bench/freshness.py [--samples 60] [--quick]

Starts `livereport serve`, opens ``GET /v1/campaigns/{c}/live?tab=email`` (Server-Sent
Events) in a reader thread, then posts one email ``delivered`` event at a time, at random
intervals of 0.5–1.5 s so the posts fall anywhere in the server's check cycle. For each, the
delay is from the 200 of the POST to the first ``report`` event whose delivered count includes
it. Prints p50/p95/p99 and writes them into docs/performance.md, beside the baseline: a
client that polls ``GET …/totals`` itself as fast as it can (what the data allow at best).
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec

from common import header, load_average, percentile, write_section
from ingest import BenchServer

CAMPAIGN = "bench-freshness"


def delivered_of(report: dict[str, Any]) -> int | None:
    for widget in report.get("widgets", []):
        metrics = widget.get("data", {}).get("metrics")
        if isinstance(metrics, dict) and "delivered" in metrics:
            return int(metrics["delivered"] or 0)
    return None


class Reader(threading.Thread):
    """Reads the event stream; remembers when each delivered count was first seen."""

    def __init__(self, url: str, key: str) -> None:
        super().__init__(daemon=True)
        self.url, self.key = url, key
        self.seen: list[tuple[float, int]] = []
        self.ready = threading.Event()
        self.closing = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        try:
            self._read()
        except httpx.HTTPError:
            if not self.closing.is_set():  # the server closing the stream at the end is expected
                raise

    def _read(self) -> None:
        headers = {"Authorization": f"Bearer {self.key}", "Accept": "text/event-stream"}
        with (
            httpx.Client(base_url=self.url, headers=headers, timeout=None) as client,
            client.stream(
                "GET", f"/v1/campaigns/{CAMPAIGN}/live", params={"tab": "email"}
            ) as stream,
        ):
            stream.raise_for_status()
            name = ""
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: ") and name == "report":
                    delivered = delivered_of(msgspec.json.decode(line[6:]))
                    if delivered is not None:
                        with self.lock:
                            self.seen.append((time.perf_counter(), delivered))
                        self.ready.set()

    def first_with(self, delivered: int, after: float, timeout: float = 30.0) -> float:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            with self.lock:
                for at, value in self.seen:
                    if value >= delivered:
                        return max(at, after) - after
            time.sleep(0.005)
        raise SystemExit(
            f"the live stream did not show {delivered} delivered events within {timeout} s"
        )


def event(n: int) -> dict[str, Any]:
    return {
        "id": f"f-{uuid.uuid4().hex}",
        "time": datetime.now(UTC).isoformat(),
        "campaign": CAMPAIGN,
        "channel": "email",
        "type": "delivered",
        "profile": f"p{n}",
    }


def poll_baseline(client: httpx.Client, n: int) -> float:
    """Post one event, then poll the totals back to back until it shows: the delay."""
    response = client.post("/v1/events", json=[event(n)])
    response.raise_for_status()
    after = time.perf_counter()
    while True:
        got = client.get(f"/v1/campaigns/{CAMPAIGN}/totals", params={"channel": "email"})
        if got.status_code == 200 and got.json()["metrics"]["delivered"] >= n:
            return time.perf_counter() - after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--quick", action="store_true", help="15 samples.")
    args = parser.parse_args()
    samples = 15 if args.quick else args.samples

    root = Path(tempfile.mkdtemp(prefix="livereport-bench-"))
    server = BenchServer(root / "data").start()
    try:
        key = server.key("ingest", "read")
        head = header(
            "bench/freshness.py" + (" --quick" if args.quick else f" --samples {samples}")
        )
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60
        ) as client:
            client.post("/v1/events", json=[event(0)]).raise_for_status()  # the campaign exists
            reader = Reader(server.url, key)
            reader.start()
            if not reader.ready.wait(30):
                raise SystemExit("the live stream sent no report within 30 s")
            live: list[float] = []
            for n in range(2, samples + 2):
                time.sleep(random.uniform(0.5, 1.5))
                response = client.post("/v1/events", json=[event(n)])
                response.raise_for_status()
                live.append(reader.first_with(n, time.perf_counter()))
            polled = [poll_baseline(client, samples + 2 + i) for i in range(samples)]
            reader.closing.set()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)

    def ms(values: list[float], q: float) -> str:
        return f"{percentile(values, q) * 1000:,.0f}"

    rows = [
        "| client | samples | p50 (ms) | p95 (ms) | p99 (ms) |",
        "| :--- | ---: | ---: | ---: | ---: |",
        f"| live stream (SSE, email tab) | {len(live)} | {ms(live, 0.5)} | {ms(live, 0.95)} | {ms(live, 0.99)} |",
        f"| baseline: polling GET …/totals back to back | {len(polled)} | {ms(polled, 0.5)} | {ms(polled, 0.95)} | {ms(polled, 0.99)} |",
    ]
    text = "\n".join([head, "", f"Load average after the run: {load_average()}.", "", *rows])
    print(text)
    write_section("freshness-quick" if args.quick else "freshness", text)


if __name__ == "__main__":
    main()
