"""The dashboard keeps no copy of the catalogue (issue 20, part 3): its JavaScript names no
metric and holds no colour, channel name or visualisation name of its own, and everything it
reads of GET /v1/catalogue is served."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any, cast

import httpx
import jsonschema
import pytest

from livereport.config import Config
from livereport.report.catalogue import (
    DEFAULT_PERIOD,
    DIMENSIONS,
    KEY_COLOURS,
    METRICS,
    PERIOD_NAMES,
    PERIODS,
    TABS,
    VIS_LABELS,
)
from livereport.store.base import Store
from livereport.store.metadata import Metadata
from livereport.web.app import create_app
from livereport.web.openapi import CATALOGUE_SCHEMA

STATIC = Path(__file__).resolve().parents[2] / "src" / "livereport" / "web" / "static"
JS = STATIC / "js"

#: Metric ids the JavaScript may write, and why: none is a fact of the catalogue.
ALLOWED_METRICS = {
    # The machine share beside the engagement switch reads these values out of a report, and
    # answers {share, machine, opens}.
    "engagement.js": {"machine_open_share", "machine_opens", "human_opens", "opens"},
    # The org totals page ranks by sent unless its address says otherwise, as GET /v1/totals.
    "totals.js": {"sent"},
}
#: The only file with colours: the chart chrome and the colours given to keys by rank.
COLOURED = "charts.js"


def _code(path: Path) -> str:
    """A script without its comments (a comment may show an example metric)."""
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"(?m)^\s*//.*$|\s//\s.*$", "", text)


SCRIPTS = {path.name: _code(path) for path in sorted(JS.glob("*.js"))}


def _named(code: str, name: str) -> bool:
    """Whether the code writes ``name`` as a string or as an object's key."""
    quoted = rf"[\"'`]{re.escape(name)}[\"'`]"
    key = rf"(?<![\w.$]){re.escape(name)}\s*:(?!:)"
    return re.search(f"{quoted}|{key}", code) is not None


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_the_script_names_no_metric_of_the_catalogue(script: str) -> None:
    named = {name for name in METRICS if _named(SCRIPTS[script], name)}
    assert named <= ALLOWED_METRICS.get(script, set()), (
        f"{script} names {sorted(named - ALLOWED_METRICS.get(script, set()))}: "
        "read them from the catalogue (catalogue.js)"
    )


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_the_script_holds_no_colour_name_or_label_of_the_catalogue(script: str) -> None:
    code = SCRIPTS[script]
    pairs = {
        **{name: m.label for name, m in METRICS.items()},
        **{name: d.label for name, d in DIMENSIONS.items()},
        **TABS,
        **{vis.value: label for vis, label in VIS_LABELS.items()},
    }
    copied = [
        f"{key}: {value}"
        for key, value in pairs.items()
        if re.search(rf"[\"']?\b{re.escape(key)}[\"']?\s*:\s*[\"']{re.escape(value)}[\"']", code)
    ]
    assert not copied, f"{script} copies {copied} of the catalogue"
    labels = [m.label for m in METRICS.values() if re.search(rf"[\"'`]{m.label}[\"'`]", code)]
    assert not labels, f"{script} writes the metric labels {labels}"
    colours = {m.colour for m in METRICS.values() if m.colour}
    colours |= {c for keys in KEY_COLOURS.values() for c in keys.values()}
    if script != COLOURED:
        found = set(re.findall(r"#[0-9a-fA-F]{6}\b", code))
        assert not found, f"{script} has colours {sorted(found)}; only {COLOURED} draws"
    for name, metric in METRICS.items():
        if metric.colour:
            paired = rf"\b{re.escape(name)}[\"']?\s*:\s*[\"']{metric.colour}"
            assert not re.search(paired, code, flags=re.I), f"{script} colours {name}"
    for dimension, keys in KEY_COLOURS.items():
        for key, colour in keys.items():
            paired = rf"\b{re.escape(key)}[\"']?\s*:\s*[\"']{colour}"
            assert not re.search(paired, code, flags=re.I), f"{script} colours {dimension} {key}"
    assert colours  # the catalogue has colours to look for


