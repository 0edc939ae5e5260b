"""How well the machine rules (ingest/machine.py) tell machines' opens and clicks from people's,
on a labelled simulated mix, and what each rule contributes.

    .venv/bin/python bench/machine_detection.py [--profiles 20000] [--seed 19] [--batch 1000]

The simulator's email campaign (simulate.generate_labelled: Apple's proxy for most Apple
addresses and some others, gateway scanners at company domains, Gmail's and Yahoo's image
proxies for people) is cut into bodies of ``--batch`` events in the order a sender posts them
(a few late, some repeated) and each body goes through the decode and validate steps, then
the machine step, in one process, as on one ingest node. An id's first event is the one
judged. Precision and recall of machine opens and of machine clicks, for all rules, each rule
alone, and all rules but one; then the same with bodies shared out between two nodes, and
the machine step's cost beside decoding and validating. Prints markdown tables.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from livereport import simulate
from livereport.events import Event
from livereport.ingest import machine, pipeline
from livereport.ingest.decode import Batch


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, said: bool, truth: bool) -> None:
        if said and truth:
            self.tp += 1
        elif said:
            self.fp += 1
        elif truth:
            self.fn += 1
        else:
            self.tn += 1

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")


def decoded(bodies: Sequence[bytes], now: datetime) -> list[Batch]:
    ctx = pipeline.Context(1, now, timedelta(days=30))
    return [pipeline.decode(pipeline.Body(body, "application/json", 10**6), ctx) for body in bodies]


def judge(
    batches: Sequence[Batch], rules: Sequence[machine.MachineRule], nodes: int = 1
) -> dict[str, Event]:
    """Every id's first open or click as the machine step leaves it, with ``rules`` only, the
    batches shared out in turn between ``nodes`` memories."""
    memories = [machine.Memory() for _ in range(nodes)]
    found: dict[str, Event] = {}
    for n, batch in enumerate(batches):
        events = list(batch.events)
        machine.detect(events, batch.clients, 1, frozenset, memories[n % nodes], rules)
        for _, e in events:
            found.setdefault(e.id, e)  # the first event of an id stands, whatever its type
    return {id_: e for id_, e in found.items() if e.type in ("open", "click")}


def score(found: dict[str, Event], truth: dict[str, bool]) -> dict[str, Score]:
    scores = {"open": Score(), "click": Score()}
    for id_, e in found.items():
        scores[e.type].add(e.machine, truth[id_])
    return scores


def share(value: float) -> str:
    """A precision or recall; "—" when the rule decided nothing of that kind."""
    return "—" if math.isnan(value) else f"{value:.3f}"


def row(name: str, scores: dict[str, Score]) -> str:
    o, c = scores["open"], scores["click"]
    return (
        f"| {name} | {share(o.precision)} | {share(o.recall)} | {o.fp} | "
        f"{share(c.precision)} | {share(c.recall)} | {c.fp} |"
    )


HEAD = (
    "| rules | opens: precision | opens: recall | opens: people flagged | "
    "clicks: precision | clicks: recall | clicks: people flagged |\n"
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--batch", type=int, default=1_000)
    args = parser.parse_args()

    now = datetime.now(UTC).replace(microsecond=0)
    pairs = simulate.generate_labelled(
        seed=args.seed,
        campaign="machine-study",
        channels=("email",),
        profiles=args.profiles,
        start=now - timedelta(hours=6),
        end=now - timedelta(minutes=1),
    )
    truth: dict[str, bool] = {}
    for event, label in pairs:
        truth.setdefault(event["id"], label)
    events: list[dict[str, Any]] = [e for e, _ in pairs]
    bodies = [
        msgspec.json.encode(events[i : i + args.batch]) for i in range(0, len(events), args.batch)
    ]
    batches = decoded(bodies, now)

    full = judge(batches, machine.RULES)
    kinds = {k: [i for i, e in full.items() if e.type == k] for k in ("open", "click")}
    print(
        f"{args.profiles:,} profiles, seed {args.seed}: {len(events):,} email events in "
        f"{len(bodies)} bodies of {args.batch:,}"
    )
    for kind, ids in kinds.items():
        machines = sum(truth[i] for i in ids)
        print(
            f"- {kind}s: {len(ids):,}, of which {machines:,} a machine's ({machines / len(ids):.1%})"
        )
    print()
    print(HEAD)
    print(row("all rules", score(full, truth)))
    for rule in machine.RULES:
        print(row(f"{rule.name} alone", score(judge(batches, (rule,)), truth)))
    for rule in machine.RULES:
        rest = tuple(r for r in machine.RULES if r is not rule)
        print(row(f"all but {rule.name}", score(judge(batches, rest), truth)))
    print(row("all rules, two nodes", score(judge(batches, machine.RULES, nodes=2), truth)))
    print()

    print("| rule | decided opens | of which people | decided clicks | of which people |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for rule in machine.RULES:
        decided = [(i, e) for i, e in full.items() if e.machine_rule == rule.name]
        opens = [i for i, e in decided if e.type == "open"]
        clicks = [i for i, e in decided if e.type == "click"]
        print(
            f"| {rule.name} | {len(opens):,} | {sum(not truth[i] for i in opens):,} | "
            f"{len(clicks):,} | {sum(not truth[i] for i in clicks):,} |"
        )
    print()

    started = time.perf_counter()
    for _ in range(3):
        again = decoded(bodies, now)
    decode_s = (time.perf_counter() - started) / 3
    best = float("inf")
    for _ in range(3):
        memory = machine.Memory()
        started = time.perf_counter()
        for batch in again:
            machine.detect(list(batch.events), batch.clients, 1, frozenset, memory)
        best = min(best, time.perf_counter() - started)
    print(
        f"cost: decode + validate {decode_s / len(events) * 1e6:.2f} µs/event, "
        f"machine step {best / len(events) * 1e6:.2f} µs/event "
        f"({best / decode_s:.1%} of decode + validate)"
    )


if __name__ == "__main__":
    main()
