"""The admin API: users (create, change role, disable, unlock, reset a password), API keys
(create with expiry, list with last use, revoke), the audit log, and new orgs; and what a
user does for themselves: change their password, accept an invitation (with their pages).

Every admin route needs an admin: a signed-in user with the admin role, or a key with the
admin scope. Each acts on the caller's org only; a user or key of another org answers 404,
like one that does not exist. Every change is written to the audit log (who, what, when,
from where).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import msgspec
from msgspec import UNSET, UnsetType
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from livereport.errors import (
    BadRequest,
    Forbidden,
    LivereportError,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
)
from livereport.store.metadata import (
    MIN_PASSWORD,
    ApiKey,
    Metadata,
    Org,
    Scope,
    check_new_password,
    random_password,
)
from livereport.web.auth import Caller, authenticate_caller
from livereport.web.pages import _page, _protected
from livereport.web.params import NOT_BLANK, clock_of, services_of
from livereport.web.session import (
    client_address,
    request_session,
    require_csrf,
    signin_throttle,
)

MAX_BODY_BYTES = 16 * 1024
#: Longest key lifetime an admin may choose, in days.
MAX_KEY_DAYS = 3650
#: Longest an invitation stays open, in days.
MAX_INVITE_DAYS = 30
#: An email address as the API takes it: something@somewhere in printable ASCII, no spaces
#: (an international domain in its xn-- form). One pattern for the check here and for the
#: OpenAPI document (ECMA-262 there, where ``$`` is the end of the text).
EMAIL_PATTERN = "^[!-?A-~]+@[!-?A-~]+$"
MAX_EMAIL = 254
_EMAIL = re.compile(EMAIL_PATTERN[:-1] + r"\Z")
_NOT_BLANK = re.compile(NOT_BLANK)
MAX_ORG_NAME = 100

T = TypeVar("T")
#: A JSON integer: JSON Schema counts 30.0 as one, so the API does too.
Whole = int | float


class AlreadyExists(LivereportError):
    """A user or an org by that name is already there (409)."""

    status = 409


class NewUser(msgspec.Struct, forbid_unknown_fields=True):
    email: str
    role: str
    password: str


class UserChange(msgspec.Struct, forbid_unknown_fields=True):
    role: str | UnsetType = UNSET
    disabled: bool | UnsetType = UNSET
    unlock: bool | UnsetType = UNSET


class NewKey(msgspec.Struct, forbid_unknown_fields=True):
    scopes: list[str]
    name: str = ""
    expires_in_days: Whole | UnsetType = UNSET


class NewInvite(msgspec.Struct, forbid_unknown_fields=True):
    email: str
    role: str
    days: Whole = 7


class Acceptance(msgspec.Struct, forbid_unknown_fields=True):
    token: str
    password: str


class InviteToken(msgspec.Struct, forbid_unknown_fields=True):
    token: str


class PasswordChange(msgspec.Struct, forbid_unknown_fields=True):
    current_password: str
    new_password: str


class PasswordReset(msgspec.Struct, forbid_unknown_fields=True):
    password: str | UnsetType = UNSET


class NewOrg(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    admin_email: str
    admin_password: str


_EXPECTED: dict[type[Any], str] = {
    NewUser: '{"email": …, "role": "admin"|"editor"|"viewer", "password": …}',
    UserChange: '{"role"?: "admin"|"editor"|"viewer", "disabled"?: true|false, "unlock"?: true|false} (at least one)',
    NewKey: '{"scopes": ["ingest"|"read"|"admin", …], "name"?: …, "expires_in_days"?: 1…3650}',
    NewOrg: '{"name": …, "admin_email": …, "admin_password": …}',
    NewInvite: '{"email": …, "role": "admin"|"editor"|"viewer", "days"?: 1…30}',
    Acceptance: '{"token": "inv_…", "password": … (at least 10 characters)}',
    InviteToken: '{"token": "inv_…"}',
    PasswordChange: '{"current_password": …, "new_password": … (at least 10 characters)}',
    PasswordReset: '{"password"?: … (at least 10 characters; without it a random one is made)}',
}


def check_email(value: str, field: str = "email") -> str:
    if len(value) > MAX_EMAIL or not _EMAIL.match(value):
        raise BadRequest(
            f"{field}: expected an email address such as ana@example.com (printable ASCII, no "
            f"spaces, at most {MAX_EMAIL} characters)"
        )
    return value


def check_whole(value: float, field: str, low: int, high: int) -> int:
    if not float(value).is_integer() or not low <= value <= high:
        raise BadRequest(
            f"{field}: {value} is out of range; expected a whole number {low} to {high}"
        )
    return int(value)


@contextlib.contextmanager
def conflicts(found: Callable[[], bool], message: str) -> Iterator[None]:
    """Around making a user or an org: 409 when ``found()`` says it exists, before, or after
    the store refused it (another request made the same one meanwhile)."""
    if found():
        raise AlreadyExists(message)
    try:
        yield
    except BadRequest:
        if found():
            raise AlreadyExists(message) from None
        raise


def new_user(
    metadata: Metadata, email: str, field: str = "email"
) -> contextlib.AbstractContextManager[None]:
    """Around making a user: the email well formed (400) and nobody's (409)."""
    check_email(email, field)
    return conflicts(
        lambda: metadata.account_by_email(email) is not None,
        f"{field}: user {email.lower()} already exists; choose another email",
    )


