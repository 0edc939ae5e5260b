"""Dashboard layouts per user and tab: the default from the catalogue, validation, the API.

A layout places some of a tab's widgets on a 12-column grid, each with a visualisation; the
widgets it leaves out are the removed ones the user may add back.
``GET/PUT/DELETE /v1/layouts/{tab}``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from livereport.errors import BadRequest, Forbidden
from livereport.report.build import check_tab
from livereport.report.catalogue import TABS, Widget, widgets_of
from livereport.store.metadata import Role
from livereport.web.auth import Caller, authenticate_caller
from livereport.web.params import services_of
from livereport.web.services import Services

COLUMNS = 12
MIN_W, MIN_H = 2, 2
MAX_H = 12
#: Rows below which nothing may be placed: far more than any tab needs.
MAX_Y = 200
MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class Placement:
    id: str
    x: int
    y: int
    w: int
    h: int
    visualisation: str

    def overlaps(self, other: Placement) -> bool:
        return (
            self.x < other.x + other.w
            and other.x < self.x + self.w
            and self.y < other.y + other.h
            and other.y < self.y + self.h
        )


def default_layout(tab: str) -> list[Placement]:
    """The catalogue's widgets of a tab in order, at their default sizes, filled row by row."""
    placed: list[Placement] = []
    x = y = row_height = 0
    for widget in widgets_of(tab):
        w, h = widget.size
        if x + w > COLUMNS:
            x, y, row_height = 0, y + row_height, 0
        placed.append(Placement(widget.id, x, y, w, h, widget.visualisation.value))
        x += w
        row_height = max(row_height, h)
    return placed


