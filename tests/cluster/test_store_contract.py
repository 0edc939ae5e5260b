"""One contract for every storage backend (issue 20): the embedded engine, one ClickHouse
server and a two-shard cluster each do what the ``Store`` protocol (store/base.py) says,
and the report layer's view of each (store/tenant.py) refuses what it must. The same script
runs against each, in a child process (chDB holds one engine per process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cluster.clickhouse import CLUSTER
from conftest import new_storage, storage_env

_CONTRACT = """
import time
from datetime import UTC, datetime, timedelta
import msgspec
from livereport import instance
from livereport.config import Config
from livereport.ingest import pipeline
from livereport.store.lasts import RecentLasts
from livereport.store.schema import migrate
from livereport.store.tenant import MissingOrg, TenantStore

KIND = __KIND__
config = Config.load(data=__DATA__)
store = instance.open_store(config)
migrate(store)
assert store.cluster == (__CLUSTER__ if KIND == "cluster" else ""), store.cluster
now = datetime.now(UTC)
raw = [{"id": f"c-{i}", "time": (now - timedelta(minutes=i)).isoformat(), "campaign": "contract",
        "channel": "email", "type": "open" if i % 2 else "sent", "profile": f"p{i % 3}"} for i in range(20)]
batch = pipeline.prepare(pipeline.Body(msgspec.json.encode(raw), "application/json", 10**6),
                         pipeline.Context(1, now, timedelta(days=30)))
assert not batch.rejected, batch.rejected
store.insert_events([(1, e) for _, e in batch.events], int(time.time()))

# Reads: statements, a batch of keys sent along, the keys of every stored event.
((count,),) = store.execute("SELECT count() FROM {db}.events WHERE org = %(org)s", {"org": 1})
assert count == 20, count
assert store.select_with_batch("SELECT count(), sum(i) FROM {batch}", None, {"i": [1, 2, 3]}) == [(3, 6)]
assert {(1, f"c-{i}") for i in range(20)} <= set(store.iter_event_keys(0))
((openers,),) = store.execute(
    "SELECT sum(profiles) FROM {db}.unique_minutes WHERE org = %(org)s AND type = 'open' "
    "AND dim = '' AND every_execution = 1", {"org": 1})
assert openers == 3, openers

# Hosts: each of a cluster, else the store alone.
hosts = store.hosts()
assert len(hosts) == (2 if KIND == "cluster" else 1), hosts
assert KIND == "cluster" or hosts[0] is store
for host in hosts:
    if host is not store:
        host.close()

# What only the embedded engine's one writer can say, and None elsewhere.
writes, marks, lasts = store.writes(), store.write_marks(1, ["contract"]), store.recent_lasts()
if KIND == "chdb":
    assert writes is not None and writes[1] == 0 and writes[0] > 0, writes
    assert marks is not None and marks["contract"] is not None, marks
    assert isinstance(lasts, RecentLasts) and len(lasts) > 0
else:
    assert (writes, marks, lasts) == (None, None, None)

# Maintenance: retention keeps what is within it; clearing tables empties them everywhere.
assert store.drop_partitions_before((now - timedelta(days=30)).date()) == []
store.clear_tables(("unique_last", "unique_minutes"))
assert store.execute("SELECT count() FROM {db}.unique_minutes WHERE org = %(org)s", {"org": 1}) == [(0,)]
assert store.execute("SELECT count() FROM {db}.events WHERE org = %(org)s", {"org": 1}) == [(20,)]

# The report layer's view: one org per statement, no writes, no hosts.
tenant = TenantStore(store)
assert tenant.cluster == store.cluster and (tenant.writes() is None) == (KIND != "chdb")
assert tenant.execute("SELECT count() FROM {db}.events WHERE org = %(org)s", {"org": 1}) == [(20,)]
for refused in (
    lambda: tenant.execute("SELECT count() FROM {db}.events"),
    lambda: tenant.insert_events([], 0),
    lambda: tenant.hosts(),
    lambda: tenant.drop_partitions_before(now.date()),
    lambda: tenant.clear_tables(("unique_last",)),
):
    try:
        refused()
    except MissingOrg:
        pass
    else:
        raise AssertionError("the report layer's store did not refuse")
assert tenant.recent_lasts() is None
store.close()
print("ok")
"""


@pytest.mark.parametrize("kind", ["chdb", "server", "cluster"])
def test_every_backend_keeps_the_store_contract(kind: str, tmp_path: Path) -> None:
    env = dict(os.environ)
    if kind != "chdb":
        env.update(storage_env(kind, new_storage()))
    script = (
        _CONTRACT.replace("__KIND__", repr(kind))
        .replace("__CLUSTER__", repr(CLUSTER))
        .replace("__DATA__", repr(str(tmp_path / "data")))
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]
