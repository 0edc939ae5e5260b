"""Apply an org's current bounce rules to the email bounces already stored in the live window
(`livereport bounces reclassify`, ``POST /v1/bounce-rules/reclassify``; docs/bounces.md).

Which bounces change. The email bounces of the org dated from the start of the live window
(report/query.py ``Window``: the last 24 hours) on, with SMTP data: those whose stored reason
and category are what the default rules give (so the rules, not the sender, decided them)
and that the org's rules, first, then the defaults, now qualify otherwise. Any other stored
pair was given by the sender (or by an org rule since changed) and is kept, as ingest keeps it.

Keeping the reports exact. Reports read per-minute rollups that materialized views fill at
insert time, and a mutation of the events table does not reach them. So the rollup rows the
changed bounces made are cancelled by rows of the opposite sign (``minute_counts`` and
``dim_counts`` sum ``events`` as UInt64, which wraps: adding 2^64 - 1 takes one away) and
the rows they make now are added: rows of this org only, insert-only, so ingest running at
the same time is never counted twice or lost, on one engine or a cluster (the Distributed
tables put them on the shard of their campaign). No other rollup depends on a bounce's
reason or category. A key whose bounces all moved sums to zero until a merge drops its
rows; the partitions touched are merged at once (``OPTIMIZE … FINAL``), so that the report
shows no empty reason.

Order. The update of the stored events (an ``ALTER … UPDATE`` mutation) is issued first:
ClickHouse checks it, and once accepted finishes it even across restarts. The rollup rows
follow at once, then the mutation is waited for. ClickHouse 18.16 cannot update an Enum
column under a condition (its ``if`` refuses Enum columns, and such a mutation never ends):
there the condition goes into the value and the mutation reads ``WHERE 1``; the value of every
row of another org is its own. On the embedded engine a journal names the days touched, as
the writer's insert journal does: a crash in between is repaired at the next start by
rebuilding those days' rollups from the events (store/recover.py).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from clickhouse_driver.util.escape import escape_param

from livereport.bounces.org import compile_rows
from livereport.bounces.qualify import qualify
from livereport.bounces.rules import DEFAULT_RULES, Rule
from livereport.errors import LivereportError, StorageUnavailable
from livereport.report.query import Window
from livereport.store.base import LOCAL_SUFFIX, Store
from livereport.store.recover import InsertJournal
from livereport.store.tenant import check_org

log = logging.getLogger(__name__)

#: The journal of the embedded engine, beside the writer's (DATA/insert-journal.json).
JOURNAL_FILE = "reclassify-journal.json"
#: How long to wait for ClickHouse to finish updating the stored events.
MUTATION_WAIT_S = 900.0
#: Characters of escaped ids or rows per statement: ClickHouse parses at most 256 KiB of a
#: query (max_query_size), and a mutation names its ids twice.
STATEMENT_BUDGET = 100_000
_CLEANUP_ATTEMPTS = 5
#: The rollups a bounce's reason and category reach: their columns, and how the rows of
#: :func:`rollup_rows` (the org bound once, type bounce) fill them.
_ROLLUPS = {
    "minute_counts": (
        "org, campaign, channel, minute, type, execution, bounce, events",
        "%(org)s, r.1, r.2, toDateTime(r.3, 'UTC'), 'bounce', r.4, r.5, r.6",
    ),
    "dim_counts": (
        "org, campaign, channel, dim, minute, type, execution, bounce, key, events",
        "%(org)s, r.1, r.2, r.3, toDateTime(r.4, 'UTC'), 'bounce', r.5, r.6, r.7, r.8",
    ),
}
_WRAP = 1 << 64


class ReclassifyBusy(LivereportError):
    """Another change of the org's stored bounces is running, or one was cut short."""

    status = 409


class RuleSource(Protocol):
    """What this module needs from metadata (store/metadata/)."""

    def bounce_rules(self, org_id: int) -> tuple[int, str] | None: ...


@dataclass(frozen=True, slots=True)
class StoredBounce:
    """A stored email bounce with SMTP data, with every column its rollup rows are keyed by."""

    id: str
    campaign: str
    channel: str
    minute: int  # epoch seconds of its minute, as the views' toStartOfMinute(time)
    execution: str
    variant: str
    recipient_domain: str
    platform: str
    interaction: str
    element: str
    reason: str
    category: str
    status: str
    code: int
    diagnostic: str


