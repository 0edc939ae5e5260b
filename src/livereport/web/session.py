"""Browser sessions: sign-in with email and password, a session cookie, sign-out, CSRF.

The cookie holds a random token; the metadata keeps only its hash, the user and two times,
so a session ends after ``IDLE_TIMEOUT_S`` without use or ``ABSOLUTE_TIMEOUT_S`` after
sign-in, whichever comes first. State-changing requests made with the cookie must carry
``X-Requested-With: livereport`` (a header other sites cannot make a browser send).
Failed sign-ins are slowed down per email and per address, and too many wrong passwords in
a row lock the account for a while (store/metadata/users.py keeps the count and the lock).
The cookie is ``Secure`` when the browser used HTTPS: to this server, or to a proxy named in
the ``trusted_proxies`` setting (whose X-Forwarded-Proto and -For uvicorn applies; cli/serve.py).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from livereport.errors import BadRequest, Forbidden, LivereportError, Unauthorized
from livereport.report.catalogue import ENGAGEMENTS
from livereport.store.metadata import Metadata, Role, StoredSession, User
from livereport.web.params import clock_of, services_of

if TYPE_CHECKING:
    pass

COOKIE = "livereport_session"
IDLE_TIMEOUT_S = 12 * 3600
ABSOLUTE_TIMEOUT_S = 7 * 86_400
#: last_seen is written at most this often, so reads stay reads.
TOUCH_EVERY_S = 60
CSRF_HEADER = "x-requested-with"
CSRF_VALUE = "livereport"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: What a user's dashboard remembers across browsers (GET /v1/me, PUT /v1/me/settings): each
#: setting's values, the first its default.
USER_SETTINGS: dict[str, tuple[str, ...]] = {"engagement": ENGAGEMENTS}
MAX_SETTINGS_BYTES = 4096
#: Failed sign-ins allowed per email (and per client address) in FAILURE_WINDOW_S are the
#: ``signin_max_failures`` setting; ``signin_lock_after`` wrong passwords in a row lock the
#: account itself (kept in the metadata, so every node and the CLI see the lock).
FAILURE_WINDOW_S = 900


class TooManyAttempts(LivereportError):
    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Session:
    id: str
    user: User
    created: float
    last_seen: float

    @property
    def expires(self) -> float:
        return min(self.created + ABSOLUTE_TIMEOUT_S, self.last_seen + IDLE_TIMEOUT_S)


def session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_live(stored: StoredSession, now: float) -> bool:
    return now - stored.created < ABSOLUTE_TIMEOUT_S and now - stored.last_seen < IDLE_TIMEOUT_S


def start_session(metadata: Metadata, user: User, now: float | None = None) -> tuple[str, Session]:
    """A new session for a user who just proved who they are; the token goes in the cookie."""
    now = time.time() if now is None else now
    token = secrets.token_urlsafe(32)
    sid = session_id(token)
    metadata.create_session(sid, user.id, now)
    metadata.delete_sessions(
        created_before=now - ABSOLUTE_TIMEOUT_S, seen_before=now - IDLE_TIMEOUT_S
    )
    return token, Session(sid, user, now, now)


def find_session(metadata: Metadata, token: str, now: float | None = None) -> Session | None:
    """The live session of a cookie value, or None (unknown, ended, expired or user disabled)."""
    now = time.time() if now is None else now
    if not token or len(token) > 200:
        return None
    stored = metadata.find_session(session_id(token))
    if stored is None:
        return None
    if not is_live(stored, now):
        metadata.delete_session(stored.id)
        return None
    if now - stored.last_seen >= TOUCH_EVERY_S:
        metadata.touch_session(stored.id, now)
        return Session(stored.id, stored.user, stored.created, now)
    return Session(stored.id, stored.user, stored.created, stored.last_seen)


def still_live(metadata: Metadata, session: Session, now: float | None = None) -> bool:
    """Whether a session found earlier has not been ended or expired since."""
    stored = metadata.find_session(session.id)
    return stored is not None and is_live(stored, time.time() if now is None else now)


def request_session(request: Request, metadata: Metadata) -> Session | None:
    token = request.cookies.get(COOKIE)
    return find_session(metadata, token, clock_of(request).now()) if token else None


def require_csrf(request: Request) -> None:
    """Refuse a state-changing cookie request that another site could have made."""
    if request.method in SAFE_METHODS:
        return
    given = request.headers.get(CSRF_HEADER)
    if (given or "").lower() != CSRF_VALUE:
        what = "is missing" if given is None else f"is {given[:40]!r}, not {CSRF_VALUE!r}"
        raise Forbidden(
            f"the X-Requested-With header {what}; send 'X-Requested-With: {CSRF_VALUE}' "
            "to sign in, and with every change made with a session cookie"
        )


def over_https(request: Request) -> bool:
    """Whether the browser used HTTPS. The scheme is the connection's own, or what a trusted
    proxy said in X-Forwarded-Proto; the header from anyone else changes nothing."""
    return request.url.scheme == "https"


def _set_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=ABSOLUTE_TIMEOUT_S,
        path="/",
        httponly=True,
        samesite="lax",
        secure=over_https(request),
    )


def _clear_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="lax", secure=over_https(request)
    )


class SignInThrottle:
    """Counts recent failed sign-ins per email and per client; memory stays bounded. One per
    app (:func:`signin_throttle`), not per process: apps sharing a process (the tests') must
    not slow down each other's sign-ins."""

    def __init__(self) -> None:
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, keys: list[str], now: float, limit: int) -> None:
        with self._lock:
            for key in keys:
                recent = self._recent(key, now)
                if len(recent) >= limit:
                    wait = int(recent[-limit] + FAILURE_WINDOW_S - now) + 1
                    raise TooManyAttempts(
                        f"too many failed sign-ins; try again in {wait} seconds", wait
                    )

    def fail(self, keys: list[str], now: float, limit: int) -> None:
        with self._lock:
            if len(self._failures) > 10_000:
                self._failures.clear()
            for key in keys:
                recent = self._recent(key, now)
                recent.append(now)
                while len(recent) > limit:
                    recent.popleft()

    def forget(self, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float]:
        recent = self._failures.setdefault(key, deque())
        while recent and recent[0] < now - FAILURE_WINDOW_S:
            recent.popleft()
        return recent


