"""`livereport returns import` (maildir, mbox, single files), `returns unattributed` and the
SMTP listener `returns smtp`, each storing returned mails exactly once."""

from __future__ import annotations

import json
import mailbox
import signal
import smtplib
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from mails import arf, auto_reply, dsn, ordinary

from conftest import Server, cli, free_port
from livereport.bounces.attribution import verp_address


def maildir(path: Path, *messages: bytes) -> Path:
    folder = mailbox.Maildir(path, create=True)
    for raw in messages:
        folder.add(raw)
    return path


def mbox(path: Path, *messages: bytes) -> Path:
    box = mailbox.mbox(path, create=True)
    for raw in messages:
        box.add(raw)
    box.close()
    return path


def email_totals(server: Server, campaign: str) -> dict[str, Any]:
    with server.client(server.key("read")) as client:
        response = client.get(f"/v1/campaigns/{campaign}/totals", params={"channel": "email"})
        assert response.status_code == 200, response.text
        metrics: dict[str, Any] = response.json()["metrics"]
        return metrics


def test_import_reads_maildirs_and_mboxes_into_a_running_server(
    fresh_server: Server, tmp_path: Path
) -> None:
    verp = f"<{verp_address('ri-cli', 'p-9', 'bounce.shop.example')}>"
    folder = maildir(tmp_path / "Maildir", dsn("ri-1", "ri-cli", "p-1"), auto_reply("ri-2", verp))
    box = mbox(
        tmp_path / "returns.mbox", arf("ri-3", "ri-cli", "p-3"), dsn("ri-4"), ordinary("ri-5")
    )
    single = tmp_path / "one.eml"
    single.write_bytes(
        dsn("ri-6", "ri-cli", "p-6", status="5.2.2", diagnostic="smtp; 552 5.2.2 Mailbox full")
    )
    result = cli("returns", "import", str(folder), str(box), str(single), data=fresh_server.data)
    assert "6 returned mails: 4 accepted, 2 kept" in result.stderr
    again = cli("returns", "import", str(folder), data=fresh_server.data)
    assert "2 returned mails: 2 duplicate" in again.stderr
    metrics = email_totals(fresh_server, "ri-cli")
    assert (metrics["bounces"], metrics["hard_bounces"], metrics["soft_bounces"]) == (3, 1, 1)
    assert metrics["spam_complaints"] == 1
    listed = cli("returns", "unattributed", "--json", data=fresh_server.data).stdout.splitlines()
    kept = [json.loads(line) for line in listed]
    assert sorted(k["kind"] for k in kept) == ["bounce", "other"]  # sent concurrently: any order
    bounce = next(k for k in kept if k["kind"] == "bounce")
    raw = cli(
        "returns", "unattributed", "--message", str(bounce["id"]), data=fresh_server.data
    ).stdout
    assert "Message-ID: <ri-4@mx.example.com>" in raw


def test_import_into_a_data_directory_without_a_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    box = mbox(tmp_path / "returns.mbox", dsn("rl-1", "rl-local", "p-1"), dsn("rl-2"))
    result = cli("returns", "import", str(box), data=data)
    assert "2 returned mails: 1 accepted, 1 kept" in result.stderr
    report = json.loads(cli("report", "rl-local", "--tab", "email", "--json", data=data).stdout)
    sending = next(w for w in report["widgets"] if w["id"] == "email.sending_performance")
    assert sending["data"]["metrics"]["bounces"] == 1


def test_import_refuses_a_folder_that_is_not_a_maildir(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    result = cli("returns", "import", str(tmp_path / "plain"), data=tmp_path / "data", check=False)
    assert result.returncode == 1 and "not a maildir" in result.stderr


def wait_for_port(port: int, process: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the SMTP listener did not start")


def test_the_smtp_listener_stores_what_it_receives(fresh_server: Server, tmp_path: Path) -> None:
    port = free_port()
    key = fresh_server.key("ingest")
    log = tmp_path / "smtp.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "livereport",
                "returns",
                "smtp",
                "--listen",
                f"127.0.0.1:{port}",
                "--url",
                fresh_server.url,
                "--key",
                key,
            ],
            stdout=output,
            stderr=output,
            text=True,
        )
    try:
        wait_for_port(port, process, log)
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
            for raw in (dsn("rs-1", "rs-smtp", "p-1"), dsn("rs-1", "rs-smtp", "p-1"), dsn("rs-2")):
                refused = smtp.sendmail("", ["bounces@bounce.shop.example"], raw)
                assert refused == {}
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert process.returncode == 0, log.read_text()
    assert f"by SMTP on 127.0.0.1:{port}" in log.read_text()
    metrics = email_totals(fresh_server, "rs-smtp")
    assert (metrics["bounces"], metrics["hard_bounces"]) == (1, 1)  # the second copy: a duplicate
    with fresh_server.client(fresh_server.key("admin")) as client:
        kept = client.get("/v1/returns/unattributed").json()["returns"]
        assert [k["kind"] for k in kept] == ["bounce"]
    assert httpx.get(f"{fresh_server.url}/healthz").status_code == 200
