"""Who is calling: an API key in ``Authorization: Bearer …`` decides the org and the scopes."""

from __future__ import annotations

from starlette.requests import Request

from livereport.errors import Forbidden, Unauthorized
from livereport.store.metadata import ApiKey, Metadata, Scope


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