def signin_throttle(request: Request) -> SignInThrottle:
    """The app's :class:`SignInThrottle` (made by web/app.py ``create_app``)."""
    throttle: SignInThrottle = request.app.state.signin_throttle
    return throttle


class _Credentials(msgspec.Struct):
    email: str
    password: str


def _me(session: Session, stored: dict[str, str] | None = None) -> dict[str, Any]:
    user = session.user
    return {
        "email": user.email,
        "role": user.role.value,
        "org_id": user.org_id,
        "can_modify": user.role != Role.VIEWER,
        "expires": session.expires,
        "settings": settings_json(stored or {}),
    }


def settings_json(stored: dict[str, str]) -> dict[str, str]:
    """Every setting, the stored value when it is still one of the allowed, else the default."""
    return {
        name: stored[name] if stored.get(name) in values else values[0]
        for name, values in USER_SETTINGS.items()
    }


def read_settings(body: bytes) -> dict[str, str]:
    """The settings of a PUT body: a JSON object of known names and allowed values."""
    if len(body) > MAX_SETTINGS_BYTES:
        raise BadRequest(f"settings: the body is larger than {MAX_SETTINGS_BYTES} bytes")
    try:
        given = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise BadRequest(
            'settings: expected a JSON object such as {"engagement": "human"}'
        ) from None
    if not isinstance(given, dict) or not given:
        raise BadRequest(
            'settings: expected a JSON object with at least one setting, such as {"engagement": "human"}'
        )
    for name, value in given.items():
        if name not in USER_SETTINGS:
            raise BadRequest(
                f"settings: {str(name)[:40]!r} is not a setting; expected {', '.join(USER_SETTINGS)}"
            )
        if value not in USER_SETTINGS[name]:
            raise BadRequest(
                f"settings.{name}: {str(value)[:40]!r} is not allowed; expected one of "
                f"{', '.join(USER_SETTINGS[name])}"
            )
    return {str(name): str(value) for name, value in given.items()}


