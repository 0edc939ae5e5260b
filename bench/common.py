"""What the performance benchmarks share: the machine, the load on it, big data sets made by
the engine, and the markdown sections of docs/performance.md they write.
"""

from __future__ import annotations

import os
import platform
import re
import time
from collections.abc import Sequence
from pathlib import Path

from ingest import _MIX  # the channel/type funnel of the synthetic HTTP generator

DOCS = Path(__file__).resolve().parent.parent / "docs" / "performance.md"


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    mem = next(
        (
            int(line.split()[1]) // 1024
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        ),
        0,
    )
    return f"{os.cpu_count()} cores ({model}), {mem / 1024:.0f} GiB RAM, Python {platform.python_version()}"


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f} (1 min) / {five:.1f} (5 min)"


def rss_bytes(pid: int | None = None) -> int:
    status = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


def dir_bytes(path: Path) -> int:
    return sum(
        (Path(root) / name).stat().st_size
        for root, _, names in os.walk(path)
        for name in names
        if (Path(root) / name).is_file()
    )


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def write_section(name: str, text: str) -> None:
    """Put ``text`` between the markers of section ``name`` of docs/performance.md (the rest
    of the note is prose written by hand and stays as it is)."""
    begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    doc = DOCS.read_text() if DOCS.exists() else "# Performance\n"
    block = f"{begin}\n{text.strip()}\n{end}"
    if begin in doc and end in doc:
        doc = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _: block, doc, flags=re.S)
    else:
        doc = doc.rstrip() + "\n\n" + block + "\n"
    DOCS.write_text(doc)
    print(f"wrote section {name!r} of {DOCS}")


def header(command: str) -> str:
    return (
        f"`{command}` — {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC on "
        f"{machine()}; load average before the run {load_average()}."
    )


# big data sets, made by the engine


def _sql_list(values: Sequence[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


_EXCLUSIONS = ("No consent", "Suppressed address", "Frequency rule", "No address in profile")
_ERRORS = ("Rendering error", "Dispatch error", "Provider unavailable")
_BOUNCES = ("Invalid Recipient", "Mailbox Full", "DNS Failure", "Spam Block", "Timeout")
_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "orange.fr", "web.de", "example.org")
_ELEMENTS = ("Buy now", "Hero banner", "Newsletter sign-up", "Close")


def generate_sql(
    org: int,
    campaign: str,
    first: int,
    count: int,
    start: int,
    end: int,
    total: int = 0,
    campaigns: int = 0,
    machines: int = 0,
) -> str:
    """``INSERT … SELECT … FROM numbers()`` of ``count`` events of one campaign, numbered from
    ``first``, spread over [start, end) (epoch seconds): the channel/type funnel, reasons,
    domains, platforms and elements of bench/ingest.py's synthetic generator, one profile per
    ten events of the campaign's ``total`` (several statements make one campaign), each
    profile with its own email domain, variant and push platform. The events table's
    materialized views build the rollups as usual.

    With ``campaigns``, the events go to that many campaigns named ``<campaign>-<i>``, each
    living a fifteenth of [start, end) somewhere inside it. With ``machines`` (a percentage),
    that share of the opens and clicks is a machine's (``machine_rule`` flagged)."""
    mix = [(c, t) for c, t, w in _MIX for _ in range(w)]
    channels = _sql_list([c for c, _ in mix])
    types = _sql_list([t for _, t in mix])
    profiles = max(max(total, count) // 10, 1000)
    span = max(end - start, 1)
    quoted = _sql_list([campaign])[1:-1]
    at = f"{int(start)} + h % {span}"
    if campaigns:
        life = max(span // 15, 1)
        quoted = f"concat({quoted}, '-', toString(c))"
        at = f"{int(start)} + sipHash64(c, 6) % {max(span - life, 1)} + h % {life}"
    # Only integers and quoted constants go into the statement.
    return f"""
INSERT INTO {{db}}.events (org, id, time, ms, received, campaign, channel, type, profile,
    execution, variant, reason, bounce, recipient_domain, platform, interaction, element,
    machine, machine_rule)
SELECT {int(org)}, concat('g-', toString(n)), toDateTime({at}, 'UTC'),
    h % 1000, toDateTime({int(end)}, 'UTC'), {quoted}, ch, ty,
    concat('p', toString(p)),
    if(n % 3 = 0, 'evening', 'morning'), if(p % 2 = 0, 'A', 'B'),
    multiIf(ty = 'excluded', {_sql_list(_EXCLUSIONS)}[1 + r % {len(_EXCLUSIONS)}],
            ty = 'error', {_sql_list(_ERRORS)}[1 + r % {len(_ERRORS)}],
            ty = 'bounce', {_sql_list(_BOUNCES)}[1 + r % {len(_BOUNCES)}], ''),
    if(ty = 'bounce', if(r % 3 = 0, 'soft', 'hard'), ''),
    if(ch = 'email', {_sql_list(_DOMAINS)}[1 + p % {len(_DOMAINS)}], ''),
    if(ch = 'push', if(intDiv(p, 2) % 2 = 0, 'ios', 'android'), ''),
    if(ty = 'interaction', ['click', 'dismiss', 'other'][1 + r % 3], ''),
    if(ty = 'interaction' AND ch = 'web', {_sql_list(_ELEMENTS)}[1 + r % {len(_ELEMENTS)}], ''),
    ty IN ('open', 'click') AND r % 100 < {int(machines)} AS m, if(m, 'flagged', '')
FROM (
    SELECT number + {int(first)} AS n, sipHash64(n, 1) AS h, sipHash64(n, 3) AS r,
           sipHash64(n, 2) % {profiles} AS p, sipHash64(n, 5) % {max(int(campaigns), 1)} AS c,
           sipHash64(n, 4) % {len(mix)} AS k, {channels}[1 + k] AS ch, {types}[1 + k] AS ty
    FROM numbers({int(count)})
)"""  # noqa: S608
