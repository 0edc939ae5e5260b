"""`livereport alerts …` (docs/alerts.md): alerts, acknowledgements, the signing secret, the
org's rules and SMTP server, sample notifications and the delivery log, on the command line.

Each command asks a server's API with --url and --key. Without them it acts on the data
directory: `list`, which only reads, goes through the server running there with the local key
(as `report` does); the others need the admin scope that key lacks, so they read and write the
metadata directly, which such a server reads too (rules by their saved text, the secret and
the SMTP server at each delivery, acknowledgements at the live stream's next check).

Registered on the main group by livereport/cli/__init__.py; the helpers it shares with the
other commands are in livereport/cli/common.py.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click

from livereport import instance
from livereport.alerts import send, targets
from livereport.alerts.rules import DEFAULT_RULES, parse_rules, rules_json
from livereport.cli.common import (
    Failure,
    ask,
    audit_action,
    echo_json,
    err,
    existing_config,
    failures,
    place_options,
    print_table,
    printable,
    server_to_ask,
)
from livereport.config import Config
from livereport.report.catalogue import METRICS, Format
from livereport.report.render import Column
from livereport.store.metadata import Metadata

#: The actor of what the command line does on the metadata itself (acknowledgements).
LOCAL_ACTOR = "cli"


def _metadata(data: Path | None, org: str | None) -> tuple[Config, Metadata, int]:
    """The data directory's settings and metadata, and the id of the org (the first one by
    default); never makes an instance, so a mistyped --data fails clearly."""
    config = existing_config(data)
    metadata = instance.open_metadata(config)
    return config, metadata, metadata.org(org).id


def _read_json(file: Path, expected: str) -> Any:
    try:
        return json.loads(file.read_bytes())
    except (ValueError, OSError) as exc:
        raise Failure(f"{file}: {exc}; expected {expected}; nothing was stored") from None


#: The group, built rather than decorated; its commands are added below.
alerts: click.Group = click.Group(
    "alerts",
    help="Alerts on campaign numbers: list, acknowledge, rules, notifications (docs/alerts.md).",
)


# alerts


@alerts.command("list")
@click.option("--campaign", default=None, help="Only this campaign's alerts.")
@click.option(
    "--state", default="all", show_default=True, type=click.Choice(["firing", "resolved", "all"])
)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1000))
@click.option(
    "--json", "as_json", is_flag=True, help="Print the alerts as JSON, as GET /v1/alerts answers."
)
@place_options("read")
def alerts_list(
    campaign: str | None,
    state: str,
    limit: int,
    as_json: bool,
    data: Path | None,
    org: str | None,
    url: str | None,
    key: str | None,
) -> None:
    """Show the org's alerts, newest first."""
    with failures():
        server = server_to_ask(data, url, key, org, running=org is None and not key)
        if server is not None:
            found = ask(
                server,
                "GET",
                "/v1/alerts",
                params={"campaign": campaign, "state": state, "limit": limit},
            )
        else:
            _, metadata, org_id = _metadata(data, org)
            found = [
                a.json()
                for a in metadata.alerts(org_id, campaign=campaign, state=state, limit=limit)
            ]
    if as_json:
        echo_json(found)
        return
    if not found:
        err.print(f"no {'' if state == 'all' else state + ' '}alerts", markup=False)
        return
    columns = [
        Column("id", "right"),
        Column("state"),
        Column("severity"),
        Column("rule", wrap=True),
        Column("campaign", wrap=True),
        Column("channel"),
        Column("value", "right"),
        Column("volume", "right"),
        Column("fired"),
        Column("resolved"),
        Column("acknowledged by", wrap=True),
    ]
    print_table(columns, [_alert_row(a) for a in found])


def _alert_row(alert: dict[str, Any]) -> list[str]:
    rule = str(alert["rule"])
    if alert.get("dimension") is not None:  # one alert per key: say which
        rule += f" ({alert['dimension']} {alert.get('key') or '(none)'})"
    campaign = str(alert["campaign"])
    if alert.get("execution") is not None:
        campaign += f" (execution {alert['execution']})"
    cells = [
        str(alert["id"]),
        alert["state"],
        alert["severity"],
        rule,
        campaign,
        alert["channel"],
        _number(alert.get("metric"), alert.get("value")),
        f"{alert['volume']:,}",
        _minute(alert["fired_at"]),
        _minute(alert.get("resolved_at")),
        alert.get("acknowledged_by") or "",
    ]
    return [printable(str(c)) for c in cells]


def _is_rate(metric: Any) -> bool:
    found = METRICS.get(str(metric))
    return found is not None and found.format == Format.RATE


