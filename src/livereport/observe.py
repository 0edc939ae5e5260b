"""What operators see: counters and histograms in the Prometheus text format, JSON log lines
and the request id that ties a request's log lines together. Every stage reports here."""

from __future__ import annotations

import contextvars
import json
import logging
import math
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

Labels = tuple[str, ...]

#: The id of the request being served, in every log line written while it runs.
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

LATENCY_BUCKETS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Labels, values: Labels, extra: str = "") -> str:
    pairs = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        pairs.append(extra)
    return "{" + ",".join(pairs) + "}" if pairs else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class Counter:
    """A monotonically growing count, one per combination of label values."""

    kind = "counter"

    def __init__(self, name: str, help: str, labels: Labels = ()) -> None:
        self.name, self.help, self.label_names = name + "_total", help, labels
        self._values: dict[Labels, float] = {}
        self._lock = threading.Lock()

    def inc(self, amount: float = 1, *labels: str) -> None:
        with self._lock:
            self._values[labels] = self._values.get(labels, 0) + amount

    def value(self, *labels: str) -> float:
        return self._values.get(labels, 0)

    def samples(self) -> Iterable[str]:
        with self._lock:
            items = sorted(self._values.items())
        if not items and not self.label_names:
            items = [((), 0)]
        for labels, value in items:
            yield f"{self.name}{_labels(self.label_names, labels)} {_number(value)}"


class Histogram:
    """Observations counted in cumulative buckets, with their sum and count."""

    kind = "histogram"

    def __init__(
        self, name: str, help: str, labels: Labels = (), buckets: Sequence[float] = LATENCY_BUCKETS
    ) -> None:
        self.name, self.help, self.label_names = name, help, labels
        self.buckets = tuple(sorted(buckets))
        self._series: dict[Labels, list[float]] = {}  # per bucket, then +Inf, then sum
        self._lock = threading.Lock()

    def observe(self, value: float, *labels: str) -> None:
        with self._lock:
            row = self._series.setdefault(labels, [0.0] * (len(self.buckets) + 2))
            for i, bound in enumerate(self.buckets):
                if value <= bound:
                    row[i] += 1
            row[-2] += 1
            row[-1] += value

    def count(self, *labels: str) -> int:
        row = self._series.get(labels)
        return int(row[-2]) if row else 0

    def samples(self) -> Iterable[str]:
        with self._lock:
            items = sorted((k, list(v)) for k, v in self._series.items())
        for labels, row in items:
            for bound, n in zip((*self.buckets, math.inf), row, strict=False):
                le = f'le="{_number(bound)}"'
                yield f"{self.name}_bucket{_labels(self.label_names, labels, le)} {_number(n)}"
            yield f"{self.name}_sum{_labels(self.label_names, labels)} {_number(row[-1])}"
            yield f"{self.name}_count{_labels(self.label_names, labels)} {_number(row[-2])}"


class Gauge:
    """A value read when the metrics are scraped (None: not known, left out)."""

    kind = "gauge"
    label_names: Labels = ()

    def __init__(self, name: str, help: str, read: Callable[[], float | None]) -> None:
        self.name, self.help, self.read = name, help, read

    def samples(self) -> Iterable[str]:
        value = self.read()
        if value is not None:
            yield f"{self.name} {_number(value)}"


Metric = Counter | Histogram | Gauge


class Registry:
    """The metrics of one server, rendered together for ``GET /metrics``."""

    def __init__(self) -> None:
        self.metrics: list[Metric] = []

    def add(self, metric: Metric) -> Any:
        self.metrics.append(metric)
        return metric

    def render(self) -> str:
        lines: list[str] = []
        for m in self.metrics:
            lines.append(f"# HELP {m.name} {m.help}")
            lines.append(f"# TYPE {m.name} {m.kind}")
            lines.extend(m.samples())
        return "\n".join(lines) + "\n"


class IngestMetrics:
    """The counters and histograms ingest and the writer update."""

    def __init__(self, registry: Registry) -> None:
        self.accepted: Counter = registry.add(
            Counter("livereport_events_accepted", "Events stored (new ids).")
        )
        self.duplicates: Counter = registry.add(
            Counter("livereport_events_duplicate", "Events whose id the org had already sent.")
        )
        self.rejected: Counter = registry.add(
            Counter(
                "livereport_events_rejected", "Events rejected, by offending field.", ("field",)
            )
        )
        self.dropped: Counter = registry.add(
            Counter(
                "livereport_events_dropped",
                "Events not stored, by reason (ingest/pipeline.py DropReason).",
                ("reason",),
            )
        )
        self.flush_seconds: Histogram = registry.add(
            Histogram("livereport_flush_seconds", "Time to store one group-committed batch.")
        )
        self.shared_wait_seconds: Histogram = registry.add(
            Histogram(
                "livereport_shared_wait_seconds",
                "Time one batch spent in PostgreSQL's shared duplicate memory of a cluster "
                "(claiming its ids, waiting for its campaigns' turn at the live window).",
            )
        )
        self.overloaded: Counter = registry.add(
            Counter("livereport_ingest_overloaded", "Ingest requests answered 503 (buffer full).")
        )

    def count_dropped(self, reason: str, fields: Sequence[str] = (), count: int = 1) -> None:
        """``count`` events dropped for ``reason``; a rejected event also counts once under
        each field at fault."""
        self.dropped.inc(count, str(reason))
        for field in sorted(set(fields)):
            self.rejected.inc(count, field[:64])


class AlertMetrics:
    """What judging and notifying alerts tell operators (alerts/service.py)."""

    def __init__(self, registry: Registry) -> None:
        self.pass_seconds: Histogram = registry.add(
            Histogram(
                "livereport_alert_pass_seconds",
                "Time to judge the alert rules of the campaigns that changed (one pass).",
            )
        )
        self.alerts: Counter = registry.add(
            Counter(
                "livereport_alerts",
                "Alerts this node opened or resolved, by what happened and severity.",
                ("event", "severity"),
            )
        )
        self.deliveries: Counter = registry.add(
            Counter(
                "livereport_alert_deliveries",
                "Notification and pause attempts, by kind and outcome (delivered, retry, failed).",
                ("kind", "outcome"),
            )
        )


# logs


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id.get()
        if rid is not None:
            entry["request_id"] = rid
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str = "info") -> None:
    """Send livereport's (and uvicorn's) log records to stderr as JSON lines."""
    number = logging.getLevelName(level.upper())
    if not isinstance(number, int):
        raise ValueError(f"log level {level!r} is not valid; use debug, info, warning or error")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in ("livereport", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.propagate = False
    logging.getLogger("livereport").setLevel(number)


def new_request_id(given: str | None) -> str:
    """The caller's X-Request-ID when it is a short printable token, else a new one."""
    if given and len(given) <= 128 and given.isprintable() and '"' not in given:
        return given
    return uuid.uuid4().hex
