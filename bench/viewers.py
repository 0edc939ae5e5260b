"""What live viewers cost: server CPU with 0, 10 and 100 streams of one big campaign's tab.

    .venv/bin/python bench/viewers.py [--events 10000000] [--rate 2000] [--viewers 0,10,100]

A data directory gets one campaign of ``--events`` events made by the engine (as in
bench/query.py), then `livereport serve` runs on it and a client posts events into that
campaign at ``--rate`` events/s for the whole run. For each number of viewers, that many
clients hold ``GET /v1/campaigns/{c}/live?tab=email`` open (Server-Sent Events) and read
every report; after they have their first report, the server process's CPU time (user +
system, from /proc) is read over ``--seconds``. The baseline is the same with no viewer:
the CPU the viewers add is the difference. One viewer also times freshness: from the 200
of each POST to the first report whose delivered count includes it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import msgspec

from common import header, load_average, percentile, write_section
from freshness import delivered_of
from ingest import BenchServer, synthetic_events

CAMPAIGN = "bench-viewers"
TICK = os.sysconf("SC_CLK_TCK")


def prepare(data: Path, events: int) -> float:
    """Make the campaign in a child process (one embedded engine per process); seconds taken."""
    started = time.perf_counter()
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from pathlib import Path
        from common import generate_sql
        from livereport.store import window
        from livereport.store.chdb import ChdbStore
        from livereport.store.schema import migrate
        store = ChdbStore(Path({str(data)!r}))
        migrate(store)
        now = int(time.time())
        for first in range(0, {events}, 1_000_000):
            size = min(1_000_000, {events} - first)
            store.execute(generate_sql(1, {CAMPAIGN!r}, first, size, now - 23 * 3600, now - 10, {events}))
        window.rebuild(store)
        for table in ("minute_counts", "minute_uniques", "dim_counts", "dim_uniques",
                      "campaigns", "unique_last", "unique_minutes"):
            store.execute(f"OPTIMIZE TABLE {{{{db}}}}.{{table}} FINAL")
        store.shutdown()
    """)
    subprocess.run([sys.executable, "-c", script], check=True)
    return time.perf_counter() - started


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


class Viewer(threading.Thread):
    """One live stream of the email tab; remembers when each delivered count arrived."""

    def __init__(self, url: str, key: str) -> None:
        super().__init__(daemon=True)
        self.url, self.key = url, key
        self.reports = 0
        self.seen: list[tuple[float, int]] = []
        self.ready = threading.Event()
        self.closing = threading.Event()

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.key}", "Accept": "text/event-stream"}
        try:
            with (
                httpx.Client(base_url=self.url, headers=headers, timeout=None) as client,
                client.stream(
                    "GET", f"/v1/campaigns/{CAMPAIGN}/live", params={"tab": "email"}
                ) as stream,
            ):
                name = ""
                for line in stream.iter_lines():
                    if self.closing.is_set():
                        return
                    if line.startswith("event: "):
                        name = line[7:]
                    elif line.startswith("data: ") and name == "report":
                        self.reports += 1
                        delivered = delivered_of(msgspec.json.decode(line[6:]))
                        if delivered is not None:
                            self.seen.append((time.perf_counter(), delivered))
                        self.ready.set()
        except httpx.HTTPError:
            if not self.closing.is_set():
                raise


class Sender(threading.Thread):
    """Posts events into the campaign at a steady rate; remembers each POST's delivered total."""

    def __init__(self, url: str, key: str, rate: float, batch: int = 200) -> None:
        super().__init__(daemon=True)
        self.url, self.key, self.rate, self.batch = url, key, rate, batch
        self.posted: list[tuple[float, int]] = []  # (200 received at, delivered so far)
        self.delivered = 0
        self.stop = threading.Event()

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.key}"}
        started, n = time.perf_counter(), 0
        with httpx.Client(base_url=self.url, headers=headers, timeout=60) as client:
            while not self.stop.is_set():
                now = datetime.now(UTC)
                events = list(
                    synthetic_events(
                        self.batch,
                        CAMPAIGN,
                        now - timedelta(seconds=1),
                        now,
                        seed=1000 + n,
                        profiles=1_000_000,
                    )
                )
                for e in events:
                    e["id"] = f"v{n}-{e['id']}"
                self.delivered += sum(
                    1 for e in events if e.get("channel") == "email" and e["type"] == "delivered"
                )
                client.post("/v1/events", json=events).raise_for_status()
                self.posted.append((time.perf_counter(), self.delivered))
                n += 1
                time.sleep(max(0.0, started + n * self.batch / self.rate - time.perf_counter()))


