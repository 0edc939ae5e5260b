"""Who is calling: an API key in ``Authorization: Bearer …`` decides the org and the scopes;
for reading, a signed-in browser session (web/session.py) does too.

Every key request spends a token of the key's bucket (web/limits.py) and, at most once a
minute, records when the key was last used.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from starlette.requests import Request

from livereport.errors import Forbidden, Unauthorized
from livereport.store.metadata import KEY_PREFIX, ApiKey, Metadata, Role, Scope, User
from livereport.web.limits import KeyBuckets
from livereport.web.params import clock_of
from livereport.web.session import COOKIE, Session, request_session, require_csrf

#: Longest Authorization value looked up; real keys are about 46 characters.
MAX_TOKEN = 200
#: Seconds between two writes of a key's last-used time.
TOUCH_KEY_EVERY_S = 60
_SEND_KEY = "send an API key as 'Authorization: Bearer <key>'"


class KeyUse:
    """When this app last wrote each key's last-used time, so reads stay cheap. One per app
    (:func:`key_use`): key ids are the app's metadata's, which apps sharing a process (the
    tests') number alike."""

    def __init__(self) -> None:
        self._written: dict[int, float] = {}
        self._lock = threading.Lock()

    def due(self, key_id: int, now: float) -> bool:
        with self._lock:
            if now - self._written.get(key_id, 0.0) < TOUCH_KEY_EVERY_S:
                return False
            if len(self._written) > 100_000:
                self._written.clear()
            self._written[key_id] = now
            return True


def key_use(request: Request) -> KeyUse:
    """The app's :class:`KeyUse` (made by web/app.py ``create_app``)."""
    found: KeyUse = request.app.state.key_use
    return found


def key_buckets(request: Request) -> KeyBuckets:
    """The app's per-key rate limiter, made from its settings on first use."""
    state = request.app.state
    buckets: KeyBuckets | None = getattr(state, "key_buckets", None)
    if buckets is None:
        config = state.services.config
        buckets = state.key_buckets = KeyBuckets(config.key_requests_per_s, config.key_burst)
    return buckets


def authenticate(request: Request, metadata: Metadata, scope: Scope) -> ApiKey:
    """The caller's live key, if it has ``scope``; 401 without a known key, 403 without scope,
    429 when the key sends faster than its rate limit."""
    header = request.headers.get("authorization")
    if header is None:
        raise Unauthorized(f"the Authorization header is missing; {_SEND_KEY}")
    kind, _, token = header.partition(" ")
    token = token.strip()
    if kind.lower() != "bearer" or not token:
        raise Unauthorized(f"the Authorization header is not a bearer key; {_SEND_KEY}")
    clock = clock_of(request)
    now = clock.now()
    key = metadata.find_key(token, now) if len(token) <= MAX_TOKEN else None
    if key is None:
        raise Unauthorized(
            f"this API key is unknown, revoked or expired; keys start with {KEY_PREFIX!r}, "
            "create one with `livereport keys create`"
        )
    key_buckets(request).take(key.id, clock.monotonic())
    if key_use(request).due(key.id, now):
        metadata.touch_key(key.id, now)
    if scope not in key.scopes and Scope.ADMIN not in key.scopes:
        raise Forbidden(f"this API key lacks the {scope} scope; create a key with --scope {scope}")
    return key


@dataclass(frozen=True)
class Caller:
    """Who a request acts for: an API key, or a user's browser session; both decide the org."""

    org_id: int
    key: ApiKey | None = None
    session: Session | None = None

    @property
    def user(self) -> User | None:
        return self.session.user if self.session else None

    @property
    def actor(self) -> str:
        """Who acts, as the audit log names them."""
        if self.session is not None:
            return f"user {self.session.user.email}"
        assert self.key is not None
        return f"key {self.key.id} ({self.key.prefix}…)"


def authenticate_caller(request: Request, metadata: Metadata, scope: Scope = Scope.READ) -> Caller:
    """An API key when the request sends one, else the session cookie.

    A session reads for any role and has the admin scope for admins; it never ingests.
    State-changing requests made with the cookie must pass the CSRF check.
    """
    if "authorization" not in request.headers and COOKIE not in request.cookies:
        raise Unauthorized(
            f"no credential: the Authorization header and the {COOKIE} cookie are both "
            f"missing; {_SEND_KEY}, or sign in at /signin for the cookie"
        )
    if "authorization" in request.headers:
        key = authenticate(request, metadata, scope)
        return Caller(key.org_id, key=key)
    session = request_session(request, metadata)
    if session is None:
        raise Unauthorized("your session has ended or is unknown; sign in again at /signin")
    role = session.user.role
    if scope == Scope.INGEST or (scope == Scope.ADMIN and role != Role.ADMIN):
        raise Forbidden(f"a signed-in {role} cannot use the {scope} scope; use an API key with it")
    require_csrf(request)
    return Caller(session.user.org_id, session=session)