async def _body(request: Request, kind: type[T], empty: T | None = None) -> T:
    """The JSON body as ``kind``; an empty body is ``empty`` when that is given."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"the body is larger than {MAX_BODY_BYTES} bytes; send less")
    if empty is not None and not body.strip():
        return empty
    try:
        return msgspec.json.decode(bytes(body), type=kind)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise BadRequest(f"{exc}; expected JSON {_EXPECTED[kind]}") from None


async def _admin(request: Request) -> tuple[Metadata, Caller, Org]:
    metadata = services_of(request).metadata
    caller = authenticate_caller(request, metadata, Scope.ADMIN)
    org = await run_in_threadpool(metadata.org_by_id, caller.org_id)
    return metadata, caller, org


def _record(metadata: Metadata, caller: Caller, request: Request, action: str, target: str) -> None:
    metadata.audit(caller.org_id, caller.actor, action, target, client_address(request))


def _number(request: Request, name: str, what: str) -> int:
    raw = request.path_params[name]
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound(f"there is no {what} {raw[:40]!r}; ids are whole numbers")
    return int(raw)


def key_json(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "scopes": sorted(key.scopes),
        "created": key.created,
        "revoked": key.revoked,
        "expires": key.expires,
        "last_used": key.last_used,
    }


# users


async def get_users(request: Request) -> Response:
    metadata, _, org = await _admin(request)
    accounts = await run_in_threadpool(metadata.accounts, org)
    now = time.time()
    return JSONResponse({"users": [a.json(now) for a in accounts]})


async def post_user(request: Request) -> Response:
    metadata, caller, org = await _admin(request)
    new = await _body(request, NewUser)

    def create() -> dict[str, Any]:
        with new_user(metadata, new.email):
            user = metadata.create_user(org, new.email, new.role, new.password)
        _record(metadata, caller, request, "user.create", f"user {user.email} as {user.role}")
        return metadata.account(org, user.id).json(time.time())

    return JSONResponse(await run_in_threadpool(create))


async def patch_user(request: Request) -> Response:
    metadata, caller, org = await _admin(request)
    user_id = _number(request, "user_id", "user")
    change = await _body(request, UserChange)
    if change.role is UNSET and change.disabled is UNSET and change.unlock is UNSET:
        raise BadRequest(f"nothing to change; expected JSON {_EXPECTED[UserChange]}")

    def apply() -> dict[str, Any]:
        account = metadata.account(org, user_id)
        if (
            caller.user is not None
            and caller.user.id == user_id
            and (change.disabled is True or (change.role is not UNSET and change.role != "admin"))
        ):
            raise BadRequest("you cannot disable or demote yourself; ask another admin")
        target = f"user {account.email}"
        if change.role is not UNSET and change.role != account.role:
            metadata.set_role(org, user_id, change.role)
            _record(
                metadata, caller, request, "user.role", f"{target}: {account.role} → {change.role}"
            )
        if change.disabled is not UNSET and change.disabled != (account.disabled is not None):
            metadata.set_disabled(org, user_id, change.disabled)
            action = "user.disable" if change.disabled else "user.enable"
            _record(metadata, caller, request, action, target)
        if change.unlock is True:
            metadata.clear_failed_sign_ins(user_id)
            _record(metadata, caller, request, "user.unlock", target)
        return metadata.account(org, user_id).json(time.time())

    return JSONResponse(await run_in_threadpool(apply))


async def post_user_password(request: Request) -> Response:
    """``POST /v1/admin/users/{id}/password``: an admin sets a user's password (a random one,
    returned once, unless given) and every session of that user ends at once."""
    metadata, caller, org = await _admin(request)
    user_id = _number(request, "user_id", "user")
    given = await _body(request, PasswordReset, empty=PasswordReset())
    if caller.user is not None and caller.user.id == user_id:
        # A reset skips the current password: a borrowed session must not take the account.
        raise BadRequest(
            "this is your own account; change your password with POST /v1/me/password "
            "(the Account page), which asks for the current one"
        )
    generated = given.password is UNSET
    password = random_password() if given.password is UNSET else given.password
    check_new_password(password)

    def reset() -> dict[str, Any]:
        account = metadata.account(org, user_id)
        ended = metadata.reset_password(org, user_id, password)
        what = f"user {account.email}; {ended} sessions ended"
        _record(metadata, caller, request, "user.password.reset", what)
        shown = {"password": password} if generated else {}
        return {
            "id": account.id,
            "email": account.email,
            "generated": generated,
            "sessions_ended": ended,
            **shown,
        }

    return JSONResponse(await run_in_threadpool(reset))


async def post_my_password(request: Request) -> Response:
    """``POST /v1/me/password``: the signed-in user changes their password, proving the
    current one; their other sessions end, the one making the change goes on.

    Wrong current passwords count with failed sign-ins (per email and per address), so a
    borrowed session gets no more guesses than the sign-in page gives."""
    metadata = services_of(request).metadata
    session = await run_in_threadpool(request_session, request, metadata)
    if session is None:
        raise Unauthorized(
            "you are not signed in; sign in at /signin, then change your password "
            "(an API key has no password; admins reset users' with POST /v1/admin/users/{id}/password)"
        )
    require_csrf(request)
    given = await _body(request, PasswordChange)
    config = services_of(request).config
    limit = max(1, config.signin_max_failures)
    now = clock_of(request).now()
    user = session.user
    keys = [f"email:{user.email}", f"client:{client_address(request)}"]
    throttle = signin_throttle(request)
    throttle.check(keys, now, limit)
    check_new_password(given.new_password, "new_password")
    if given.new_password == given.current_password:
        raise BadRequest("new_password: it is your current password; choose a different one")

    def change() -> int | None:
        if metadata.check_password(user.email, given.current_password) is None:
            return None
        ended = metadata.set_password(user.id, given.new_password, keep_session=session.id)
        what = f"user {user.email}; {ended} other sessions ended"
        metadata.audit(
            user.org_id, f"user {user.email}", "user.password", what, client_address(request)
        )
        return ended

    ended = await run_in_threadpool(change)
    if ended is None:
        throttle.fail(keys, now, limit)
        raise BadRequest(
            "current_password: this is not your current password; type the one you sign in with"
        )
    return JSONResponse({"email": user.email, "changed": True, "other_sessions_ended": ended})


async def post_invite(request: Request) -> Response:
    """An invitation: a one-time token the invitee exchanges for an account and a password."""
    metadata, caller, org = await _admin(request)
    new = await _body(request, NewInvite)
    days = check_whole(new.days, "days", 1, MAX_INVITE_DAYS)

    def create() -> dict[str, Any]:
        with new_user(metadata, new.email):
            token, invite = metadata.create_invite(org, new.email, new.role, days)
        _record(metadata, caller, request, "user.invite", f"user {invite.email} as {invite.role}")
        # The token rides in the fragment, which browsers never send to the server (no log
        # or Referer holds it); the page reads it from there.
        return {
            "token": token,
            "email": invite.email,
            "role": invite.role,
            "expires": invite.expires,
            "link": f"{request.base_url}invite#{token}",
            "accept": "POST /v1/invites/accept",
        }

    return JSONResponse(await run_in_threadpool(create))


async def post_invite_check(request: Request) -> Response:
    """``POST /v1/invites/check``: what an invitation is for (email, role, org), or why it can
    no longer be accepted, so its page says so before a password is chosen. The token goes in
    the body: URLs end up in logs."""
    metadata = services_of(request).metadata
    given = await _body(request, InviteToken)

    def check() -> dict[str, Any]:
        invite = metadata.open_invite(given.token)
        org = metadata.org_by_id(invite.org_id)
        return {
            "email": invite.email,
            "role": invite.role,
            "org": org.name,
            "expires": invite.expires,
        }

    return JSONResponse(await run_in_threadpool(check))


async def post_accept(request: Request) -> Response:
    """``POST /v1/invites/accept``: the invitation's token and a password make the account;
    no other credential needed (the token is one)."""
    metadata = services_of(request).metadata
    given = await _body(request, Acceptance)

    def accept() -> dict[str, Any]:
        invite = metadata.open_invite(given.token)
        if metadata.account_by_email(invite.email) is not None:
            raise AlreadyExists(
                f"user {invite.email} already exists (made since the invitation); sign in with "
                "that account, or ask an admin"
            )
        user = metadata.accept_invite(given.token, given.password)
        metadata.audit(
            user.org_id,
            f"user {user.email}",
            "user.accept",
            f"user {user.email} as {user.role}",
            client_address(request),
        )
        return {"email": user.email, "role": user.role.value, "signin": "POST /v1/signin"}

    return JSONResponse(await run_in_threadpool(accept))


# API keys


async def get_keys(request: Request) -> Response:
    metadata, _, org = await _admin(request)
    keys = await run_in_threadpool(metadata.keys, org)
    return JSONResponse({"keys": [key_json(k) for k in keys]})


async def post_key(request: Request) -> Response:
    metadata, caller, org = await _admin(request)
    new = await _body(request, NewKey)
    if len(new.name) > 100:
        raise BadRequest("name: expected at most 100 characters")
    expires = None
    if new.expires_in_days is not UNSET:
        days = check_whole(new.expires_in_days, "expires_in_days", 1, MAX_KEY_DAYS)
        expires = time.time() + days * 86_400

    def create() -> dict[str, Any]:
        plain, key = metadata.create_key(org, new.scopes, new.name, expires)
        scopes = ",".join(sorted(key.scopes))
        _record(metadata, caller, request, "key.create", f"key {key.id} ({key.prefix}…) {scopes}")
        return {"key": plain, **key_json(key)}

    return JSONResponse(await run_in_threadpool(create))


async def delete_key(request: Request) -> Response:
    metadata, caller, org = await _admin(request)
    key_id = _number(request, "key_id", "key")

    def revoke() -> dict[str, Any]:
        metadata.revoke_key(org, key_id)
        _record(metadata, caller, request, "key.revoke", f"key {key_id}")
        return {"revoked": key_id}

    return JSONResponse(await run_in_threadpool(revoke))


# the audit log and orgs


async def get_audit(request: Request) -> Response:
    metadata, _, org = await _admin(request)
    entries = await run_in_threadpool(metadata.audit_log, org)
    return JSONResponse({"entries": [e.json() for e in entries]})


async def post_org(request: Request) -> Response:
    """A new org with its first admin; only admins of the instance's first org may."""
    metadata, caller, _ = await _admin(request)
    new = await _body(request, NewOrg)

    def create() -> dict[str, Any]:
        if metadata.org().id != caller.org_id:
            raise Forbidden("only admins of the instance's first org can create orgs")
        # Checked first, so that a refused admin never leaves an org nobody can manage.
        check_new_password(new.admin_password, "admin_password")
        if len(new.name) > MAX_ORG_NAME or not _NOT_BLANK.search(new.name):
            raise BadRequest(f"name: expected 1 to {MAX_ORG_NAME} characters, not all spaces")
        name = new.name.strip()
        with new_user(metadata, new.admin_email, "admin_email"):
            with conflicts(
                lambda: any(o.name == name for o in metadata.orgs()),
                f"name: org {name!r} already exists; choose another",
            ):
                org = metadata.create_org(new.name)
            user = metadata.create_user(org, new.admin_email, "admin", new.admin_password)
        what = f"org {org.name} with admin {user.email}"
        _record(metadata, caller, request, "org.create", what)
        metadata.audit(org.id, caller.actor, "org.create", what, client_address(request))
        return {"id": org.id, "name": org.name, "admin": user.email}

    return JSONResponse(await run_in_threadpool(create))


