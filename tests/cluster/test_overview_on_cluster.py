"""The campaign overview and the org totals of report/test_overview.py, run on a two-shard
ClickHouse cluster (the server version CI installs) with two app nodes and PostgreSQL: the
SQL runs on that version, and campaigns spread over both shards list and rank as one."""

from __future__ import annotations

from cluster.backends import _use_backend, backend  # noqa: F401
from report.test_overview import *  # noqa: F403  (the same tests, collected again here)

BACKEND = "cluster"
