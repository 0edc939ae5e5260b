"""Alert notifications on the wire (issue 17): signed webhooks and Slack messages to a real
local HTTP receiver, emails to a real SMTP server (aiosmtpd), and the guard that keeps
alert targets off loopback, private and link-local addresses, at check time and again when
connecting."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import hashlib
import hmac
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from email.message import EmailMessage, Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import free_port
from livereport.alerts.send import (
    describe,
    email_message,
    pause_request,
    send_email,
    sign,
    slack_request,
    webhook_request,
)
from livereport.alerts.targets import (
    DeliveryFailed,
    TargetPool,
    TargetRefused,
    check_email,
    check_smtp_host,
    check_url,
    post,
    post_blocking,
)
from livereport.errors import BadRequest

SECRET = "org-alert-secret-0123456789"
ALERT: dict[str, Any] = {
    "id": 12,
    "rule": "complaint-rate-critical",
    "campaign": "spring-sale",
    "channel": "email",
    "state": "firing",
    "severity": "critical",
    "value": 0.0042,
    "volume": 2381,
    "fired_at": "2025-05-01T10:00:00Z",
    "resolved_at": None,
    "acknowledged_by": None,
    "metric": "complaint_rate",
    "condition": "above",
    "threshold": 0.003,
    "span_minutes": 60,
    "execution": None,
    "dimension": None,
    "key": None,
    "baseline": None,
    "acknowledged_at": None,
    "resolved_value": None,
    "resolved_volume": None,
}
SUMMARY = (
    "FIRING critical · complaint_rate 0.42 % (above 0.3 %) over 60 min "
    "on campaign spring-sale / email · 2,381 delivered"
)


# --- real servers ----------------------------------------------------------------------------


class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers ``status``/``answer``."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[tuple[Message, bytes]] = []
        self.status, self.answer = 202, b'{"ok": true}'
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((self.headers, body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", str(len(receiver.answer)))
                self.end_headers()
                self.wfile.write(receiver.answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}/hooks/alerts"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A server that accepts connections (the kernel does) but never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"


def _certificate() -> tuple[bytes, bytes]:
    """A self-signed certificate valid for the name localhost only, not for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.fixture
def tls_receiver(tmp_path: Any) -> Iterator[tuple[Receiver, ssl.SSLContext]]:
    cert, key = _certificate()
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    trusting = ssl.create_default_context(cadata=cert.decode())
    found = Receiver(tls=server_side)
    yield found, trusting
    found.close()


class Inbox:
    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def message(self) -> EmailMessage:
        (envelope,) = self.envelopes
        assert isinstance(envelope.content, bytes)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, dict[str, Any]]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield (
        inbox,
        {"host": "127.0.0.1", "port": port, "security": "none", "sender": "alerts@example.com"},
    )
    controller.stop()


def _signature_ok(headers: Message, body: bytes, secret: str) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["X-Livereport-Signature"], expected)


# --- the guard, when a target is saved -----------------------------------------------------


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("http://127.0.0.1/", "127.0.0.1"),
        ("http://[::1]/", "::1"),
        ("http://10.0.0.1/", "10.0.0.1"),
        ("https://192.168.1.20:8443/x", "192.168.1.20"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://0.0.0.0/", "0.0.0.0"),
        ("http://2130706433/", "127.0.0.1"),
        ("http://0x7f000001/", "127.0.0.1"),
        ("http://0x7f.1/", "127.0.0.1"),
        ("http://[::ffff:127.0.0.1]/", "::ffff:7f00:1"),
        ("http://[2002:a00:1::]/", "2002:a00:1::"),
        ("http://[fe80::1]/", "fe80::1"),
        ("http://224.0.0.1/", "224.0.0.1"),
        ("http://localhost/", "127.0.0.1"),
    ],
)
def test_check_url_refuses_addresses_of_our_own_network(url: str, address: str) -> None:
    """IP literals in every form libc reads are refused without a lookup; a name is refused
    when it resolves to such an address."""
    with pytest.raises(BadRequest) as refused:
        check_url(url, field="notify[0].webhook", allow_private=False, resolve="localhost" in url)
    message = refused.value.message
    assert message.startswith("notify[0].webhook: ")
    assert address in message
    assert "alert_private_targets" in message and "LIVEREPORT_ALERT_PRIVATE_TARGETS=1" in message


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://x/", "a ftp: URL; expected an http or https URL"),
        ("hooks.example.com/alerts", "not a URL; expected an http or https URL"),
        ("http://user:pw@hooks.example.com/", "user name or password"),
        ("http:///alerts", "names no host"),
        ("https://hooks.example.com:99999/", "cannot be read"),
        ("https://hooks.example.com:0/", "port 0"),
        ("https://hooks example.com/", "spaces, control or non-ASCII"),
        ("https://hooks.example.com/\r\nX-Evil: 1", "spaces, control or non-ASCII"),
        ("https://bücher.example/", "non-ASCII"),
        ("https://hooks.example.com/" + "a" * 2048, "expected at most 2048"),
        ("https://hooks!.example.com/", "is not a host name or IP address"),
    ],
)
def test_check_url_refuses_what_is_not_a_plain_http_url(url: str, says: str) -> None:
    with pytest.raises(BadRequest) as refused:
        check_url(url, field="pause.url", allow_private=False)
    assert refused.value.message.startswith("pause.url: ")
    assert says in refused.value.message
    assert "pw" not in refused.value.message