def _number(metric: Any, value: Any) -> str:
    """A reading as people read it: a rate in per cent, a count whole."""
    if not isinstance(value, int | float):
        return ""
    if _is_rate(metric):
        return f"{value * 100:.2f}%"
    return f"{value:,}" if float(value).is_integer() else f"{value:,.2f}"


def _minute(when: Any) -> str:
    """An ISO-8601 UTC time of the API to the minute: 2024-05-01 12:34."""
    return str(when)[:16].replace("T", " ") if when else ""


@alerts.command("ack")
@click.argument("alert_id", metavar="ID", type=click.IntRange(1))
@place_options("admin")
def alerts_ack(
    alert_id: int, data: Path | None, org: str | None, url: str | None, key: str | None
) -> None:
    """Acknowledge an alert (the first acknowledgement stands); prints who acknowledged it."""
    with failures():
        server = server_to_ask(data, url, key, org)
        if server is not None:
            found = ask(server, "POST", f"/v1/alerts/{alert_id}/ack")
        else:
            _, metadata, org_id = _metadata(data, org)
            found = metadata.acknowledge_alert(org_id, alert_id, LOCAL_ACTOR).json()
            audit_action(metadata, org_id, "alert.ack", f"alert {alert_id}")
    click.echo(
        f"alert {alert_id} ({printable(str(found['rule']))}, {found['state']}) acknowledged "
        f"by {printable(str(found['acknowledged_by']))} at {_minute(found['acknowledged_at'])}"
    )


@alerts.command("secret")
@click.option(
    "--rotate", is_flag=True, help="Replace the secret first (receivers must then use the new one)."
)
@place_options("admin")
def alerts_secret(
    rotate: bool, data: Path | None, org: str | None, url: str | None, key: str | None
) -> None:
    """Print the org's webhook signing secret (only the secret, for SECRET=$(…))."""
    with failures():
        server = server_to_ask(data, url, key, org)
        if server is not None:
            found = ask(
                server,
                "POST" if rotate else "GET",
                "/v1/alert-secret" + ("/rotate" if rotate else ""),
            )
            secret = str(found["secret"])
        else:
            _, metadata, org_id = _metadata(data, org)
            secret = metadata.alert_secret(org_id, rotate=rotate)
            if rotate:
                audit_action(metadata, org_id, "alert.secret", "rotated")
    click.echo(secret)


# rules


@alerts.group("rules")
def alerts_rules() -> None:
    """The org's alert rules (the defaults until it saves its own)."""


@alerts_rules.command("show")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the rules as JSON (as `set` reads them)."
)
@place_options("admin")
def alerts_rules_show(
    as_json: bool, data: Path | None, org: str | None, url: str | None, key: str | None
) -> None:
    """Print the org's alert rules, with their targets."""
    with failures():
        server = server_to_ask(data, url, key, org)
        if server is not None:
            rules: list[dict[str, Any]] = ask(server, "GET", "/v1/alert-rules")
        else:
            _, metadata, org_id = _metadata(data, org)
            saved = metadata.alert_rules(org_id)
            rules = rules_json(DEFAULT_RULES) if saved is None else json.loads(saved)
    if as_json:
        echo_json(rules)
        return
    whose = "the default rules" if rules == rules_json(DEFAULT_RULES) else "rules saved by the org"
    err.print(f"{len(rules)} alert rules: {whose}", markup=False)
    columns = [
        Column("id", wrap=True),
        Column("metric", wrap=True),
        Column("channel"),
        Column("condition", wrap=True),
        Column("span", "right"),
        Column("min volume", "right"),
        Column("severity"),
        Column("only", wrap=True),
        Column("notify", wrap=True),
    ]
    print_table(columns, [_rule_row(r) for r in rules])


def _rule_row(rule: dict[str, Any]) -> list[str]:
    metric = rule["metric"]
    if metric == "stall":
        condition = "sends, no deliveries"
    else:
        name = "above" if "above" in rule else "below"
        threshold = _threshold(metric, rule[name], change="baseline_minutes" in rule)
        condition = f"{name} {threshold}"
        if "baseline_minutes" in rule:
            condition = f"change {condition} on the {rule['baseline_minutes']} min before"
    only = [f"{name} {rule[name]}" for name in ("campaign", "execution") if name in rule]
    if "dimension" in rule:
        only.append(
            f"{rule['dimension']} {rule['key']}" if "key" in rule else f"each {rule['dimension']}"
        )
    notify = [f"{kind} {to}" for target in rule.get("notify", []) for kind, to in target.items()]
    if "pause" in rule:
        notify.append(f"pause {rule['pause']['url']}")
    cells = [
        rule["id"],
        metric,
        rule["channel"],
        condition,
        f"{rule['span_minutes']} min",
        f"{rule['min_volume']:,}",
        rule["severity"],
        ", ".join(only),
        ", ".join(notify),
    ]
    return [printable(str(c)) for c in cells]


