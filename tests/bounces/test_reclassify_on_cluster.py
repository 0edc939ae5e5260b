"""The reclassification tests of test_reclassify.py, run on a two-shard cluster with two app
nodes: requests alternate between the nodes, mutations and merges run on every shard."""

from __future__ import annotations

from bounces.test_reclassify import *  # noqa: F403  (the same tests, collected again here)
from cluster.backends import _use_backend, backend, server  # noqa: F401

BACKEND = "cluster"
