"""The period tests (any period, exact) of report/test_periods.py, run on one ClickHouse server
and PostgreSQL: the SQL of periods runs on the server's version too."""

from __future__ import annotations

from cluster.backends import _use_backend, backend  # noqa: F401
from report.test_periods import *  # noqa: F403  (the same tests, collected again here)

BACKEND = "server"
