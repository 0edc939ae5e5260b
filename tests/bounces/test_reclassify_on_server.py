"""The reclassification tests of test_reclassify.py, run on one ClickHouse server (Debian's
18.16: no mutations_sync, no update of an Enum column under a condition) and PostgreSQL."""

from __future__ import annotations

from bounces.test_reclassify import *  # noqa: F403  (the same tests, collected again here)
from cluster.backends import _use_backend, backend, server  # noqa: F401

BACKEND = "server"
