"""The docs name everything users can use: metrics, breakdowns, widgets, settings, commands,
event fields; and they link only to what the repository holds."""

from __future__ import annotations

import re
from pathlib import Path

import click
import msgspec

from livereport.cli import main
from livereport.config import SETTINGS
from livereport.events import MATRIX, Channel, EventType, IncomingEvent, Smtp
from livereport.report.catalogue import DIMENSIONS, METRICS, WIDGETS

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")
EVENTS = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")


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


def _row(table_text: str, first_cell: str) -> list[str]:
    """The cells of the table row that starts with ``first_cell``."""
    for line in table_text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_cell:
            return cells
    raise AssertionError(f"docs/events.md has no table row for {first_cell}")


def test_event_page_describes_every_field_with_its_limits() -> None:
    incoming = msgspec.inspect.type_info(IncomingEvent)
    assert isinstance(incoming, msgspec.inspect.StructType)
    fields = [(f.name, f.type) for f in incoming.fields]
    smtp = msgspec.inspect.type_info(Smtp)
    assert isinstance(smtp, msgspec.inspect.StructType)
    fields += [(f"smtp.{f.name}", f.type) for f in smtp.fields]
    for name, kind in fields:
        row = " | ".join(_row(EVENTS, f"`{name}`"))
        for t in kind.types if isinstance(kind, msgspec.inspect.UnionType) else (kind,):
            for limit in ("max_length", "min_length", "ge", "le"):
                value = getattr(t, limit, None)
                assert value is None or str(value) in row, f"{name}: {limit} {value} not in {row}"


def test_event_page_matrix_is_the_one_of_the_code() -> None:
    section = EVENTS.split("\n## Types by channel", 1)[1].split("\n## ", 1)[0]
    channels = [c.value for c in Channel]
    header = _row(section, "type")
    assert header[2:] == [f"`{c}`" for c in channels]
    for kind in EventType:
        cells = _row(section, f"`{kind}`")[2:]
        shown = {c for c, cell in zip(channels, cells, strict=True) if cell == "✓"}
        assert shown == set(MATRIX[kind]), kind
        assert all(cell in ("✓", "—") for cell in cells), kind


def _anchors(markdown: str) -> set[str]:
    """GitHub's ids of a page's headings."""
    text = re.sub(r"```.*?```", "", markdown, flags=re.S)
    return {
        re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
        for h in re.findall(r"^#{1,6} (.+)$", text, re.M)
    }


def test_links_of_the_docs_stay_in_the_repository() -> None:
    """The docs stand on their own: every relative link names a file (and heading) of ours."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            found = (page.parent / path).resolve() if path else page
            assert found.is_relative_to(ROOT) and found.exists(), f"{page.name}: {target}"
            if anchor:
                assert anchor in _anchors(found.read_text(encoding="utf-8")), (
                    f"{page.name}: {target}"
                )
    assert "](docs/events.md)" in README
    assert "](events.md)" in REFERENCE