def _integer(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{where}: expected a whole number from {low} to {high}")
    if not low <= value <= high:
        raise BadRequest(f"{where}: {value} is out of range; expected {low} to {high}")
    return value


def validate_layout(tab: str, body: Any) -> list[Placement]:
    """The placements of a PUT body, or BadRequest naming the first problem found."""
    widgets = {w.id: w for w in widgets_of(tab)}
    if not isinstance(body, dict) or not isinstance(body.get("widgets"), list):
        raise BadRequest(
            'layout: expected {"widgets": [{"id", "x", "y", "w", "h", "visualisation"}, …]}'
        )
    items: list[Any] = body["widgets"]
    if len(items) > len(widgets):
        raise BadRequest(f"widgets: {len(items)} given; the {TABS[tab]} tab has {len(widgets)}")
    placed: list[Placement] = []
    for i, item in enumerate(items):
        where = f"widgets[{i}]"
        if not isinstance(item, dict):
            raise BadRequest(f"{where}: expected an object with id, x, y, w, h, visualisation")
        wid = item.get("id")
        widget = widgets.get(wid) if isinstance(wid, str) else None
        if widget is None:
            shown = repr(wid[:80]) if isinstance(wid, str) else repr(type(wid).__name__)
            raise BadRequest(
                f"{where}.id: {shown} is not a widget of the {TABS[tab]} tab; "
                f"expected one of {', '.join(widgets)}"
            )
        if any(p.id == widget.id for p in placed):
            raise BadRequest(f"{where}.id: {widget.id} appears twice; place each widget once")
        w = _integer(item.get("w"), f"{where}.w", MIN_W, COLUMNS)
        h = _integer(item.get("h"), f"{where}.h", MIN_H, MAX_H)
        x = _integer(item.get("x"), f"{where}.x", 0, COLUMNS - 1)
        y = _integer(item.get("y"), f"{where}.y", 0, MAX_Y)
        if x + w > COLUMNS:
            raise BadRequest(f"{where}: x + w is {x + w}, past the {COLUMNS} columns")
        placement = Placement(widget.id, x, y, w, h, _visualisation(widget, item, where))
        for other in placed:
            if placement.overlaps(other):
                raise BadRequest(f"{where}: {widget.id} overlaps {other.id}; place it elsewhere")
        placed.append(placement)
    return placed


def _visualisation(widget: Widget, item: dict[str, Any], where: str) -> str:
    allowed = [v.value for v in widget.visualisations]
    chosen = item.get("visualisation", widget.visualisation.value)
    if chosen not in allowed:
        shown = repr(chosen[:40]) if isinstance(chosen, str) else repr(chosen)
        raise BadRequest(
            f"{where}.visualisation: {shown} is not available for {widget.id}; "
            f"expected one of {', '.join(allowed)}"
        )
    return str(chosen)


def _stored(tab: str, text: str | None) -> list[Placement] | None:
    """A saved layout, if it still fits the catalogue (widgets may have changed since)."""
    if text is None:
        return None
    try:
        return validate_layout(tab, json.loads(text))
    except (BadRequest, ValueError):
        return None


def layout_json(tab: str, placements: list[Placement], is_default: bool) -> dict[str, Any]:
    placed = {p.id for p in placements}
    return {
        "tab": tab,
        "default": is_default,
        "columns": COLUMNS,
        "limits": {"min_w": MIN_W, "min_h": MIN_H, "max_h": MAX_H, "max_y": MAX_Y},
        "widgets": [asdict(p) for p in placements],
        "removed": [w.id for w in widgets_of(tab) if w.id not in placed],
    }


def _caller(request: Request) -> tuple[Services, Caller, str]:
    services = services_of(request)
    caller = authenticate_caller(request, services.metadata)
    return services, caller, check_tab(request.path_params["tab"])


def _editor(caller: Caller) -> int:
    user = caller.user
    if user is None:
        raise Forbidden(
            "layouts belong to signed-in users; sign in to the dashboard to arrange one"
        )
    if user.role == Role.VIEWER:
        raise Forbidden("a viewer cannot change layouts; ask an admin for the editor role")
    return user.id


async def get_layout(request: Request) -> Response:
    """The caller's layout of a tab, or the default (also for API keys)."""
    services, caller, tab = _caller(request)
    saved = None
    if caller.user is not None:
        text = await run_in_threadpool(services.metadata.layout, caller.user.id, tab)
        saved = _stored(tab, text)
    if saved is None:
        return JSONResponse(layout_json(tab, default_layout(tab), True))
    return JSONResponse(layout_json(tab, saved, False))


async def put_layout(request: Request) -> Response:
    services, caller, tab = _caller(request)
    user_id = _editor(caller)
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest(f"layout: the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        parsed = json.loads(body)
    except ValueError:
        raise BadRequest("layout: the body is not JSON") from None
    placements = validate_layout(tab, parsed)
    text = json.dumps({"widgets": [asdict(p) for p in placements]})
    await run_in_threadpool(services.metadata.save_layout, user_id, tab, text)
    return JSONResponse(layout_json(tab, placements, False))


async def delete_layout(request: Request) -> Response:
    """Reset: forget the caller's layout of the tab; answers the default."""
    services, caller, tab = _caller(request)
    user_id = _editor(caller)
    await run_in_threadpool(services.metadata.delete_layout, user_id, tab)
    return JSONResponse(layout_json(tab, default_layout(tab), True))


def _error(description: str) -> dict[str, Any]:
    schema = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def openapi_paths() -> dict[str, Any]:
    """This module's routes for the OpenAPI document (web/openapi.py)."""
    placement = {
        "type": "object",
        "properties": {
            "id": {"type": "string", "description": "A widget of the tab (GET /v1/catalogue)."},
            "x": {"type": "integer", "minimum": 0, "maximum": COLUMNS - 1},
            "y": {"type": "integer", "minimum": 0, "maximum": MAX_Y},
            "w": {
                "type": "integer",
                "minimum": MIN_W,
                "maximum": COLUMNS,
                "description": f"x + w is at most {COLUMNS}.",
            },
            "h": {"type": "integer", "minimum": MIN_H, "maximum": MAX_H},
            "visualisation": {
                "type": "string",
                "description": "One of the widget's visualisations; without it, its default.",
            },
        },
        "required": ["id", "x", "y", "w", "h"],
    }
    layout = {
        "type": "object",
        "properties": {
            "tab": {"type": "string", "enum": list(TABS)},
            "default": {
                "type": "boolean",
                "description": "The catalogue's layout, not one the user saved.",
            },
            "columns": {"type": "integer"},
            "limits": {
                "type": "object",
                "properties": {
                    k: {"type": "integer"} for k in ("min_w", "min_h", "max_h", "max_y")
                },
                "required": ["min_w", "min_h", "max_h", "max_y"],
            },
            "widgets": {
                "type": "array",
                "items": {**placement, "required": [*placement["required"], "visualisation"]},
            },
            "removed": {
                "type": "array",
                "items": {"type": "string"},
                "description": "The tab's widgets the layout leaves out.",
            },
        },
        "required": ["tab", "default", "columns", "limits", "widgets", "removed"],
    }
    tab = {
        "name": "tab",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": list(TABS)},
    }
    csrf = {
        "name": "X-Requested-With",
        "in": "header",
        "required": True,
        "description": "Proves the request comes from the dashboard's own pages (CSRF).",
        "schema": {"type": "string", "const": "livereport"},
    }
    common = {
        "401": _error("No credential, or an unknown or ended one."),
        "403": _error(
            "Not a signed-in editor or admin (an API key has no layouts), or the X-Requested-With header is missing."
        ),
        "404": _error("No such tab."),
    }
    answer = {"description": "The layout.", "content": {"application/json": {"schema": layout}}}
    changes = "Signed-in editors and admins only (session cookie): API keys and viewers get 403."
    return {
        "/v1/layouts/{tab}": {
            "get": {
                "summary": "Your layout of a tab, or the default (the default for API keys)",
                "security": [{"apiKey": ["read"]}, {"session": []}],
                "parameters": [tab],
                "responses": {"200": answer, **common},
            },
            "put": {
                "summary": "Save your layout of a tab",
                "description": f"{changes} Every placed widget once, inside the {COLUMNS} columns, none overlapping; the tab's widgets left out are removed ones. At most {MAX_BODY_BYTES // 1024} KB.",
                "security": [{"session": []}],
                "parameters": [tab, csrf],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"widgets": {"type": "array", "items": placement}},
                                "required": ["widgets"],
                            }
                        }
                    },
                },
                "responses": {
                    "200": answer,
                    "400": _error("The layout does not fit: the message names the first problem."),
                    **common,
                },
            },
            "delete": {
                "summary": "Back to the default layout",
                "description": changes,
                "security": [{"session": []}],
                "parameters": [tab, csrf],
                "responses": {"200": answer, **common},
            },
        },
    }
