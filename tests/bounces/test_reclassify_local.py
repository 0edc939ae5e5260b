"""`livereport bounces reclassify` on a data directory of the embedded engine: without a
server, refused while one runs; every tab equal to the raw-events computation afterwards
(small statements, so many mutations and inserts); and a run cut short after the update of
the events is repaired from the events when the server starts."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import Server, cli
from livereport.returns import reclassify as module

RULES = [
    {"name": "gone", "reason": "Acme Gone", "category": "soft", "pattern": "user unknown"},
    {"name": "policy", "reason": "Acme Policy", "category": "hard", "status": "5.7."},
    {"name": "full", "reason": "Acme Full", "category": "ignored", "code": 552},
]
UNKNOWN = {
    "code": 550,
    "status": "5.1.1",
    "diagnostic": "550 5.1.1 <x@example.com>: Recipient address rejected: User unknown",
}


def _events(path: Path, campaign: str) -> Path:
    now = int(time.time() * 1000) - 60_000
    rows = [
        {
            "id": f"{campaign}-{i}",
            "time": now - i * 3_600_000,
            "campaign": campaign,
            "profile": f"p{i}",
            "channel": "email",
            "type": "bounce",
            "smtp": UNKNOWN,
        }
        for i in range(4)
    ] + [
        {
            "id": f"{campaign}-sender",
            "time": now,
            "campaign": campaign,
            "profile": "ps",
            "channel": "email",
            "type": "bounce",
            "smtp": UNKNOWN,
            "reason": "Sender Says",
            "bounce": "hard",
        }
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def _bounce_widgets(report: dict[str, Any]) -> dict[str, dict[str, int]]:
    found = {w["id"]: w["data"] for w in report["widgets"]}
    return {
        name: {r["key"]: r["metrics"]["bounces"] for r in found[f"email.{name}"]["rows"]}
        for name in ("bounce_reasons", "bounce_categories")
    }


def test_on_a_data_directory_without_a_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(RULES), encoding="utf-8")
    cli("ingest", str(_events(tmp_path / "events.ndjson", "local")), data=data)
    cli("bounces", "rules", "set", str(rules), data=data)
    dry = json.loads(cli("bounces", "reclassify", "--dry-run", "--json", data=data).stdout)
    assert (dry["dry_run"], dry["changed"], dry["kept"]) == (True, 4, 1), dry
    before = json.loads(cli("report", "local", "--tab", "email", "--json", data=data).stdout)
    assert _bounce_widgets(before)["bounce_reasons"] == {"Invalid Recipient": 4, "Sender Says": 1}
    shown = cli("bounces", "reclassify", data=data)
    assert re.search(r"Invalid Recipient\s*│\s*hard\s*│\s*4\s*│\s*0\s*│\s*-4", shown.stdout), (
        shown.stdout
    )
    assert re.search(r"Acme Gone\s*│\s*soft\s*│\s*0\s*│\s*4\s*│\s*\+4", shown.stdout), shown.stdout
    after = json.loads(cli("report", "local", "--tab", "email", "--json", data=data).stdout)
    assert _bounce_widgets(after) == {
        "bounce_reasons": {"Acme Gone": 4, "Sender Says": 1},
        "bounce_categories": {"soft": 4, "hard": 1},
    }
    assert "bounces.reclassify" in cli("audit", "list", data=data).stdout
    other = cli("bounces", "reclassify", "--org", "nobody", data=data, check=False)
    assert other.returncode == 1 and "no org 'nobody'" in other.stderr
    missing = cli("bounces", "reclassify", data=tmp_path / "nowhere", check=False)
    assert missing.returncode == 1 and "holds no livereport instance" in missing.stderr
    assert not (tmp_path / "nowhere").exists()


def test_refused_on_a_data_directory_a_server_runs_on(server: Server) -> None:
    refused = cli("bounces", "reclassify", data=server.data, check=False)
    assert refused.returncode == 1
    assert f"--url {server.url}" in refused.stderr and "admin" in refused.stderr


def test_one_reclassification_of_an_org_at_a_time() -> None:
    class Store:
        database = "db"

    with module._one_at_a_time(Store(), 7):  # type: ignore[arg-type]
        with pytest.raises(module.ReclassifyBusy, match="already running"):
            with module._one_at_a_time(Store(), 7):  # type: ignore[arg-type]
                pass
        with module._one_at_a_time(Store(), 8):  # type: ignore[arg-type]
            pass
    with module._one_at_a_time(Store(), 7):  # type: ignore[arg-type]
        pass


def run_script(script: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _engine(data: Path, body: str) -> str:
    """A child process (one embedded engine per process) with the instance layout of ``data``:
    simulated traffic of two orgs with the same event ids, the org rules set for org 1."""
    return textwrap.dedent(f"""
        import json, time
        from datetime import UTC, datetime, timedelta
        from pathlib import Path
        import msgspec
        from livereport import simulate
        from livereport.returns import reclassify as module
        from livereport.ingest import pipeline
        from livereport.report import period
        from livereport.report.build import Reports
        from livereport.report.catalogue import TABS
        from livereport.store.chdb import ChdbStore
        from livereport.store.metadata import Metadata
        from livereport.store.schema import migrate

        data = Path({str(data)!r})
        data.mkdir(parents=True, exist_ok=True)
        store = ChdbStore(data / "events")
        migrate(store)
        metadata = Metadata(data / "metadata.sqlite3", "")
        orgs = [metadata.create_org(name).id for name in ("default", "other")]
        now = datetime.now(UTC)
        generated = [dict(e) for e in simulate.generate(
            seed=5, campaign="sim", profiles=3000, start=now - timedelta(hours=30),
            end=now - timedelta(minutes=1), executions=("a", "b"), variants=("A", "B"),
            channels=("email", "sms"))]
        for org in orgs:
            batch = pipeline.prepare(
                pipeline.Body(msgspec.json.encode(generated), "application/json", 10**6),
                pipeline.Context(org, now, timedelta(days=30)))
            events = list({{e.id: e for _, e in batch.events}}.values())
            store.insert_events([(org, e) for e in events], int(time.time()))
        metadata.replace_bounce_rules(orgs[0], json.dumps({RULES!r}), "test")
        journal = module.journal_of(data, "")

        def same_as_raw(org):
            at = time.time()
            rollups, raw = Reports(store, cache=False), Reports(store, raw=True)
            # The live 24 hours, and 7 days (their whole hours from the hourly sums).
            week = rollups.window(org, "sim", period.asked("7d", None, None), now=at)
            for tab in TABS:
                for execution in (None, "a"):
                    for window in (None, week):
                        a = rollups.report(org, "sim", tab, execution, now=at, window=window)
                        b = raw.report(org, "sim", tab, execution, now=at, window=window)
                        assert a == b, (org, tab, execution, window)
    """) + textwrap.dedent(body)


def test_every_tab_equals_the_raw_events_afterwards(tmp_path: Path) -> None:
    out = run_script(
        _engine(
            tmp_path / "data",
            """
        at = time.time()  # one window before and after: the run may cross a minute
        other_before = Reports(store, cache=False).report(orgs[1], "sim", "email", now=at)
        module.STATEMENT_BUDGET = 300  # a few ids or rows per statement: many of each
        outcome = module.reclassify(store, metadata, orgs[0], dry_run=False, journal=journal)
        assert outcome["changed"] > 20 and outcome["kept"] > 5, outcome
        assert journal.pending_days() is None
        same_as_raw(orgs[0])
        same_as_raw(orgs[1])
        other = Reports(store, cache=False).report(orgs[1], "sim", "email", now=at)
        assert other["widgets"] == other_before["widgets"]
        again = module.reclassify(store, metadata, orgs[0], dry_run=True)
        assert again["changed"] == 0, again
        print("changed", outcome["changed"], len(outcome["counts"]))
    """,
        )
    )
    assert out.startswith("changed ")


def test_a_run_cut_short_is_repaired_when_the_server_starts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    out = run_script(
        _engine(
            data,
            """
        # Refused at the first update: nothing changed, nothing to repair.
        updates = module._updates

        def refused(*args):
            raise module.StorageUnavailable("refused")
            yield

        module._updates = refused
        try:
            module.reclassify(store, metadata, orgs[0], dry_run=False, journal=journal)
        except module.StorageUnavailable as exc:
            assert exc.message == "refused", exc.message
        else:
            raise AssertionError("no failure")
        assert journal.pending_days() is None
        same_as_raw(orgs[0])
        assert module.reclassify(store, metadata, orgs[0], dry_run=True)["changed"] > 20
        module._updates = updates

        # Cut short after the update of the events: the journal stays.
        inserts = module._insert

        def failing(store_, org, table, rows):
            if table == "dim_counts":
                raise module.StorageUnavailable("the disk is full")
            inserts(store_, org, table, rows)

        module._insert = failing
        try:
            module.reclassify(store, metadata, orgs[0], dry_run=False, journal=journal)
        except module.StorageUnavailable as exc:
            assert "the disk is full" in exc.message, exc.message
            assert "rebuilt from the events at the next start" in exc.message, exc.message
        else:
            raise AssertionError("no failure")
        assert journal.pending_days(), "no journal"
        try:
            module.reclassify(store, metadata, orgs[0], dry_run=True, journal=journal)
        except module.ReclassifyBusy as exc:
            assert "cut short" in exc.message and "restart the server" in exc.message
        else:
            raise AssertionError("not refused")
        module._wait_for_mutations(store, 60)
        raw = Reports(store, raw=True).report(orgs[0], "sim", "email", now=time.time())
        print(json.dumps({w["id"]: w["data"] for w in raw["widgets"]
                          if w["id"] in ("email.bounce_reasons", "email.bounce_categories")}))
    """,
        )
    )
    expected = {k: {r["key"]: r["metrics"] for r in v["rows"]} for k, v in json.loads(out).items()}
    assert "Acme Gone" in expected["email.bounce_reasons"]
    assert (data / module.JOURNAL_FILE).exists()
    srv = Server(data).start()
    try:
        assert "(reclassification cut short)" in srv.log()
        assert not (data / module.JOURNAL_FILE).exists()
        with srv.client(srv.key("read", org="default")) as client:
            report = client.get("/v1/campaigns/sim/report", params={"tab": "email"}).json()
            found = {
                w["id"]: {r["key"]: r["metrics"] for r in w["data"]["rows"]}
                for w in report["widgets"]
                if w["id"] in expected
            }
        assert found == expected
    finally:
        srv.stop()