@dataclass
class Plan:
    """What applying the rules would do to the org's bounces of the window."""

    window: Window
    rules_version: int
    before: Counter[tuple[str, str]]  # (reason, category) → email bounces of the window
    examined: int = 0  # email bounces with SMTP data: those the rules decide
    unchanged: int = 0  # already what the rules say
    kept: int = 0  # given by the sender: kept as stored
    changes: list[tuple[StoredBounce, str, str]] = field(default_factory=list)

    def after(self) -> Counter[tuple[str, str]]:
        counts = Counter(self.before)
        for bounce, reason, category in self.changes:
            counts[(bounce.reason, bounce.category)] -= 1
            counts[(reason, category)] += 1
        return +counts

    def days(self) -> list[int]:
        """The daily partitions (YYYYMMDD) the changed bounces' rollup rows are in."""
        minutes = {b.minute for b, _, _ in self.changes}
        return sorted({int(time.strftime("%Y%m%d", time.gmtime(m))) for m in minutes})

    def outcome(self, dry_run: bool, pending: bool) -> dict[str, Any]:
        """The answer of the command and the route, as JSON."""
        after = self.after()
        keys = sorted(
            set(self.before) | set(after), key=lambda k: (-max(self.before[k], after[k]), k)
        )
        moves = Counter(((b.reason, b.category), (r, c)) for b, r, c in self.changes)
        return {
            "dry_run": dry_run,
            "window": self.window.json(),
            "rules_version": self.rules_version,
            "bounces": sum(self.before.values()),
            "examined": self.examined,
            "changed": len(self.changes),
            "unchanged": self.unchanged,
            "kept": self.kept,
            "campaigns": len({b.campaign for b, _, _ in self.changes}),
            "counts": [
                {"reason": r, "category": c, "before": self.before[(r, c)], "after": after[(r, c)]}
                for r, c in keys
            ],
            "changes": [
                {
                    "from": {"reason": old[0], "category": old[1]},
                    "to": {"reason": new[0], "category": new[1]},
                    "bounces": n,
                }
                for (old, new), n in sorted(moves.items(), key=lambda m: (-m[1], m[0]))
            ],
            # ClickHouse still updates the stored events (the reports are done already).
            "pending": pending,
        }


# --- deciding ----------------------------------------------------------------------------

# The org's email bounces of the window (and any dated later: they will be in it).
_COUNTS_SQL = """
SELECT reason, toString(bounce), count() FROM {db}.events
WHERE org = %(org)s AND type = 'bounce' AND channel = 'email'
  AND time >= toDateTime(%(start)s, 'UTC')
GROUP BY reason, bounce
"""
_BOUNCES_SQL = """
SELECT id, campaign, toString(channel), toUInt32(toStartOfMinute(time)), execution, variant,
       recipient_domain, toString(platform), toString(interaction), element, reason,
       toString(bounce), smtp_status, smtp_code, smtp_diagnostic
FROM {db}.events
WHERE org = %(org)s AND type = 'bounce' AND channel = 'email'
  AND time >= toDateTime(%(start)s, 'UTC')
  AND (smtp_status != '' OR smtp_code != 0 OR smtp_diagnostic != '')
"""


def org_table(metadata: RuleSource, org: int) -> tuple[int, tuple[Rule, ...]]:
    """(version, the org's rules then the defaults), read once from metadata."""
    stored = metadata.bounce_rules(org)
    if stored is None:
        return 0, DEFAULT_RULES
    version, text = stored
    own = compile_rows(json.loads(text))
    return version, (*own, *DEFAULT_RULES) if own else DEFAULT_RULES


#: What becomes of a stored bounce: a new (reason, category), or one of these.
UNCHANGED = "unchanged"  # the rules say what is stored
KEPT = "kept"  # the sender gave it: what is stored is not what the default rules give
Verdict = tuple[str, str] | str


def decide(bounce: StoredBounce, rules: Sequence[Rule]) -> Verdict:
    """The (reason, category) the rules give a stored bounce now, if it takes them."""
    stored = (bounce.reason, bounce.category)
    found = _qualify(bounce, rules)
    if found == stored:
        return UNCHANGED
    if rules is not DEFAULT_RULES and _qualify(bounce, DEFAULT_RULES) == stored:
        return found
    return KEPT


def _qualify(bounce: StoredBounce, rules: Sequence[Rule]) -> tuple[str, str]:
    found = qualify(
        status=bounce.status or None,
        code=bounce.code or None,
        diagnostic=bounce.diagnostic or None,
        rules=rules,
    )
    return found.reason, found.category.value


