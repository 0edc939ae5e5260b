"""Alerts: how soon a webhook hears of a crossed threshold, and what judging 1,000 rules costs.

    .venv/bin/python bench/alerts.py [--trials 30] [--seconds 30] [--clients 4] [--json out.json]

Starts one `livereport serve` (LIVEREPORT_ALERT_PRIVATE_TARGETS=1, so that it may call a
receiver on loopback) and a local webhook receiver (a threaded http.server that notes when
each notification arrives), then measures two things in the same run, in this order:

1. **The cost of 1,000 rules.** Client threads post `livereport.simulate.LiveTraffic` events
   (the demo's funnels) for 100 campaigns round-robin, as fast as the server takes them. The
   org's rules are [] in phase (a) and 1,000 rules in phase (b): rate, count and stall rules
   on email, SMS and push, spans of 5, 15 and 60 minutes, a fifth of the email rates per
   recipient domain, a fifth narrowed to one campaign, none with a target. The phases
   alternate in ``--slices`` slices each (a, b, a, b …), so that the data growing during the
   run and the other work on the machine burden both alike. For each phase: accepted
   events/s, the server's CPU time (utime + stime of its process, from /proc) and CPU ms per
   1,000 events, and the judging passes the server ran (``livereport_alert_pass_seconds``):
   how many, and how long one took on average.
2. **Notification latency.** Every trial has a campaign of its own and a rule narrowed to it
   (hard_bounce_rate above 0.05 over 5 minutes, min_volume 50, notify a webhook path of its
   own). All the trial rules are saved up front in one PUT, since a PUT replaces the org's
   whole list (``--latency-rules N`` adds N of the cost rules beside them). A trial posts one
   healthy minute (200 sends, 1 % bounced), then one bounce storm (100 sends, 40 of them hard
   bounces): the delay runs from the 200 of that second POST to the webhook's arrival at the
   receiver. Trials are spaced at random so that the posts fall anywhere in the judge's
   cycle. The target is p95 ≤ 2 s.

Prints rich tables; ``--json PATH`` also saves the numbers. Not a test: CI never runs it.
About 2 minutes with the defaults.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import msgspec
from rich.console import Console
from rich.table import Table

from common import load_average, machine, percentile
from ingest import BenchServer, encode_batches, post_all
from livereport import simulate
from viewers import cpu_seconds

TARGET_P95_S = 2.0
CAMPAIGNS = 100
TEMPLATE = "bench-alerts-c000"  # every load campaign's name has its length: c000 … c099
ROUND_MARK = b'"id":"r000000-'


# the webhook receiver


@dataclass
class Receiver:
    """Notes the first ``fired`` notification to each path, and when it arrived (time.time(),
    the clock the trials read after their POST)."""

    port: int = 0
    fired: dict[str, float] = field(default_factory=dict)
    received: int = 0
    lock: threading.Condition = field(default_factory=threading.Condition)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def take(self, path: str, body: bytes, at: float) -> None:
        try:
            event = json.loads(body).get("event")
        except ValueError:
            event = None
        with self.lock:
            self.received += 1
            if event == "fired" and path not in self.fired:
                self.fired[path] = at
                self.lock.notify_all()

    def wait(self, path: str, timeout: float) -> float | None:
        with self.lock:
            self.lock.wait_for(lambda: path in self.fired, timeout)
            return self.fired.get(path)


def start_receiver() -> tuple[Receiver, ThreadingHTTPServer]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            at = time.time()  # the whole notification is in: it has arrived
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            receiver.take(self.path, body, at)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.port = int(server.server_address[1])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver, server


# notification latency


def trial_rules(trials: int, receiver: Receiver) -> list[dict[str, Any]]:
    return [
        {
            "id": f"latency-{n:03d}",
            "metric": "hard_bounce_rate",
            "channel": "email",
            "above": 0.05,
            "span_minutes": 5,
            "min_volume": 50,
            "severity": "critical",
            "campaign": trial_campaign(n),
            "notify": [{"webhook": receiver.url(f"/trial/{n}")}],
        }
        for n in range(trials)
    ]


def trial_campaign(n: int) -> str:
    return f"bench-alerts-trial-{n:03d}"


def latency_trials(
    client: httpx.Client, receiver: Receiver, trials: int, timeout: float
) -> list[float]:
    """Seconds from the 200 of each crossing POST to its webhook's arrival."""
    delays = []
    for n in range(trials):
        time.sleep(random.uniform(0.2, 1.0))
        campaign = trial_campaign(n)
        healthy = simulate.healthy_batch(
            campaign=campaign, sends=200, now=datetime.now(UTC), seed=n
        )
        client.post("/v1/events", json=healthy).raise_for_status()
        time.sleep(random.uniform(0.0, 0.5))
        storm = simulate.incident_batch(
            "bounce-storm", campaign=campaign, sends=100, share=0.4, now=datetime.now(UTC), seed=n
        )
        client.post("/v1/events", json=storm).raise_for_status()
        after = time.time()
        arrived = receiver.wait(f"/trial/{n}", timeout)
        if arrived is None:
            raise SystemExit(f"trial {n}: no webhook within {timeout:g} s of the crossing POST")
        delays.append(max(0.0, arrived - after))
    return delays


