"""The dashboard's pages: static HTML and JavaScript that read the JSON API in the browser.

Each page has a JSON twin (the campaign list is ``/v1/campaigns``, the org totals
``/v1/totals``, a report tab is ``/v1/campaigns/{c}/report?tab=…``). Pages need a signed-in
session; without one they send the browser to ``/signin``. Every page forbids scripts, styles
and requests from other hosts.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from livereport.web.params import services_of
from livereport.web.session import request_session

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
#: Copied from the npm lock by ``./dev setup`` (frontend/vendor.mjs); never committed.
VENDOR_FILES = ("chart.umd.min.js", "gridstack-all.js", "gridstack.min.css")

#: Nothing from other hosts, no inline script or style; frames refused.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _page(name: str) -> Response:
    return FileResponse(STATIC / "html" / name, media_type="text/html", headers=SECURITY_HEADERS)


def safe_next(target: str | None) -> str:
    """Where to go after sign-in: only a path of this site, never another host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/campaigns"
    return target


async def _signed_in(request: Request) -> bool:
    session = await run_in_threadpool(request_session, request, services_of(request).metadata)
    return session is not None


async def _protected(request: Request, name: str) -> Response:
    if not await _signed_in(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/signin?next={quote(target, safe='')}", status_code=303)
    return _page(name)


async def home(request: Request) -> Response:
    return RedirectResponse("/campaigns", status_code=303)


async def signin_page(request: Request) -> Response:
    if await _signed_in(request):
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    return _page("signin.html")


async def campaigns_page(request: Request) -> Response:
    return await _protected(request, "campaigns.html")


async def totals_page(request: Request) -> Response:
    return await _protected(request, "totals.html")


async def report_page(request: Request) -> Response:
    return await _protected(request, "report.html")


async def favicon(request: Request) -> Response:
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")


def page_routes() -> list[BaseRoute]:
    missing = [name for name in VENDOR_FILES if not (STATIC / "vendor" / name).exists()]
    if missing:
        log.warning(
            "the dashboard's libraries are missing (%s); run ./dev setup to install them",
            ", ".join(missing),
        )
    return [
        Route("/", home),
        Route("/signin", signin_page),
        Route("/campaigns", campaigns_page),
        Route("/totals", totals_page),
        Route("/campaigns/{campaign:path}", report_page),
        Route("/favicon.ico", favicon),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
