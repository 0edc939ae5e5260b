"""The layouts, sessions, exports and the live stream tests of web/test_web_api.py, run on one ClickHouse server and PostgreSQL."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "web"))  # its helpers import as top-level

from cluster.backends import _use_backend, backend, keys, server  # noqa: F401
from web.test_web_api import *  # noqa: F403  (the same tests, collected again here)

BACKEND = "server"
