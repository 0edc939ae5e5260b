"""Alerts on a cluster: two app nodes judge the same campaign (a client that sends each
request to the next node spreads the events over both), yet each alert opens once, notifies
once and resolves once."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from alerts.alert_receivers import Receiver, http_receiver, wait_for
from alerts.test_alerts_http import Events, _alerts, _campaign, _put_rules
from cluster.backends import _use_backend, backend  # noqa: F401
from conftest import Server, post

BACKEND = "cluster"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with http_receiver() as found:
        yield found


@pytest.fixture(scope="module")
def nodes(_use_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:  # noqa: F811
    srv = Server(
        tmp_path_factory.mktemp("alerts-cluster") / "data",
        env={"LIVEREPORT_ALERT_PRIVATE_TARGETS": "1"},
    ).start()
    assert srv.peer is not None
    yield srv
    srv.stop()


def test_each_alert_fires_notifies_and_resolves_once_whichever_node_judges(
    nodes: Server, receiver: Receiver
) -> None:
    campaign = _campaign("cluster-storm")
    events = Events(campaign)
    with nodes.client(nodes.key("ingest", "read", "admin")) as client:
        _put_rules(
            client,
            [
                {
                    "id": "storm",
                    "metric": "hard_bounce_rate",
                    "channel": "email",
                    "above": 0.05,
                    "span_minutes": 5,
                    "min_volume": 50,
                    "severity": "critical",
                    "campaign": campaign,
                    "notify": [{"webhook": f"{receiver.url}/hook/{campaign}"}],
                    "pause": {"url": f"{receiver.url}/pause/{campaign}", "secret": "p" * 20},
                },
            ],
        )
        # Many small posts, alternating between the nodes: both see the storm grow.
        for _ in range(10):
            post(client, events.sends(20, delivered=False) + events.hard_bounces(4))
        wait_for(lambda: receiver.at(f"/hook/{campaign}"), "the webhook of the storm")
        # Both nodes judge again at their next periodic pass (10 s): nothing more may come.
        time.sleep(12)
        fired = [json.loads(r.body) for r in receiver.at(f"/hook/{campaign}")]
        assert [f["event"] for f in fired] == ["fired"]
        assert len(receiver.at(f"/pause/{campaign}")) == 1
        assert len(_alerts(client, campaign)) == 1
        # Enough healthy sends spread over both nodes resolve it, once.
        for _ in range(10):
            post(client, events.sends(200))
        wait_for(lambda: len(receiver.at(f"/hook/{campaign}")) >= 2, "the resolved notification")
        time.sleep(12)
        events_seen = [json.loads(r.body)["event"] for r in receiver.at(f"/hook/{campaign}")]
        assert events_seen == ["fired", "resolved"]
        found = _alerts(client, campaign)
        assert len(found) == 1 and found[0]["state"] == "resolved"
        assert (found[0]["value"], found[0]["volume"]) == (
            pytest.approx(fired[0]["value"]),
            fired[0]["volume"],
        )
