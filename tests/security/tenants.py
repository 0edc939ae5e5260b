"""Helpers of the security tests: a server holding two orgs with users of every role, and
clients signed in as them or holding their keys."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from conftest import Server, post, start_app
from livereport.store.metadata import Metadata

CSRF = {"X-Requested-With": "livereport"}
ORG_B = "org-b"

ADMIN_A = ("ann@a.example", "admin-a-password")
EDITOR_A = ("eddie@a.example", "editor-a-password")
VIEWER_A = ("vera@a.example", "viewer-a-password")
ADMIN_B = ("bob@b.example", "admin-b-password")
EDITOR_B = ("betty@b.example", "editor-b-password")


@dataclass
class Tenants:
    """A server with org A (the first org) and org B, their users and keys."""

    server: Server
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def key_client(self, name: str) -> httpx.Client:
        return self.server.client(self.keys[name])

    @contextmanager
    def signed_in(self, user: tuple[str, str]) -> Iterator[httpx.Client]:
        with httpx.Client(base_url=self.url, timeout=60, headers=CSRF) as client:
            response = client.post("/v1/signin", json={"email": user[0], "password": user[1]})
            assert response.status_code == 200, response.text
            yield client


def start_tenants(
    data: Path, env: dict[str, str] | None = None, *, process: bool = False
) -> Tenants:
    """Org A is the one made at first start; org B, the users and keys are made in the
    metadata directly, as the CLI does (and as fast), while the server runs: in this process,
    or with ``process`` a `livereport serve` child (tests of the process itself)."""
    server = Server(data, env=env or {}).start() if process else start_app(data, env or {})
    metadata = Metadata(data / "metadata.sqlite3", cheap_passwords=True)
    org_a, org_b = metadata.org(), metadata.create_org(ORG_B)
    for user, role, org in (
        (ADMIN_A, "admin", org_a),
        (EDITOR_A, "editor", org_a),
        (VIEWER_A, "viewer", org_a),
        (ADMIN_B, "admin", org_b),
        (EDITOR_B, "editor", org_b),
    ):
        metadata.create_user(org, user[0], role, user[1])
    tenants = Tenants(server)
    tenants.keys = {
        "a": metadata.create_key(org_a, ["ingest", "read"])[0],
        "a_admin": metadata.create_key(org_a, ["admin"])[0],
        "b": metadata.create_key(org_b, ["ingest", "read"])[0],
        "b_admin": metadata.create_key(org_b, ["admin"])[0],
    }
    return tenants


def event(campaign: str, type_: str, channel: str = "email", **fields: Any) -> dict[str, Any]:
    return {
        "id": uuid.uuid4().hex,
        "time": datetime.now(UTC).isoformat(),
        "campaign": campaign,
        "type": type_,
        "channel": channel,
        "profile": f"p-{uuid.uuid4().hex[:8]}",
        **fields,
    }


def send(client: httpx.Client, events: list[dict[str, Any]]) -> dict[str, Any]:
    return post(client, events)
