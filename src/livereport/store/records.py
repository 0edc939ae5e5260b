"""The records metadata hands out (orgs, keys, users, sessions, webhook settings, kept
returns) and the roles and scopes they carry: plain values, free of any database."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Scope(StrEnum):
    INGEST = "ingest"
    READ = "read"
    ADMIN = "admin"


class Role(StrEnum):
    ADMIN = "admin"
    EDITOR = "editor"
    VIEWER = "viewer"


@dataclass(frozen=True)
class Org:
    id: int
    name: str


@dataclass(frozen=True)
class ApiKey:
    id: int
    org_id: int
    name: str
    prefix: str
    scopes: frozenset[Scope]
    created: float
    revoked: float | None
    expires: float | None = None
    last_used: float | None = None


@dataclass(frozen=True)
class User:
    id: int
    org_id: int
    email: str
    role: Role


@dataclass(frozen=True)
class StoredSession:
    """A browser session: ``id`` is the hash of the cookie value, never the value itself."""

    id: str
    user: User
    created: float
    last_seen: float


@dataclass(frozen=True)
class WebhookOrg:
    """An org's provider webhooks: its secrets by provider and its metadata field names."""

    org_id: int
    secrets: dict[str, str]
    campaign_field: str = "campaign"
    profile_field: str = "profile"
    execution_field: str = "execution"
    variant_field: str = "variant"


@dataclass(frozen=True)
class KeptReturn:
    """A returned mail that made no event: not attributed, or not recognised as a return."""

    digest: str
    received: float
    kind: str
    category: str | None
    reason: str | None
    status: str | None
    rule: str
    subject: str
    why: str
    id: int = 0
