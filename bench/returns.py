"""Returned mails: classification speed in this process, and POST /v1/returns throughput of a
real `livereport serve` (child process, temporary data directory), with N copies of the
tests/bounces corpus made distinct by their Message-ID.

    .venv/bin/python bench/returns.py [--copies 10] [--clients 8]

Prints the machine and a markdown table. Never run as a test.
"""

from __future__ import annotations

import argparse
import re
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx

from common import load_average, machine
from livereport.returns.intake import read_return

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "bounces" / "corpus"
_MESSAGE_ID = re.compile(rb"^Message-ID:[^\n]*\n", re.IGNORECASE | re.MULTILINE)


def distinct(raw: bytes, n: int) -> bytes:
    """The message with a Message-ID of its own, so each copy is a new return."""
    return f"Message-ID: <bench-{n}@bench.example>\n".encode() + _MESSAGE_ID.sub(b"", raw, count=1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    corpus = [p.read_bytes() for p in sorted(CORPUS.rglob("*.eml"))]
    mails = [
        distinct(raw, i * len(corpus) + j)
        for i in range(args.copies)
        for j, raw in enumerate(corpus)
    ]

    started = time.perf_counter()
    for raw in corpus:
        read_return(raw, datetime.now(UTC))
    classify_ms = (time.perf_counter() - started) / len(corpus) * 1000

    with tempfile.TemporaryDirectory() as tmp, socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        data = Path(tmp) / "data"
        run = [sys.executable, "-m", "livereport"]
        key = subprocess.run(
            [*run, "keys", "create", "--scope", "ingest", "--data", str(data)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        server = subprocess.Popen(
            [*run, "serve", "--data", str(data), "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            client = httpx.Client(
                timeout=120,
                headers={"Authorization": f"Bearer {key}", "Content-Type": "message/rfc822"},
            )
            started = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                answers = list(
                    pool.map(
                        lambda raw: client.post(f"{url}/v1/returns", content=raw).json(), mails
                    )
                )
            seconds = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=60)
    outcomes: dict[str, int] = {}
    for answer in answers:
        outcomes[answer["outcome"]] = outcomes.get(answer["outcome"], 0) + 1
    print(f"Machine: {machine()}; load {load_average()}\n")
    print(
        "| returns | clients | classify (ms / mail, in process) | POST /v1/returns (returns/s) | outcomes |"
    )
    print("| --- | --- | --- | --- | --- |")
    shown = ", ".join(f"{n} {k}" for k, n in sorted(outcomes.items()))
    print(
        f"| {len(mails)} | {args.clients} | {classify_ms:.1f} | {len(mails) / seconds:.0f} | {shown} |"
    )


if __name__ == "__main__":
    main()
