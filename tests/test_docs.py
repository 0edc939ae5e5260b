"""The docs name everything users can use: metrics, breakdowns, widgets, settings, commands."""

from __future__ import annotations

from pathlib import Path

import click

from livereport.cli import main
from livereport.config import SETTINGS
from livereport.report.catalogue import DIMENSIONS, METRICS, WIDGETS

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_reference_names_every_metric_dimension_widget_and_setting() -> None:
    missing = [
        name
        for name in [*METRICS, *DIMENSIONS, *(w.id for w in WIDGETS), *(s.env for s in SETTINGS)]
        if f"`{name}`" not in REFERENCE
    ]
    assert not missing, f"docs/reference.md does not mention {missing}"


def _commands(group: click.Group, prefix: str = "") -> list[str]:
    found = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _commands(command, f"{prefix}{name} ")
        else:
            found.append(f"{prefix}{name}")
    return found


def test_readme_names_every_command() -> None:
    for command in _commands(main):
        words = command.split()
        assert any(
            line.startswith(f"livereport {words[0]}") and all(w in line for w in words)
            for line in README.splitlines()
        ), f"README does not show `livereport {command}`"


def test_readme_starts_with_the_two_commands() -> None:
    head = README.split("\n## ", 1)[0]
    assert "./dev demo" in head and "./dev test" in head
    assert "./dev test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
