"""`livereport bounces`: raw returned mails classified, the org's own bounce rules shown and
replaced, and the stored bounces reclassified by them (through a server, or on the data
directory)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click
import httpx

from livereport import instance
from livereport.cli.common import (
    Failure,
    Server,
    ask,
    audit_action,
    config_of,
    echo_json,
    err,
    existing_config,
    failures,
    made,
    place_options,
    print_table,
    printable,
    server_to_ask,
)
from livereport.report.render import Column


@click.group()
def bounces() -> None:
    """Returned mails: bounces, auto-replies and feedback reports."""


@bounces.command("classify")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@place_options(
    "read",
    org_help="Classify with this org's own bounce rules first, then the defaults (the org of --data).",
    url_help="A server's base URL: use the rules of the org of --key.",
)
def bounces_classify(
    files: tuple[Path, ...],
    as_json: bool,
    data: Path | None,
    org: str | None,
    url: str | None,
    key: str | None,
) -> None:
    """Say whether each raw mail is a bounce, with its category, reason, status and rule."""
    from livereport.bounces.classify import classify_message
    from livereport.bounces.rules import DEFAULT_RULES

    rules = DEFAULT_RULES
    if any(v is not None for v in (data, org, url, key)):
        rules = _classify_rules(data, org, url, key)
    folder, names = _within_folder([str(p) for p in files])
    rows: list[list[str]] = []
    for path, name in zip(files, names, strict=True):
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise Failure(f"cannot read {path}: {exc.strerror or exc}; check the path") from None
        found = classify_message(raw, rules)
        row = {
            "file": str(path),
            "is_bounce": found.is_bounce,
            "category": found.category.value if found.category else None,
            "reason": found.reason,
            "status": found.status,
            "rule": found.rule,
        }
        if as_json:
            click.echo(json.dumps(row, ensure_ascii=False))
        else:
            shown = {**row, "file": name, "is_bounce": "yes" if found.is_bounce else "no"}
            rows.append([printable("" if v is None else str(v)) for v in shown.values()])
    if not as_json:
        # The file and the reason may wrap; the bounce's status and rule id stay whole.
        columns = [
            Column("file", wrap=True),
            Column("bounce"),
            Column("category"),
            Column("reason", wrap=True),
            Column("status"),
            Column("rule"),
        ]
        print_table(columns, rows, title=None if folder is None else f"in {folder}")


def _within_folder(paths: list[str]) -> tuple[str | None, list[str]]:
    """The folder the paths share, if any, and each path within it: a table names the folder
    once, above, and its rows only what differs."""
    try:
        folder = os.path.commonpath([os.path.dirname(p) for p in paths])
    except ValueError:  # absolute and relative paths mixed
        return None, paths
    if folder in ("", ".", os.sep):
        return None, paths
    return folder, [os.path.relpath(p, folder) for p in paths]


def _classify_rules(data: Path | None, org: str | None, url: str | None, key: str | None) -> Any:
    """An org's rules, then the defaults: of --org in the data directory, or of the key's
    org through a server."""
    from livereport.bounces.org import compile_rows
    from livereport.bounces.rules import DEFAULT_RULES

    server = server_to_ask(data, url, key, org)
    if server is None and org is None:
        raise click.UsageError(
            "--data says where the org's rules are; add --org NAME (see `livereport orgs list`)"
        )
    with failures():
        if server is not None:
            version, rows = _server_rules(server)
            whose = "the key's org"
        else:
            metadata = instance.open_metadata(existing_config(data))
            the_org = metadata.org(org)
            version, rows = _stored_rules(metadata, the_org.id)
            whose = f"org {the_org.name}"
        own = compile_rows(rows)
    err.print(
        f"{len(own)} rules of {whose} (version {version}) first, then the "
        f"{len(DEFAULT_RULES)} default rules",
        markup=False,
    )
    return (*own, *DEFAULT_RULES)


@bounces.group("rules")
def bounces_rules() -> None:
    """The org's own bounce rules, tried before the default table (SPEC §5)."""


def _server_rules(server: Server) -> tuple[int, list[dict[str, Any]]]:
    """The rules of the key's org on a server, and their version."""
    found = ask(server, "GET", "/v1/bounce-rules")
    return found["version"], found["rules"]


def _stored_rules(metadata: Any, org_id: int) -> tuple[int, list[dict[str, Any]]]:
    """The org's rules in the metadata, and their version (0: it has none)."""
    stored = metadata.bounce_rules(org_id)
    return (stored[0], json.loads(stored[1])) if stored else (0, [])


