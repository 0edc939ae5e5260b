"""Every route of the HTTP API, webhooks and returned mails included, is in the OpenAPI
document the server serves."""

from __future__ import annotations

from pathlib import Path

import httpx
from starlette.routing import Route

from conftest import Server
from livereport.config import Config
from livereport.web.app import create_app


def test_every_api_route_is_documented(server: Server, tmp_path: Path) -> None:
    document = httpx.get(f"{server.url}/v1/openapi.json").json()["paths"]
    # Only the route table is read: the app is never started, so it needs no store.
    app = create_app(Config.load(data=tmp_path / "data"), None, None)  # type: ignore[arg-type]
    missing = []
    for route in app.routes:
        if not isinstance(route, Route) or not route.path.startswith("/v1/"):
            continue
        path = route.path.replace(":path}", "}")
        for method in sorted((route.methods or set()) - {"HEAD"}):
            if path != "/v1/openapi.json" and method.lower() not in document.get(path, {}):
                missing.append(f"{method} {path}")
    assert not missing, f"not in the OpenAPI document: {missing}"
    for path in (
        "/v1/returns",
        "/v1/returns/unattributed",
        "/v1/campaigns/{campaign}/bounces/{event_id}",
        "/v1/webhooks/{provider}/{org_token}",
    ):
        assert all("200" in op["responses"] for op in document[path].values()), path
