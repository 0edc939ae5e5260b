"""The guard of alert targets: which URLs, mail servers and addresses an alert may reach.

A target is checked when a rule is saved (``check_url``, ``check_email``, ``check_smtp_host``)
and again on every connection, so that a rule cannot make livereport reach its own network
(SSRF), not even through a name whose answer changes between the two (DNS rebinding): the
connection goes to the very address that was checked. For HTTP, httpcore opens TCP through
``GuardedBackend``, which resolves, checks and connects by IP, while TLS still verifies the
certificate against the name of the URL (httpcore passes that name as ``server_hostname``).
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import ssl
import time
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

import anyio
import httpcore

from livereport.errors import BadRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048
#: How much of a target's answer is kept for the delivery log.
ANSWER_BYTES = 2048
PRIVATE_HINT = (
    "alert targets on loopback, private or link-local addresses are refused unless the "
    "setting alert_private_targets is on (LIVEREPORT_ALERT_PRIVATE_TARGETS=1)"
)
_URL_EXPECTED = "expected an http or https URL such as https://hooks.example.com/alerts"
_EMAIL_EXPECTED = "expected one plain address such as alerts@example.com"
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
#: Spaces, controls and backslashes: parsers disagree on them, so a URL never holds one raw.
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class DeliveryFailed(Exception):
    """A notification that did not reach its target; ``message`` says why in a few words
    (it never repeats a URL's path, which for Slack is the secret)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TargetRefused(DeliveryFailed):
    """The target is, or now resolves to, an address alerts may not reach; retrying does not
    help until its DNS or the setting ``alert_private_targets`` changes."""


# --- what may be reached ------------------------------------------------------------------


def forbidden_kind(ip: IPAddress) -> str | None:
    """Why alerts may not reach ``ip`` ("a loopback", "a private", …), or None if they may.
    IPv6 forms that carry an IPv4 address (mapped, 6to4, Teredo, NAT64) are judged by it."""
    if isinstance(ip, ipaddress.IPv6Address):
        for inner in _embedded_ipv4(ip):
            if (kind := forbidden_kind(inner)) is not None:
                return kind
    kinds = (
        ("an unspecified", ip.is_unspecified),
        ("a loopback", ip.is_loopback),
        ("a link-local", ip.is_link_local),
        ("a multicast", ip.is_multicast),
        ("a private", ip.is_private),
        ("a reserved", ip.is_reserved),
        ("a non-public", not ip.is_global),
    )
    return next((kind for kind, found in kinds if found), None)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    found = [ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None]
    if ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return [inner for inner in found if inner is not None]


def ip_literal(host: str) -> IPAddress | None:
    """The address ``host`` spells, read as libc reads it: besides the usual forms, IPv4
    written as one number (2130706433), in hex (0x7f.1) or octal (0177.0.0.1)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host.removesuffix(".")))
    except OSError:
        return None


def _is_name(host: str) -> bool:
    labels = host.removesuffix(".").split(".")
    return len(host) <= 253 and all(_LABEL.fullmatch(label) for label in labels)


def _refusal(host: str, ip: IPAddress | str, kind: str) -> str:
    where = f"{host} is" if str(ip) == host else f"{host} resolves to {ip}, which is"
    return f"{where} {kind} address; {PRIVATE_HINT}"


def _resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to now (blocking), in the resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _checked(host: str, addresses: Iterable[str], *, allow_private: bool) -> list[str]:
    """``addresses`` if alerts may reach every one of them, else TargetRefused: a name with
    one forbidden answer among public ones is refused whole."""
    found = list(addresses)
    if not allow_private:
        for address in found:
            kind = forbidden_kind(ipaddress.ip_address(address))
            if kind is not None:
                raise TargetRefused(_refusal(host, address, kind))
    return found


def checked_addresses(host: str, port: int, *, allow_private: bool) -> list[str]:
    """Resolve ``host`` once and return the addresses to connect to (blocking); raises
    TargetRefused for a forbidden address and DeliveryFailed for a name that does not
    resolve. Callers connect to these addresses, never to the name again."""
    try:
        addresses = _resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise DeliveryFailed(f"{host} cannot be resolved: {_why(exc)}") from exc
    return _checked(host, addresses, allow_private=allow_private)


# --- checks when a rule or setting is saved -----------------------------------------------


def check_host(
    host: str, port: int, *, field: str, allow_private: bool, resolve: bool = True
) -> str:
    """``host`` if it is a name or IP address alerts may reach, else BadRequest naming
    ``field``. A name that does not resolve now is accepted: delivery checks it again."""
    literal = ip_literal(host)
    if literal is None and not _is_name(host):
        raise BadRequest(
            f"{field}: {host!r} is not a host name or IP address; expected a name such as hooks.example.com"
        )
    if allow_private:
        return host
    if literal is not None:
        kind = forbidden_kind(literal)
        shown = host if str(literal) == host else f"{host} ({literal})"
        if kind is not None:
            raise BadRequest(f"{field}: {shown} is {kind} address; {PRIVATE_HINT}")
    elif resolve:
        try:
            addresses = _resolve(host, port)
        except (OSError, UnicodeError):
            return host
        try:
            _checked(host, addresses, allow_private=False)
        except TargetRefused as exc:
            raise BadRequest(f"{field}: {exc.message}") from None
    return host


def check_url(url: str, *, field: str, allow_private: bool, resolve: bool = True) -> str:
    """``url`` if an alert may be posted to it, else BadRequest naming ``field``, what is
    wrong and what is expected. Messages show the scheme and host, never the path (a Slack
    webhook's path is its secret)."""
    if len(url) > MAX_URL_LENGTH:
        raise BadRequest(
            f"{field}: the URL has {len(url)} characters; expected at most {MAX_URL_LENGTH}"
        )
    if not url.isascii() or _UNSAFE.search(url):
        raise BadRequest(
            f"{field}: the URL holds spaces, control or non-ASCII characters; expected them "
            "percent-encoded, and a host in its ASCII form (xn--…)"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise BadRequest(
            f"{field}: the URL cannot be read (its host or port is malformed); {_URL_EXPECTED}"
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = f"a {scheme}: URL" if scheme else "not a URL"
        raise BadRequest(f"{field}: {shown}; {_URL_EXPECTED}")
    if "@" in parts.netloc:
        raise BadRequest(
            f"{field}: the URL carries a user name or password (user:pass@host); expected "
            "none: receivers check the X-Livereport-Signature header instead"
        )
    host = parts.hostname or ""
    if not host:
        raise BadRequest(f"{field}: the URL names no host; {_URL_EXPECTED}")
    if port == 0:
        raise BadRequest(f"{field}: port 0 cannot be reached; expected a port from 1 to 65535")
    default = 443 if scheme == "https" else 80
    check_host(host, port or default, field=field, allow_private=allow_private, resolve=resolve)
    return url


def check_smtp_host(host: str, port: int, *, allow_private: bool, resolve: bool = True) -> str:
    """The SMTP server of the alert emails, checked like a URL's host; BadRequest names
    ``host`` or ``port``."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise BadRequest(
            f"port: {port!r} is not a port; expected a number from 1 to 65535, such as 587"
        )
    if not isinstance(host, str) or not host:
        raise BadRequest("host: expected the name of the SMTP server, such as smtp.example.com")
    name = host.lower().removeprefix("[").removesuffix("]")
    return check_host(name, port, field="host", allow_private=allow_private, resolve=resolve)


def check_email(address: str, field: str) -> str:
    """``address`` if it is one plain address (no name, no list, no line break), else
    BadRequest naming ``field``: it goes into a To: or From: header as it is."""
    if "\r" in address or "\n" in address:
        raise BadRequest(f"{field}: the address holds a line break; {_EMAIL_EXPECTED}")
    if "," in address or ";" in address:
        raise BadRequest(f"{field}: one address per entry, not a list; {_EMAIL_EXPECTED}")
    if "<" in address or ">" in address:
        raise BadRequest(
            f"{field}: a display name or angle brackets are not taken; {_EMAIL_EXPECTED}"
        )
    local, at, domain = address.rpartition("@")
    if (
        not at
        or len(address) > 254
        or len(local) > 64
        or not _LOCAL_PART.fullmatch(local)
        or not _is_name(domain.lower())
        or ip_literal(domain) is not None
    ):
        raise BadRequest(f"{field}: {address[:100]!r} is not an email address; {_EMAIL_EXPECTED}")
    return address


# --- guarded connections at delivery time -------------------------------------------------


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend for alert targets: it resolves the host itself, refuses
    the connection if any address is forbidden, and connects to a checked address, so that
    DNS cannot answer one thing to the check and another to the connection."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            if isinstance(exc, TimeoutError):
                raise httpcore.ConnectTimeout(
                    f"resolving {host} took longer than {timeout} s"
                ) from exc
            raise httpcore.ConnectError(f"{host} cannot be resolved: {_why(exc)}") from exc
        found = dict.fromkeys(str(info[4][0]) for info in infos)
        failure: Exception = httpcore.ConnectError(f"{host} resolves to no address")
        for address in _checked(host, found, allow_private=self.allow_private):
            try:
                return await self._backend.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class GuardedSyncBackend(httpcore.NetworkBackend):
    """``GuardedBackend`` for blocking callers (the command line)."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = checked_addresses(host, port, allow_private=self.allow_private)
        except TargetRefused:
            raise
        except DeliveryFailed as exc:
            raise httpcore.ConnectError(exc.message) from exc
        failure: Exception = httpcore.ConnectError(f"{host} resolves to no address")
        for address in addresses:
            try:
                return self._backend.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


#: What a failed exchange may raise below us; anything else is a bug and goes up as it is.
_EXCHANGE_ERRORS = (
    OSError,
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
)


class TargetPool:
    """Connections to alert targets, every one through the guard. Keep one for the process
    (the delivery dispatcher) and close it with ``aclose`` or ``async with``; it belongs to
    the event loop that first used it."""

    def __init__(
        self,
        *,
        allow_private: bool,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int = 20,
    ) -> None:
        self.allow_private = allow_private
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=max_connections,
            keepalive_expiry=30.0,
            network_backend=GuardedBackend(allow_private=allow_private),
        )

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], *, timeout: float = 5.0
    ) -> tuple[int, bytes]:
        """POST ``body`` and return the status and the first ANSWER_BYTES of the answer; the
        whole exchange gets ``timeout`` seconds. Raises DeliveryFailed (TargetRefused when
        the guard says no); an answer of any status, even 500, is returned, not raised."""
        origin, request_headers = _prepare(url, headers, allow_private=self.allow_private)
        try:
            with anyio.fail_after(timeout):
                async with self._pool.stream(
                    "POST",
                    url,
                    headers=request_headers,
                    content=body,
                    extensions=_extensions(timeout),
                ) as response:
                    answer = bytearray()
                    async for chunk in response.aiter_stream():
                        answer += chunk
                        if len(answer) >= ANSWER_BYTES:
                            break
                    return response.status, bytes(answer[:ANSWER_BYTES])
        except _EXCHANGE_ERRORS as exc:
            raise _failure(exc, origin, timeout) from exc

    async def aclose(self) -> None:
        await self._pool.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


async def post(
    url: str, body: bytes, headers: Mapping[str, str], *, allow_private: bool, timeout: float = 5.0
) -> tuple[int, bytes]:
    """``TargetPool.post`` on a pool of its own, for a single delivery."""
    async with TargetPool(allow_private=allow_private) as pool:
        return await pool.post(url, body, headers, timeout=timeout)


def post_blocking(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    allow_private: bool,
    timeout: float = 5.0,
    ssl_context: ssl.SSLContext | None = None,
) -> tuple[int, bytes]:
    """``post`` for blocking callers (the command line): same guard, same answers."""
    origin, request_headers = _prepare(url, headers, allow_private=allow_private)
    deadline = time.monotonic() + timeout
    backend = GuardedSyncBackend(allow_private=allow_private)
    try:
        with (
            httpcore.ConnectionPool(ssl_context=ssl_context, network_backend=backend) as pool,
            pool.stream(
                "POST", url, headers=request_headers, content=body, extensions=_extensions(timeout)
            ) as response,
        ):
            answer = bytearray()
            for chunk in response.iter_stream():
                answer += chunk
                if len(answer) >= ANSWER_BYTES:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError
            return response.status, bytes(answer[:ANSWER_BYTES])
    except _EXCHANGE_ERRORS as exc:
        raise _failure(exc, origin, timeout) from exc


def _prepare(
    url: str, headers: Mapping[str, str], *, allow_private: bool
) -> tuple[str, list[tuple[str, str]]]:
    """The origin to name in errors, and the request headers with Host first (httpcore
    would write an IPv6 host without its brackets)."""
    try:
        check_url(url, field="url", allow_private=allow_private, resolve=False)
    except BadRequest as exc:
        raise TargetRefused(exc.message) from None
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"{host}:{parts.port}" if parts.port else host
    extra = [(name, value) for name, value in headers.items() if name.lower() != "host"]
    return f"{parts.scheme.lower()}://{netloc}", [("Host", netloc), *extra]


def _extensions(timeout: float) -> dict[str, object]:
    return {"timeout": {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}}


def _failure(exc: BaseException, origin: str, timeout: float) -> DeliveryFailed:
    if isinstance(exc, (TimeoutError, httpcore.TimeoutException)):
        return DeliveryFailed(f"{origin} did not answer within {timeout:g} s")
    if isinstance(exc, httpcore.ConnectError):
        return DeliveryFailed(f"could not connect to {origin}: {_why(exc)}")
    if isinstance(exc, (httpcore.NetworkError, httpcore.RemoteProtocolError)):
        return DeliveryFailed(f"{origin} broke off the exchange: {_why(exc)}")
    return DeliveryFailed(f"could not post to {origin}: {_why(exc)}")


def _why(exc: BaseException) -> str:
    """The most specific reason along ``exc``'s chain: "Connection refused" rather than the
    "All connection attempts failed" anyio wraps it in."""
    reason, found = str(exc) or type(exc).__name__, exc.__cause__ or exc.__context__
    while found is not None:
        if isinstance(found, BaseExceptionGroup) and found.exceptions:
            found = found.exceptions[0]
            continue
        if isinstance(found, ConnectionError) and found.errno:
            reason = os.strerror(found.errno)
        elif isinstance(found, OSError) and found.strerror:
            reason = found.strerror
        found = found.__cause__ or found.__context__
    return str(reason)[:200]