def test_check_url_accepts_public_and_not_yet_resolvable_targets() -> None:
    slack = "https://hooks.slack.com/services/T04AB12CD/B05EF34GH/q9Zk2mW7rT1vY8pL"
    assert check_url(slack, field="notify[0].slack", allow_private=False) == slack
    assert (
        check_url("https://93.184.215.14/x", field="f", allow_private=False)
        == "https://93.184.215.14/x"
    )
    assert check_url("https://no-such-host.invalid/", field="f", allow_private=False)


def test_check_url_accepts_private_targets_when_the_setting_allows() -> None:
    for url in ("http://127.0.0.1:9000/", "http://[::1]/", "http://10.0.0.1/", "http://localhost/"):
        assert check_url(url, field="f", allow_private=True) == url


def test_check_email_takes_one_plain_address() -> None:
    assert (
        check_email("ops.alerts+live@example.com", "notify[1].email")
        == "ops.alerts+live@example.com"
    )
    for bad, says in [
        ("a@example.com, b@example.com", "not a list"),
        ("a@example.com\r\nBcc: b@example.com", "line break"),
        ("Ops <ops@example.com>", "display name"),
        ("ops.example.com", "is not an email address"),
        ("ops@", "is not an email address"),
        ("ops@[127.0.0.1]", "is not an email address"),
    ]:
        with pytest.raises(BadRequest) as refused:
            check_email(bad, "notify[1].email")
        assert refused.value.message.startswith("notify[1].email: ")
        assert says in refused.value.message
        assert "expected one plain address" in refused.value.message


def test_check_smtp_host_is_guarded_like_urls() -> None:
    for host in ("127.0.0.1", "localhost", "10.1.2.3"):
        with pytest.raises(BadRequest, match=r"^host: .*LIVEREPORT_ALERT_PRIVATE_TARGETS=1"):
            check_smtp_host(host, 587, allow_private=False)
    assert check_smtp_host("localhost", 587, allow_private=True) == "localhost"
    assert (
        check_smtp_host("smtp.example.com", 465, allow_private=False, resolve=False)
        == "smtp.example.com"
    )
    with pytest.raises(BadRequest, match=r"^port: .*1 to 65535"):
        check_smtp_host("smtp.example.com", 70000, allow_private=False)
    with pytest.raises(BadRequest, match=r"^host: .*not a host name"):
        check_smtp_host("smtp.example.com:25", 25, allow_private=False)


# --- webhooks ------------------------------------------------------------------------------


def test_a_webhook_arrives_signed_with_the_org_secret(receiver: Receiver) -> None:
    body, headers = webhook_request(ALERT, "fired", SECRET, "dlv-12-1")
    status, answer = asyncio.run(post(receiver.url(), body, headers, allow_private=True))
    assert (status, answer) == (202, b'{"ok": true}')
    ((got, got_body),) = receiver.requests
    assert got_body == body
    assert _signature_ok(got, got_body, SECRET)
    assert not _signature_ok(got, got_body, SECRET + "x")
    assert json.loads(got_body) == {**ALERT, "event": "fired"}
    assert got["Content-Type"] == "application/json"
    assert got["X-Livereport-Delivery"] == "dlv-12-1"
    assert got["X-Livereport-Event"] == "fired"
    assert got["User-Agent"] == "livereport/0.1.0"
    assert got["Host"] == f"127.0.0.1:{receiver.port}"
    assert sign(got_body, SECRET) == got["X-Livereport-Signature"]


