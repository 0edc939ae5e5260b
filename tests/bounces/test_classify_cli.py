"""`livereport bounces classify` (SPEC §8) in a child process: JSON lines, table, failures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"
BOUNCE = CORPUS / "postfix-real" / "unknown-user-01.eml"
AUTO_REPLY = CORPUS / "generated" / "autoreply-00.eml"
ORDINARY = CORPUS / "generated" / "ordinary-00.eml"


def classify(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "livereport", "bounces", "classify", *args],
        capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "250"},
    )  # fmt: skip


def test_json_prints_one_object_per_file_with_the_documented_keys() -> None:
    result = classify(str(BOUNCE), str(AUTO_REPLY), str(ORDINARY), "--json")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [list(row) for row in rows] == [["file", "is_bounce", "category", "reason", "status", "rule"]] * 3  # fmt: skip
    assert rows[0] == {
        "file": str(BOUNCE), "is_bounce": True, "category": "hard",
        "reason": "Invalid Recipient", "status": "5.1.1", "rule": "dsn+diagnostic:user-unknown",
    }  # fmt: skip
    assert rows[1]["rule"] == "autoreply:auto-submitted" and rows[1]["category"] == "ignored"
    assert rows[2] == {"file": str(ORDINARY), "is_bounce": False, "category": None,
                       "reason": None, "status": None, "rule": "none"}  # fmt: skip


def test_without_json_prints_a_table() -> None:
    result = classify(str(BOUNCE))
    assert result.returncode == 0, result.stderr
    assert "Invalid Recipient" in result.stdout and "unknown-user-01" in result.stdout


def test_unreadable_file_fails_with_one_line(tmp_path: Path) -> None:
    result = classify(str(tmp_path / "missing.eml"), "--json")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "missing.eml" in lines[0]