# pages


async def account_page(request: Request) -> Response:
    """The signed-in user's account: who they are, and the form to change their password."""
    return await _protected(request, "account.html")


async def invite_page(request: Request) -> Response:
    """Where an invitation's link leads: the invitee chooses a password (no session needed)."""
    return _page("invite.html")


def account_routes() -> list[BaseRoute]:
    return [
        Route("/v1/admin/users", get_users, methods=["GET"]),
        Route("/v1/admin/users", post_user, methods=["POST"]),
        Route("/v1/admin/users/{user_id}", patch_user, methods=["PATCH"]),
        Route("/v1/admin/users/{user_id}/password", post_user_password, methods=["POST"]),
        Route("/v1/me/password", post_my_password, methods=["POST"]),
        Route("/v1/admin/invites", post_invite, methods=["POST"]),
        Route("/v1/invites/check", post_invite_check, methods=["POST"]),
        Route("/v1/invites/accept", post_accept, methods=["POST"]),
        Route("/v1/admin/keys", get_keys, methods=["GET"]),
        Route("/v1/admin/keys", post_key, methods=["POST"]),
        Route("/v1/admin/keys/{key_id}", delete_key, methods=["DELETE"]),
        Route("/v1/admin/audit", get_audit, methods=["GET"]),
        Route("/v1/admin/orgs", post_org, methods=["POST"]),
        Route("/account", account_page),
        Route("/invite", invite_page),
    ]


