"""The exactness (every number equals a hand count) tests of report/test_exactness.py, run on a two-shard ClickHouse cluster with two app nodes (requests alternate between them) and PostgreSQL."""

from __future__ import annotations

from cluster.backends import _use_backend, backend, keys, server  # noqa: F401
from report.test_exactness import *  # noqa: F403  (the same tests, collected again here)

BACKEND = "cluster"
