"""Ingest throughput: pre-encoded batches posted by concurrent clients to a real server.

    .venv/bin/python bench/ingest.py --events 200000 --batch 10000 [--gzip] [--clients 4]
    .venv/bin/python bench/ingest.py --matrix [--duration 60] [--quick]

Starts `livereport serve` on a temporary data directory and a free port, creates a key with
`livereport keys create`, posts the events, then checks the totals against what was accepted
and prints a markdown table (with the server's RSS and the bytes on disk per stored event).

``--matrix`` measures sustained ingest (``--duration`` seconds, the events sent again and
again under new ids) for batches of 1,000 and 10,000 events, plain and gzip, each beside
the engine's own rate on the same events (chDB ``INSERT … FROM INFILE … FORMAT JSONEachRow``
of an NDJSON file, same machine, same run), and writes the table into docs/performance.md.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec

from livereport.events import CAMPAIGN, Channel
from livereport.report.catalogue import METRICS, metrics_for

LIVEREPORT = [sys.executable, "-m", "livereport"]


# the server under test


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class BenchServer:
    """`livereport serve` in a child process, on a data directory of its own."""

    data: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data.parent / "server.log"

    def start(self) -> BenchServer:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*LIVEREPORT, "serve", "--data", str(self.data), "--port", str(self.port)],
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited:\n{self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise SystemExit("the server did not start within 60 s")

    def key(self, *scopes: str) -> str:
        args = [*LIVEREPORT, "keys", "create", "--data", str(self.data)]
        args += [f"--scope={s}" for s in scopes]
        return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()

    def rss_bytes(self) -> int:
        """Resident memory of the server process (chDB runs inside it)."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def data_bytes(self) -> int:
        return sum(
            (Path(root) / name).stat().st_size
            for root, _, names in os.walk(self.data)
            for name in names
            if (Path(root) / name).is_file()
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=120)
        self.process = None


# events


_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "orange.fr", "web.de", "example.org")
_EXCLUSIONS = ("No consent", "Suppressed address", "Frequency rule", "No address in profile")
_ERRORS = ("Rendering error", "Dispatch error", "Provider unavailable")
_BOUNCES = ("Invalid Recipient", "Mailbox Full", "DNS Failure", "Spam Block", "Timeout")
_ELEMENTS = ("Buy now", "Hero banner", "Newsletter sign-up", "Close")
# (channel, type, weight): roughly the funnel of a real campaign.
_MIX: tuple[tuple[str, str, int], ...] = (
    (CAMPAIGN, "entered", 6),
    ("email", "targeted", 10),
    ("email", "excluded", 1),
    ("email", "sent", 9),
    ("email", "delivered", 9),
    ("email", "bounce", 1),
    ("email", "error", 1),
    ("email", "retry", 1),
    ("email", "open", 5),
    ("email", "click", 2),
    ("email", "unsubscribe", 1),
    ("email", "spam_complaint", 1),
    ("sms", "targeted", 3),
    ("sms", "excluded", 1),
    ("sms", "sent", 3),
    ("sms", "delivered", 3),
    ("sms", "bounce", 1),
    ("sms", "error", 1),
    ("sms", "click", 1),
    ("push", "targeted", 4),
    ("push", "excluded", 1),
    ("push", "sent", 4),
    ("push", "delivered", 4),
    ("push", "bounce", 1),
    ("push", "error", 1),
    ("push", "open", 2),
    ("push", "action", 1),
    ("inapp", "impression", 4),
    ("inapp", "interaction", 2),
    ("inapp", "excluded", 1),
    ("web", "impression", 4),
    ("web", "interaction", 2),
    ("web", "error", 1),
    ("directmail", "targeted", 1),
    ("directmail", "sent", 1),
    ("directmail", "excluded", 1),
    ("directmail", "error", 1),
)


