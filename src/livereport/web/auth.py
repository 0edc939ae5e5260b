"""Who is calling: an API key in ``Authorization: Bearer …`` decides the org and the scopes;
for reading, a signed-in browser session (web/session.py) does too.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from livereport.errors import Forbidden, Unauthorized
from livereport.store.metadata import ApiKey, Metadata, Role, Scope, User
from livereport.web.session import COOKIE, Session, request_session, require_csrf


def authenticate(request: Request, metadata: Metadata, scope: Scope) -> ApiKey:
    """The caller's live key, if it has ``scope``; 401 without a known key, 403 without scope."""
    header = request.headers.get("authorization", "")
    kind, _, token = header.partition(" ")
    if kind.lower() != "bearer" or not token.strip():
        raise Unauthorized("send an API key as 'Authorization: Bearer <key>'")
    key = metadata.find_key(token.strip())
    if key is None:
        raise Unauthorized("this API key is unknown or revoked; create one with `livereport keys create`")
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


def authenticate_caller(request: Request, metadata: Metadata, scope: Scope = Scope.READ) -> Caller:
    """An API key when the request sends one, else the session cookie.

    A session reads for any role and has the admin scope for admins; it never ingests.
    State-changing requests made with the cookie must pass the CSRF check.
    """
    if "authorization" in request.headers or COOKIE not in request.cookies:
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
