"""The human and machine split of report/test_engagement_split.py, run on a two-shard
ClickHouse cluster (the server version CI installs) with PostgreSQL: the engagement rollups
and the filtered reports' SQL run on that version, over both shards."""

from __future__ import annotations

from cluster.backends import _use_backend, backend, keys, server  # noqa: F401
from report.test_engagement_split import *  # noqa: F403  (the same tests, collected again here)

BACKEND = "cluster"
