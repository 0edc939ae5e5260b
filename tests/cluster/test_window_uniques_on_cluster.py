"""The live window's distinct profiles at its edges (report/test_window_uniques.py), on the
two-shard cluster with two app nodes and PostgreSQL."""

from __future__ import annotations

from cluster.backends import _use_backend, backend, keys, server  # noqa: F401
from report.test_window_uniques import *  # noqa: F403  (the same tests, collected again here)

BACKEND = "cluster"

# The chDB upgrade test runs once, in report/test_window_uniques.py.
del test_an_existing_database_fills_the_window_tables_when_it_upgrades  # noqa: F821
