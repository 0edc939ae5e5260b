"""The ingest (HTTP bodies, errors, de-duplication) tests of ingest/test_http.py, run on one ClickHouse server and PostgreSQL."""

from __future__ import annotations

from cluster.backends import _use_backend, backend, keys, server  # noqa: F401
from ingest.test_http import *  # noqa: F403  (the same tests, collected again here)

BACKEND = "server"