# the cost of 1,000 rules


#: (metric, condition, channels, thresholds): what an org keeps an eye on, with thresholds a
#: healthy campaign of the simulator stays clear of (its email bounces 5 %, 1 % hard; push
#: 3 % hard; 94 % delivered; complaints 0.15 %), so that few of them fire.
_KINDS: tuple[tuple[str, str | None, tuple[str, ...], tuple[float, ...]], ...] = (
    ("bounce_rate", "above", ("email", "sms", "push"), (0.1, 0.2)),
    ("hard_bounce_rate", "above", ("email", "sms", "push"), (0.05, 0.1)),
    ("complaint_rate", "above", ("email",), (0.003, 0.005)),
    ("error_rate", "above", ("email", "sms", "push"), (0.05, 0.1)),
    ("delivery_rate", "below", ("email", "sms", "push"), (0.8, 0.85)),
    ("unsubscribe_rate", "above", ("email",), (0.01, 0.02)),
    ("errors", "above", ("email", "sms", "push"), (200, 500, 1000)),
    ("bounces", "above", ("email", "sms", "push"), (1000, 5000)),
    ("stall", None, ("email", "sms", "push"), ()),
)


def cost_rules(count: int, campaigns: Sequence[str], seed: int = 17) -> list[dict[str, Any]]:
    """``count`` rules of every kind above, spans of 5, 15 and 60 minutes; a fifth of the
    email rate rules per recipient domain, a fifth of all rules narrowed to one campaign; no
    targets (an alert that fires is only recorded)."""
    rng = random.Random(seed)
    rules = []
    for n in range(count):
        metric, condition, channels, thresholds = _KINDS[n % len(_KINDS)]
        channel = rng.choice(channels)
        rule: dict[str, Any] = {
            "id": f"cost-{n:04d}-{metric}",
            "metric": metric,
            "channel": channel,
            "span_minutes": rng.choice((5, 15, 60)),
            "min_volume": rng.choice((50, 100, 200, 500, 1000)) if condition else 100,
            "severity": rng.choice(("info", "warning", "critical")),
        }
        if condition is not None:
            rule[condition] = rng.choice(thresholds)
            if metric.endswith("_rate") and channel == "email" and rng.random() < 0.2:
                # A domain's share of a campaign is small: a few hundred sends to judge.
                rule["dimension"] = "recipient_domain"
                rule["min_volume"] = max(rule["min_volume"], 500)
        if rng.random() < 0.2:
            rule["campaign"] = rng.choice(campaigns)
        rules.append(rule)
    return rules


def template_bodies(batch: int) -> list[bytes]:
    """A few minutes of one campaign's live traffic (funnels under way, the demo's speed), its
    ids marked for the rounds; the events are at most 3 minutes old when the run starts."""
    now = datetime.now(UTC)
    traffic = simulate.LiveTraffic(1, TEMPLATE, rate=250.0)
    traffic.warm_up(now - timedelta(minutes=20), now - timedelta(minutes=3))
    events = [
        {**e, "id": f"r000000-{e['id']}"}
        for chunk in simulate.replay(
            traffic, now - timedelta(minutes=3), now - timedelta(seconds=5)
        )
        for e in chunk
    ]
    return encode_batches(events, batch, compress=False)


def load_campaigns() -> list[str]:
    return [f"bench-alerts-c{n:03d}" for n in range(CAMPAIGNS)]


def round_robin(bodies: Sequence[bytes], campaigns: Sequence[str]) -> Iterator[bytes]:
    """Each template body for each campaign in turn, again and again under new ids."""
    template = TEMPLATE.encode()
    for r in itertools.count(1):
        mark = b'"id":"r%06d-' % r
        for body in bodies:
            marked = body.replace(ROUND_MARK, mark)
            for campaign in campaigns:
                yield marked.replace(template, campaign.encode())