def plan(store: Store, org: int, version: int, rules: Sequence[Rule], now: float) -> Plan:
    """Read the org's email bounces of the window and decide each one."""
    window = Window.at(now)
    params = {"org": org, "start": window.start}
    before: Counter[tuple[str, str]] = Counter()
    for reason, category, n in _execute(store, _COUNTS_SQL, params):
        before[(reason, category)] += int(n)
    found = Plan(window, version, before)
    # Bounces of one failure share their SMTP data: qualify each distinct one once.
    verdicts: dict[tuple[str, int, str, str, str], Verdict] = {}
    for row in _execute(store, _BOUNCES_SQL, params):
        bounce = _stored(row)
        inputs = (bounce.status, bounce.code, bounce.diagnostic, bounce.reason, bounce.category)
        verdict = verdicts.get(inputs)
        if verdict is None:
            verdict = verdicts[inputs] = decide(bounce, rules)
        found.examined += 1
        if isinstance(verdict, tuple):
            found.changes.append((bounce, *verdict))
        elif verdict == UNCHANGED:
            found.unchanged += 1
        else:
            found.kept += 1
    return found


def _stored(row: Sequence[Any]) -> StoredBounce:
    """A row of _BOUNCES_SQL."""
    return StoredBounce(
        id=row[0],
        campaign=row[1],
        channel=row[2],
        minute=int(row[3]),
        execution=row[4],
        variant=row[5],
        recipient_domain=row[6],
        platform=row[7],
        interaction=row[8],
        element=row[9],
        reason=row[10],
        category=row[11],
        status=row[12],
        code=int(row[13]),
        diagnostic=row[14],
    )


# --- applying ----------------------------------------------------------------------------

_running: set[tuple[str, int]] = set()
_running_lock = threading.Lock()


@contextmanager
def _one_at_a_time(store: Store, org: int) -> Iterator[None]:
    """One reclassification per org and database in this process: two at once would cancel
    the same rollup rows twice."""
    key = (store.database, org)
    with _running_lock:
        if key in _running:
            raise ReclassifyBusy(
                "a reclassification of this org's bounces is already running; "
                "wait for it to finish, then run it again if needed"
            )
        _running.add(key)
    try:
        yield
    finally:
        with _running_lock:
            _running.discard(key)


def reclassify(
    store: Store,
    metadata: RuleSource,
    org: int,
    *,
    dry_run: bool,
    now: float | None = None,
    journal: InsertJournal | None = None,
) -> dict[str, Any]:
    """Apply the org's current rules to its email bounces of the live window; with
    ``dry_run``, only say what would change. ``journal``: the embedded engine's (see
    :func:`journal_of`), None on a ClickHouse server."""
    with _one_at_a_time(store, org):
        if journal is not None and journal.pending_days() is not None:
            raise ReclassifyBusy(
                "an earlier reclassification was cut short; restart the server (it rebuilds "
                f"the report rollups of days {journal.pending_days()} from the events), then "
                "run it again"
            )
        _refuse_running_mutations(store)
        version, rules = org_table(metadata, org)
        found = plan(store, org, version, rules, time.time() if now is None else now)
        if dry_run or not found.changes:
            return found.outcome(dry_run, pending=False)
        return found.outcome(False, pending=not apply(store, org, found, journal))


def apply(store: Store, org: int, found: Plan, journal: InsertJournal | None = None) -> bool:
    """Change the planned bounces and their rollup rows; True once ClickHouse has updated
    the stored events too (False: it still is, after MUTATION_WAIT_S)."""
    days = found.days()
    groups: dict[tuple[str, str], list[str]] = {}
    for bounce, reason, category in found.changes:
        groups.setdefault((reason, category), []).append(bounce.id)
    if journal is not None:
        journal.begin(days)
    accepted = 0
    try:
        for sql, params, host in _updates(store, org, groups):
            host.execute(sql, params)
            accepted += 1
        minutes, dims = rollup_rows(found.changes)
        _insert(store, org, "minute_counts", minutes)
        _insert(store, org, "dim_counts", dims)
    except LivereportError as exc:
        if not accepted:  # ClickHouse refused the first update: nothing changed
            if journal is not None:
                journal.end()
            raise
        repair = (
            "the rollups of those days are rebuilt from the events at the next start of the "
            "server, or of this command on the data directory"
            if journal is not None
            else f"the reports of days {days} disagree with the events until their rollups "
            "are rebuilt (store/recover.py rebuild_rollups, with ingest stopped)"
        )
        raise StorageUnavailable(
            f"the stored bounces are being updated, but the rest failed: {exc.message}; {repair}"
        ) from exc
    done = _wait_for_mutations(store, MUTATION_WAIT_S)
    _drop_empty_rows(store, org, found.window.start, days)
    if journal is not None and done:
        journal.end()
    return done