@bounces_rules.command("show")
@place_options("read")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the table as JSON (as `set` reads it)."
)
def bounces_rules_show(
    data: Path | None, org: str | None, url: str | None, key: str | None, as_json: bool
) -> None:
    """Print the org's bounce rules and their version."""
    with failures():
        server = server_to_ask(data, url, key)
        if server is not None:
            version, rows = _server_rules(server)
        else:
            metadata = instance.open_metadata(config_of(data))
            version, rows = _stored_rules(metadata, metadata.org(org).id)
    if as_json:
        echo_json({"version": version, "rules": rows})
        return
    err.print(f"version {version}: {len(rows)} org rules, tried before the default rules")
    fields = ("name", "reason", "category", "status", "code", "pattern", "note")
    columns = [Column(f, wrap=f in ("name", "reason", "pattern", "note")) for f in fields]
    print_table(columns, [[printable(str(row.get(k, ""))) for k in fields] for row in rows])


@bounces_rules.command("set")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@place_options("admin")
def bounces_rules_set(
    file: Path, data: Path | None, org: str | None, url: str | None, key: str | None
) -> None:
    """Replace the org's bounce rules with those of a JSON or CSV FILE (an empty list removes them)."""
    from livereport.bounces.org import read_rule_file, rows_json
    from livereport.bounces.overrides import parse_rules

    try:
        rows = read_rule_file(file.name, file.read_bytes())
        checked = rows_json(parse_rules(rows))
    except (ValueError, OSError) as exc:
        raise Failure(f"{file}: {exc}; nothing was stored") from None
    with failures():
        server = server_to_ask(data, url, key)
        if server is not None:
            version = ask(server, "PUT", "/v1/bounce-rules", {"rules": checked})["version"]
        else:
            _, metadata = made(data)
            stored = metadata.replace_bounce_rules(metadata.org(org).id, json.dumps(checked), "cli")
            assert stored is not None  # no expected version: the replace always happens
            version = stored
    err.print(f"stored {len(checked)} org bounce rules as version {version}")


@bounces.command("reclassify")
@place_options("admin")
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def bounces_reclassify(
    data: Path | None,
    org: str | None,
    url: str | None,
    key: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Apply the org's current bounce rules to the email bounces stored in the live window."""
    server = server_to_ask(data, url, key, org)
    with failures():
        if server is not None:
            from livereport.returns.reclassify import MUTATION_WAIT_S

            outcome: dict[str, Any] = ask(
                server,
                "POST",
                "/v1/bounce-rules/reclassify",
                {"dry_run": dry_run},
                timeout=httpx.Timeout(30, read=MUTATION_WAIT_S + 120),
            )
        else:
            outcome = _reclassify_local(data, org, dry_run)
    if as_json:
        click.echo(json.dumps(outcome, ensure_ascii=False))
    else:
        _show_reclassified(outcome)


def _reclassify_local(data: Path | None, org: str | None, dry_run: bool) -> dict[str, Any]:
    """On the data directory, opened in this process: no server may run on it."""
    from livereport.returns.reclassify import journal_of, reclassify, repair
    from livereport.store.schema import migrate

    config = existing_config(data)
    running = instance.running_server(config)
    if running:
        raise Failure(
            f"{config.data} is served by {running}; reclassify through it: --url "
            f"{running} --key KEY, an admin key (`livereport keys create --scope admin`)"
        )
    metadata = instance.open_metadata(config)
    org_id = metadata.org(org).id
    store = instance.open_store(config)
    migrate(store)
    journal = journal_of(config.data, config.clickhouse)
    days = repair(store, journal)
    if days:
        err.print(f"rebuilt the rollups of days {days} after an interrupted reclassification")
    outcome: dict[str, Any] = reclassify(store, metadata, org_id, dry_run=dry_run, journal=journal)
    if not dry_run:
        audit_action(
            metadata,
            org_id,
            "bounces.reclassify",
            f"{outcome['changed']} bounces of "
            f"{outcome['campaigns']} campaigns (rules version {outcome['rules_version']})",
        )
    return outcome


def _show_reclassified(outcome: dict[str, Any]) -> None:
    """Counts per reason and category, before → after, and a summary line."""
    window = outcome["window"]
    rows = []
    for row in outcome["counts"]:
        change = row["after"] - row["before"]
        rows.append(
            [
                printable(row["reason"]),
                row["category"],
                str(row["before"]),
                str(row["after"]),
                f"{change:+d}" if change else "",
            ]
        )
    columns = [
        Column("reason", wrap=True),
        Column("category"),
        *(Column(h, "right") for h in ("before", "after", "change")),
    ]
    print_table(columns, rows, title=f"Email bounces from {window['from']} on")
    changed = outcome["changed"]
    verb = "would change" if outcome["dry_run"] else "changed"
    err.print(
        f"{changed} of {outcome['examined']} bounces with SMTP data {verb} "
        f"(rules version {outcome['rules_version']}); {outcome['kept']} kept as the sender "
        f"gave them, {outcome['unchanged']} already as the rules say"
        + ("; dry run: nothing was changed" if outcome["dry_run"] else "")
        + (
            "; ClickHouse still updates the stored events (the reports are done)"
            if outcome["pending"]
            else ""
        ),
        markup=False,
    )
