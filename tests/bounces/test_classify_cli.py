"""`livereport bounces classify` (SPEC §8) in a child process: JSON lines, table, failures;
with an org's own rules (--org on a data directory, or the key's org through --url)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from conftest import Server, cli

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "returns"))
from mails import dsn

CORPUS = Path(__file__).resolve().parent / "corpus"
BOUNCE = CORPUS / "postfix-real" / "unknown-user-01.eml"
AUTO_REPLY = CORPUS / "generated" / "autoreply-00.eml"
ORDINARY = CORPUS / "generated" / "ordinary-00.eml"


def classify(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "livereport", "bounces", "classify", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "250", **(env or {})},
    )


def test_json_prints_one_object_per_file_with_the_documented_keys() -> None:
    result = classify(str(BOUNCE), str(AUTO_REPLY), str(ORDINARY), "--json")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [list(row) for row in rows] == [
        ["file", "is_bounce", "category", "reason", "status", "rule"]
    ] * 3
    assert rows[0] == {
        "file": str(BOUNCE),
        "is_bounce": True,
        "category": "hard",
        "reason": "Invalid Recipient",
        "status": "5.1.1",
        "rule": "dsn+diagnostic:user-unknown",
    }
    assert rows[1]["rule"] == "autoreply:auto-submitted" and rows[1]["category"] == "ignored"
    assert rows[2] == {
        "file": str(ORDINARY),
        "is_bounce": False,
        "category": None,
        "reason": None,
        "status": None,
        "rule": "none",
    }


def test_without_json_prints_a_table() -> None:
    result = classify(str(BOUNCE))
    assert result.returncode == 0, result.stderr
    assert "Invalid Recipient" in result.stdout and "unknown-user-01" in result.stdout


def test_unreadable_file_fails_with_one_line(tmp_path: Path) -> None:
    result = classify(str(tmp_path / "missing.eml"), "--json")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "missing.eml" in lines[0]


RULES = [{"name": "gone", "reason": "Acme Gone", "category": "soft", "pattern": "user unknown"}]


def _rules_and_mail(tmp_path: Path) -> tuple[Path, Path]:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(RULES), encoding="utf-8")
    mail = tmp_path / "unknown.eml"
    mail.write_bytes(dsn("classify-org", "c", "p"))
    return rules, mail


def test_org_rules_of_a_data_directory_come_first(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rules, mail = _rules_and_mail(tmp_path)
    cli("bounces", "rules", "set", str(rules), data=data)
    result = classify(str(mail), "--json", "--data", str(data), "--org", "default")
    assert result.returncode == 0, result.stderr
    row = json.loads(result.stdout)
    assert (row["reason"], row["category"], row["rule"]) == ("Acme Gone", "soft", "dsn+org:gone")
    assert "1 rules of org default (version 1) first" in result.stderr
    # Without --org, as before: the defaults only, whatever LIVEREPORT_DATA says.
    plain = classify(str(mail), "--json", env={"LIVEREPORT_DATA": str(data)})
    assert json.loads(plain.stdout)["rule"] == "dsn+diagnostic:user-unknown" and not plain.stderr


def test_org_rules_of_the_key_through_a_server(server: Server, tmp_path: Path) -> None:
    org = f"classify-{uuid.uuid4().hex[:8]}"
    rules, mail = _rules_and_mail(tmp_path)
    cli("orgs", "create", org, data=server.data)
    cli("bounces", "rules", "set", str(rules), "--org", org, data=server.data)
    key = server.key("read", org=org)
    result = classify(str(mail), "--url", server.url, "--key", key)
    assert result.returncode == 0, result.stderr
    assert "Acme Gone" in result.stdout and "dsn+org:gone" in result.stdout
    assert "1 rules of the key's org (version 1)" in result.stderr
    bad = classify(str(mail), "--url", server.url, "--key", "lr_not-a-key")
    assert bad.returncode == 1 and "unknown" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_bad_combinations_say_what_is_expected(tmp_path: Path) -> None:
    cases = [
        (["--data", str(tmp_path)], 2, "add --org NAME"),
        (["--org", "a", "--url", "http://127.0.0.1:9", "--key", "k"], 2, "leave --org out"),
        (["--key", "k"], 2, "--key goes with --url"),
        (["--url", "http://127.0.0.1:9"], 2, "--url needs --key"),
        (["--org", "a", "--data", str(tmp_path / "nowhere")], 1, "holds no livereport instance"),
    ]
    for args, status, words in cases:
        result = classify(str(BOUNCE), *args)
        assert result.returncode == status, (args, result.stderr)
        assert words in result.stderr, (args, result.stderr)
    data = tmp_path / "data"
    rules, _ = _rules_and_mail(tmp_path)
    cli("bounces", "rules", "set", str(rules), data=data)
    unknown = classify(str(BOUNCE), "--data", str(data), "--org", "nobody")
    assert unknown.returncode == 1 and "no org 'nobody'" in unknown.stderr