def rollup_rows(
    changes: Sequence[tuple[StoredBounce, str, str]],
) -> tuple[Counter[tuple[Any, ...]], Counter[tuple[Any, ...]]]:
    """The rows to add to minute_counts and dim_counts (without org and type): each changed
    bounce's rows as the views made them, negated, and its rows as they would make them now.
    Keyed as the views group (0002_rollups.sql); rows that cancel out are left out."""
    minutes: Counter[tuple[Any, ...]] = Counter()
    dims: Counter[tuple[Any, ...]] = Counter()
    for b, reason, category in changes:
        for sign, r, c in ((-1, b.reason, b.category), (1, reason, category)):
            minutes[(b.campaign, b.channel, b.minute, b.execution, c)] += sign
            pairs = (
                ("reason", r),
                ("bounce", c),
                ("recipient_domain", b.recipient_domain),
                ("platform", b.platform),
                ("interaction", b.interaction),
                ("element", b.element),
                ("variant", b.variant),
            )
            for dim, key in pairs:
                if key:
                    dims[(b.campaign, b.channel, dim, b.minute, b.execution, c, key)] += sign
    return (
        Counter({k: n for k, n in minutes.items() if n}),
        Counter({k: n for k, n in dims.items() if n}),
    )


def _updates(
    store: Store, org: int, groups: Mapping[tuple[str, str], list[str]]
) -> Iterator[tuple[str, dict[str, Any], Store]]:
    """(statement, parameters, host): one ALTER … UPDATE per new (reason, category) and
    slice of ids, on every host."""
    for host, table in _event_tables(store):
        enum = _bounce_type(host, table)
        modern = _major_version(host) >= 20
        for (reason, category), ids in groups.items():
            for chunk in _slices(ids):
                params = {"org": org, "ids": tuple(chunk), "reason": reason, "bounce": category}
                if modern:
                    sql = (
                        f"ALTER TABLE {{db}}.{table} UPDATE reason = %(reason)s, "
                        f"bounce = CAST(%(bounce)s AS {enum}) "
                        "WHERE org = %(org)s AND type = 'bounce' AND id IN %(ids)s"
                    )
                else:  # 18.x: the condition in the value (see the module's docstring)
                    match = "org = %(org)s AND type = 'bounce' AND id IN %(ids)s"
                    sql = (
                        f"ALTER TABLE {{db}}.{table} UPDATE "
                        f"reason = if({match}, %(reason)s, reason), "
                        f"bounce = CAST(if({match}, %(bounce)s, toString(bounce)) AS {enum}) "
                        "WHERE 1"
                    )
                check_org(sql.replace(f"{{db}}.{table}", "{db}.events"), params)
                yield sql, params, host


def _insert(store: Store, org: int, table: str, rows: Counter[tuple[Any, ...]]) -> None:
    """Add rollup rows (a negative count as its UInt64 wrap), in statements of bounded size."""
    if not rows:
        return
    columns, picks = _ROLLUPS[table]
    sql = (
        f"INSERT INTO {{db}}.{table} ({columns}) SELECT {picks} "  # noqa: S608 - constants
        "FROM (SELECT arrayJoin(%(rows)s) AS r)"
    )
    values = [(*key, n % _WRAP) for key, n in sorted(rows.items())]
    for chunk in _slices(values):
        params = {"org": org, "rows": chunk}
        check_org(sql, params)
        store.execute(sql, params)


def _drop_empty_rows(store: Store, org: int, start: int, days: Sequence[int]) -> None:
    """Merge the touched partitions of dim_counts until none of the org's bounce rows sums
    to zero (such a row would show as a reason with no bounces until a merge). The change is
    made by then: a merge ClickHouse refuses or defers is logged, never an error."""
    sql = (
        "SELECT count() FROM (SELECT sum(events) AS n FROM {db}.dim_counts "
        "WHERE org = %(org)s AND type = 'bounce' AND minute >= toDateTime(%(start)s, 'UTC') "
        "GROUP BY campaign, channel, dim, minute, execution, bounce, key HAVING n = 0)"
    )
    params = {"org": org, "start": start}
    problem = ""
    for attempt in range(_CLEANUP_ATTEMPTS):
        for host, suffix in _hosts(store):
            for day in days:
                try:
                    host.execute(
                        f"OPTIMIZE TABLE {{db}}.dim_counts{suffix} PARTITION {int(day)} FINAL"
                    )
                except StorageUnavailable as exc:
                    problem = exc.message
        if not int(_execute(store, sql, params)[0][0]):
            return
        time.sleep(0.2 * (attempt + 1))  # a merge running on those parts: try again
    log.warning(
        "reclassify: rows of org %s that sum to zero are left in dim_counts (days %s) until "
        "ClickHouse merges them%s",
        org,
        days,
        f": {problem}" if problem else "",
    )