def _threshold(metric: str, value: float, *, change: bool) -> str:
    if _is_rate(metric):
        return f"{value * 100:.4g}{' pt' if change else '%'}"
    return f"{value:,g}"


@alerts_rules.command("set")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@place_options("admin")
def alerts_rules_set(
    file: Path, data: Path | None, org: str | None, url: str | None, key: str | None
) -> None:
    """Replace the org's alert rules with the JSON list in FILE ([] removes them all, the
    defaults too)."""
    items = _read_json(file, "a JSON list of alert rules, as `alerts rules show --json` prints")
    with failures():
        server = server_to_ask(data, url, key, org)
        if server is not None:
            stored = ask(server, "PUT", "/v1/alert-rules", items)
        else:
            config, metadata, org_id = _metadata(data, org)
            rules = parse_rules(items, allow_private=bool(config.alert_private_targets))
            stored = rules_json(rules)
            metadata.replace_alert_rules(org_id, json.dumps(stored), LOCAL_ACTOR)
            names = ", ".join(r["id"] for r in stored)
            audit_action(metadata, org_id, "alert.rules", f"{len(stored)} rules: {names}"[:1000])
    click.echo(
        f"stored {len(stored)} alert rules: {', '.join(r['id'] for r in stored) or 'none'}",
        err=True,
    )


# notifications


@alerts.command("test")
@click.argument("rule_id", metavar="RULE")
@place_options("admin")
def alerts_test(
    rule_id: str, data: Path | None, org: str | None, url: str | None, key: str | None
) -> None:
    """Send a sample notification ("event": "test") to each target of a rule, now, once
    (never its pause call); exit 1 when a target fails."""
    with failures():
        server = server_to_ask(data, url, key, org)
        if server is not None:
            found = ask(
                server,
                "POST",
                f"/v1/alert-rules/{quote(rule_id, safe='')}/test",
                timeout=60,  # the samples are sent while the server answers
            )
            results: list[dict[str, Any]] = found["deliveries"]
        else:
            results = _test_locally(data, org, rule_id)
    if not results:
        err.print(
            f"rule {printable(rule_id)} has no targets (notify is empty): nothing was sent",
            markup=False,
        )
        return
    rows = [
        [
            ("ok" if r["ok"] else "failed"),
            r["kind"],
            printable(r["target"]),
            printable(str(r["status"]) if r["ok"] else str(r["error"])),
        ]
        for r in results
    ]
    print_table(
        [
            Column("result"),
            Column("kind"),
            Column("target", wrap=True),
            Column("answer", wrap=True),
        ],
        rows,
    )
    failed = sum(not r["ok"] for r in results)
    if failed:
        raise Failure(
            f"{failed} of {len(results)} targets of rule {printable(rule_id)} failed; see above"
        )


def _test_locally(data: Path | None, org: str | None, rule_id: str) -> list[dict[str, Any]]:
    """What POST /v1/alert-rules/{id}/test does, from this process."""
    from livereport.web.alerts import sample_alert

    config, metadata, org_id = _metadata(data, org)
    saved = metadata.alert_rules(org_id)
    rules = (
        DEFAULT_RULES
        if saved is None
        else parse_rules(json.loads(saved), allow_private=True, check_targets=False)
    )
    rule = next((r for r in rules if r.id == rule_id), None)
    if rule is None:
        raise Failure(
            f"no rule {rule_id[:80]!r} in the org; `livereport alerts rules show` lists them"
        )
    alert = sample_alert(rule, org_id).json()
    results = []
    for target in rule.notify:
        status: int | None = None
        error: str | None = None
        try:
            status, answer = _send_sample(
                metadata, org_id, target.kind, target.to, alert, bool(config.alert_private_targets)
            )
            if not 200 <= status < 300:
                error = f"answered {status}: {answer[:200].decode('utf-8', 'replace')}"
        except targets.DeliveryFailed as exc:
            error = str(exc)[:500]
        results.append(
            {
                "kind": target.kind,
                "target": target.to,
                "ok": error is None,
                "status": status,
                "error": error,
            }
        )
    return results


def _send_sample(
    metadata: Metadata, org_id: int, kind: str, to: str, alert: dict[str, Any], allow_private: bool
) -> tuple[int, bytes]:
    """One sample notification, made as the service makes a real one (alerts/service.py)."""
    from livereport.alerts.service import DELIVERY_TIMEOUT_S, email_of, request_of

    if kind == "email":
        settings, message = email_of(metadata, org_id, alert, "test", to)
        send.send_email(settings, message, allow_private=allow_private)
        return 250, b""
    body, headers = request_of(metadata, org_id, kind, alert, "test", str(uuid.uuid4()))
    return targets.post_blocking(
        to, body, headers, allow_private=allow_private, timeout=DELIVERY_TIMEOUT_S
    )