@pytest.fixture(scope="module")
def served() -> dict[str, Any]:
    """GET /v1/catalogue as the app answers it (it needs no store)."""
    app = create_app(Config.load(env={}), cast(Store, None), cast(Metadata, None))

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            return await client.get("/v1/catalogue")

    response = asyncio.run(get())
    assert response.status_code == 200, response.text
    return cast(dict[str, Any], response.json())


def test_the_served_catalogue_is_the_documented_one(served: dict[str, Any]) -> None:
    jsonschema.validate(served, CATALOGUE_SCHEMA)


def test_every_field_the_scripts_read_is_served(served: dict[str, Any]) -> None:
    read = {
        field
        for code in SCRIPTS.values()
        for field in re.findall(r"(?<![/\w])catalogue(?:\(\))?\.(?!js\b)(\w+)", code)
    }
    assert {"metrics", "tabs", "visualisations", "engagement", "variant_rates"} <= read
    assert read <= set(served), f"the scripts read {sorted(read - set(served))}, never served"
    # What catalogue.js and its users read of each entry.
    for name, metric in served["metrics"].items():
        assert {"label", "help", "format", "ratio", "colour", "lower_is_better"} <= set(metric)
        assert metric["colour"] == METRICS[name].colour
    assert all("colours" in d and "label" in d for d in served["dimensions"].values())
    assert {"values", "default", "channels"} <= set(served["engagement"])
    assert set(served["engagement"]["channels"]) <= set(TABS)
    assert {"metrics"} <= set(served["overview"])
    assert set(served["bucket_seconds"]) == set(served["buckets"])
    assert all({"id", "title", "widgets"} <= set(tab) for tab in served["tabs"])
    for widget in (w for tab in served["tabs"] for w in tab["widgets"]):
        assert set(widget["visualisations"]) <= set(served["visualisations"])


def test_a_rate_serves_its_ratio_for_the_change_of_a_kpi(served: dict[str, Any]) -> None:
    """period.js `changeNote` greys a rate's change by its denominator's volume."""
    assert "metric.ratio" in SCRIPTS["period.js"]
    for name, metric in METRICS.items():
        assert served["metrics"][name]["ratio"] == (list(metric.ratio) if metric.ratio else None)


def test_what_the_scripts_used_to_copy_is_served(served: dict[str, Any]) -> None:
    """The facts the scripts wrote before catalogue.js, now served in their place."""
    assert served["dimensions"]["bounce_category"]["colours"] == {
        "hard": METRICS["hard_bounces"].colour,
        "soft": METRICS["soft_bounces"].colour,
        "ignored": METRICS["ignored_bounces"].colour,
    }
    assert {t["id"]: t["title"] for t in served["tabs"]} == dict(TABS)
    assert served["engagement"]["default"] in served["engagement"]["values"]
    for channel, rates in served["variant_rates"].items():
        assert rates and set(rates) <= set(served["channels"][channel])
    lower = {name for name, m in served["metrics"].items() if m["lower_is_better"]}
    assert lower == {
        "bounce_rate",
        "hard_bounce_rate",
        "error_rate",
        "unsubscribe_rate",
        "complaint_rate",
    }


def test_the_preset_periods_are_named_by_the_catalogue_alone(served: dict[str, Any]) -> None:
    """The period pickers list the served presets; no page or script names one itself."""
    assert [p["id"] for p in served["periods"]] == list(PERIODS) == list(PERIOD_NAMES)
    assert served["default_period"] == DEFAULT_PERIOD
    pages = {path.name: path.read_text(encoding="utf-8") for path in STATIC.glob("html/*.html")}
    for name, text in {**SCRIPTS, **pages}.items():
        for preset in served["periods"]:
            assert f'"{preset["label"]}"' not in text and f">{preset['label']}<" not in text, (
                f"{name} names the period {preset['id']}"
            )
            assert f'"{preset["phrase"]}"' not in text, f"{name} phrases {preset['id']}"
        assert f'"{DEFAULT_PERIOD}"' not in text, f"{name} writes the default period"
