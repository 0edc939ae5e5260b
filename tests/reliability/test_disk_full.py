"""A full disk: ingest answers 503 with a message that says so, reads keep working, nothing
acknowledged is lost or counted twice, and ingest resumes by itself once space is freed.

The data directory is a small tmpfs mounted for the test (CI runs as root); a filler file
takes the free space, either all of it (the first write of an insert fails) or all but a
few pages (the engine runs out in the middle of an insert).
"""

from __future__ import annotations

import errno
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from reliability_client import event, sent_total

from conftest import Server
from livereport.errors import StorageUnavailable, storage_failure


@pytest.fixture
def small_disk(tmp_path: Path) -> Any:
    if os.geteuid() != 0:
        pytest.fail("this test mounts a 256 MiB tmpfs and must run as root (CI does)")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", str(disk)], check=True)
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path, leave_bytes: int) -> Path:
    """Take the disk's free space but ``leave_bytes`` with one filler file."""
    filler = disk / "filler"
    st = os.statvfs(disk)
    size = st.f_bavail * st.f_frsize - leave_bytes
    with filler.open("wb") as f:
        chunk = b"\0" * (1 << 20)
        while size > 0:
            try:
                size -= f.write(chunk[: min(size, len(chunk))])
            except OSError:
                break
    return filler


def post(srv: Server, key: str, ids: list[str]) -> httpx.Response:
    return httpx.post(
        f"{srv.url}/v1/events",
        json=[event(i, "disk") for i in ids],
        timeout=60,
        headers={"Authorization": f"Bearer {key}"},
    )


@pytest.mark.parametrize("leave", [0, 48 * 1024], ids=["no-space", "space-for-a-few-pages"])
def test_full_disk_refuses_ingest_clearly_keeps_reads_and_resumes(
    small_disk: Path, leave: int
) -> None:
    srv = Server(small_disk).start()  # the log goes beside the mount point, not into it
    try:
        key = srv.key("ingest", "read")
        batches = [[f"d{n}-{i}" for i in range(300)] for n in range(12)]
        acked: set[str] = set()
        assert post(srv, key, batches[0]).status_code == 200
        acked.update(batches[0])

        filler = fill(small_disk, leave)
        refused = []
        for batch in batches[1:]:
            response = post(srv, key, batch)
            if response.status_code == 200:
                acked.update(batch)
                continue
            assert response.status_code == 503, response.text
            assert "retry-after" in response.headers
            message = response.json()["error"]
            assert "space" in message and "disk" in message, message
            refused.append(batch)
        assert refused, "the full disk never refused an insert"
        # Reads go on while the disk is full, and agree with what was acknowledged.
        assert sent_total(srv, key, "disk") == len(acked)
        assert httpx.get(f"{srv.url}/healthz").status_code == 200

        filler.unlink()  # space returns: the same server takes the refused batches
        deadline = time.monotonic() + 30
        while refused and time.monotonic() < deadline:
            response = post(srv, key, refused[0])
            if response.status_code == 200:
                acked.update(refused.pop(0))
            else:
                time.sleep(0.2)
        assert not refused, f"ingest did not resume: {response.status_code} {response.text}"
        assert sent_total(srv, key, "disk") == len(acked)

        srv.restart()  # nothing corrupted: the data directory opens and still agrees
        assert sent_total(srv, key, "disk") == len(acked)
        again = post(srv, key, batches[0] + batches[-1])
        assert again.status_code == 200 and again.json()["accepted"] == 0
    finally:
        srv.stop()


def test_a_read_only_disk_is_named_in_the_answer() -> None:
    """Remounting the data directory read-only under a running server is refused by the
    kernel (EBUSY: the engine holds files open for writing), so the read-only path is checked
    on the errors the engine and SQLite raise for it."""
    for exc in (
        OSError(errno.EROFS, os.strerror(errno.EROFS)),
        StorageUnavailable(
            "the metadata database metadata.sqlite3 cannot be used (attempt to write a readonly database)"
        ),
    ):
        error = storage_failure(exc)
        assert error.status == 503 and "read-only" in error.message, error.message
    other = storage_failure(RuntimeError("Code: 999. DB::Exception: something else"))
    assert other.status == 503 and "something else" in other.message
