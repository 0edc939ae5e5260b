"""The README's commands work verbatim in a fresh clone (issue 16).

Every command of the README's ``sh`` blocks runs with bash in a temporary directory laid
out as a clone after ``./dev demo``: ``.venv`` (this checkout's), nothing on PATH from it,
no ``LIVEREPORT_*`` variables, HOME inside the directory, and ``livereport demo`` serving
``./.livereport`` as ``./dev demo`` leaves it. A command must exit 0 and print what the
``# …`` lines right below it show (``…`` stands for anything). Only the ports change:
8000 and 2525 become free ports, since other tests may run at once. ``returns smtp`` serves
until stopped: it must answer SMTP, then stop on SIGTERM.

What cannot run inside the test suite is checked as far as it can be: ``./dev demo`` is
setup (an install from PyPI and npm) then ``exec .venv/bin/livereport demo``, so the
served demo above is its second half, and the demo's default address must be the
README's; ``./dev test`` must run the linters and pytest of ``.venv``. Every ``./dev``
command the README names is one the script knows, and ``./dev`` alone prints its usage.
Commands shown with placeholders (the "Command line" block, ``livereport …`` in the text)
must name real commands, options and choices. The demo and the commands take about 25 s.
"""

from __future__ import annotations

import mailbox
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import httpx
import pytest

from conftest import free_port
from livereport.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
DEV = (ROOT / "dev").read_text(encoding="utf-8")
DEMO_CAMPAIGN = "demo-spring-sale"
#: Commands that serve until stopped.
SERVING = ("returns smtp",)


@dataclass(frozen=True)
class Command:
    section: str
    text: str
    #: What the ``# …`` lines right below the command show it prints.
    output: str | None


def _blocks(markdown: str, language: str | None) -> list[tuple[str, str]]:
    """(section, body) of each fenced block in ``language`` (None: blocks without one)."""
    found = []
    section = ""
    for match in re.finditer(r"^## ([^\n]+)$|^```(\w*)\n(.*?)^```", markdown, re.M | re.S):
        if match.group(1):
            section = match.group(1)
        elif (match.group(2) or None) == language:
            found.append((section, match.group(3)))
    return found


def _commands(section: str, body: str) -> list[Command]:
    """A block's commands: a line, its ``\\`` continuations and here-document, then the
    comment lines that show its output."""
    lines = body.splitlines()
    commands: list[Command] = []
    i = 0
    while i < len(lines):
        if not lines[i].strip() or lines[i].startswith("#"):
            i += 1
            continue
        text = [lines[i]]
        while text[-1].endswith("\\"):
            i += 1
            text.append(lines[i])
        heredoc = re.search(r"<<-?\s*'?(\w+)'?", "\n".join(text))
        if heredoc:
            while lines[i] != heredoc.group(1):
                i += 1
                text.append(lines[i])
        i += 1
        shown = []
        while i < len(lines) and lines[i].startswith("# "):
            shown.append(lines[i][2:])
            i += 1
        commands.append(Command(section, "\n".join(text), "\n".join(shown) or None))
    return commands


COMMANDS = [c for section, body in _blocks(README, "sh") for c in _commands(section, body)]


def _id(command: Command) -> str:
    return command.text.split("\n")[0].split("  #")[0].strip()[:70]


# the served demo, in a directory like a fresh clone


@dataclass
class Clone:
    path: Path
    env: dict[str, str]
    demo_url: str
    smtp_port: int

    def verbatim(self, text: str) -> str:
        """The command as run: the README's, on the ports of this test."""
        text = text.replace("http://127.0.0.1:8000", self.demo_url)
        return text.replace("127.0.0.1:2525", f"127.0.0.1:{self.smtp_port}")


