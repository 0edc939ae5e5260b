"""Alerts end to end: rules saved over HTTP, real traffic posted to /v1/events, and what
reaches real receivers (HTTP webhooks, a Slack-format hook, an SMTP server, a pause call).

Each scenario has a campaign of its own and rules narrowed to it, so that the expected
numbers are counts of the events the test itself posted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from alerts.alert_receivers import Receiver, http_receiver, smtp_receiver, wait_for
from conftest import Server, free_port, post, start_app
from livereport.simulate import IncidentKind, incident_batch

PAUSE_SECRET = "pause-" + "s" * 20


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with http_receiver() as found:
        yield found


@pytest.fixture(scope="module")
def smtp_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def mailbox(smtp_port: int) -> Iterator[Any]:
    with smtp_receiver(smtp_port) as found:
        yield found


@pytest.fixture(scope="module")
def alert_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_app(
        tmp_path_factory.mktemp("alerts") / "data",
        {"LIVEREPORT_ALERT_PRIVATE_TARGETS": "1"},
    )
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def admin(alert_server: Server) -> Iterator[httpx.Client]:
    with alert_server.client(alert_server.key("ingest", "read", "admin")) as client:
        yield client


def _campaign(name: str) -> str:
    return f"{name}-{secrets.token_hex(3)}"


class Events:
    """Email events of one campaign, a few seconds old, with unique ids."""

    def __init__(self, campaign: str) -> None:
        self.campaign = campaign
        self.count = 0

    def make(self, type_: str, n: int, ago: float = 5, **fields: Any) -> list[dict[str, Any]]:
        when = (datetime.now(UTC) - timedelta(seconds=ago)).isoformat().replace("+00:00", "Z")
        found = []
        for _ in range(n):
            self.count += 1
            found.append(
                {
                    "id": f"{self.campaign}-{self.count}",
                    "time": when,
                    "campaign": self.campaign,
                    "type": type_,
                    "channel": "email",
                    "profile": f"p-{self.count}",
                    **fields,
                }
            )
        return found

    def sends(
        self, n: int, domain: str = "gmail.com", delivered: bool = True, ago: float = 5
    ) -> list[dict[str, Any]]:
        found = self.make("sent", n, ago, recipient_domain=domain)
        if delivered:
            found += self.make("delivered", n, ago, recipient_domain=domain)
        return found

    def hard_bounces(
        self, n: int, domain: str = "outlook.com", ago: float = 5
    ) -> list[dict[str, Any]]:
        smtp = {"status": "5.1.1", "code": 550, "diagnostic": "550 5.1.1 User unknown"}
        return self.make("bounce", n, ago, bounce="hard", smtp=smtp, recipient_domain=domain)


def _alerts(client: httpx.Client, campaign: str, state: str = "all") -> list[dict[str, Any]]:
    response = client.get("/v1/alerts", params={"campaign": campaign, "state": state})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def _put_rules(client: httpx.Client, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    response = client.put("/v1/alert-rules", json=rules)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def _signed(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_a_bounce_storm_fires_once_notifies_everywhere_pauses_and_resolves(
    admin: httpx.Client, receiver: Receiver, mailbox: Any, smtp_port: int
) -> None:
    campaign = _campaign("storm")
    events = Events(campaign)
    smtp = {
        "host": "127.0.0.1",
        "port": smtp_port,
        "security": "none",
        "sender": "alerts@example.com",
    }
    assert admin.put("/v1/alert-smtp", json=smtp).status_code == 200
    _put_rules(
        admin,
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
                "notify": [
                    {"webhook": f"{receiver.url}/hook/{campaign}"},
                    {"slack": f"{receiver.url}/slack/{campaign}"},
                    {"email": "ops@example.com"},
                ],
                "pause": {"url": f"{receiver.url}/pause/{campaign}", "secret": PAUSE_SECRET},
            },
            {
                "id": "domain",
                "metric": "bounce_rate",
                "channel": "email",
                "above": 0.2,
                "dimension": "recipient_domain",
                "span_minutes": 5,
                "min_volume": 20,
                "severity": "warning",
                "campaign": campaign,
            },
        ],
    )
    secret = admin.get("/v1/alert-secret").json()["secret"]

    # Healthy traffic crosses nothing.
    post(admin, events.sends(50, "gmail.com") + events.sends(50, "outlook.com"))
    # 100 more sends to outlook.com, 30 of them bounce hard: 30 / 200 sent = 15 % overall,
    # 30 / 150 = 20 % at outlook.com (not above 0.2), then 6 more bounces make it 36 / 150.
    post(admin, events.sends(100, "outlook.com", delivered=False) + events.hard_bounces(36))
    hooks = wait_for(lambda: receiver.at(f"/hook/{campaign}"), "the webhook of the storm")
    fired = json.loads(hooks[0].body)
    assert hooks[0].headers["x-livereport-signature"] == _signed(hooks[0].body, secret)
    assert hooks[0].headers["x-livereport-delivery"]
    assert fired["event"] == "fired" and fired["state"] == "firing"
    assert (fired["rule"], fired["campaign"], fired["channel"]) == ("storm", campaign, "email")
    assert fired["severity"] == "critical"
    assert fired["value"] == pytest.approx(36 / 200) and fired["volume"] == 200
    for name in ("id", "fired_at", "resolved_at", "acknowledged_by"):
        assert name in fired

    slack = wait_for(lambda: receiver.at(f"/slack/{campaign}"), "the Slack message")
    text = json.loads(slack[0].body)["text"]
    assert campaign in text and "18" in text  # 18.00 %
    mail = wait_for(lambda: mailbox.messages, "the alert email")
    assert campaign in str(mail[0]["Subject"]) and mailbox.recipients[0] == ["ops@example.com"]
    pause = wait_for(lambda: receiver.at(f"/pause/{campaign}"), "the pause call")
    assert pause[0].headers["x-livereport-signature"] == _signed(pause[0].body, PAUSE_SECRET)
    paused = json.loads(pause[0].body)
    assert (paused["action"], paused["campaign"], paused["channel"]) == ("pause", campaign, "email")
    assert (paused["alert"]["rule"], paused["alert"]["campaign"]) == ("storm", campaign)
    domain = wait_for(
        lambda: [a for a in _alerts(admin, campaign, "firing") if a["rule"] == "domain"],
        "the recipient-domain alert",
    )
    assert domain[0]["key"] == "outlook.com" and domain[0]["value"] == pytest.approx(36 / 150)

    # More bounces while it fires open nothing new; the pause is called once.
    post(
        admin, events.sends(10, "gmail.com", delivered=False) + events.hard_bounces(5, "gmail.com")
    )
    assert [a["rule"] for a in _alerts(admin, campaign)].count("storm") == 1
    audit = admin.get("/v1/admin/audit").json()
    entries = audit["entries"] if isinstance(audit, dict) else audit
    assert any(e["action"] == "alert.pause" and campaign in e["target"] for e in entries)

    # Healthy volume brings the rate under the threshold by the margin: resolved, notified.
    post(admin, events.sends(900, "gmail.com"))
    resolved = wait_for(
        lambda: [
            json.loads(r.body)
            for r in receiver.at(f"/hook/{campaign}")
            if json.loads(r.body)["event"] == "resolved"
        ],
        "the resolved notification",
    )
    assert resolved[0]["state"] == "resolved" and resolved[0]["resolved_at"]
    assert resolved[0]["resolved_value"] == pytest.approx(41 / 1110)
    assert len(receiver.at(f"/pause/{campaign}")) == 1
    storm = [a for a in _alerts(admin, campaign) if a["rule"] == "storm"]
    assert len(storm) == 1 and storm[0]["state"] == "resolved"


def test_a_failing_receiver_is_retried_with_one_delivery_id(
    admin: httpx.Client, receiver: Receiver
) -> None:
    campaign = _campaign("complaints")
    events = Events(campaign)
    _put_rules(
        admin,
        [
            {
                "id": "complaints",
                "metric": "complaint_rate",
                "channel": "email",
                "above": 0.003,
                "span_minutes": 5,
                "min_volume": 100,
                "severity": "warning",
                "campaign": campaign,
                "notify": [{"webhook": f"{receiver.url}/fail-2/{campaign}"}],
            },
        ],
    )
    post(admin, events.sends(1000) + events.make("spam_complaint", 10))
    path = f"/fail-2/{campaign}"
    tries = wait_for(lambda: len(receiver.at(path)) >= 3 and receiver.at(path), "three tries")
    assert len({r.headers["x-livereport-delivery"] for r in tries}) == 1
    assert len({r.body for r in tries}) == 1
    fired = json.loads(tries[0].body)
    assert fired["value"] == pytest.approx(10 / 1000) and fired["volume"] == 1000
    log = wait_for(
        lambda: [
            d
            for d in admin.get("/v1/alert-deliveries", params={"alert": fired["id"]}).json()
            if d["state"] == "delivered"
        ],
        "the delivery log entry",
    )
    assert log[0]["attempts"] == 3 and log[0]["status"] == 200


def test_a_stall_fires_and_a_delivery_resolves_it(admin: httpx.Client) -> None:
    campaign = _campaign("stall")
    events = Events(campaign)
    _put_rules(
        admin,
        [
            {
                "id": "stall",
                "metric": "stall",
                "channel": "email",
                "span_minutes": 5,
                "min_volume": 50,
                "severity": "critical",
                "campaign": campaign,
            },
        ],
    )
    post(admin, events.sends(49, delivered=False))
    post(admin, events.sends(1, delivered=False))
    fired = wait_for(lambda: _alerts(admin, campaign, "firing"), "the stall alert")
    assert (fired[0]["rule"], fired[0]["value"], fired[0]["volume"]) == ("stall", 0, 50)
    post(admin, events.make("delivered", 1))
    wait_for(lambda: not _alerts(admin, campaign, "firing"), "the stall to resolve")
    assert _alerts(admin, campaign)[0]["resolved_value"] == 1


def test_a_hanging_receiver_blocks_neither_ingest_nor_other_receivers(
    admin: httpx.Client, receiver: Receiver
) -> None:
    campaign = _campaign("hang")
    events = Events(campaign)
    _put_rules(
        admin,
        [
            {
                "id": "hang",
                "metric": "hard_bounce_rate",
                "channel": "email",
                "above": 0.05,
                "span_minutes": 5,
                "min_volume": 50,
                "severity": "critical",
                "campaign": campaign,
                "notify": [
                    {"webhook": f"{receiver.url}/hang/{campaign}"},
                    {"webhook": f"{receiver.url}/after-hang/{campaign}"},
                ],
            },
        ],
    )
    post(admin, events.sends(100, delivered=False) + events.hard_bounces(20))
    wait_for(receiver.holding.is_set, "the hanging receiver to be called")
    wait_for(lambda: receiver.at(f"/after-hang/{campaign}"), "the other receiver, meanwhile")
    answer = post(admin, events.sends(100))
    assert answer["accepted"] == 200 and not receiver.release.is_set()
    receiver.release.set()


def test_acknowledging_names_who_and_viewers_cannot(
    alert_server: Server, admin: httpx.Client
) -> None:
    campaign = _campaign("ack")
    events = Events(campaign)
    _put_rules(
        admin,
        [
            {
                "id": "ack",
                "metric": "errors",
                "channel": "email",
                "above": 2,
                "span_minutes": 5,
                "min_volume": 0,
                "severity": "info",
                "campaign": campaign,
            },
        ],
    )
    post(admin, events.make("error", 3, reason="Template failed"))
    alert = wait_for(lambda: _alerts(admin, campaign, "firing"), "the error alert")[0]
    assert (alert["value"], alert["volume"]) == (3, 3)
    with alert_server.client(alert_server.key("read")) as reader:
        refused = reader.post(f"/v1/alerts/{alert['id']}/ack")
        assert refused.status_code == 403, refused.text
        assert reader.get("/v1/alerts", params={"campaign": campaign}).status_code == 200
    acked = admin.post(f"/v1/alerts/{alert['id']}/ack")
    assert acked.status_code == 200, acked.text
    assert acked.json()["acknowledged_by"].startswith("key ")
    assert admin.post("/v1/alerts/999999/ack").status_code == 404
    assert _alerts(admin, campaign)[0]["acknowledged_by"] == acked.json()["acknowledged_by"]


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        (
            {"metric": "bounce_ratio", "channel": "email", "above": 0.1},
            "not a metric of the catalogue",
        ),
        ({"metric": "bounce_rate", "channel": "email", "above": 1.5}, "could never be exceeded"),
        ({"metric": "bounce_rate", "channel": "email", "below": 0}, "could never be undercut"),
        ({"metric": "errors", "channel": "email", "below": -1}, "could never be undercut"),
        (
            {"metric": "bounce_rate", "channel": "email", "above": 0.1, "below": 0.2},
            "exactly one of above or below",
        ),
        ({"metric": "open_rate", "channel": "sms", "above": 0.1}, "does not apply to sms"),
        ({"metric": "stall", "channel": "email", "above": 1}, "a stall has no threshold"),
        (
            {
                "metric": "bounce_rate",
                "channel": "email",
                "above": 0.1,
                "notify": [{"webhook": "ftp://example.com/x"}],
            },
            "http or https",
        ),
        (
            {"metric": "bounce_rate", "channel": "email", "above": 0.1, "notify": [{"pager": "x"}]},
            "expected one of",
        ),
        (
            {"metric": "bounce_rate", "channel": "email", "above": 0.1, "span_minutes": 0},
            "span_minutes",
        ),
        (
            {"metric": "bounce_rate", "channel": "email", "above": 0.1, "severity": "panic"},
            "severity",
        ),
        (
            {"metric": "bounce_rate", "channel": "email", "above": 0.1, "key": "gmail.com"},
            "needs the dimension",
        ),
    ],
)
def test_bad_rules_are_refused_with_what_is_expected(
    admin: httpx.Client, rule: dict[str, Any], says: str
) -> None:
    before = admin.get("/v1/alert-rules").json()
    response = admin.put("/v1/alert-rules", json=[{"id": "bad", **rule}])
    assert response.status_code == 400, response.text
    assert says in response.json()["error"] and "rule 0 ('bad')" in response.json()["error"]
    assert admin.get("/v1/alert-rules").json() == before


def test_private_targets_are_refused_unless_the_setting_allows_them(server: Server) -> None:
    with server.client(server.key("admin", "read")) as client:
        for url in (
            "http://127.0.0.1:9/x",
            "http://[::1]/x",
            "http://10.1.2.3/x",
            "http://169.254.169.254/latest/meta-data",
            "http://localhost/x",
        ):
            response = client.put(
                "/v1/alert-rules",
                json=[
                    {
                        "id": "ssrf",
                        "metric": "bounce_rate",
                        "channel": "email",
                        "above": 0.1,
                        "notify": [{"webhook": url}],
                    },
                ],
            )
            assert response.status_code == 400, (url, response.text)
            assert "alert_private_targets" in response.json()["error"], response.text
        smtp = {"host": "127.0.0.1", "port": 25, "security": "none", "sender": "a@example.com"}
        response = client.put("/v1/alert-smtp", json=smtp)
        assert response.status_code == 400 and "alert_private_targets" in response.json()["error"]


def test_viewers_read_rules_without_their_credentials(
    alert_server: Server, admin: httpx.Client, receiver: Receiver
) -> None:
    campaign = _campaign("redact")
    _put_rules(
        admin,
        [
            {
                "id": "r",
                "metric": "bounce_rate",
                "channel": "email",
                "above": 0.1,
                "campaign": campaign,
                "notify": [{"slack": f"{receiver.url}/services/T0/B0/SECRET"}],
                "pause": {"url": f"{receiver.url}/pause", "secret": PAUSE_SECRET},
            },
        ],
    )
    with alert_server.client(alert_server.key("read")) as reader:
        shown = reader.get("/v1/alert-rules")
        assert shown.status_code == 200
        assert "SECRET" not in shown.text and PAUSE_SECRET not in shown.text
        assert reader.put("/v1/alert-rules", json=[]).status_code == 403
    assert "SECRET" in admin.get("/v1/alert-rules").text


def test_an_org_without_rules_gets_the_defaults(server: Server) -> None:
    with server.client(server.key("read", org=None)) as client:
        rules = client.get("/v1/alert-rules").json()
    by_metric = {(r["metric"], r["severity"]): r for r in rules}
    assert by_metric[("complaint_rate", "critical")]["above"] == 0.003
    assert by_metric[("hard_bounce_rate", "critical")]["above"] == 0.05
    assert any(r["metric"] == "stall" for r in rules)


def test_the_test_command_sends_a_sample_to_each_target(
    admin: httpx.Client, receiver: Receiver
) -> None:
    campaign = _campaign("sample")
    _put_rules(
        admin,
        [
            {
                "id": "sample",
                "metric": "bounce_rate",
                "channel": "email",
                "above": 0.1,
                "campaign": campaign,
                "notify": [{"webhook": f"{receiver.url}/sample/{campaign}"}],
            },
        ],
    )
    response = admin.post("/v1/alert-rules/sample/test")
    assert response.status_code == 200, response.text
    assert response.json()["deliveries"][0]["ok"] is True
    got = receiver.at(f"/sample/{campaign}")
    assert len(got) == 1 and json.loads(got[0].body)["event"] == "test"
    assert admin.post("/v1/alert-rules/nope/test").status_code == 404


def test_the_default_rules_catch_the_simulators_incidents(alert_server: Server) -> None:
    """An org that never saved rules: the simulator's storm, spike and stall, posted through
    the API, open the default alerts with the rates counted from the posted events."""
    alert_server.create_org("defaults-org")
    now = datetime.now(UTC) - timedelta(seconds=2)
    batches = {
        kind: (campaign, incident_batch(kind, campaign=campaign, sends=sends, now=now))
        for kind, campaign, sends in (
            (IncidentKind.BOUNCE_STORM, _campaign("sim-storm"), 200),
            (IncidentKind.COMPLAINT_SPIKE, _campaign("sim-spike"), 1000),
            (IncidentKind.STALL, _campaign("sim-stall"), 200),
        )
    }

    def count(events: list[dict[str, Any]], type_: str, **fields: str) -> int:
        return sum(
            1
            for e in events
            if e["type"] == type_ and all(e.get(k) == v for k, v in fields.items())
        )

    with alert_server.client(alert_server.key("ingest", "read", org="defaults-org")) as client:
        for _, events in batches.values():
            post(client, events)
        storm_campaign, storm = batches[IncidentKind.BOUNCE_STORM]
        spike_campaign, spike = batches[IncidentKind.COMPLAINT_SPIKE]
        stall_campaign, stall = batches[IncidentKind.STALL]

        def rules_of(campaign: str, expected: set[str]) -> dict[str, dict[str, Any]]:
            found = {a["rule"]: a for a in _alerts(client, campaign, "firing")}
            return found if expected <= set(found) else {}

        found = wait_for(
            lambda: rules_of(
                storm_campaign, {"hard-bounce-rate-critical", "hard-bounce-rate-warning"}
            ),
            "the storm's alerts",
        )
        sent = count(storm, "sent")
        assert found["hard-bounce-rate-critical"]["value"] == pytest.approx(
            count(storm, "bounce", bounce="hard") / sent
        )
        assert found["hard-bounce-rate-critical"]["volume"] == sent
        found = wait_for(
            lambda: rules_of(spike_campaign, {"complaint-rate-critical", "complaint-rate-warning"}),
            "the spike's alerts",
        )
        delivered = count(spike, "delivered")
        assert found["complaint-rate-critical"]["value"] == pytest.approx(
            count(spike, "spam_complaint") / delivered
        )
        assert found["complaint-rate-critical"]["volume"] == delivered
        found = wait_for(lambda: rules_of(stall_campaign, {"email-stall"}), "the stall's alert")
        assert (found["email-stall"]["value"], found["email-stall"]["volume"]) == (
            0,
            count(stall, "sent"),
        )
        assert set(found) == {"email-stall"}


def test_a_rule_with_a_baseline_judges_the_change_against_the_campaigns_own_past(
    admin: httpx.Client,
) -> None:
    jumped, steady = _campaign("jump"), _campaign("steady")
    _put_rules(
        admin,
        [
            {
                "id": "jump",
                "metric": "bounce_rate",
                "channel": "email",
                "above": 0.1,
                "baseline_minutes": 30,
                "span_minutes": 5,
                "min_volume": 50,
                "severity": "warning",
            },
        ],
    )
    # 15 minutes ago: 2 % bounced at one, 15 % at the other; now 20 % at both.
    before, now = 15 * 60, 5
    first, second = Events(jumped), Events(steady)
    post(
        admin,
        [
            *first.sends(100, delivered=False, ago=before),
            *first.hard_bounces(2, ago=before),
            *second.sends(100, delivered=False, ago=before),
            *second.hard_bounces(15, ago=before),
            *first.sends(100, delivered=False, ago=now),
            *first.hard_bounces(20, ago=now),
            *second.sends(100, delivered=False, ago=now),
            *second.hard_bounces(20, ago=now),
        ],
    )
    fired = wait_for(lambda: _alerts(admin, jumped, "firing"), "the jump's alert")
    assert fired[0]["value"] == pytest.approx(0.2) and fired[0]["baseline"] == pytest.approx(0.02)
    assert fired[0]["volume"] == 100
    # Judged in the same pass as the jump (one insert): a rise of 5 points stays quiet.
    assert _alerts(admin, steady) == []


def test_simulate_with_an_incident_makes_the_default_alert_fire(alert_server: Server) -> None:
    alert_server.create_org("simulated-org")
    key = alert_server.key("ingest", "read", org="simulated-org")
    campaign = _campaign("simulated-storm")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "livereport",
            "simulate",
            "--url",
            alert_server.url,
            "--key",
            key,
            "--campaign",
            campaign,
            "--channel",
            "email",
            "--rate",
            "300",
            "--duration",
            "15",
            "--incident",
            "bounce-storm:start=0,duration=1h",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    with alert_server.client(key) as client:
        fired = wait_for(
            lambda: [
                a
                for a in _alerts(client, campaign, "firing")
                if a["rule"] == "hard-bounce-rate-critical"
            ],
            "the storm's alert",
        )
        totals = client.get(f"/v1/campaigns/{campaign}/totals", params={"channel": "email"}).json()
    # The simulator's bounces arrive after their sends: the alert fired on the first minutes
    # that crossed the line; the storm's share (40 % of sends) is far above it.
    assert fired[0]["value"] > 0.05 and totals["metrics"]["hard_bounce_rate"] > 0.2


def test_simulate_refuses_an_incident_it_does_not_know(alert_server: Server) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "livereport",
            "simulate",
            "--url",
            alert_server.url,
            "--key",
            "x",
            "--incident",
            "meteor-strike",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert "meteor-strike" in run.stderr and "bounce-storm, complaint-spike, stall" in run.stderr


def test_metrics_count_passes_alerts_and_deliveries(
    alert_server: Server, admin: httpx.Client
) -> None:
    text = httpx.get(f"{alert_server.url}/metrics").text
    assert "# TYPE livereport_alert_pass_seconds histogram" in text
    assert 'livereport_alerts_total{event="fired",severity="critical"}' in text
    assert 'livereport_alert_deliveries_total{kind="webhook",outcome="delivered"}' in text
    assert 'livereport_alert_deliveries_total{kind="webhook",outcome="retry"}' in text


def test_a_count_below_a_number_fires_when_a_campaign_falls_silent(admin: httpx.Client) -> None:
    campaign = _campaign("silent")
    events = Events(campaign)
    _put_rules(
        admin,
        [
            {
                "id": "silence",
                "metric": "sent",
                "channel": "email",
                "below": 1,
                "span_minutes": 1,
                "severity": "warning",
                "campaign": campaign,
            },
        ],
    )
    # Sends of two minutes ago: the span (the current minute) holds none.
    post(admin, events.sends(2, delivered=False, ago=150))
    fired = wait_for(lambda: _alerts(admin, campaign, "firing"), "the silence alert")
    assert (fired[0]["rule"], fired[0]["value"], fired[0]["volume"]) == ("silence", 0, 0)
    # The span is the current minute: the sends (made 5 s in the past) must fall in it, early
    # enough that a pass sees them before the minute ends and takes them out of the span.
    _early_in_a_minute()
    post(admin, events.sends(2, delivered=False))
    wait_for(lambda: not _alerts(admin, campaign, "firing"), "the silence to end")
    assert _alerts(admin, campaign)[0]["resolved_value"] == 2


def _early_in_a_minute(lead: float = 8.0, left: float = 25.0) -> None:
    """Wait until the current minute is at least ``lead`` seconds old (sends are made a few
    seconds in the past) and has at least ``left`` seconds to go."""
    into = datetime.now(UTC).timestamp() % 60
    if into < lead:
        time.sleep(lead - into)
    elif 60 - into < left:
        time.sleep(60 - into + lead)