async def post_signin(request: Request) -> Response:
    """``POST /v1/signin`` with ``{"email", "password"}``: sets the session cookie."""
    require_csrf(request)  # no cookie yet, but a forged sign-in is still refused
    metadata = services_of(request).metadata
    body = await request.body()
    if len(body) > 4096:
        raise BadRequest("the sign-in body is too large; send {email, password}")
    try:
        creds = msgspec.json.decode(body, type=_Credentials)
    except msgspec.ValidationError as exc:
        raise BadRequest(f'sign-in: {exc}; send {{"email": …, "password": …}}') from None
    except msgspec.DecodeError:
        raise BadRequest('sign-in: expected JSON {"email": …, "password": …}') from None
    config = services_of(request).config
    limit = max(1, config.signin_max_failures)
    now = clock_of(request).now()
    client = client_address(request)
    email = creds.email.strip().lower()[:254]
    keys = [f"email:{email}", f"client:{client}"]
    throttle = signin_throttle(request)
    throttle.check(keys, now, limit)
    locked = await run_in_threadpool(metadata.sign_in_lock, email, now)
    if locked is not None:
        raise _locked(locked, now, config.signin_lock_after)
    user = await run_in_threadpool(metadata.check_password, email, creds.password)
    if user is None:
        throttle.fail(keys, now, limit)
        until = await run_in_threadpool(
            metadata.record_failed_sign_in,
            email,
            now,
            config.signin_lock_after,
            config.signin_lock_s,
        )
        if until is not None:
            await run_in_threadpool(_audit_lock, metadata, email, client)
            raise _locked(until, now, config.signin_lock_after)
        raise Unauthorized("the email or the password is wrong")
    throttle.forget(keys[:1])
    await run_in_threadpool(metadata.clear_failed_sign_ins, user.id)
    token, session = await run_in_threadpool(start_session, metadata, user, now)
    stored = await run_in_threadpool(metadata.user_settings, user.id)
    response = JSONResponse(_me(session, stored))
    _set_cookie(response, request, token)
    return response


def client_address(request: Request) -> str:
    """The client's address: the connection's, or a trusted proxy's X-Forwarded-For."""
    return request.client.host if request.client else "unknown"


def _locked(until: float, now: float, after: int) -> TooManyAttempts:
    wait = max(1, int(until - now) + 1)
    when = time.strftime("%H:%M:%S UTC", time.gmtime(until))
    return TooManyAttempts(
        f"this account is locked after {after} wrong passwords in a row, until {when} "
        f"(in {wait} seconds); an admin can unlock it sooner",
        wait,
    )


def _audit_lock(metadata: Metadata, email: str, client: str) -> None:
    user = metadata.account_by_email(email)
    if user is not None:
        metadata.audit(user.org_id, "sign-in", "user.locked", f"user {user.email}", client)


async def post_signout(request: Request) -> Response:
    """``POST /v1/signout``: ends the session of the cookie, if any, and clears it."""
    metadata = services_of(request).metadata
    token = request.cookies.get(COOKIE)
    if token:
        require_csrf(request)
        await run_in_threadpool(metadata.delete_session, session_id(token))
    response = JSONResponse({"signed_out": True})
    _clear_cookie(response, request)
    return response


async def get_me(request: Request) -> Response:
    """``GET /v1/me``: who the session cookie belongs to (401 when signed out)."""
    metadata = services_of(request).metadata
    session = await run_in_threadpool(request_session, request, metadata)
    if session is None:
        raise Unauthorized("you are not signed in; sign in at /signin")
    stored = await run_in_threadpool(metadata.user_settings, session.user.id)
    return JSONResponse(_me(session, stored))


async def put_my_settings(request: Request) -> Response:
    """``PUT /v1/me/settings``: remember dashboard choices for the signed-in user, whatever
    the role (a viewer may choose how to read a report too); answers every setting."""
    metadata = services_of(request).metadata
    if COOKIE not in request.cookies:
        raise Forbidden("settings belong to signed-in users; sign in to the dashboard first")
    session = await run_in_threadpool(request_session, request, metadata)
    if session is None:
        raise Unauthorized("your session has ended or is unknown; sign in again at /signin")
    require_csrf(request)
    changed = read_settings(await request.body())
    await run_in_threadpool(metadata.save_user_settings, session.user.id, changed)
    stored = await run_in_threadpool(metadata.user_settings, session.user.id)
    return JSONResponse({"settings": settings_json(stored)})