DSN = (
    "From: MAILER-DAEMON@mx.example.com\nTo: <bounces@shop.example>\n"
    "Subject: Undelivered Mail Returned to Sender\nMessage-ID: <{id}@mx.example.com>\n"
    'MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
    "--B\nContent-Type: text/plain\n\nThe mail system could not deliver your message.\n\n"
    "--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.com\n\n"
    "Final-Recipient: rfc822; ana@example.com\nAction: failed\nStatus: 5.1.1\n\n--B--\n"
)


def _mailboxes(home: Path) -> None:
    """The mailboxes ``returns import ~/Maildir/.bounces returns.mbox`` reads."""
    (home / "Maildir").mkdir(parents=True)
    folder = mailbox.Maildir(home / "Maildir" / ".bounces", create=True)
    folder.add(DSN.format(id="readme-1"))
    box = mailbox.mbox(home.parent / "returns.mbox", create=True)
    box.add(DSN.format(id="readme-2"))
    box.close()


def _clean_env(home: Path) -> dict[str, str]:
    venv_bins = {str(ROOT / ".venv" / "bin"), str(Path(sys.prefix) / "bin")}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEREPORT_", "VIRTUAL_ENV"))}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if p not in venv_bins
    )
    return {**env, "HOME": str(home), "MAILGUN_SIGNING_KEY": "key-readme-test-secret"}


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clone]:
    """``.venv/bin/livereport demo`` (the end of ``./dev demo``) serving in a clone-like
    directory, once it says the demo campaign streams."""
    path = tmp_path_factory.mktemp("clone")
    (path / ".venv").symlink_to(ROOT / ".venv")
    home = path / "home"
    _mailboxes(home)
    env = _clean_env(home)
    port = free_port()
    log = path / "demo.log"
    with log.open("wb") as out:
        demo = subprocess.Popen(
            [".venv/bin/livereport", "demo", "--port", str(port)],
            cwd=path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        while f"{DEMO_CAMPAIGN} streams" not in " ".join(log.read_text().split()):
            assert demo.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield Clone(path, env, f"http://127.0.0.1:{port}", free_port())
    finally:
        demo.send_signal(signal.SIGTERM)
        status = demo.wait(timeout=60)
    assert status == 0, log.read_text()


def _run(clone: Clone, command: Command) -> subprocess.CompletedProcess[str]:
    """The command after the variables the commands before it in its block set; a command
    that sets a variable must set it to something."""
    before = COMMANDS[: COMMANDS.index(command)]
    script = [c.text for c in before if c.section == command.section and _sets(c)]
    script.append(clone.verbatim(command.text))
    if _sets(command):
        script.append(
            f'test -n "${_sets(command)}" || {{ echo "{command.text} set nothing" >&2; exit 1; }}'
        )
    return subprocess.run(
        ["bash", "-c", "set -eo pipefail\n" + "\n".join(script)],
        cwd=clone.path,
        env=clone.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _sets(command: Command) -> str | None:
    """The variable a command sets, as ``KEY=$(…)``."""
    match = re.match(r"^([A-Z_]+)=", command.text)
    return match.group(1) if match else None


def _serves(clone: Clone, command: Command) -> None:
    process = subprocess.Popen(
        ["bash", "-c", f"exec {clone.verbatim(command.text)}"],
        cwd=clone.path,
        env=clone.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.communicate()
            try:
                with socket.create_connection(("127.0.0.1", clone.smtp_port), timeout=5) as s:
                    assert s.recv(64).startswith(b"220 ")
                    break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline, "it never listened"
                time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr


def _dev_demo(clone: Clone, command: Command) -> None:
    assert 'exec "$VENV/bin/livereport" demo "$@"' in DEV  # what the clone fixture runs
    defaults = {p.name: p.default for p in main.commands["demo"].params}
    assert "http://127.0.0.1:8000" in command.text
    assert (defaults["host"], defaults["port"]) == ("127.0.0.1", 8000)
    assert httpx.get(clone.demo_url, follow_redirects=True).status_code == 200  # sign-in page
    assert (clone.path / ".livereport" / "first-start.txt").exists()


def _dev_test() -> None:
    for tool in ('"$VENV/bin/ruff" check', '"$VENV/bin/mypy"', 'exec "$VENV/bin/pytest"'):
        assert tool in DEV, tool
    for tool in ("ruff", "mypy", "pytest"):
        assert (ROOT / ".venv" / "bin" / tool).exists(), tool


@pytest.mark.parametrize("command", COMMANDS, ids=_id)
def test_each_command_of_the_readme_works_verbatim(clone: Clone, command: Command) -> None:
    if command.text.startswith("./dev demo"):
        _dev_demo(clone, command)
    elif command.text.startswith("./dev test"):
        _dev_test()
    elif any(f"livereport {name}" in command.text for name in SERVING):
        _serves(clone, command)
    else:
        result = _run(clone, command)
        assert result.returncode == 0, f"{command.text}\n{result.stderr}"
        assert "Traceback" not in result.stderr
        if command.output is not None:
            pattern = ".+".join(re.escape(part) for part in command.output.split("…"))
            assert re.fullmatch(pattern, result.stdout.strip(), re.S), (
                command.output,
                result.stdout,
            )
        elif not _sets(command):
            assert (result.stdout + result.stderr).strip(), f"{command.text} said nothing"


# ./dev


def _dev_commands() -> set[str]:
    return set(re.findall(r"^  (\w+)\)", DEV, re.M))


def test_every_dev_command_the_readme_names_exists() -> None:
    named = set(re.findall(r"\./dev (\w+)", README))
    assert named <= _dev_commands(), named - _dev_commands()


def test_dev_alone_prints_its_usage() -> None:
    result = subprocess.run([str(ROOT / "dev")], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    for name in _dev_commands():
        assert f"./dev {name}" in result.stdout, name


# commands shown with placeholders


def _synopses() -> list[str]:
    block = next(body for section, body in _blocks(README, None) if section == "Command line")
    inline = re.findall(r"`((?:\.venv/bin/)?livereport [^`]+)`", README)
    return [*block.splitlines(), *(" ".join(s.split()) for s in inline)]


def _choices(param: click.Parameter | None) -> list[str] | None:
    if param is not None and isinstance(param.type, click.Choice):
        return [str(c) for c in param.type.choices]
    return None


def _check_synopsis(command: click.Command, words: list[str], line: str) -> None:
    """The words after the command's name: options it has, choices among its own."""
    if isinstance(command, click.Group):
        assert words, f"{line}: names a group, not a command"
        for name in words[0].split("|"):
            assert name in command.commands, f"{line}: no command {name!r}"
            _check_synopsis(command.commands[name], words[1:], line)
        return
    options = {o: p for p in command.params for o in p.opts if o.startswith("-")}
    positional = next(
        (c for p in command.params if (c := _choices(p)) and p not in options.values()), None
    )
    value_of: click.Parameter | None = None  # the option the word is the value of
    for word in (w.strip("[]()") for w in words):
        if word.startswith("--"):
            assert word in options, f"{line}: {command.name} has no {word}"
            option = options[word]
            value_of = None if isinstance(option, click.Option) and option.is_flag else option
            continue
        allowed = (
            _choices(value_of) if value_of is not None else positional if "|" in word else None
        )
        placeholder = word != word.lower() or word == "|"  # FILE, EMAIL, FILE.json|FILE.csv
        if allowed is not None and not placeholder:
            assert set(word.split("|")) <= set(allowed), f"{line}: {word!r} is not one of {allowed}"
        assert value_of is not None or "|" not in word or placeholder or positional, line
        value_of = None


@pytest.mark.parametrize("line", _synopses())
def test_each_command_shown_with_placeholders_exists_with_its_options(line: str) -> None:
    words = line.split()
    assert words[0] in ("livereport", ".venv/bin/livereport"), line
    _check_synopsis(main, words[1:], line)