def freshness(viewer: Viewer, posted: list[tuple[float, int]]) -> list[float]:
    """For each POST, the delay to the first report that includes its delivered events."""
    delays = []
    seen = list(viewer.seen)
    for at, delivered in posted:
        shown = next((t for t, d in seen if d >= delivered and t >= at - 5), None)
        if shown is not None:
            delays.append(max(0.0, shown - at))
    return delays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument(
        "--rate", type=float, default=2_000, help="Events/s posted into the campaign."
    )
    parser.add_argument("--viewers", default="0,10,100")
    parser.add_argument("--seconds", type=float, default=20.0, help="CPU measured over this long.")
    args = parser.parse_args()
    counts = [int(v) for v in args.viewers.split(",")]

    root = Path(tempfile.mkdtemp(prefix="livereport-viewers-"))
    made = prepare(root / "data", args.events)
    server = BenchServer(root / "data").start()
    assert server.process is not None
    pid = server.process.pid
    results: list[tuple[int, float, int, list[float]]] = []
    try:
        key = server.key("ingest", "read")
        sender = Sender(server.url, key, args.rate)
        sender.start()
        time.sleep(5)  # let ingest settle
        for count in counts:
            viewers = [Viewer(server.url, key) for _ in range(max(count, 1))]
            for v in viewers[:count]:
                v.start()
            for v in viewers[:count]:
                if not v.ready.wait(120):
                    raise SystemExit("a viewer got no report within 120 s")
            time.sleep(2)
            before, posts_before = cpu_seconds(pid), len(sender.posted)
            reports_before = sum(v.reports for v in viewers)
            time.sleep(args.seconds)
            used = cpu_seconds(pid) - before
            reports = sum(v.reports for v in viewers) - reports_before
            delays = freshness(viewers[0], sender.posted[posts_before:]) if count else []
            results.append((count, used / args.seconds, reports, delays))
            print(
                f"{count} viewers: server CPU {used / args.seconds:.2f} cores, {reports} reports"
                + (f", freshness p50 {statistics.median(delays) * 1000:.0f} ms" if delays else "")
            )
            for v in viewers:
                v.closing.set()
            time.sleep(2)
        sender.stop.set()
        sender.join()
        achieved = sender.delivered and len(sender.posted) * sender.batch / (
            sender.posted[-1][0] - sender.posted[0][0]
        )
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)

    base = results[0][1] if results and results[0][0] == 0 else 0.0
    rows = [
        "| viewers of the email tab | server CPU (cores) | added by the viewers (% of one core) "
        "| reports sent | freshness p50 / p95 / p99 (ms) |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for count, cores, reports, delays in results:
        fresh = (
            " / ".join(f"{percentile(delays, q) * 1000:,.0f}" for q in (0.5, 0.95, 0.99))
            if delays
            else "—"
        )
        added = f"{(cores - base) * 100:+.0f} %" if count else "(baseline)"
        rows.append(f"| {count} | {cores:.2f} | {added} | {reports:,} | {fresh} |")
    command = (
        f"bench/viewers.py --events {args.events} --rate {args.rate:.0f} --viewers {args.viewers}"
    )
    text = "\n".join(
        [
            header(command),
            "",
            f"{args.events:,} events made by the engine in {made:.0f} s; events posted into the same "
            f"campaign at {achieved:,.0f} events/s during every measurement; server CPU over "
            f"{args.seconds:.0f} s per line. Load average after the run: {load_average()}.",
            "",
            *rows,
        ]
    )
    print(text)
    write_section("viewers", text)


if __name__ == "__main__":
    main()
