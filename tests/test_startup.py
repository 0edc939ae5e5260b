"""Start-up failures of `livereport serve` and `livereport demo` in child processes: each
ends at once with one line on stderr and status 1 (2 for bad usage), nothing half made in
the data directory, which works as before on the next start; and the data directory is
private to its owner (issue 16)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from conftest import Server, cli, free_port

#: Their subject is the server's process (how it starts and stops): fresh_server is a `livereport
#: serve` child process (conftest).
SERVER_PROCESS = True

#: Only to catch a hang (a start that fails used to hang past a minute), not a benchmark.
QUICK_S = 20


def start(
    command: str, data: Path | None, port: int | None = None, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run `livereport serve` (or `demo`) expecting it to fail: its result and its seconds."""
    args = [sys.executable, "-m", "livereport", command, "--port", str(port or free_port())]
    args += ["--data", str(data)] if data is not None else []
    began = time.monotonic()
    result = subprocess.run(
        args, capture_output=True, text=True, timeout=QUICK_S, env={**os.environ, **(env or {})}
    )
    return result, time.monotonic() - began


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got: {text!r}"
    return lines[0]


def failed(result: subprocess.CompletedProcess[str], seconds: float, status: int = 1) -> str:
    """The one line of a start-up failure, after checking how it ended."""
    assert result.returncode == status, (result.returncode, result.stderr)
    assert seconds < QUICK_S
    assert "Traceback" not in result.stderr
    return one_line(result.stderr)


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port another program listens on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


# a busy port


def test_a_busy_port_fails_at_once_every_time_and_the_data_works_after(
    tmp_path: Path, busy_port: int
) -> None:
    data = tmp_path / "data"
    cli("orgs", "create", "kept", data=data)
    key = cli("keys", "create", "--scope", "read", data=data).stdout.strip()
    before = sorted(p.name for p in data.iterdir())
    for command in ("serve", "serve", "serve", "demo", "demo"):
        result, seconds = start(command, data, busy_port)
        line = failed(result, seconds)
        assert line == f"livereport: port {busy_port} is in use; choose another with --port"
    assert sorted(p.name for p in data.iterdir()) == before
    server = Server(data).start()
    try:
        assert "kept" in cli("orgs", "list", data=data).stdout
        auth = {"Authorization": f"Bearer {key}"}
        response = httpx.get(f"{server.url}/v1/campaigns", headers=auth)
        assert response.status_code == 200, response.text
    finally:
        server.stop()


def test_a_busy_port_on_a_first_start_makes_nothing(tmp_path: Path, busy_port: int) -> None:
    data = tmp_path / "data"
    result, seconds = start("serve", data, busy_port)
    assert "in use" in failed(result, seconds)
    assert not data.exists()
    server = Server(data).start()  # the real first start, on a free port
    server.stop()
    assert (data / "first-start.txt").exists()


def test_a_host_not_of_this_machine_is_bad_usage(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = subprocess.run(
        [sys.executable, "-m", "livereport", "serve", "--data", str(data), "--host", "192.0.2.1"],
        capture_output=True,
        text=True,
        timeout=QUICK_S,
    )
    assert result.returncode == 2, result.stderr
    assert "--host" in result.stderr and "Traceback" not in result.stderr
    assert not data.exists()


# the data directory


def test_a_data_directory_already_served_is_refused(fresh_server: Server) -> None:
    result, seconds = start("serve", fresh_server.data)
    assert "already served by another process" in failed(result, seconds)
    assert httpx.get(f"{fresh_server.url}/healthz").status_code == 200


def test_a_data_directory_that_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "data"
    path.write_text("not a directory")
    result, seconds = start("serve", None, env={"LIVEREPORT_DATA": str(path)})
    line = failed(result, seconds)
    assert f"{path} is a file, not a directory" in line and "--data" in line
    assert path.read_text() == "not a directory"


def test_a_data_directory_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    result, seconds = start("serve", tmp_path / "file" / "data")
    assert "a part of its path is a file" in failed(result, seconds)


@contextmanager
def unwritable(data: Path) -> Iterator[None]:
    """``data`` closed to writes by this user: by its mode, or as root (who writes whatever
    the modes say) by the immutable flag of the file system."""
    if os.geteuid() != 0:
        data.chmod(0o500)
        try:
            yield
        finally:
            data.chmod(0o700)
        return
    chattr = shutil.which("chattr")
    made = (
        subprocess.run([chattr, "+i", str(data)], capture_output=True, text=True)
        if chattr
        else None
    )
    if made is None or made.returncode != 0:
        why = made.stderr.strip() if made is not None else "no chattr command"
        pytest.fail(
            f"as root only the immutable flag stops writes, and it cannot be set here: {why}"
        )
    assert chattr is not None
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(data)], check=True)