def synthetic_events(
    count: int, campaign: str, start: datetime, end: datetime, seed: int = 1, profiles: int = 50_000
) -> Iterator[dict[str, Any]]:
    """Fast, varied events of every channel: enough to fill every widget. A recipient keeps
    its email domain, A/B variant and push platform from event to event, as real ones do."""
    rng = random.Random(seed)
    kinds = rng.choices(_MIX, weights=[w for _, _, w in _MIX], k=count)
    first, span = int(start.timestamp() * 1000), int((end - start).total_seconds() * 1000)
    for n, (channel, type_, _) in enumerate(kinds):
        e: dict[str, Any] = {
            "id": f"{seed}-{n}",
            "time": first + rng.randrange(span),
            "campaign": campaign,
            "type": type_,
            "profile": f"p{(p := rng.randrange(profiles))}",
            "execution": "morning" if n % 3 else "evening",
            "variant": "AB"[p % 2],
        }
        if channel != CAMPAIGN:
            e["channel"] = channel
        if type_ == "excluded":
            e["reason"] = rng.choice(_EXCLUSIONS)
        elif type_ == "error":
            e["reason"] = rng.choice(_ERRORS)
        elif type_ == "bounce":
            e["reason"] = rng.choice(_BOUNCES)
        if channel == "email":
            e["recipient_domain"] = _DOMAINS[p % len(_DOMAINS)]
        elif channel == "push":
            e["platform"] = ("ios", "android")[p // 2 % 2]
        elif channel in ("inapp", "web") and type_ == "interaction":
            e["interaction"] = rng.choice(("click", "dismiss", "other"))
            if channel == "web":
                e["element"] = rng.choice(_ELEMENTS)
        yield e


def simulated_events(
    count: int, campaign: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """`livereport.simulate.generate` traffic, grown until there are ``count`` events."""
    from livereport import simulate

    events: list[dict[str, Any]] = []
    profiles = max(1000, count // 20)
    while True:
        events = [
            dict(e)
            for e in simulate.generate(
                seed=1,
                campaign=campaign,
                profiles=profiles,
                start=start,
                end=end,
                executions=("morning", "evening"),
                variants=("A", "B"),
            )
        ]
        if len(events) >= count or profiles > count:
            return events[:count]
        profiles = int(profiles * count / max(len(events), 1) * 1.1) + 1


def make_events(
    kind: str, count: int, campaign: str, start: datetime, end: datetime
) -> tuple[str, list[dict[str, Any]]]:
    if kind == "auto":
        kind = "simulate" if importlib.util.find_spec("livereport.simulate") else "synthetic"
    if kind == "simulate":
        return kind, simulated_events(count, campaign, start, end)
    return kind, list(synthetic_events(count, campaign, start, end))


def encode_batches(events: Sequence[dict[str, Any]], batch: int, compress: bool) -> list[bytes]:
    """JSON array bodies, compressed beforehand so the clients only send."""
    encoder = msgspec.json.Encoder()
    bodies = [encoder.encode(events[i : i + batch]) for i in range(0, len(events), batch)]
    return [gzip.compress(b, 1) for b in bodies] if compress else bodies


ROUND_MARK = b'"id":"r000000-'


def sustained_bodies(
    events: Sequence[dict[str, Any]], batch: int, compress: bool, rounds: int
) -> Iterator[list[bytes]]:
    """The events again and again, each round under new ids (``r000001-…``): per round, the
    list of bodies; gzip bodies are compressed here, before the clock starts."""
    marked = [{**e, "id": f"r000000-{e['id']}"} for e in events]
    plain = encode_batches(marked, batch, False)
    for r in range(rounds):
        mark = b'"id":"r%06d-' % r
        yield [
            gzip.compress(b.replace(ROUND_MARK, mark), 1)
            if compress
            else b.replace(ROUND_MARK, mark)
            for b in plain
        ]


# the load


@dataclass
class Outcome:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    retries: int = 0
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def post_all(
    url: str,
    key: str,
    bodies: Iterable[bytes],
    compressed: bool,
    clients: int,
    rate: float | None = None,
    stop: threading.Event | None = None,
    events_per_body: int = 0,
) -> Outcome:
    """Post every body with ``clients`` threads; a 429/503 is retried after Retry-After.

    ``rate`` (events/s, with ``events_per_body``) paces the posting; ``stop`` ends it early.
    """
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    if compressed:
        headers["Content-Encoding"] = "gzip"
    outcome = Outcome()
    cursor = iter(enumerate(bodies))
    cursor_lock = threading.Lock()
    failures: list[str] = []

    def work() -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=300) as client:
            while not failures and not (stop is not None and stop.is_set()):
                with cursor_lock:
                    index, body = next(cursor, (None, b""))
                if index is None:
                    return
                if rate:
                    due = started + index * events_per_body / rate
                    time.sleep(max(0.0, due - time.perf_counter()))
                while True:
                    response = client.post("/v1/events", content=body)
                    if response.status_code in (429, 503):
                        with outcome.lock:
                            outcome.retries += 1
                        time.sleep(float(response.headers.get("Retry-After", "1")))
                        continue
                    break
                if response.status_code != 200:
                    failures.append(f"{response.status_code}: {response.text[:300]}")
                    return
                body = response.json()
                with outcome.lock:
                    outcome.accepted += body["accepted"]
                    outcome.duplicates += body["duplicates"]
                    outcome.rejected += len(body["rejected"])

    threads = [threading.Thread(target=work) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outcome.seconds = time.perf_counter() - started
    if failures:
        raise SystemExit(f"ingest failed: {failures[0]}")
    return outcome


def _outcome(e: dict[str, Any]) -> tuple[str, str, str]:
    """(channel, metric, profile) an event adds to: its type's count, or an entered profile."""
    if e["type"] == "entered":
        return CAMPAIGN, "entered_profiles", e["profile"]
    metric = next(m.name for m in METRICS.values() if m.count == e["type"] and m.bounce is None)
    return e["channel"], metric, ""


def expected_ranges(
    events: Sequence[dict[str, Any]],
) -> tuple[dict[tuple[str, str], tuple[int, int]], int]:
    """(channel, metric) → (least, most) the totals may say, and how many entered events are
    stored. An id sent again with other content counts once, as whichever version came
    first: with concurrent clients that order is not fixed, hence a range."""
    versions: dict[str, set[tuple[str, str, str]]] = {}
    for e in events:
        versions.setdefault(e["id"], set()).add(_outcome(e))
    least: Counter[tuple[str, str]] = Counter()
    most: Counter[tuple[str, str]] = Counter()
    sure: set[str] = set()
    maybe: set[str] = set()
    entered_events = 0
    for outcomes in versions.values():
        entered_events += all(m == "entered_profiles" for _, m, _ in outcomes)
        for channel, metric, profile in outcomes:
            if metric == "entered_profiles":
                (sure if len(outcomes) == 1 else maybe).add(profile)
                continue
            most[(channel, metric)] += 1
            least[(channel, metric)] += len(outcomes) == 1
    least[(CAMPAIGN, "entered_profiles")] = len(sure)
    most[(CAMPAIGN, "entered_profiles")] = len(sure | maybe)
    return {k: (least[k], most[k]) for k in most}, entered_events


def check_totals(
    url: str, key: str, campaign: str, events: Sequence[dict[str, Any]], accepted: int
) -> str:
    """Every count metric of every channel against the events, and their sum against the
    accepted count; a one-line verdict."""
    expected, entered_events = expected_ranges(events)
    stored = 0
    wrong = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
        for channel in (CAMPAIGN, *(ch.value for ch in Channel)):
            response = c.get(f"/v1/campaigns/{campaign}/totals", params={"channel": channel})
            response.raise_for_status()
            metrics = response.json()["metrics"]
            for name in metrics_for(channel):
                metric = METRICS[name]
                if channel == CAMPAIGN:
                    checked = name == "entered_profiles"  # the rest are sums over the channels
                else:
                    checked = metric.count is not None and metric.bounce is None
                if not checked:
                    continue
                least, most = expected.get((channel, name), (0, 0))
                if not least <= metrics[name] <= most:
                    wrong.append(f"{channel}.{name}={metrics[name]} (expected {least}..{most})")
                if channel != CAMPAIGN:
                    stored += metrics[name]
    if wrong:
        return "MISMATCH: " + ", ".join(wrong[:10])
    total = stored + entered_events
    return (
        f"totals check: every metric as expected; {stored} channel events + {entered_events} "
        f"entered events = {total}, accepted {accepted}: "
        + ("OK" if total == accepted else "DIFFERENT")
    )


# sustained ingest beside the engine's own rate


def stored_count(url: str, key: str, campaign: str) -> int:
    """Events of every channel the totals count (entered events are counted as profiles)."""
    stored = 0
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
        for channel in Channel:
            response = c.get(f"/v1/campaigns/{campaign}/totals", params={"channel": channel.value})
            response.raise_for_status()
            metrics = response.json()["metrics"]
            stored += sum(
                metrics[name]
                for name in metrics_for(channel.value)
                if METRICS[name].count is not None and METRICS[name].bounce is None
            )
    return stored


@dataclass
class Sustained:
    batch: int
    gzip: bool
    events_s: float
    engine_events_s: float
    seconds: float
    accepted: int
    retries: int
    rss: int
    verdict: str


def sustained(
    events: Sequence[dict[str, Any]], batch: int, compress: bool, duration: float, clients: int
) -> tuple[float, Outcome, int, str]:
    """Post the events round after round for ``duration`` seconds: (seconds, outcome, server
    RSS, verdict of the stored count)."""
    root = Path(tempfile.mkdtemp(prefix="livereport-bench-"))
    server = BenchServer(root / "data").start()
    try:
        key = server.key("ingest", "read")
        entered_per_body = [
            sum(e["type"] == "entered" for e in events[i : i + batch])
            for i in range(0, len(events), batch)
        ]
        sent = {"bodies": 0}

        def bodies() -> Iterator[bytes]:
            for round_ in sustained_bodies(events, batch, compress, rounds=10_000):
                for body in round_:
                    sent["bodies"] += 1
                    yield body

        stop = threading.Event()
        timer = threading.Timer(duration, stop.set)
        timer.start()
        outcome = post_all(server.url, key, bodies(), compress, clients, stop=stop)
        timer.cancel()
        rss = server.rss_bytes()
        posted_bodies = sent["bodies"]
        entered = sum(entered_per_body[i % len(entered_per_body)] for i in range(posted_bodies))
        stored = stored_count(server.url, key, events[0]["campaign"]) + entered
        verdict = f"stored {stored:,} = accepted {outcome.accepted:,}: " + (
            "OK" if stored == outcome.accepted and outcome.rejected == 0 else "DIFFERENT"
        )
        return outcome.seconds, outcome, rss, verdict
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def stored_rows_file(events: Sequence[dict[str, Any]], path: Path) -> int:
    """The events as rows of the events table, one JSON object a line (the engine's input)."""
    from livereport.ingest import pipeline
    from livereport.store.base import EVENT_COLUMNS

    batch = pipeline.prepare(
        pipeline.Body(msgspec.json.encode(events), "application/json", len(events)),
        pipeline.Context(1, datetime.now(UTC), timedelta(days=30)),
    )
    received = int(time.time())
    encode = msgspec.json.Encoder().encode
    with path.open("wb") as out:
        for _, e in batch.events:
            values = (
                1,
                e.id,
                e.time_ms // 1000,
                e.time_ms % 1000,
                received,
                e.campaign,
                e.channel,
                e.type,
                e.profile,
                e.execution,
                e.variant,
                e.reason,
                e.code,
                e.bounce,
                e.smtp_status,
                e.smtp_code,
                e.smtp_diagnostic,
                e.recipient_domain,
                e.platform,
                e.interaction,
                e.element,
                e.url,
                int(e.machine),
            )
            out.write(encode(dict(zip(EVENT_COLUMNS, values, strict=True))) + b"\n")
    return len(batch.events)


def engine_rate(path: Path, rows: int, duration: float) -> float:
    """chDB's own insert rate of the NDJSON file into livereport's schema (the events table
    and its materialized views), in a child process with a fresh data directory."""
    data = Path(tempfile.mkdtemp(prefix="livereport-engine-"))
    try:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--engine",
                str(path),
                "--engine-rows",
                str(rows),
                "--duration",
                str(duration),
                "--data",
                str(data),
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return float(out.strip().splitlines()[-1])
    finally:
        shutil.rmtree(data, ignore_errors=True)


def engine_child(path: Path, rows: int, duration: float, data: Path) -> None:
    from livereport.store.chdb import ChdbStore
    from livereport.store.schema import migrate

    store = ChdbStore(data)
    migrate(store)
    inserted = 0
    started = time.perf_counter()
    while time.perf_counter() - started < duration:
        store.execute(f"INSERT INTO {{db}}.events FROM INFILE '{path}' FORMAT JSONEachRow")
        inserted += rows
    print(inserted / (time.perf_counter() - started))


def matrix(args: argparse.Namespace) -> None:
    from common import header, load_average, write_section

    campaign = "bench-ingest"
    now = datetime.now(UTC)
    count = 20_000 if args.quick else 200_000
    duration = 10.0 if args.quick else args.duration
    events = list(
        synthetic_events(count, campaign, now - timedelta(hours=1), now - timedelta(seconds=5))
    )
    lines = [
        header(
            f"bench/ingest.py --matrix --duration {duration:g}" + (" --quick" if args.quick else "")
        )
    ]
    rows: list[str] = []
    with tempfile.TemporaryDirectory(prefix="livereport-ndjson-") as tmp:
        path = Path(tmp) / "events.ndjson"
        for batch, compress in ((10_000, False), (10_000, True), (1_000, False), (1_000, True)):
            # One file of at most 50,000 rows: what the writer inserts at once, at most.
            file_rows = stored_rows_file(
                [{**e, "id": f"e-{e['id']}"} for e in events[:50_000]], path
            )
            engine = engine_rate(path, file_rows, min(duration, 20.0))
            seconds, outcome, rss, verdict = sustained(
                events, batch, compress, duration, args.clients
            )
            ours = outcome.accepted / seconds
            print(
                f"batch {batch} gzip {compress}: {ours:,.0f} events/s, engine {engine:,.0f}; {verdict}"
            )
            rows.append(
                f"| {batch:,} | {'gzip' if compress else 'plain'} | {seconds:.0f} | {ours:,.0f} "
                f"| {engine:,.0f} | {ours / engine:.2f} | {outcome.retries} | {rss / 2**20:,.0f} "
                f"| {verdict} |"
            )
    lines += [
        "",
        f"{args.clients} client threads on the same machine; {count:,} synthetic events sent "
        "round after round under new ids. Engine: chDB `INSERT INTO events FROM INFILE … "
        "FORMAT JSONEachRow` of 50,000 of the same events as stored rows, into the same "
        "schema (events table and its materialized views), in a fresh child process just "
        f"before each run. Load average after the runs: {load_average()}.",
        "",
        "| batch | body | seconds | ours (events/s) | engine (events/s) | ours ÷ engine "
        "| 429/503 retries | server RSS (MB) | stored check |",
        "| ---: | :---: | ---: | ---: | ---: | ---: | ---: | ---: | :--- |",
        *rows,
    ]
    write_section("ingest-quick" if args.quick else "ingest", "\n".join(lines))


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, {platform.system()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=10_000, help="Events per request.")
    parser.add_argument("--gzip", action="store_true", help="Send gzip-compressed bodies.")
    parser.add_argument("--clients", type=int, default=4, help="Concurrent client threads.")
    parser.add_argument(
        "--generator",
        choices=("auto", "simulate", "synthetic"),
        default="auto",
        help="auto: livereport.simulate when present, else synthetic.",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=30.0,
        help="Seconds to let merges run before the final disk size.",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the data directory.")
    parser.add_argument(
        "--matrix",
        action="store_true",
        help="Sustained ingest of every batch size and body, beside the engine's "
        "rate; writes docs/performance.md.",
    )
    parser.add_argument("--duration", type=float, default=60.0, help="Seconds per --matrix run.")
    parser.add_argument(
        "--quick", action="store_true", help="--matrix with small sizes, 10 s runs."
    )
    parser.add_argument("--engine", type=Path, help=argparse.SUPPRESS)  # the child process
    parser.add_argument("--engine-rows", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine is not None:
        engine_child(args.engine, args.engine_rows, args.duration, args.data)
        return
    if args.matrix:
        matrix(args)
        return

    campaign = "bench-ingest"
    now = datetime.now(UTC)
    kind, events = make_events(
        kind=args.generator,
        count=args.events,
        campaign=campaign,
        start=now - timedelta(hours=1),
        end=now - timedelta(seconds=5),
    )
    bodies = encode_batches(events, args.batch, args.gzip)
    wire = sum(len(b) for b in bodies)
    print(f"# livereport ingest benchmark — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {machine()}")
    print(
        f"events: {len(events)} from the {kind} generator; {len(bodies)} requests, "
        f"{wire / len(events):.0f} bytes/event on the wire\n"
    )

    root = Path(tempfile.mkdtemp(prefix="livereport-bench-"))
    server = BenchServer(root / "data").start()
    try:
        key = server.key("ingest", "read")
        outcome = post_all(server.url, key, bodies, args.gzip, args.clients)
        rss = server.rss_bytes()
        verdict = check_totals(server.url, key, campaign, events, outcome.accepted)
        live = server.data_bytes() / max(outcome.accepted, 1)
        time.sleep(args.settle)  # background merges of the many small inserted parts
        server.stop()  # the engine deletes the parts merges replaced when it closes
        settled = server.data_bytes() / max(outcome.accepted, 1)
        print(
            "| events | batch | gzip | clients | seconds | accepted events/s | server RSS (MB) "
            "| disk bytes/event, live | disk bytes/event, merged |"
        )
        print("| ---: | ---: | :---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        print(
            f"| {len(events):,} | {args.batch:,} | {'yes' if args.gzip else 'no'} "
            f"| {args.clients} | {outcome.seconds:.2f} "
            f"| {outcome.accepted / outcome.seconds:,.0f} | {rss / 2**20:,.0f} "
            f"| {live:.0f} | {settled:.0f} |"
        )
        print(
            f"\naccepted {outcome.accepted}, duplicates {outcome.duplicates}, rejected "
            f"{outcome.rejected}, 429/503 retries {outcome.retries}"
        )
        print(verdict)
        if not verdict.endswith(": OK"):
            raise SystemExit(1)
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"data kept in {root}")


if __name__ == "__main__":
    main()