def test_a_webhook_body_is_compact_json() -> None:
    body, _ = webhook_request({"id": 1, "rule": "r"}, "test", SECRET, "d")
    assert body == b'{"id":1,"rule":"r","event":"test"}'
    with pytest.raises(ValueError, match="event 'paused'"):
        webhook_request(ALERT, "paused", SECRET, "d")
    with pytest.raises(ValueError, match="delivery id"):
        webhook_request(ALERT, "fired", SECRET, "d\r\nX-Evil: 1")


def test_the_blocking_post_delivers_the_same(receiver: Receiver) -> None:
    body, headers = webhook_request(ALERT, "resolved", SECRET, "dlv-12-2")
    assert post_blocking(receiver.url(), body, headers, allow_private=True) == (
        202,
        b'{"ok": true}',
    )
    ((got, got_body),) = receiver.requests
    assert got_body == body and _signature_ok(got, got_body, SECRET)


def test_an_error_answer_is_returned_and_cut_to_2_kb(receiver: Receiver) -> None:
    receiver.status, receiver.answer = 500, b"x" * 10_000
    status, answer = asyncio.run(post(receiver.url(), b"{}", {}, allow_private=True))
    assert (status, answer) == (500, b"x" * 2048)
    assert post_blocking(receiver.url(), b"{}", {}, allow_private=True) == (500, b"x" * 2048)


def test_a_pool_keeps_serving_deliveries(receiver: Receiver) -> None:
    async def deliver_twice() -> list[int]:
        async with TargetPool(allow_private=True) as pool:
            return [(await pool.post(receiver.url(), b"{}", {}))[0] for _ in range(2)]

    assert asyncio.run(deliver_twice()) == [202, 202]
    assert len(receiver.requests) == 2


# --- the guard, when connecting ------------------------------------------------------------


def test_a_name_resolving_to_loopback_is_refused_at_connection(receiver: Receiver) -> None:
    """The DNS-rebinding path: the name passes the check without resolving, and the
    connection resolves it itself and refuses the loopback answer before any byte is sent."""
    url = receiver.url("localhost")
    with pytest.raises(TargetRefused) as refused:
        asyncio.run(post(url, b"{}", {}, allow_private=False))
    assert "localhost resolves to 127.0.0.1" in refused.value.message
    assert "LIVEREPORT_ALERT_PRIVATE_TARGETS=1" in refused.value.message
    with pytest.raises(TargetRefused, match=r"localhost resolves to 127\.0\.0\.1"):
        post_blocking(url, b"{}", {}, allow_private=False)
    assert receiver.requests == []
    assert asyncio.run(post(url, b"{}", {}, allow_private=True))[0] == 202


def test_a_private_address_is_refused_before_connecting(receiver: Receiver) -> None:
    for url in (
        receiver.url(),
        f"http://[::ffff:127.0.0.1]:{receiver.port}/",
        "ftp://example.com/",
    ):
        with pytest.raises(TargetRefused):
            asyncio.run(post(url, b"{}", {}, allow_private=False))
    assert receiver.requests == []


def test_tls_is_verified_against_the_name_while_connecting_to_the_checked_address(
    tls_receiver: tuple[Receiver, ssl.SSLContext],
) -> None:
    """The connection goes to 127.0.0.1, yet the certificate (valid for localhost only) is
    checked against the URL's name: the same server by its address fails verification."""
    receiver, trusting = tls_receiver

    async def deliver(host: str) -> tuple[int, bytes]:
        async with TargetPool(allow_private=True, ssl_context=trusting) as pool:
            return await pool.post(receiver.url(host, "https"), b"{}", {})

    assert asyncio.run(deliver("localhost")) == (202, b'{"ok": true}')
    with pytest.raises(
        DeliveryFailed, match=r"could not connect to https://127\.0\.0\.1:\d+: .*certificate"
    ):
        asyncio.run(deliver("127.0.0.1"))
    assert (
        post_blocking(
            receiver.url("localhost", "https"), b"{}", {}, allow_private=True, ssl_context=trusting
        )[0]
        == 202
    )
    assert len(receiver.requests) == 2