def test_a_data_directory_this_user_cannot_write(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    with unwritable(data):
        result, seconds = start("serve", data)
        line = failed(result, seconds)
        assert f"the data directory {data} is not writable by this user" in line, line
        assert list(data.iterdir()) == []


# settings


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"LIVEREPORT_RETENTION_DAYS": "abc"}, "LIVEREPORT_RETENTION_DAYS='abc' is not valid"),
        ({"LIVEREPORT_RETENTION_DAYS": "-1"}, "LIVEREPORT_RETENTION_DAYS=-1 is not valid"),
        ({"LIVEREPORT_MAX_PENDING_EVENTS": "0"}, "LIVEREPORT_MAX_PENDING_EVENTS=0 is not valid"),
        ({"LIVEREPORT_LOG_LEVEL": "verbose"}, "log level 'verbose' is not valid"),
        ({"LIVEREPORT_CLICKHOUSE": "nonsense"}, "LIVEREPORT_CLICKHOUSE='nonsense' is not valid"),
        ({"LIVEREPORT_DATABASE": "nonsense"}, "LIVEREPORT_DATABASE is not a PostgreSQL URL"),
    ],
)
@pytest.mark.parametrize("command", ["serve", "demo"])
def test_a_bad_setting_fails_before_anything_is_made(
    tmp_path: Path, command: str, env: dict[str, str], said: str
) -> None:
    data = tmp_path / "data"
    result, seconds = start(command, data, env=env)
    assert said in failed(result, seconds)
    assert not data.exists()


def test_an_unreachable_clickhouse_server(tmp_path: Path) -> None:
    env = {"LIVEREPORT_CLICKHOUSE": f"clickhouse://127.0.0.1:{free_port()}/livereport"}
    result, seconds = start("serve", tmp_path / "data", env=env)
    line = failed(result, seconds)
    assert "ClickHouse server at 127.0.0.1" in line and "LIVEREPORT_CLICKHOUSE" in line


def test_an_unreachable_postgresql_database(tmp_path: Path) -> None:
    env = {"LIVEREPORT_DATABASE": f"postgresql://livereport@127.0.0.1:{free_port()}/livereport"}
    result, seconds = start("serve", tmp_path / "data", env=env)
    line = failed(result, seconds)
    assert "PostgreSQL metadata database cannot be used" in line and "LIVEREPORT_DATABASE" in line


# file modes


def open_to_others(data: Path) -> list[str]:
    """Everything under ``data`` that users other than its owner may read or enter."""
    found = [data, *data.rglob("*")]
    return [
        f"{p} {stat.S_IMODE(p.lstat().st_mode):04o}"
        for p in found
        if not p.is_symlink() and p.lstat().st_mode & 0o077
    ]


def test_a_new_data_directory_is_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = Server(data).start()
    try:
        server.key("read")
        assert (data / "server.json").exists()
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        assert stat.S_IMODE((data / "metadata.sqlite3").stat().st_mode) == 0o600
        assert open_to_others(data) == []
    finally:
        server.stop()
    assert open_to_others(data) == []


def test_a_data_directory_made_by_a_command_is_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cli("orgs", "create", "acme", data=data)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in ("metadata.sqlite3", "cli.key", "first-start.txt"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name
    assert open_to_others(data) == []


def test_an_open_data_directory_is_closed_at_start_with_one_log_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cli("orgs", "create", "acme", data=data)
    data.chmod(0o755)
    (data / "metadata.sqlite3").chmod(0o644)
    (data / "cli.key").chmod(0o640)
    server = Server(data).start()
    try:
        lines = [line for line in server.log().splitlines() if "closed the data directory" in line]
        assert len(lines) == 1, server.log()
        assert "0755 -> 0700" in lines[0] and "metadata.sqlite3 0644 -> 0600" in lines[0]
        assert "cli.key 0640 -> 0600" in lines[0]
        assert open_to_others(data) == []
        assert "acme" in cli("orgs", "list", data=data).stdout
    finally:
        server.stop()


# stopping


def test_demo_stops_at_once_on_sigterm(tmp_path: Path) -> None:
    """Its stream thread ends as the server stops: a thread still running at exit used to
    crash chDB's shutdown, and the stream's retries used to keep it running."""
    port = free_port()
    log = (tmp_path / "demo.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "livereport",
            "demo",
            "--data",
            str(tmp_path / "data"),
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 60
        while b"Demo campaign" not in (tmp_path / "demo.log").read_bytes():
            assert process.poll() is None and time.monotonic() < deadline, (
                tmp_path / "demo.log"
            ).read_text()
            time.sleep(0.2)
        time.sleep(1.5)  # live traffic flows
        began = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=QUICK_S) == 0, (tmp_path / "demo.log").read_text()
        assert time.monotonic() - began < 5
        assert "demo stream stopped" not in (tmp_path / "demo.log").read_text()
    finally:
        if process.poll() is None:
            process.kill()
        log.close()