@alerts.command("deliveries")
@click.option(
    "--alert",
    "alert_id",
    default=None,
    type=click.IntRange(1),
    help="Only the notifications of this alert.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the log as JSON, as GET /v1/alert-deliveries answers.",
)
@place_options("admin")
def alerts_deliveries(
    alert_id: int | None,
    as_json: bool,
    data: Path | None,
    org: str | None,
    url: str | None,
    key: str | None,
) -> None:
    """Show the log of notifications and pause calls, newest first: state, tries, answer."""
    with failures():
        server = server_to_ask(data, url, key, org)
        if server is not None:
            found = ask(server, "GET", "/v1/alert-deliveries", params={"alert": alert_id})
        else:
            _, metadata, org_id = _metadata(data, org)
            found = [d.json() for d in metadata.deliveries(org_id, alert_id)]
    if as_json:
        echo_json(found)
        return
    if not found:
        err.print("no notifications yet", markup=False)
        return
    columns = [
        Column("created", wrap=True),
        Column("alert", "right"),
        Column("event"),
        Column("kind"),
        Column("target", wrap=True),
        Column("state"),
        Column("tries", "right"),
        Column("answer", wrap=True),
    ]
    rows = [
        [
            _minute(d["created"]),
            str(d["alert"] or ""),
            d["event"],
            d["kind"],
            d["target"],
            d["state"],
            str(d["attempts"]),
            d["error"] or ("" if d["status"] is None else str(d["status"])),
        ]
        for d in found
    ]
    print_table(columns, [[printable(c) for c in row] for row in rows])


# the SMTP server of alert emails


@alerts.group("smtp")
def alerts_smtp() -> None:
    """The org's SMTP server for alert emails."""


@alerts_smtp.command("show")
@place_options("admin")
def alerts_smtp_show(data: Path | None, org: str | None, url: str | None, key: str | None) -> None:
    """Print the SMTP server as JSON (the password hidden), or null when none is set."""
    from livereport.web.alerts import smtp_json

    with failures():
        server = server_to_ask(data, url, key, org)
        if server is not None:
            found = ask(server, "GET", "/v1/alert-smtp")
        else:
            _, metadata, org_id = _metadata(data, org)
            found = smtp_json(metadata.alert_smtp(org_id))
    echo_json(found)
    if found is None:
        err.print("no SMTP server is set: alert emails cannot be sent", markup=False)


@alerts_smtp.command("set")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@place_options("admin")
def alerts_smtp_set(
    file: Path, data: Path | None, org: str | None, url: str | None, key: str | None
) -> None:
    """Set the SMTP server from the JSON object in FILE: {"host", "port", "security":
    "starttls"|"tls"|"none", "sender", "username"?, "password"?}."""
    value = _read_json(file, 'a JSON object {"host", "port", "security", "sender", …}')
    if value is None:
        raise Failure(f"{file}: null; to remove the SMTP server use `livereport alerts smtp clear`")
    host = _store_smtp(value, data, org, url, key)
    err.print(f"alert emails go through {printable(host)}", markup=False)


@alerts_smtp.command("clear")
@place_options("admin")
def alerts_smtp_clear(data: Path | None, org: str | None, url: str | None, key: str | None) -> None:
    """Remove the SMTP server (alert emails then fail until one is set)."""
    _store_smtp(None, data, org, url, key)
    err.print("no SMTP server is set any more: alert emails fail until one is", markup=False)


def _store_smtp(
    value: Any, data: Path | None, org: str | None, url: str | None, key: str | None
) -> str:
    """Store (None: remove) the SMTP server as PUT /v1/alert-smtp does; its host:port."""
    from livereport.web.alerts import check_smtp

    with failures():
        server = server_to_ask(data, url, key, org)
        if server is not None:
            stored = ask(server, "PUT", "/v1/alert-smtp", value)
        else:
            config, metadata, org_id = _metadata(data, org)
            stored = (
                None if value is None else check_smtp(value, bool(config.alert_private_targets))
            )
            metadata.set_alert_smtp(org_id, None if stored is None else json.dumps(stored))
            audit_action(
                metadata,
                org_id,
                "alert.smtp",
                "removed" if stored is None else f"{stored['host']}:{stored['port']}",
            )
    return "" if stored is None else f"{stored['host']}:{stored['port']}"