def _error(text: str) -> dict[str, Any]:
    return {
        "description": text,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


_ADMIN_ERRORS = {
    "400": _error("The request is not valid; the message says what is expected."),
    "401": _error("No credential, or an unknown, revoked or expired one."),
    "403": _error("The caller is not an admin (an admin-scope key or a signed-in admin)."),
    "404": _error("No such user or key in your org."),
    "413": _error("The body is over 16 KB."),
    "429": _error("The API key sent too many requests; retry after Retry-After seconds."),
}
_ACCOUNT_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "email": {"type": "string"},
        "role": {"type": "string", "enum": ["admin", "editor", "viewer"]},
        "created": {"type": "number"},
        "disabled": {"type": "boolean"},
        "failed_sign_ins": {"type": "integer", "minimum": 0},
        "locked_until": {
            "type": ["number", "null"],
            "description": "Epoch seconds; set while the account is locked after too many wrong passwords.",
        },
    },
    "required": ["id", "email", "role", "created", "disabled", "failed_sign_ins", "locked_until"],
}
_KEY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "prefix": {"type": "string"},
        "scopes": {
            "type": "array",
            "items": {"type": "string", "enum": ["admin", "ingest", "read"]},
        },
        "created": {"type": "number"},
        "revoked": {"type": ["number", "null"]},
        "expires": {"type": ["number", "null"]},
        "last_used": {"type": ["number", "null"]},
    },
    "required": ["id", "name", "prefix", "scopes", "created", "revoked", "expires", "last_used"],
}


