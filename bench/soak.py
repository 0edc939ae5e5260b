"""Soak: a steady ingest rate plus report reads for a long time, watching for slow leaks.

    .venv/bin/python bench/soak.py [--duration 1800] [--rate 1000] [--sample 60] [--warmup 120]

Starts `livereport serve` on a temporary data directory, posts `--rate` events a second in
batches of `--batch`, reads a report tab once a second, and every `--sample` seconds records
the server's RSS, open file descriptors, active parts (from /metrics) and the p50/p99 latency
of the posts and reads of that interval. Prints a markdown table, then compares the RSS at
the end with the RSS after warm-up. Not a test: CI never runs it.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import msgspec

# bench/ is the script's folder, hence on sys.path: the server helper and generator are shared.
from ingest import BenchServer, machine, synthetic_events

CAMPAIGN = "bench-soak"


def p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Load:
    """Posts at a steady rate and reads a tab once a second, recording each latency."""

    def __init__(self, url: str, key: str, rate: int, batch: int) -> None:
        self.url, self.rate, self.batch = url, rate, batch
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self.posts: list[float] = []
        self.reads: list[float] = []
        self.failures = 0
        self.accepted = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def take(self) -> tuple[list[float], list[float]]:
        with self.lock:
            posts, reads, self.posts, self.reads = self.posts, self.reads, [], []
        return posts, reads

    def post_loop(self) -> None:
        encoder = msgspec.json.Encoder()
        interval = self.batch / self.rate
        next_at = time.monotonic()
        with httpx.Client(timeout=60) as client:
            for n in itertools.count(1):
                if self.stop.is_set():
                    break
                now = datetime.now(UTC)  # ids are "<n>-<i>": unique per batch number
                body = encoder.encode(
                    list(
                        synthetic_events(
                            self.batch,
                            CAMPAIGN,
                            now - timedelta(minutes=5),
                            now,
                            seed=n,
                            profiles=20_000,
                        )
                    )
                )
                started = time.monotonic()
                try:
                    r = client.post(f"{self.url}/v1/events", content=body, headers=self.headers)
                    ok = r.status_code == 200
                    if ok:
                        self.accepted += r.json()["accepted"]
                except httpx.HTTPError:
                    ok = False
                with self.lock:
                    self.posts.append(time.monotonic() - started)
                    self.failures += not ok
                next_at += interval
                self.stop.wait(max(0.0, next_at - time.monotonic()))

    def read_loop(self) -> None:
        with httpx.Client(timeout=60, headers=self.headers) as client:
            while not self.stop.wait(1.0):
                started = time.monotonic()
                r = client.get(
                    f"{self.url}/v1/campaigns/{CAMPAIGN}/report", params={"tab": "email"}
                )
                with self.lock:
                    self.reads.append(time.monotonic() - started)
                    self.failures += r.status_code not in (200, 404)


def scrape_parts(url: str) -> int:
    for line in httpx.get(f"{url}/metrics", timeout=30).text.splitlines():
        if line.startswith("livereport_active_parts "):
            return int(float(line.split()[1]))
    return -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=1800, help="seconds of load")
    parser.add_argument("--rate", type=int, default=1000, help="events a second")
    parser.add_argument("--batch", type=int, default=100, help="events per request")
    parser.add_argument("--sample", type=float, default=60, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=120, help="seconds before the baseline")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="livereport-soak-"))
    server = BenchServer(workdir / "data").start()
    try:
        assert server.process is not None
        pid = server.process.pid
        load = Load(server.url, server.key("ingest", "read"), args.rate, args.batch)
        threads = [threading.Thread(target=load.post_loop), threading.Thread(target=load.read_loop)]
        for t in threads:
            t.start()
        print(
            f"soak: {machine()}; {args.rate} events/s in batches of {args.batch} for "
            f"{args.duration:.0f} s\n"
        )
        print(
            "| t (s) | RSS (MiB) | open fds | active parts | post p50/p99 (ms) | report p50/p99 (ms) | failures |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- |")
        started = time.monotonic()
        baseline: float | None = None
        rss = 0.0
        while (elapsed := time.monotonic() - started) < args.duration:
            time.sleep(min(args.sample, args.duration - elapsed))
            elapsed = time.monotonic() - started
            posts, reads = load.take()
            rss = server.rss_bytes() / 2**20
            fds = len(os.listdir(f"/proc/{pid}/fd"))
            if baseline is None and elapsed >= args.warmup:
                baseline = rss
            print(
                f"| {elapsed:.0f} | {rss:.0f} | {fds} | {scrape_parts(server.url)} | "
                f"{statistics.median(posts) * 1000 if posts else 0:.1f} / {p(posts, 0.99) * 1000:.1f} | "
                f"{statistics.median(reads) * 1000 if reads else 0:.1f} / {p(reads, 0.99) * 1000:.1f} | "
                f"{load.failures} |",
                flush=True,
            )
        load.stop.set()
        for t in threads:
            t.join()
        print(f"\n{load.accepted} events accepted.")
        if baseline is not None:
            print(
                f"RSS after warm-up {baseline:.0f} MiB, at the end {rss:.0f} MiB "
                f"({(rss - baseline) / baseline * 100:+.1f} %)."
            )
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