@dataclass
class Phase:
    name: str
    rules: int
    seconds: float = 0.0
    accepted: int = 0
    duplicates: int = 0
    retries: int = 0
    cpu_s: float = 0.0
    passes: int | None = None
    pass_s: float = 0.0

    @property
    def events_s(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_1k(self) -> float:
        return self.cpu_s * 1000 / self.accepted * 1000 if self.accepted else 0.0


def judging_passes(url: str) -> tuple[int, float] | None:
    """The server's count of judging passes and their total seconds, from /metrics."""
    found: dict[str, float] = {}
    for line in httpx.get(f"{url}/metrics", timeout=30).text.splitlines():
        name, _, value = line.partition(" ")
        if name in ("livereport_alert_pass_seconds_count", "livereport_alert_pass_seconds_sum"):
            found[name] = float(value)
    if len(found) != 2:
        return None
    return int(found["livereport_alert_pass_seconds_count"]), found[
        "livereport_alert_pass_seconds_sum"
    ]


def run_slice(
    server: BenchServer, key: str, phase: Phase, load: Iterator[bytes], seconds: float, clients: int
) -> None:
    assert server.process is not None
    stop = threading.Event()
    timer = threading.Timer(seconds, stop.set)
    passes, cpu = judging_passes(server.url), cpu_seconds(server.process.pid)
    timer.start()
    outcome = post_all(server.url, key, load, False, clients, stop=stop)
    timer.cancel()
    phase.cpu_s += cpu_seconds(server.process.pid) - cpu
    after = judging_passes(server.url)
    if passes is not None and after is not None:
        phase.passes = (phase.passes or 0) + after[0] - passes[0]
        phase.pass_s += after[1] - passes[1]
    phase.seconds += outcome.seconds
    phase.accepted += outcome.accepted
    phase.duplicates += outcome.duplicates
    phase.retries += outcome.retries


def settle(server: BenchServer, idle_cores: float = 0.2, longest: float = 60.0) -> None:
    """Wait until the server, no longer posted to, is idle: its judge has finished."""
    assert server.process is not None
    deadline = time.monotonic() + longest
    time.sleep(0.5)
    while time.monotonic() < deadline:
        before = cpu_seconds(server.process.pid)
        time.sleep(0.5)
        if cpu_seconds(server.process.pid) - before < idle_cores * 0.5:
            return


def put_rules(client: httpx.Client, rules: list[dict[str, Any]]) -> None:
    response = client.put("/v1/alert-rules", json=rules)
    if response.status_code != 200:
        raise SystemExit(
            f"PUT /v1/alert-rules answered {response.status_code}: {response.text[:500]}"
        )


def measure_cost(
    server: BenchServer, key: str, client: httpx.Client, args: argparse.Namespace
) -> tuple[Phase, Phase, int]:
    """Phases (a) without rules and (b) with ``--rules`` rules, and how many of those rules'
    alerts fired."""
    campaigns = load_campaigns()
    rules = cost_rules(args.rules, campaigns)
    load = round_robin(template_bodies(args.batch), campaigns)
    without, with_rules = Phase("(a) no rules", 0), Phase(f"(b) {len(rules):,} rules", len(rules))
    put_rules(client, [])
    post_all(server.url, key, itertools.islice(load, CAMPAIGNS), False, args.clients)  # they exist
    warm = Phase("warm-up", 0)
    run_slice(server, key, warm, load, args.warmup, args.clients)
    share = args.seconds / args.slices
    for _ in range(args.slices):
        for phase, phase_rules in ((without, []), (with_rules, rules)):
            put_rules(client, phase_rules)
            # A pass over 1,000 rules takes seconds: let the last one end before the clock
            # of the next slice starts, so that it burdens the phase it belongs to.
            settle(server)
            run_slice(server, key, phase, load, share, args.clients)
            print(f"  {phase.name}: {phase.events_s:,.0f} events/s so far")
    fired = client.get("/v1/alerts", params={"state": "all", "limit": 1000})
    fired.raise_for_status()
    opened = sum(1 for a in fired.json() if str(a["rule"]).startswith("cost-"))
    return without, with_rules, opened


# the run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30, help="Latency trials.")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="Seconds to wait for a webhook."
    )
    parser.add_argument(
        "--latency-rules",
        type=int,
        default=0,
        help="Also keep this many of the cost rules during the latency trials.",
    )
    parser.add_argument("--rules", type=int, default=1000, help="Rules in phase (b).")
    parser.add_argument("--seconds", type=float, default=30.0, help="Ingest seconds per phase.")
    parser.add_argument(
        "--slices", type=int, default=2, help="Slices per phase, alternated a, b, a, b …."
    )
    parser.add_argument("--warmup", type=float, default=5.0, help="Untimed ingest seconds first.")
    parser.add_argument("--clients", type=int, default=4, help="Concurrent client threads.")
    parser.add_argument("--batch", type=int, default=1000, help="Events per request.")
    parser.add_argument("--json", type=Path, help="Also save the numbers here.")
    parser.add_argument(
        "--keep", action="store_true", help="Keep the data directory and server log."
    )
    args = parser.parse_args()

    console = Console()
    started_at = datetime.now(UTC)
    load_before = load_average()
    console.print(
        f"[bold]livereport alerts benchmark[/] — {started_at:%Y-%m-%d %H:%M} UTC on {machine()}"
    )
    receiver, http_server = start_receiver()
    os.environ["LIVEREPORT_ALERT_PRIVATE_TARGETS"] = "1"  # the child server inherits it
    root = Path(tempfile.mkdtemp(prefix="livereport-bench-"))
    server = BenchServer(root / "data").start()
    try:
        key = server.key("ingest", "read", "admin")
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=120
        ) as client:
            # The cost first: the trials' bounce storms would otherwise fire the cost rules
            # that apply to every campaign, again at each switch of the rules.
            console.print(f"cost: {args.rules:,} rules vs none, {args.seconds:g} s each …")
            without, with_rules, opened = measure_cost(server, key, client, args)
            extra = cost_rules(args.latency_rules, load_campaigns())
            put_rules(client, trial_rules(args.trials, receiver) + extra)
            settle(server)  # the last pass over the cost rules must not delay the first trial
            console.print(f"latency: {args.trials} trials, {len(extra):,} more rules …")
            delays = latency_trials(client, receiver, args.trials, args.timeout)
    finally:
        server.stop()
        http_server.shutdown()
        http_server.server_close()
        if args.keep:
            console.print(f"data and server log kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    p50, p95, worst = percentile(delays, 0.5), percentile(delays, 0.95), max(delays)
    others = f", {args.latency_rules:,} other rules" if args.latency_rules else ""
    latency = Table(
        title=f"Notification latency: 200 of the crossing POST → webhook ({len(delays)} trials{others})"
    )
    for column in ("p50 (ms)", "p95 (ms)", "max (ms)", f"target p95 ≤ {TARGET_P95_S:g} s"):
        latency.add_column(column, justify="right")
    verdict = "[green]met[/]" if p95 <= TARGET_P95_S else "[red]missed[/]"
    latency.add_row(f"{p50 * 1000:,.0f}", f"{p95 * 1000:,.0f}", f"{worst * 1000:,.0f}", verdict)
    console.print(latency)

    cost = Table(
        title=f"Ingest while judging: {CAMPAIGNS} campaigns round-robin, {args.clients} clients, batches of {args.batch:,}"
    )
    for column in (
        "phase",
        "seconds",
        "events/s",
        "server CPU s",
        "cores",
        "CPU ms/1k events",
        "passes",
        "ms/pass",
        "retries",
    ):
        cost.add_column(column, justify="left" if column == "phase" else "right")
    for phase in (without, with_rules):
        cost.add_row(
            phase.name,
            f"{phase.seconds:.1f}",
            f"{phase.events_s:,.0f}",
            f"{phase.cpu_s:.1f}",
            f"{phase.cpu_s / phase.seconds:.2f}",
            f"{phase.cpu_ms_per_1k:.1f}",
            "n/a" if phase.passes is None else f"{phase.passes:,}",
            f"{phase.pass_s * 1000 / phase.passes:,.0f}" if phase.passes else "",
            f"{phase.retries}",
        )
    console.print(cost)
    slower = 1 - with_rules.events_s / without.events_s if without.events_s else 0.0
    dearer = with_rules.cpu_ms_per_1k / without.cpu_ms_per_1k - 1 if without.cpu_ms_per_1k else 0.0
    console.print(
        f"with {with_rules.rules:,} rules: ingest {slower:.1%} slower "
        f"({without.events_s:,.0f} → {with_rules.events_s:,.0f} events/s), server CPU per event "
        f"{dearer:+.1%}; {opened if opened < 1000 else 'at least 1000'} alerts of those rules "
        "fired. Judging passes: "
        + (
            "n/a (the server's /metrics has no counter of them). "
            if with_rules.passes is None
            else "see the table. "
        )
        + "events/s are accepted events; cores = server CPU s ÷ seconds. Load average before the run "
        f"{load_before}, after {load_average()}."
    )

    if args.json is not None:
        found = {
            "at": started_at.isoformat(),
            "machine": machine(),
            "load_before": load_before,
            "load_after": load_average(),
            "args": {k: str(v) for k, v in vars(args).items()},
            "latency_s": {
                "trials": len(delays),
                "other_rules": args.latency_rules,
                "p50": p50,
                "p95": p95,
                "max": worst,
                "target_p95": TARGET_P95_S,
                "samples": delays,
            },
            "cost": {
                "campaigns": CAMPAIGNS,
                "alerts_fired": opened,
                "ingest_slower": slower,
                "cpu_per_event_dearer": dearer,
                "phases": [
                    {**asdict(p), "events_s": p.events_s, "cpu_ms_per_1k": p.cpu_ms_per_1k}
                    for p in (without, with_rules)
                ],
            },
        }
        args.json.write_bytes(msgspec.json.format(msgspec.json.encode(found)) + b"\n")
        console.print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