def test_a_receiver_that_is_down_fails_the_delivery() -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    with pytest.raises(
        DeliveryFailed, match=r"^could not connect to http://127\.0\.0\.1:\d+: Connection refused$"
    ) as failed:
        asyncio.run(post(url, b"{}", {}, allow_private=True, timeout=30))
    assert not isinstance(failed.value, TargetRefused)
    with pytest.raises(DeliveryFailed, match=r"^could not connect to .*: Connection refused$"):
        post_blocking(url, b"{}", {}, allow_private=True, timeout=30)


def test_a_receiver_that_never_answers_times_out(silent_url: str) -> None:
    with pytest.raises(
        DeliveryFailed, match=r"^http://127\.0\.0\.1:\d+ did not answer within 0\.5 s$"
    ):
        asyncio.run(post(silent_url, b"{}", {}, allow_private=True, timeout=0.5))
    with pytest.raises(DeliveryFailed, match=r"did not answer within 0\.5 s$"):
        post_blocking(silent_url, b"{}", {}, allow_private=True, timeout=0.5)


# --- Slack ---------------------------------------------------------------------------------


def test_a_slack_message_reads_as_one_line_and_its_details(receiver: Receiver) -> None:
    body = slack_request(ALERT, "fired")
    assert (
        asyncio.run(
            post(receiver.url(), body, {"Content-Type": "application/json"}, allow_private=True)
        )[0]
        == 202
    )
    ((_, got_body),) = receiver.requests
    text = json.loads(got_body)["text"]
    assert (
        text == f"{SUMMARY}\nrule complaint-rate-critical · alert #12 · fired 2025-05-01T10:00:00Z"
    )


def test_slack_markup_in_ids_is_escaped() -> None:
    alert = {**ALERT, "campaign": "<!channel> & <https://evil.example|click>", "rule": "a>b"}
    text = json.loads(slack_request(alert, "test"))["text"]
    assert text.startswith("[test] FIRING critical")
    assert "on campaign &lt;!channel&gt; &amp; &lt;https://evil.example|click&gt; / email" in text
    assert "rule a&gt;b" in text
    assert "<" not in text and ">" not in text


def test_describe_says_what_resolved_and_what_stalled() -> None:
    assert describe(ALERT) == SUMMARY
    resolved = {**ALERT, "state": "resolved", "resolved_value": 0.0012, "resolved_volume": 5000}
    assert describe(resolved).startswith("RESOLVED critical · complaint_rate 0.12 % (above 0.3 %)")
    assert describe(resolved).endswith("· 5,000 delivered")
    stall = {
        **ALERT,
        "metric": "stall",
        "condition": "stall",
        "severity": "warning",
        "value": 0,
        "volume": 1204,
        "threshold": None,
        "span_minutes": 15,
    }
    assert describe(stall) == (
        "FIRING warning · no deliveries in 15 min while 1,204 sent, on campaign spring-sale / email"
    )
    assert describe({**stall, "state": "resolved"}).startswith(
        "RESOLVED warning · deliveries resumed"
    )
    domain = {
        **ALERT,
        "metric": "bounce_rate",
        "value": 0.25,
        "volume": 400,
        "threshold": 0.2,
        "span_minutes": 15,
        "dimension": "recipient_domain",
        "key": "gmail.com",
        "execution": "2025-05-01",
        "baseline": 0.02,
    }
    assert describe(domain) == (
        "FIRING critical · bounce_rate 25.00 %, +23.00 pt on 2.00 % before (change above 20 pt) "
        "over 15 min on campaign spring-sale / email, execution 2025-05-01, "
        "recipient_domain gmail.com · 400 sent"
    )


# --- email ---------------------------------------------------------------------------------


