"""What the API's rule tables share (bounce rules: web/bounce_rules.py, machine detection
rules: web/machine_rules.py, alert rules: web/alerts.py): JSON answers, a body that must be
JSON, and the OpenAPI description of their errors."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from livereport.errors import UnsupportedMediaType
from livereport.ingest.decode import read_body

_encode = msgspec.json.Encoder().encode


def json_response(content: Any, status: int = 200) -> Response:
    return Response(_encode(content), status_code=status, media_type="application/json")


def media_type(request: Request) -> str:
    """The request's Content-Type without its parameters, in lower case ('' for none)."""
    return (request.headers.get("content-type") or "").split(";")[0].strip().lower()


async def json_body(request: Request, limit: int) -> bytes:
    """The body of a request that must send JSON, up to ``limit`` bytes once decompressed;
    UnsupportedMediaType for another Content-Type."""
    media = media_type(request)
    if media != "application/json":
        raise UnsupportedMediaType(
            f"Content-Type {media or '(none)'!r} is not accepted; send application/json"
        )
    return await read_body(request.stream(), request.headers.get("content-encoding"), limit)


def error_answer(description: str) -> dict[str, Any]:
    """An error answer in the OpenAPI document: ``{"error": message}``."""
    schema = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def access_errors() -> dict[str, Any]:
    """The errors of a table that any key reads (GET) and only an admin's replaces (PUT)."""
    return {
        "401": error_answer("No API key or session, or an unknown or revoked one."),
        "403": error_answer("The credential lacks the needed scope (PUT needs admin)."),
    }
