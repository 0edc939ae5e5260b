"""Figures of the returned-mail classifier on the labelled corpus (tests/bounces/corpus/):
per source, in sample, and leave one source out.

    .venv/bin/python tests/bounces/scores.py [--misses SOURCE]

A source is a directory of the corpus (`generated`, `public-flufl`, `exim-real`…). The
classifier's wordings each name the sources they were learned from (`learned_from` of a
rule, of a format and of a notice wording); "leave one source out" scores each source with
every wording learned from it left out, so a source's figure there says how the rules
tuned on the other sources do on it. That figure, not the in-sample one, is the one to
quote (docs/bounces.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from livereport.bounces import rules, textbounce
from livereport.bounces.classify import classify_message

CORPUS = Path(__file__).resolve().parent / "corpus"


def labels() -> dict[str, dict[str, object]]:
    found: dict[str, dict[str, object]] = json.loads(
        (CORPUS / "labels.json").read_text(encoding="utf-8")
    )
    return found


def source_of(name: str) -> str:
    return name.split("/")[0]


@dataclass
class Figures:
    messages: int = 0
    detected: int = 0  # is_bounce as labelled
    bounces: int = 0
    reasons: int = 0  # reason as labelled, of the bounces
    hard: int = 0  # labelled hard
    hard_found: int = 0  # labelled hard and classified hard
    said_hard: int = 0  # classified hard (and a bounce)
    said_hard_right: int = 0

    @property
    def detection(self) -> float:
        return self.detected / self.messages if self.messages else 1.0

    @property
    def reason(self) -> float:
        return self.reasons / self.bounces if self.bounces else 1.0

    @property
    def hard_recall(self) -> float:
        return self.hard_found / self.hard if self.hard else 1.0

    @property
    def hard_precision(self) -> float:
        return self.said_hard_right / self.said_hard if self.said_hard else 1.0

    def add(self, other: Figures) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@contextmanager
def leaving_out(source: str | None) -> Iterator[tuple[rules.Rule, ...]]:
    """The classifier without the wordings learned from ``source`` (all of them if None):
    yields the qualification rules to classify with."""
    if source is None:
        yield rules.DEFAULT_RULES
        return
    saved = textbounce.FORMATS, textbounce.NOTICES
    textbounce.FORMATS = tuple(f for f in saved[0] if source not in f.learned_from)
    textbounce.NOTICES = tuple(n for n in saved[1] if source not in n.learned_from)
    try:
        yield tuple(r for r in rules.DEFAULT_RULES if source not in r.learned_from)
    finally:
        textbounce.FORMATS, textbounce.NOTICES = saved


def score(
    names: list[str], table: tuple[rules.Rule, ...], misses: list[str] | None = None
) -> Figures:
    known = labels()
    figures = Figures()
    for name in names:
        label = known[name]
        found = classify_message((CORPUS / name).read_bytes(), table)
        category = found.category.value if found.category and found.is_bounce else None
        figures.messages += 1
        figures.detected += found.is_bounce == label["is_bounce"]
        if label["is_bounce"]:
            figures.bounces += 1
            figures.reasons += found.reason == label["reason"]
        if label["category"] == "hard":
            figures.hard += 1
            figures.hard_found += category == "hard"
        if category == "hard":
            figures.said_hard += 1
            figures.said_hard_right += label["category"] == "hard"
        if misses is not None and (
            found.is_bounce != label["is_bounce"]
            or (label["is_bounce"] and found.reason != label["reason"])
        ):
            misses.append(
                f"{name}: labelled {label['reason'] if label['is_bounce'] else 'not a bounce'}, "
                f"classified {found.reason if found.is_bounce else 'not a bounce'} by {found.rule}"
            )
    return figures


def by_source(leave_out: bool) -> dict[str, Figures]:
    """Figures per source: in sample, or each source with its own wordings left out."""
    names: dict[str, list[str]] = {}
    for name in sorted(labels()):
        names.setdefault(source_of(name), []).append(name)
    result = {}
    for source, members in names.items():
        with leaving_out(source if leave_out else None) as table:
            result[source] = score(members, table)
    return result


def table(figures: dict[str, Figures]) -> list[str]:
    lines = [
        "| source | messages | bounces | detection | reason | hard recall | hard precision |",
        "| :--- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    total = Figures()
    for source, f in figures.items():
        total.add(f)
        lines.append(_row(source, f))
    lines.append(_row("**all**", total))
    return lines


def _row(source: str, f: Figures) -> str:
    return (
        f"| {source} | {f.messages} | {f.bounces} | {f.detection:.3f} | {f.reason:.3f} "
        f"| {f.hard_recall:.3f} | {f.hard_precision:.3f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--misses", metavar="SOURCE", help="list the misses of one source")
    args = parser.parse_args()
    if args.misses:
        misses: list[str] = []
        members = [n for n in sorted(labels()) if source_of(n) == args.misses]
        with leaving_out(None) as rows:
            score(members, rows, misses)
        print("\n".join(misses))
        return
    print("In sample:\n")
    print("\n".join(table(by_source(leave_out=False))))
    print("\nLeave one source out:\n")
    print("\n".join(table(by_source(leave_out=True))))


if __name__ == "__main__":
    sys.exit(main())