# --- the engine ---------------------------------------------------------------------------


def _execute(store: Store, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """A statement on the org's rows: refused unless bound to one org (store/tenant.py)."""
    check_org(sql, params)
    return store.execute(sql, params)


def _hosts(store: Store) -> Iterator[tuple[Store, str]]:
    """(store, table suffix) of each host that holds rows: the hosts of a cluster, with
    their local tables, else the store itself."""
    if not store.cluster:
        yield store, ""
        return

    hosts = store.hosts()
    try:
        for host in hosts:
            yield host, LOCAL_SUFFIX
    finally:
        for host in hosts:
            host.close()


def _event_tables(store: Store) -> Iterator[tuple[Store, str]]:
    for host, suffix in _hosts(store):
        yield host, "events" + suffix


def _major_version(store: Store) -> int:
    ((version,),) = store.execute("SELECT version()")
    return int(str(version).split(".")[0])


def _bounce_type(store: Store, table: str) -> str:
    """The Enum type of the events' bounce column, as the schema made it."""
    rows = store.execute(
        "SELECT type FROM system.columns WHERE database = %(db)s AND table = %(table)s "
        "AND name = 'bounce'",
        {"db": store.database, "table": table},
    )
    if not rows or not str(rows[0][0]).startswith("Enum8("):
        raise StorageUnavailable(f"the events table {table} has no Enum8 bounce column; migrate it")
    return str(rows[0][0])


def _slices(items: Sequence[Any]) -> Iterator[list[Any]]:
    """Consecutive slices whose escaped text stays within STATEMENT_BUDGET."""
    chunk: list[Any] = []
    size = 0
    for item in items:
        length = len(escape_param(item, None)) + 2
        if chunk and size + length > STATEMENT_BUDGET:
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += length
    if chunk:
        yield chunk


def _unfinished(store: Store) -> list[tuple[str, str]]:
    """(host, mutation id) of every update of an events table ClickHouse has not finished."""
    found = []
    for host, table in _event_tables(store):
        rows = host.execute(
            "SELECT mutation_id FROM system.mutations WHERE database = %(db)s "
            "AND table = %(table)s AND NOT is_done",
            {"db": host.database, "table": table},
        )
        where = getattr(getattr(host, "address", None), "host", "") or "engine"
        found += [(where, str(m)) for (m,) in rows]
    return found


def _refuse_running_mutations(store: Store) -> None:
    running = _unfinished(store)
    if running:
        names = ", ".join(m for _, m in running[:5])
        raise ReclassifyBusy(
            f"ClickHouse is still applying {len(running)} earlier change(s) to the stored "
            f"events ({names} in system.mutations); run this again once they are done"
        )


def _wait_for_mutations(store: Store, timeout: float) -> bool:
    """Wait until ClickHouse has applied every update of the events tables (18.16 has no
    mutations_sync: system.mutations is polled); False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    pause = 0.05
    while _unfinished(store):
        if time.monotonic() > deadline:
            return False
        time.sleep(pause)
        pause = min(pause * 2, 2.0)
    return True


# --- the embedded engine's journal ---------------------------------------------------------


def journal_of(data: Any, clickhouse: str) -> InsertJournal | None:
    """The journal of a data directory on the embedded engine; None on a ClickHouse server,
    which finishes an accepted mutation and each insert with its views by itself."""
    return None if clickhouse else InsertJournal(data / JOURNAL_FILE)


def repair(store: Store, journal: InsertJournal | None) -> list[int]:
    """After a reclassification cut short (a crash, an error past the update of the events),
    rebuild the rollups of the days it touched from the events, once the update is done.
    Only where nothing inserts meanwhile: at start, or on a data directory no server runs on."""
    if journal is None or journal.pending_days() is None:
        return []
    if not _wait_for_mutations(store, MUTATION_WAIT_S):
        raise StorageUnavailable(
            "ClickHouse is still updating the stored events after an interrupted "
            f"reclassification ({MUTATION_WAIT_S:.0f} s); start again once system.mutations "
            "shows it done"
        )
    return journal.repair(store)
