"""The command line (SPEC §8) in child processes, against real servers on the same data."""

from __future__ import annotations

import gzip
import json
import os
import pty
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import click
import pytest

from conftest import Server, cli
from livereport.cli import main
from livereport.events import Channel
from livereport.providers import PROVIDERS
from livereport.report.catalogue import TABS, widgets_of
from livereport.store.metadata import Role, Scope


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def event(
    campaign: str, type_: str = "sent", channel: str = "email", **extra: Any
) -> dict[str, Any]:
    return {
        "id": uuid.uuid4().hex,
        "time": int(time.time() * 1000) - 60_000,
        "campaign": campaign,
        "channel": channel,
        "type": type_,
        "profile": f"p-{uuid.uuid4().hex[:6]}",
        **extra,
    }


def run(
    *args: str, stdin: str | None = None, columns: int | None = None
) -> subprocess.CompletedProcess[str]:
    """The command line without --data (for commands that only talk to a URL)."""
    return subprocess.run(
        [sys.executable, "-m", "livereport", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **({"COLUMNS": str(columns)} if columns else {})},
    )


def on_a_terminal(*args: str) -> tuple[int, str]:
    """The command line with its standard output and error on a terminal (a pty)."""
    main, other = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "livereport", *args],
        stdin=subprocess.DEVNULL,
        stdout=other,
        stderr=other,
        env={**os.environ, "TERM": "xterm", "COLUMNS": "100"},
    )
    os.close(other)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: the command ended and closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    code = process.wait(timeout=120)
    os.close(main)
    return code, b"".join(chunks).decode(errors="replace")


def fits(text: str, width: int = 80) -> None:
    """Nothing cut off (rich marks a cut with an ellipsis) and no line wider than ``width``."""
    assert "…" not in text, text
    assert max(len(line) for line in text.splitlines()) <= width, text


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got: {text!r}"
    return lines[0]


def totals(server: Server, key: str, campaign: str, channel: str = "email") -> dict[str, Any]:
    with server.client(key) as client:
        response = client.get(f"/v1/campaigns/{campaign}/totals", params={"channel": channel})
    assert response.status_code == 200, response.text
    metrics: dict[str, Any] = response.json()["metrics"]
    return metrics


def key_id(server: Server, key: str) -> str:
    """The id `keys list` shows on the row of this key's prefix."""
    listing = cli("keys", "list", data=server.data).stdout
    rows = [line for line in listing.splitlines() if key[:10] in line]
    assert len(rows) == 1, listing
    return rows[0].strip("│┃| ").split("│")[0].strip()


def write_ndjson(path: Path, lines: list[str]) -> Path:
    text = "\n".join(lines) + "\n"
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def events_file(path: Path, campaign: str, sent: int, bad_line: int | None = None) -> Path:
    """``sent`` good email events, with a broken line at ``bad_line`` and a blank line before it."""
    lines = [json.dumps(event(campaign)) for _ in range(sent)]
    if bad_line is not None:
        lines.insert(bad_line - 2, "")
        lines.insert(bad_line - 1, json.dumps(event(campaign, type_="impression")))
    return write_ndjson(path, lines)


# keys


def test_keys_create_prints_only_the_key_and_it_works_at_once(server: Server) -> None:
    result = cli("keys", "create", "--scope", "ingest", "--scope", "read", data=server.data)
    key = one_line(result.stdout)
    assert key.startswith("lr_") and result.stdout == key + "\n"
    with server.client(key) as client:
        response = client.post("/v1/events", json=[event(unique("cli-key"))])
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1


def test_keys_list_shows_the_prefix_not_the_key(server: Server) -> None:
    key = server.key("read")
    listing = cli("keys", "list", data=server.data).stdout
    assert key[:10] in listing
    assert key not in listing and key[10:20] not in listing


