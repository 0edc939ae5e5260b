"""Helpers of the reliability tests: events with known ids, a scrape parser, a retrying sender."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from conftest import Server

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$")


def event(id_: str, campaign: str, **extra: Any) -> dict[str, Any]:
    """A valid email `sent` event with this id, happening now."""
    return {
        "id": id_,
        "time": int(time.time() * 1000),
        "campaign": campaign,
        "channel": "email",
        "type": "sent",
        "profile": f"p-{id_}",
        **extra,
    }


def scrape(url: str) -> dict[str, float]:
    """GET /metrics as {'name{labels}': value}."""
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for line in response.text.splitlines():
        if line and not line.startswith("#"):
            match = _SAMPLE.match(line)
            assert match, f"not a Prometheus sample: {line!r}"
            samples[match[1] + (match[2] or "")] = float(match[3])
    return samples


def sent_total(srv: Server, key: str, campaign: str) -> int:
    with srv.client(key) as c:
        response = c.get(f"/v1/campaigns/{campaign}/totals", params={"channel": "email"})
    assert response.status_code == 200, response.text
    return int(response.json()["metrics"]["sent"])


def peak_rss_kb(pid: int) -> int:
    """The process's peak resident set size (VmHWM) in kB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc status")


@dataclass
class Sender:
    """Posts batches with fixed ids from several threads; a batch without a 200 is retried
    with the same ids until it gets one (or the sender is stopped)."""

    srv: Server
    key: str
    campaign: str
    batch: int = 200
    acked: set[str] = field(default_factory=set)
    accepted: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    retry_after_missing: int = 0
    unanswered: int = 0
    _next: int = 0
    _finish: bool = True
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self, threads: int) -> Sender:
        for n in range(threads):
            t = threading.Thread(target=self._run, name=f"sender-{n}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self, finish: bool = True) -> None:
        """Stop sending new batches; with ``finish``, each thread first gets its batch acked."""
        self._finish = finish
        self._stop.set()
        for t in self._threads:
            t.join(timeout=120)
            assert not t.is_alive(), "a sender thread did not finish"

    def _take(self) -> list[str]:
        with self._lock:
            start = self._next
            self._next += self.batch
        return [f"{self.campaign}-{i}" for i in range(start, start + self.batch)]

    def _run(self) -> None:
        while not self._stop.is_set():
            ids = self._take()
            body = [event(i, self.campaign) for i in ids]
            while not self._send(body):
                if self._stop.is_set() and not self._finish:
                    return
                time.sleep(0.1)  # Retry-After is 1 s; a shorter wait keeps the test short

    def _send(self, body: list[dict[str, Any]]) -> bool:
        try:
            response = httpx.post(
                f"{self.srv.url}/v1/events",
                json=body,
                timeout=30,
                headers={"Authorization": f"Bearer {self.key}"},
            )
        except httpx.HTTPError:
            with self._lock:
                self.unanswered += 1
            return False
        with self._lock:
            self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
            if response.status_code in (429, 503):
                if "retry-after" not in response.headers:
                    self.retry_after_missing += 1
                return False
            assert response.status_code == 200, response.text
            result = response.json()
            assert result["accepted"] + result["duplicates"] == len(body), result
            self.accepted += result["accepted"]
            self.acked.update(e["id"] for e in body)
        return True