def test_an_alert_email_arrives(smtp_server: tuple[Inbox, dict[str, Any]]) -> None:
    inbox, smtp = smtp_server
    message = email_message(ALERT, "fired", smtp["sender"], "ops@example.com")
    send_email(smtp, message, allow_private=True)
    (envelope,) = inbox.envelopes
    assert envelope.mail_from == "alerts@example.com"
    assert envelope.rcpt_tos == ["ops@example.com"]
    got = inbox.message()
    assert got["Subject"] == "[livereport] FIRING critical: complaint_rate on spring-sale (email)"
    assert (got["From"], got["To"]) == ("alerts@example.com", "ops@example.com")
    assert got["Message-ID"].endswith("@example.com>")
    text = got.get_content().replace("\r\n", "\n")
    assert text.startswith(SUMMARY + "\n\n")
    assert "rule: complaint-rate-critical\n" in text and "fired_at: 2025-05-01T10:00:00Z\n" in text


def test_line_breaks_in_ids_cannot_add_headers_or_recipients(
    smtp_server: tuple[Inbox, dict[str, Any]],
) -> None:
    inbox, smtp = smtp_server
    alert = {
        **ALERT,
        "campaign": "spring\r\nBcc: victim@example.com\r\n\r\nforged body",
        "rule": "r\nX-Injected: 1",
        "severity": "critical\u2028To: victim@example.com",
    }
    send_email(
        smtp, email_message(alert, "test", smtp["sender"], "ops@example.com"), allow_private=True
    )
    (envelope,) = inbox.envelopes
    assert envelope.rcpt_tos == ["ops@example.com"]
    got = inbox.message()
    assert got["Bcc"] is None and got["X-Injected"] is None
    assert got.get_all("To") == ["ops@example.com"]
    assert got["Subject"].startswith("[livereport] TEST FIRING critical To: victim@: ")
    assert "spring Bcc: victim@example.com forged body (email)" in got["Subject"]
    assert "campaign: spring Bcc: victim@example.com forged body\r\n" in got.get_content()
    with pytest.raises(BadRequest, match=r"^to: "):
        email_message(ALERT, "fired", smtp["sender"], "ops@example.com\r\nBcc: victim@example.com")


def test_the_smtp_server_is_guarded_too(smtp_server: tuple[Inbox, dict[str, Any]]) -> None:
    inbox, smtp = smtp_server
    message = email_message(ALERT, "fired", smtp["sender"], "ops@example.com")
    with pytest.raises(TargetRefused, match=r"127\.0\.0\.1 is a loopback address"):
        send_email(smtp, message, allow_private=False)
    with pytest.raises(TargetRefused, match=r"localhost resolves to 127\.0\.0\.1"):
        send_email({**smtp, "host": "localhost"}, message, allow_private=False)
    assert inbox.envelopes == []
    send_email({**smtp, "host": "localhost"}, message, allow_private=True)
    assert len(inbox.envelopes) == 1


def test_smtp_failures_say_what_went_wrong(smtp_server: tuple[Inbox, dict[str, Any]]) -> None:
    inbox, smtp = smtp_server
    message = email_message(ALERT, "fired", smtp["sender"], "ops@example.com")
    with pytest.raises(DeliveryFailed, match=r"^the SMTP server 127\.0\.0\.1:\d+ .*starting TLS"):
        send_email({**smtp, "security": "starttls"}, message, allow_private=True)
    with pytest.raises(DeliveryFailed, match=r"^the SMTP server .* failed while connecting"):
        send_email({**smtp, "port": free_port()}, message, allow_private=True)
    with pytest.raises(
        DeliveryFailed, match="security 'ssl' is unknown; expected one of starttls, tls, none"
    ):
        send_email({**smtp, "security": "ssl"}, message, allow_private=True)
    assert inbox.envelopes == []


# --- pause ---------------------------------------------------------------------------------


def test_a_pause_call_is_signed_with_the_rules_pause_secret(receiver: Receiver) -> None:
    alert = {**ALERT, "execution": "2025-05-01"}
    body, headers = pause_request(alert, "pause-secret-abcdef", "pause-12")
    assert asyncio.run(post(receiver.url(), body, headers, allow_private=True))[0] == 202
    ((got, got_body),) = receiver.requests
    assert _signature_ok(got, got_body, "pause-secret-abcdef")
    assert not _signature_ok(got, got_body, SECRET)
    assert json.loads(got_body) == {
        "action": "pause",
        "campaign": "spring-sale",
        "channel": "email",
        "execution": "2025-05-01",
        "alert": alert,
    }
    assert got["X-Livereport-Event"] == "pause"