def test_keys_list_fits_80_columns_with_ids_prefixes_and_times_whole(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "the nightly export of the spring sale to the data warehouse"
    key = cli(
        "keys",
        "create",
        "--scope",
        "read",
        "--name",
        name,
        "--expires-days",
        "30",
        data=server.data,
    ).stdout.strip()
    monkeypatch.setenv("COLUMNS", "80")
    listing = cli("keys", "list", data=server.data).stdout
    assert listing.count("…") == listing.count("lr_")  # only the prefixes' own
    fits(listing.replace("…", ""))
    assert key[:10] + "…" in listing and key_id(server, key) in listing
    assert all(word in listing for word in name.split())
    assert re.search(r"│ \d{4}-\d\d-\d\d( |\s*│)", listing), listing  # created, whole


def test_keys_revoke_refuses_the_key_at_once(server: Server) -> None:
    key = server.key("ingest", "read")
    with server.client(key) as client:
        assert client.get("/v1/campaigns").status_code == 200
        cli("keys", "revoke", key_id(server, key), data=server.data)
        assert client.get("/v1/campaigns").status_code == 401
        assert client.post("/v1/events", json=[event(unique("revoked"))]).status_code == 401


def test_keys_revoke_of_an_unknown_key_fails(server: Server) -> None:
    result = cli("keys", "revoke", "999999", data=server.data, check=False)
    assert result.returncode == 1
    assert "999999" in one_line(result.stderr)


# orgs and users


def test_orgs_create_then_a_key_of_that_org(server: Server, keys: dict[str, str]) -> None:
    org = unique("acme")
    assert cli("orgs", "create", org, data=server.data).stdout.strip() == org
    key = server.key("ingest", "read", org=org)
    campaign = unique("org-campaign")
    with server.client(key) as client:
        response = client.post("/v1/events", json=[event(campaign)])
        assert response.status_code == 200 and response.json()["accepted"] == 1
        assert client.get(f"/v1/campaigns/{campaign}/report").status_code == 200
    with server.client(keys["both"]) as default_org:
        assert default_org.get(f"/v1/campaigns/{campaign}/report").status_code == 404


def test_orgs_create_on_a_new_data_dir_keeps_the_first_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cli("orgs", "create", "acme", data=data)
    assert (data / "first-start.txt").exists() and (data / "cli.key").exists()
    server = Server(data).start()
    try:
        campaign = unique("first-start")
        cli("ingest", str(events_file(tmp_path / "e.ndjson", campaign, sent=2)), data=data)
        assert totals(server, server.key("read"), campaign)["sent"] == 2  # the default org
    finally:
        server.stop()


def test_orgs_create_twice_fails_with_one_line(server: Server) -> None:
    org = unique("twice")
    cli("orgs", "create", org, data=server.data)
    result = cli("orgs", "create", org, data=server.data, check=False)
    assert result.returncode == 1
    assert "already exists" in one_line(result.stderr)
    assert result.stdout == ""


def test_keys_list_on_a_data_dir_without_an_org_says_so(tmp_path: Path) -> None:
    result = run("keys", "list", "--data", str(tmp_path / "data"))
    assert result.returncode == 1
    assert one_line(result.stderr) == (
        "livereport: there is no org yet; create one with `livereport orgs create NAME`"
    )


def test_keys_create_for_an_unknown_org_fails(server: Server) -> None:
    result = cli(
        "keys",
        "create",
        "--org",
        unique("nobody"),
        "--scope",
        "read",
        data=server.data,
        check=False,
    )
    assert result.returncode == 1
    assert "orgs create" in one_line(result.stderr)
    assert result.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ("keys", "create"),
        ("keys", "create", "--scope", "everything"),
        ("users", "create", "ana@example.com", "--password-stdin"),
        ("report",),
        ("report", "spring-sale", "--tab", "fax"),
        ("report", "spring-sale", "--url", "127.0.0.1:8000", "--key", "lr_x"),
        ("demo", "--rate", "0"),
        ("demo", "--history", "-1"),
        ("users", "role", "ana@example.com", "owner"),
        ("webhooks", "set", "carrier-pigeon", "--secret-stdin"),
        ("no-such-command",),
    ],
)
def test_bad_usage_exits_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = cli(*args, data=tmp_path / "data", check=False)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    "args",
    [
        ("simulate", "--url", "127.0.0.1:8000", "--key", "lr_x"),
        ("simulate", "--url", "http://127.0.0.1:9", "--key", "lr_x", "--duration", "-1"),
        ("simulate", "--url", "http://127.0.0.1:9", "--key", "lr_x", "--channel", "fax"),
    ],
)
def test_bad_usage_of_commands_without_data_exits_2(args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.returncode == 2, result.stderr
    assert "Error: Invalid value" in result.stderr and result.stdout == ""


def choices(path: str, name: str) -> list[str]:
    command: click.Command = main
    for part in path.split():
        assert isinstance(command, click.Group)
        command = command.commands[part]
    [param] = [p for p in command.params if p.name == name]
    assert isinstance(param.type, click.Choice), (path, name)
    return [str(c) for c in param.type.choices]


def test_options_of_a_fixed_set_are_choices_of_that_set() -> None:
    assert choices("report", "tab") == list(TABS)
    assert choices("simulate", "channels") == [c.value for c in Channel]
    assert choices("webhooks set", "provider") == sorted(PROVIDERS)
    assert choices("keys create", "scopes") == [s.value for s in Scope]
    for path, name in (("users create", "role"), ("users invite", "role"), ("users role", "role")):
        assert choices(path, name) == [r.value for r in Role]
    assert choices("ingest", "fmt") == ["canonical", "ajo"]


def test_users_create_reads_the_password_from_stdin(server: Server) -> None:
    email = f"{unique('ana')}@example.com"
    result = cli(
        "users",
        "create",
        email,
        "--role",
        "viewer",
        "--password-stdin",
        data=server.data,
        stdin="a long enough password\n",
    )
    assert result.returncode == 0
    assert email in result.stderr and "a long enough password" not in result.stderr + result.stdout


def test_users_create_refuses_a_short_password(server: Server) -> None:
    email = f"{unique('bob')}@example.com"
    result = cli(
        "users",
        "create",
        email,
        "--role",
        "viewer",
        "--password-stdin",
        data=server.data,
        stdin="short\n",
        check=False,
    )
    assert result.returncode == 1
    assert "password" in one_line(result.stderr)


# ingest


@pytest.mark.parametrize("name", ["events.ndjson", "events.ndjson.gz"])
def test_ingest_through_the_running_server(
    server: Server, keys: dict[str, str], tmp_path: Path, name: str
) -> None:
    campaign = unique("ingest-data")
    path = events_file(tmp_path / name, campaign, sent=25, bad_line=7)
    result = cli("ingest", str(path), data=server.data)
    assert "25 accepted" in result.stderr and "1 rejected" in result.stderr
    assert f"{name}:7" in result.stderr, result.stderr
    assert totals(server, keys["read"], campaign)["sent"] == 25


def test_ingest_with_url_and_key(server: Server, keys: dict[str, str], tmp_path: Path) -> None:
    campaign = unique("ingest-url")
    path = events_file(tmp_path / "events.ndjson.gz", campaign, sent=30, bad_line=2)
    result = cli(
        "ingest", str(path), "--url", server.url, "--key", keys["ingest"], data=tmp_path / "none"
    )
    assert "30 accepted" in result.stderr and "events.ndjson.gz:2" in result.stderr
    assert totals(server, keys["read"], campaign)["sent"] == 30
    again = cli(
        "ingest", str(path), "--url", server.url, "--key", keys["ingest"], data=tmp_path / "none"
    )
    assert "0 accepted" in again.stderr and "30 duplicates" in again.stderr
    assert totals(server, keys["read"], campaign)["sent"] == 30


def test_ingest_into_another_org_through_a_running_server_is_refused(
    server: Server, tmp_path: Path
) -> None:
    org = unique("other")
    cli("orgs", "create", org, data=server.data)
    path = events_file(tmp_path / "events.ndjson", unique("wrong-org"), sent=2)
    result = cli("ingest", str(path), "--org", org, data=server.data, check=False)
    assert result.returncode == 1
    assert "--url" in one_line(result.stderr)


def test_ingest_into_an_org_without_a_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cli("orgs", "create", "acme", data=data)
    campaign = unique("acme-offline")
    cli(
        "ingest",
        str(events_file(tmp_path / "e.ndjson", campaign, sent=3)),
        "--org",
        "acme",
        data=data,
    )
    server = Server(data).start()
    try:
        assert totals(server, server.key("read", org="acme"), campaign)["sent"] == 3
        with server.client(server.key("read")) as default_org:
            assert (
                default_org.get(f"/v1/campaigns/{campaign}/totals?channel=email").status_code == 404
            )
    finally:
        server.stop()


@pytest.mark.server_process  # the CLI opens the data directory the server left
def test_a_stopped_server_hands_the_data_back_to_the_cli(
    fresh_server: Server, tmp_path: Path
) -> None:
    campaign = unique("after-stop")
    cli("ingest", str(events_file(tmp_path / "e.ndjson", campaign, sent=3)), data=fresh_server.data)
    fresh_server.stop()
    assert not (fresh_server.data / "server.json").exists()
    local = json.loads(
        cli("report", campaign, "--tab", "email", "--json", data=fresh_server.data).stdout
    )
    assert local["widgets"][1]["data"]["total"]["sent"] == 3


def test_ingest_with_a_bad_key_fails(server: Server, tmp_path: Path) -> None:
    path = events_file(tmp_path / "events.ndjson", unique("bad-key"), sent=2)
    result = cli(
        "ingest",
        str(path),
        "--url",
        server.url,
        "--key",
        "lr_nope",
        data=tmp_path / "none",
        check=False,
    )
    assert result.returncode == 1
    assert "401" in result.stderr.strip().splitlines()[-1]


def test_ingest_without_a_server_then_serve(tmp_path: Path) -> None:
    campaign = unique("offline")
    path = events_file(tmp_path / "events.ndjson", campaign, sent=40, bad_line=10)
    data = tmp_path / "data"
    result = cli("ingest", str(path), data=data)
    assert "40 accepted" in result.stderr and "events.ndjson:10" in result.stderr
    local = json.loads(cli("report", campaign, "--tab", "email", "--json", data=data).stdout)
    assert local["widgets"][0]["data"]["metrics"]["delivered"] == 0
    assert local["widgets"][1]["data"]["total"]["sent"] == 40
    server = Server(data).start()
    try:
        assert totals(server, server.key("read"), campaign)["sent"] == 40
    finally:
        server.stop()


# report


def test_report_json_is_the_api_report(server: Server, keys: dict[str, str]) -> None:
    campaign = unique("report-json")
    with server.client(keys["both"]) as client:
        client.post(
            "/v1/events",
            json=[
                event(campaign, "sent"),
                event(campaign, "delivered"),
                event(campaign, "bounce", reason="Mailbox Full"),
            ],
        )
        result = cli("report", campaign, "--tab", "email", "--json", data=server.data)
        api = client.get(f"/v1/campaigns/{campaign}/report", params={"tab": "email"}).json()
    shown = json.loads(result.stdout)
    for moving in ("as_of", "window"):
        shown.pop(moving), api.pop(moving)
    assert shown == api
    assert shown["widgets"][0]["data"]["metrics"]["delivered"] == 1


@pytest.fixture(scope="module")
def every_channel(server: Server, keys: dict[str, str]) -> str:
    """A campaign with events on every channel, in two executions."""
    campaign = unique("report-term")
    events = [event(campaign, "entered", channel="campaign")]
    for execution in ("morning", "evening"):
        for channel, type_, extra in [
            ("email", "sent", {"recipient": "ana@example.com"}),
            ("email", "delivered", {}),
            ("email", "open", {}),
            ("email", "bounce", {"reason": "Mailbox Full"}),
            ("email", "excluded", {"reason": "No consent"}),
            ("sms", "sent", {}),
            ("sms", "error", {"reason": "Throttled"}),
            ("push", "sent", {"platform": "ios"}),
            ("push", "action", {"platform": "android"}),
            ("inapp", "impression", {}),
            ("inapp", "interaction", {"interaction": "dismiss"}),
            ("web", "interaction", {"element": "Buy [bold]now[/]", "interaction": "click"}),
            ("directmail", "sent", {}),
            ("directmail", "excluded", {"reason": "No address"}),
        ]:
            events.append(event(campaign, type_, channel=channel, execution=execution, **extra))
    with server.client(keys["ingest"]) as client:
        assert client.post("/v1/events", json=events).json()["accepted"] == len(events)
    return campaign


@pytest.mark.parametrize("tab", list(TABS))
def test_report_in_the_terminal(server: Server, every_channel: str, tab: str) -> None:
    result = cli("report", every_channel, "--tab", tab, data=server.data)
    assert result.stdout.startswith(f"{TABS[tab]} — {every_channel}")
    for widget in widgets_of(tab):
        assert widget.title in result.stdout, widget.title
    if tab == "web":
        assert "Buy [bold]now[/]" in result.stdout  # untrusted text is shown as given


@pytest.mark.parametrize("tab", list(TABS))
def test_report_in_the_terminal_fits_80_columns(
    server: Server, every_channel: str, tab: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    shown = cli("report", every_channel, "--tab", tab, data=server.data).stdout
    fits(shown)
    assert "Buy [bold]now[/]" in shown or tab != "web"


def test_report_in_the_terminal_of_a_tab_without_events(
    server: Server, keys: dict[str, str]
) -> None:
    campaign = unique("email-only")
    with server.client(keys["ingest"]) as client:
        client.post("/v1/events", json=[event(campaign, "sent")])
    result = cli("report", campaign, "--tab", "sms", data=server.data)
    assert "No SMS events" in result.stdout


def test_report_with_url_and_key(server: Server, keys: dict[str, str]) -> None:
    campaign = unique("report-url")
    with server.client(keys["ingest"]) as client:
        client.post("/v1/events", json=[event(campaign, "impression", channel="web")])
    result = cli(
        "report",
        campaign,
        "--tab",
        "web",
        "--json",
        "--url",
        server.url,
        "--key",
        keys["read"],
        data=server.data,
    )
    assert json.loads(result.stdout)["widgets"][0]["data"]["metrics"]["impressions"] == 1


def test_report_with_a_refused_key_says_so_in_one_line(server: Server, tmp_path: Path) -> None:
    result = cli(
        "report",
        unique("any"),
        "--url",
        server.url,
        "--key",
        "lr_nope",
        data=tmp_path / "none",
        check=False,
    )
    assert result.returncode == 1 and result.stdout == ""
    line = one_line(result.stderr)
    assert line.startswith("livereport: key rejected") and "--key" in line, line


def test_report_of_an_unknown_campaign_fails(server: Server) -> None:
    result = cli("report", unique("never-sent"), data=server.data, check=False)
    assert result.returncode == 1
    assert "campaign" in one_line(result.stderr)
    assert result.stdout == ""


def test_report_of_an_unknown_campaign_without_a_server_fails(tmp_path: Path) -> None:
    result = cli("report", unique("never-sent"), data=tmp_path / "data", check=False)
    assert result.returncode == 1
    assert "campaign" in one_line(result.stderr)


# simulate


def test_simulate_with_a_refused_key_says_so_in_one_line(server: Server) -> None:
    began = time.monotonic()
    result = run("simulate", "--url", server.url, "--key", "lr_nope", "--duration", "5")
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert line.startswith("livereport: key rejected") and "--key" in line, line
    assert time.monotonic() - began < 20


def test_simulate_shows_its_progress_on_a_terminal(server: Server, keys: dict[str, str]) -> None:
    campaign = unique("simulated-tty")
    code, shown = on_a_terminal(
        "simulate",
        "--url",
        server.url,
        "--key",
        keys["ingest"],
        "--campaign",
        campaign,
        "--duration",
        "3",
        "--rate",
        "100",
    )
    assert code == 0, shown
    assert "━" in shown and re.search(r"[\d,]+ sent: [\d,]+ accepted", shown), shown
    assert f"{campaign}: " in shown and " accepted, " in shown


def test_simulate_is_quiet_off_a_terminal_and_with_quiet(
    server: Server, keys: dict[str, str]
) -> None:
    campaign = unique("simulated-quiet")
    piped = run(
        "simulate",
        "--url",
        server.url,
        "--key",
        keys["ingest"],
        "--campaign",
        campaign,
        "--duration",
        "2",
        "--rate",
        "100",
    )
    assert piped.returncode == 0 and one_line(piped.stderr).startswith(f"{campaign}: ")
    code, shown = on_a_terminal(
        "simulate",
        "--url",
        server.url,
        "--key",
        keys["ingest"],
        "--campaign",
        campaign,
        "--duration",
        "2",
        "--quiet",
    )
    assert code == 0 and "━" not in shown and one_line(shown).startswith(f"{campaign}: ")


def test_simulate_sends_traffic(server: Server, keys: dict[str, str]) -> None:
    campaign = unique("simulated")
    result = run(
        "simulate",
        "--url",
        server.url,
        "--key",
        keys["ingest"],
        "--campaign",
        campaign,
        "--duration",
        "3",
        "--rate",
        "200",
    )
    assert result.returncode == 0, result.stderr
    first = totals(server, keys["read"], campaign, channel="campaign")
    assert first["entered_profiles"] or first["targeted"]
    run(
        "simulate",
        "--url",
        server.url,
        "--key",
        keys["ingest"],
        "--campaign",
        campaign,
        "--duration",
        "2",
        "--rate",
        "200",
        "--seed",
        "2",
    )
    second = totals(server, keys["read"], campaign, channel="campaign")
    assert sum(v or 0 for v in second.values()) > sum(v or 0 for v in first.values())
