"""CSV exports as a spreadsheet user reads them: rates and shares are fractions of 1 (as in
the JSON) rounded to four decimals, rows without a key carry the dashboard's names, and a
tab or widget that does not exist is a bad request naming the ones that do (issue 16)."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from conftest import post, start_app
from livereport.events import Channel
from livereport.report.catalogue import TABS, widgets_of

CAMPAIGN = "export-sale"


def _event(type_: str, channel: str = "email", **fields: Any) -> dict[str, Any]:
    return {
        "id": uuid.uuid4().hex,
        "time": datetime.now(UTC).isoformat(),
        "campaign": CAMPAIGN,
        "channel": channel,
        "type": type_,
        "profile": f"p-{uuid.uuid4().hex[:8]}",
        **fields,
    }


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A read client of a server where, without an execution, 3 emails were sent and 1 was
    delivered; in the execution "morning", 1 was sent; and 3 bounced for 3 reasons."""
    server = start_app(tmp_path_factory.mktemp("export") / "data")
    try:
        with server.client(server.key("ingest", "read")) as api:
            post(api, [_event("sent") for _ in range(3)] + [_event("delivered")])
            post(api, [_event("sent", execution="morning")])
            post(
                api,
                [
                    _event("bounce", smtp={"code": 550, "status": status, "text": "no"})
                    for status in ("5.1.1", "4.2.2", "5.7.1")
                ],
            )
            yield api
    finally:
        server.stop()


def _csv(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    return list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))


def _export(client: httpx.Client, **params: str) -> httpx.Response:
    return client.get(f"/v1/campaigns/{CAMPAIGN}/export.csv", params=params)


def _columns(rows: list[list[str]]) -> list[dict[str, str]]:
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_rates_are_fractions_with_four_decimals(client: httpx.Client) -> None:
    rows = _columns(_csv(_export(client, widget="email.statistics")))
    total = rows[-1]
    assert total["Execution"] == "Total"
    assert total["Sent"] == "4" and total["Delivered"] == "1"
    assert total["Delivery rate"] == "0.2500" and total["Bounce rate"] == "0.7500"
    assert total["Open rate"] == "0.0000"  # none opened: 0 of 1 delivered
    assert total["Click-to-open rate"] == ""  # nothing to divide by: no value, as in the JSON


def test_shares_are_fractions_with_four_decimals(client: httpx.Client) -> None:
    rows = _columns(_csv(_export(client, widget="email.bounce_reasons")))
    assert [row["Share"] for row in rows] == ["0.3333", "0.3333", "0.3333", "1.0000"]


def test_the_row_without_an_execution_is_named_as_on_the_dashboard(client: httpx.Client) -> None:
    rows = _columns(_csv(_export(client, widget="email.statistics")))
    assert [row["Execution"] for row in rows] == ["(no execution)", "morning", "Total"]
    assert rows[0]["Delivery rate"] == "0.3333"  # 1 of the 3 sent without an execution


def test_channels_are_named_as_on_the_dashboard(client: httpx.Client) -> None:
    rows = _columns(_csv(_export(client, widget="campaign.channels")))
    assert [row["Channel"] for row in rows] == [*(TABS[c] for c in Channel), "Total"]


def test_a_tab_export_rounds_as_the_widget_export(client: httpx.Client) -> None:
    tab = _csv(_export(client, tab="email"))
    widget = _csv(_export(client, widget="email.statistics"))
    start = tab.index(["Email statistics"]) + 1
    assert tab[start : start + len(widget)] == widget


@pytest.mark.parametrize("tab", ["emails", ""])
def test_an_unknown_tab_is_a_bad_request_naming_the_tabs(client: httpx.Client, tab: str) -> None:
    response = _export(client, tab=tab)
    assert response.status_code == 400
    assert response.json()["error"] == (
        f"tab: {tab!r} does not exist; expected one of {', '.join(TABS)}"
    )


def test_a_widget_of_another_tab_is_a_bad_request_naming_the_tabs_widgets(
    client: httpx.Client,
) -> None:
    response = _export(client, tab="email", widget="sms.statistics")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error.startswith("widget: 'sms.statistics' is not on the Email tab; expected one of")
    assert all(w.id in error for w in widgets_of("email"))


@pytest.mark.parametrize("widget", ["email.nothing", "nothing"])
def test_an_unknown_widget_is_a_bad_request(client: httpx.Client, widget: str) -> None:
    response = _export(client, widget=widget)
    assert response.status_code == 400
    assert response.json()["error"].startswith(f"widget: '{widget}' ")


def test_no_tab_is_the_campaign_tab(client: httpx.Client) -> None:
    rows = _csv(_export(client))
    assert rows[:2] == [["Campaign", CAMPAIGN], ["Tab", "Campaign"]]
