"""Retention: reports, the de-duplication memory and the partition drop share one rule —
an event is kept, and its id remembered, while its time is within the retention period."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

PROBE = Path(__file__).with_name("retention_probe.py")
DAY = 86_400


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[type-arg]
    data = tmp_path_factory.mktemp("retention") / "events"
    run = subprocess.run(
        [sys.executable, str(PROBE), str(data)], capture_output=True, text=True, timeout=180
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_an_id_is_a_duplicate_only_while_its_event_is_within_retention(outcome: dict) -> None:  # type: ignore[type-arg]
    expected = {"beyond": True, "long-gone": True, "inside": False}  # True: stored as new
    assert outcome["new"]["live"] == expected
    assert outcome["new"]["restarted"] == expected, (
        "memory loaded at start disagrees with a live one"
    )


def test_partitions_older_than_retention_are_dropped_and_the_rest_kept(outcome: dict) -> None:  # type: ignore[type-arg]
    now, keep_from = outcome["now"], outcome["keep_from"]
    left = outcome["left"]
    days_left = {datetime.fromtimestamp(t, UTC).date().isoformat() for _, t in left}
    assert min(days_left) >= keep_from
    assert outcome["dropped"], "the event five days old was not dropped"
    assert all(p.split(":")[1] < keep_from.replace("-", "") for p in outcome["dropped"])
    ids = [i for i, _ in left]
    # Within retention: the event two days old and every event stored now, kept.
    for run in ("live", "restarted"):
        assert f"{run}-inside" in ids
        assert ids.count(f"{run}-beyond") in (1, 2)  # the old copy only if its day is keep_from's
        assert ids.count(f"{run}-long-gone") == 1  # only the copy stored now
    # What stays beyond retention is at most the rest of keep_from's day.
    for _, t in left:
        if t < now - 3 * DAY:
            assert datetime.fromtimestamp(t, UTC).date().isoformat() == keep_from
