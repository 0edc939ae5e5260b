"""Accuracy of the returned-mail classifier on our labelled corpus (tests/bounces/corpus/):
in sample and leave one source out (tests/bounces/scores.py), and the campaign each bounce
is attributed to.

Prints the figures; the thresholds are the measured ones minus a small margin.
"""

from __future__ import annotations

from scores import CORPUS, Figures, by_source, labels, table

from livereport.bounces.classify import classify_message

LABELS = labels()


def test_corpus_is_large_and_fully_labelled() -> None:
    files = {str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*.eml")}
    assert files == set(LABELS)
    assert len(LABELS) >= 600
    assert sum(1 for label in LABELS.values() if label["is_bounce"]) >= 500
    for source in {name.split("/")[0] for name in LABELS} - {"generated", "static"}:
        assert (CORPUS / source / "README").is_file(), f"{source} says nowhere where it comes from"


def _total(figures: dict[str, Figures]) -> Figures:
    total = Figures()
    for f in figures.values():
        total.add(f)
    return total


def test_figures_in_sample() -> None:
    figures = by_source(leave_out=False)
    print("\n" + "\n".join(table(figures)))
    total = _total(figures)
    # Measured 2026-12-03, 795 messages: 0.994, 0.980, 0.996, 0.926.
    assert total.detection >= 0.98
    assert total.hard_recall >= 0.96
    assert total.hard_precision >= 0.98
    assert total.reason >= 0.90


def test_figures_leaving_each_source_out() -> None:
    """Each source scored without the wordings learned from it: how rules tuned on the
    other sources do on it (the figure docs/bounces.md quotes)."""
    figures = by_source(leave_out=True)
    print("\n" + "\n".join(table(figures)))
    total = _total(figures)
    # Measured 2026-12-03: 0.991, 0.961, 0.996 (the bar: 0.95 for the first two).
    assert total.detection >= 0.98
    assert total.hard_recall >= 0.95
    assert total.hard_precision >= 0.98
    for source, f in figures.items():
        assert f.detection >= 0.9, source
        assert f.hard_precision >= 0.9, source


def test_bounces_are_attributed_to_their_campaign() -> None:
    attributed = right = 0
    for name, label in sorted(LABELS.items()):
        if label["campaign"] is None:
            continue
        attributed += 1
        found = classify_message((CORPUS / name).read_bytes())
        right += found.attribution.campaign == label["campaign"]
    print(f"\ncampaign attributed right: {right} of {attributed}")
    assert right / attributed >= 0.98