def _path_id(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _answer(code: str, schema: dict[str, Any], text: str) -> dict[str, Any]:
    return {
        code: {"description": text, "content": {"application/json": {"schema": schema}}},
        **_ADMIN_ERRORS,
    }


def openapi_paths() -> dict[str, Any]:
    """The admin routes in the OpenAPI document (web/openapi.py)."""
    admin = [{"apiKey": ["admin"]}, {"session": []}]
    note = "Admins only: a key with the admin scope, or a signed-in admin (state changes need `X-Requested-With: livereport`)."
    roles = {"type": "string", "enum": ["admin", "editor", "viewer"]}
    email = {
        "type": "string",
        "maxLength": MAX_EMAIL,
        "pattern": EMAIL_PATTERN,
        "description": "An email address, name@domain, in printable ASCII without spaces (an international domain in its xn-- form); kept lower-cased. Nobody's yet (else 409).",
    }
    taken = {"409": _error("A user with that email (or an org with that name) already exists.")}
    return {
        "/v1/admin/users": {
            "get": {
                "summary": "Users of your org, with role, disabled flag and sign-in lock",
                "description": note,
                "security": admin,
                "responses": _answer(
                    "200",
                    {
                        "type": "object",
                        "properties": {"users": {"type": "array", "items": _ACCOUNT_SCHEMA}},
                        "required": ["users"],
                    },
                    "The users.",
                ),
            },
            "post": {
                "summary": "Create a user",
                "description": note,
                "security": admin,
                "requestBody": _json_body(
                    {
                        "type": "object",
                        "properties": {
                            "email": email,
                            "role": roles,
                            "password": {"type": "string", "minLength": MIN_PASSWORD},
                        },
                        "required": ["email", "role", "password"],
                        "additionalProperties": False,
                    }
                ),
                "responses": {**_answer("200", _ACCOUNT_SCHEMA, "The new user."), **taken},
            },
        },
        "/v1/admin/users/{user_id}": {
            "patch": {
                "summary": "Change a user's role, disable or enable them (disabling ends their sessions), or end their sign-in lock",
                "description": note,
                "security": admin,
                "parameters": [_path_id("user_id")],
                "requestBody": _json_body(
                    {
                        "type": "object",
                        "properties": {
                            "role": roles,
                            "disabled": {"type": "boolean"},
                            "unlock": {
                                "type": "boolean",
                                "description": "true ends a sign-in lock; false changes nothing.",
                            },
                        },
                        "additionalProperties": False,
                        "minProperties": 1,
                    }
                ),
                "responses": _answer("200", _ACCOUNT_SCHEMA, "The user after the change."),
            }
        },
        "/v1/admin/users/{user_id}/password": {
            "post": {
                "summary": "Reset a user's password: a random one (in this answer only) unless given; every session of the user ends and a sign-in lock is lifted",
                "description": note + " Not for your own account: use POST /v1/me/password.",
                "security": admin,
                "parameters": [_path_id("user_id")],
                "requestBody": {
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "password": {"type": "string", "minLength": MIN_PASSWORD}
                                },
                                "additionalProperties": False,
                            }
                        }
                    },
                },
                "responses": _answer(
                    "200",
                    {
                        "type": "object",
                        "properties": {
                            "id": {"type": "integer"},
                            "email": {"type": "string"},
                            "generated": {"type": "boolean"},
                            "sessions_ended": {"type": "integer", "minimum": 0},
                            "password": {
                                "type": "string",
                                "description": "The new password when it was generated; shown once.",
                            },
                        },
                        "required": ["id", "email", "generated", "sessions_ended"],
                    },
                    "The password is set.",
                ),
            }
        },
        "/v1/me/password": {
            "post": {
                "summary": "Change your own password (signed-in users): your other sessions end, this one goes on",
                "description": "Needs the session cookie and `X-Requested-With: livereport`; API keys have no password. Wrong current passwords count as failed sign-ins.",
                "security": [{"session": []}],
                "parameters": [
                    {
                        "name": "X-Requested-With",
                        "in": "header",
                        "required": True,
                        "schema": {"type": "string", "const": "livereport"},
                    }
                ],
                "requestBody": _json_body(
                    {
                        "type": "object",
                        "properties": {
                            "current_password": {"type": "string"},
                            "new_password": {"type": "string", "minLength": MIN_PASSWORD},
                        },
                        "required": ["current_password", "new_password"],
                        "additionalProperties": False,
                    }
                ),
                "responses": {
                    "200": {
                        "description": "Changed.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "email": {"type": "string"},
                                        "changed": {"type": "boolean"},
                                        "other_sessions_ended": {"type": "integer", "minimum": 0},
                                    },
                                    "required": ["email", "changed", "other_sessions_ended"],
                                }
                            }
                        },
                    },
                    "400": _error(
                        "The body is not valid, the current password is wrong, or the new one breaks the rule; the message says which."
                    ),
                    "401": _error("Not signed in."),
                    "403": _error("The `X-Requested-With: livereport` header is missing."),
                    "413": _ADMIN_ERRORS["413"],
                    "429": _error(
                        "Too many wrong passwords for this email or from this address; retry after Retry-After seconds."
                    ),
                },
            }
        },
        "/v1/admin/invites": {
            "post": {
                "summary": "Invite someone to your org with a role: a one-time token (shown once) to accept with a password",
                "description": note,
                "security": admin,
                "requestBody": _json_body(
                    {
                        "type": "object",
                        "properties": {
                            "email": email,
                            "role": roles,
                            "days": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": MAX_INVITE_DAYS,
                                "default": 7,
                            },
                        },
                        "required": ["email", "role"],
                        "additionalProperties": False,
                    }
                ),
                "responses": {
                    **taken,
                    **_answer(
                        "200",
                        {
                            "type": "object",
                            "properties": {
                                "token": {"type": "string"},
                                "email": {"type": "string"},
                                "role": roles,
                                "expires": {"type": "number"},
                                "link": {
                                    "type": "string",
                                    "description": "The page where the invitee chooses a password; the token is in its fragment.",
                                },
                                "accept": {"type": "string"},
                            },
                            "required": ["token", "email", "role", "expires", "link", "accept"],
                        },
                        "The invitation.",
                    ),
                },
            }
        },
        "/v1/invites/check": {
            "post": {
                "summary": "What an invitation is for (email, role, org), or why it can no longer be accepted",
                "description": "Needs no other credential: the invitation's token is one. 404 says whether it is unknown, used or expired.",
                "security": [],
                "requestBody": _json_body(
                    {
                        "type": "object",
                        "properties": {"token": {"type": "string"}},
                        "required": ["token"],
                        "additionalProperties": False,
                    }
                ),
                "responses": {
                    "200": {
                        "description": "The invitation can be accepted.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "email": {"type": "string"},
                                        "role": roles,
                                        "org": {"type": "string"},
                                        "expires": {"type": "number"},
                                    },
                                    "required": ["email", "role", "org", "expires"],
                                }
                            }
                        },
                    },
                    **{code: _ADMIN_ERRORS[code] for code in ("400", "413")},
                    "404": _error(
                        "The invitation is unknown, used or expired; the message says which."
                    ),
                },
            }
        },
        "/v1/invites/accept": {
            "post": {
                "summary": "Accept an invitation: its token and a password make the account (then sign in)",
                "description": "Needs no other credential: the invitation's token is one, valid once.",
                "security": [],
                "requestBody": _json_body(
                    {
                        "type": "object",
                        "properties": {
                            "token": {"type": "string"},
                            "password": {"type": "string", "minLength": MIN_PASSWORD},
                        },
                        "required": ["token", "password"],
                        "additionalProperties": False,
                    }
                ),
                "responses": {
                    "200": {
                        "description": "The account.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "email": {"type": "string"},
                                        "role": roles,
                                        "signin": {"type": "string"},
                                    },
                                    "required": ["email", "role", "signin"],
                                }
                            }
                        },
                    },
                    **{code: _ADMIN_ERRORS[code] for code in ("400", "413")},
                    "404": _error(
                        "The invitation is unknown, used or expired; the message says which."
                    ),
                    "409": _error("A user with the invitation's email was made since."),
                },
            }
        },
        "/v1/admin/keys": {
            "get": {
                "summary": "API keys of your org (never their values), with expiry and last use",
                "description": note,
                "security": admin,
                "responses": _answer(
                    "200",
                    {
                        "type": "object",
                        "properties": {"keys": {"type": "array", "items": _KEY_SCHEMA}},
                        "required": ["keys"],
                    },
                    "The keys.",
                ),
            },
            "post": {
                "summary": "Create an API key; its value is in this answer only",
                "description": note,
                "security": admin,
                "requestBody": _json_body(
                    {
                        "type": "object",
                        "properties": {
                            "scopes": {
                                "type": "array",
                                "items": {"type": "string", "enum": ["admin", "ingest", "read"]},
                                "minItems": 1,
                            },
                            "name": {"type": "string", "maxLength": 100},
                            "expires_in_days": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": MAX_KEY_DAYS,
                            },
                        },
                        "required": ["scopes"],
                        "additionalProperties": False,
                    }
                ),
                "responses": _answer(
                    "200",
                    {
                        **_KEY_SCHEMA,
                        "properties": {**_KEY_SCHEMA["properties"], "key": {"type": "string"}},
                        "required": [*_KEY_SCHEMA["required"], "key"],
                    },
                    "The new key.",
                ),
            },
        },
        "/v1/admin/keys/{key_id}": {
            "delete": {
                "summary": "Revoke a key at once",
                "description": note,
                "security": admin,
                "parameters": [_path_id("key_id")],
                "responses": _answer(
                    "200",
                    {
                        "type": "object",
                        "properties": {"revoked": {"type": "integer"}},
                        "required": ["revoked"],
                    },
                    "Revoked.",
                ),
            }
        },
        "/v1/admin/audit": {
            "get": {
                "summary": "The audit log of your org: who did what, when, from where (newest first)",
                "description": note,
                "security": admin,
                "responses": _answer(
                    "200",
                    {
                        "type": "object",
                        "properties": {
                            "entries": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "id": {"type": "integer"},
                                        "time": {"type": "number"},
                                        "actor": {"type": "string"},
                                        "action": {"type": "string"},
                                        "target": {"type": "string"},
                                        "address": {"type": "string"},
                                    },
                                    "required": [
                                        "id",
                                        "time",
                                        "actor",
                                        "action",
                                        "target",
                                        "address",
                                    ],
                                },
                            }
                        },
                        "required": ["entries"],
                    },
                    "The entries.",
                ),
            }
        },
        "/v1/admin/orgs": {
            "post": {
                "summary": "Create an org with its first admin (admins of the instance's first org only)",
                "description": note,
                "security": admin,
                "requestBody": _json_body(
                    {
                        "type": "object",
                        "properties": {
                            "name": {
                                "type": "string",
                                "maxLength": MAX_ORG_NAME,
                                "pattern": NOT_BLANK,
                                "description": "Not all spaces; kept without the spaces around it. Unique (else 409).",
                            },
                            "admin_email": email,
                            "admin_password": {"type": "string", "minLength": MIN_PASSWORD},
                        },
                        "required": ["name", "admin_email", "admin_password"],
                        "additionalProperties": False,
                    }
                ),
                "responses": {
                    **_answer(
                        "200",
                        {
                            "type": "object",
                            "properties": {
                                "id": {"type": "integer"},
                                "name": {"type": "string"},
                                "admin": {"type": "string"},
                            },
                            "required": ["id", "name", "admin"],
                        },
                        "The new org.",
                    ),
                    **taken,
                },
            }
        },
    }
