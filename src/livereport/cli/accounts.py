"""`livereport orgs`, `keys`, `users` and `audit`: the accounts of the data directory's
instance and the audit log of what admins did (reset-password through a server too)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from livereport import instance
from livereport.cli.common import (
    Failure,
    Server,
    ask,
    audit_action,
    config_of,
    data_option,
    err,
    existing_config,
    failures,
    made,
    place_options,
    print_table,
    printable,
    server_to_ask,
    when,
)
from livereport.report.render import Column
from livereport.store.metadata import Role, Scope


@click.group()
def orgs() -> None:
    """Organisations (tenants)."""


@orgs.command("create")
@click.argument("name")
@data_option
def orgs_create(name: str, data: Path | None) -> None:
    """Create an org."""
    with failures():
        _, metadata = made(data)
        org = metadata.create_org(name)
        audit_action(metadata, org.id, "org.create", f"org {org.name}")
    click.echo(org.name)


@orgs.command("list")
@data_option
def orgs_list(data: Path | None) -> None:
    """List the orgs: id and name."""
    with failures():
        found = instance.open_metadata(config_of(data)).orgs()
    for org in found:
        click.echo(f"{org.id}\t{org.name}")


@click.group()
def keys() -> None:
    """API keys of an org."""


@keys.command("create")
@data_option
@click.option("--org", default=None, help="Org name (default: the org made at first start).")
@click.option(
    "--scope", "scopes", multiple=True, required=True, type=click.Choice([s.value for s in Scope])
)
@click.option("--name", default="", help="What the key is for.")
@click.option(
    "--expires-days",
    type=click.IntRange(1, 3650),
    default=None,
    help="Days until the key stops working (default: never).",
)
def keys_create(
    data: Path | None, org: str | None, scopes: tuple[str, ...], name: str, expires_days: int | None
) -> None:
    """Create a key; prints only the key (shown once)."""
    with failures():
        _, metadata = made(data)
        expires = None if expires_days is None else time.time() + expires_days * 86_400
        plain, key = metadata.create_key(metadata.org(org), scopes, name, expires)
        audit_action(
            metadata,
            key.org_id,
            "key.create",
            f"key {key.id} ({key.prefix}…) {','.join(sorted(key.scopes))}",
        )
    click.echo(plain)


@keys.command("list")
@data_option
@click.option("--org", default=None)
def keys_list(data: Path | None, org: str | None) -> None:
    """List the keys of an org (never their values): scopes, when created, expiring, last
    used and revoked (UTC)."""
    with failures():
        metadata = instance.open_metadata(config_of(data))
        found = metadata.keys(metadata.org(org))
    # The id and prefix that find a key stay whole; names, scopes and times may wrap.
    columns = [
        Column("id", "right"),
        Column("prefix"),
        Column("name", wrap=True),
        *(Column(h, wrap=True) for h in ("scopes", "created", "expires", "last used", "revoked")),
    ]
    rows = [
        [
            str(k.id),
            k.prefix + "…",
            printable(k.name),
            ", ".join(sorted(k.scopes)),
            when(k.created),
            when(k.expires),
            when(k.last_used),
            when(k.revoked),
        ]
        for k in found
    ]
    print_table(columns, rows)


@keys.command("revoke")
@click.argument("key_id", type=int)
@data_option
@click.option("--org", default=None)
def keys_revoke(key_id: int, data: Path | None, org: str | None) -> None:
    """Revoke a key at once."""
    with failures():
        metadata = instance.open_metadata(config_of(data))
        the_org = metadata.org(org)
        metadata.revoke_key(the_org, key_id)
        audit_action(metadata, the_org.id, "key.revoke", f"key {key_id}")
    err.print(f"key {key_id} revoked")


@click.group()
def users() -> None:
    """Users of an org."""


@users.command("create")
@click.argument("email")
@data_option
@click.option("--org", default=None)
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option(
    "--password-stdin", is_flag=True, required=True, help="Read the password from standard input."
)
def users_create(
    email: str, data: Path | None, org: str | None, role: str, password_stdin: bool
) -> None:
    """Create a user; the password is read from stdin."""
    password = sys.stdin.readline().rstrip("\r\n")
    with failures():
        _, metadata = made(data)
        user = metadata.create_user(metadata.org(org), email, role, password)
        audit_action(metadata, user.org_id, "user.create", f"user {user.email} as {user.role}")
    err.print(f"user {user.email} created with role {user.role}")


@users.command("invite")
@click.argument("email")
@data_option
@click.option("--org", default=None)
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option(
    "--days",
    default=7,
    show_default=True,
    type=click.IntRange(1, 30),
    help="Days the invitation stays open.",
)
def users_invite(email: str, data: Path | None, org: str | None, role: str, days: int) -> None:
    """Invite someone; prints only the one-time token, which they accept with a password on
    the server's /invite page (or POST /v1/invites/accept)."""
    with failures():
        _, metadata = made(data)
        token, invite = metadata.create_invite(metadata.org(org), email, role, days)
        audit_action(
            metadata, invite.org_id, "user.invite", f"user {invite.email} as {invite.role}"
        )
    click.echo(token)
    click.echo(
        f"send {invite.email} the link <server>/invite#{token} (or the token, to paste "
        f"on /invite); it works once, for {days} days",
        err=True,
    )


@users.command("list")
@data_option
@click.option("--org", default=None)
def users_list(data: Path | None, org: str | None) -> None:
    """List the users of an org, one per line: id, email, role, disabled, failed sign-ins,
    locked until (tab-separated, times in UTC)."""
    with failures():
        metadata = instance.open_metadata(config_of(data))
        now = time.time()
        accounts = metadata.accounts(metadata.org(org))
    click.echo("id\temail\trole\tdisabled\tfailed sign-ins\tlocked until")
    for a in accounts:
        locked = when(a.locked_until, seconds=True) if a.locked(now) else ""
        click.echo(
            f"{a.id}\t{printable(a.email)}\t{a.role}\t{when(a.disabled)}\t{a.failures}\t{locked}"
        )


def _change_user(
    data: Path | None,
    org: str | None,
    email: str,
    action: str,
    change: Callable[[Any, Any, Any], Any],
) -> None:
    """Apply ``change(metadata, org, account)`` to the org's user of this email, and audit it."""
    with failures():
        metadata = instance.open_metadata(config_of(data))
        the_org = metadata.org(org)
        account = metadata.account(the_org, email=email)
        change(metadata, the_org, account)
        audit_action(metadata, the_org.id, action, f"user {account.email}")
    err.print(f"{action.replace('user.', '')}: {account.email}", markup=False)


@users.command("role")
@click.argument("email")
@click.argument("role", type=click.Choice([r.value for r in Role]))
@data_option
@click.option("--org", default=None)
def users_role(email: str, role: str, data: Path | None, org: str | None) -> None:
    """Change a user's role (takes effect on their next request)."""
    _change_user(data, org, email, f"user.role {role}", lambda m, o, a: m.set_role(o, a.id, role))


@users.command("disable")
@click.argument("email")
@data_option
@click.option("--org", default=None)
def users_disable(email: str, data: Path | None, org: str | None) -> None:
    """Disable a user and end their sessions at once."""
    _change_user(data, org, email, "user.disable", lambda m, o, a: m.set_disabled(o, a.id, True))


@users.command("enable")
@click.argument("email")
@data_option
@click.option("--org", default=None)
def users_enable(email: str, data: Path | None, org: str | None) -> None:
    """Enable a disabled user again."""
    _change_user(data, org, email, "user.enable", lambda m, o, a: m.set_disabled(o, a.id, False))


@users.command("unlock")
@click.argument("email")
@data_option
@click.option("--org", default=None)
def users_unlock(email: str, data: Path | None, org: str | None) -> None:
    """End a user's sign-in lock (after too many wrong passwords) before it expires."""
    _change_user(data, org, email, "user.unlock", lambda m, o, a: m.clear_failed_sign_ins(a.id))


@users.command("reset-password")
@click.argument("email")
@place_options("admin")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the new password from standard input (default: make a random one).",
)
def users_reset_password(
    email: str,
    data: Path | None,
    org: str | None,
    url: str | None,
    key: str | None,
    password_stdin: bool,
) -> None:
    """Set a user's password, end every session of theirs and lift a sign-in lock; prints
    the new random password once (nothing with --password-stdin)."""
    from livereport.store.metadata import check_new_password, random_password

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else random_password()
    with failures():
        check_new_password(password)
        server = server_to_ask(data, url, key, org)
        if server is not None:
            shown, ended = _reset_password_remote(server, email, password)
        else:
            metadata = instance.open_metadata(existing_config(data))
            the_org = metadata.org(org)
            account = metadata.account(the_org, email=email)
            ended = metadata.reset_password(the_org, account.id, password)
            shown = account.email
            audit_action(
                metadata, the_org.id, "user.password.reset", f"user {shown}; {ended} sessions ended"
            )
    if not password_stdin:
        click.echo(password)
    click.echo(f"password of {printable(shown)} reset; {ended} sessions ended", err=True)


def _reset_password_remote(server: Server, email: str, password: str) -> tuple[str, int]:
    """Reset through a server's admin API: find the user by email, then set the password."""
    wanted = email.strip().lower()
    found = [u for u in ask(server, "GET", "/v1/admin/users")["users"] if u["email"] == wanted]
    if not found:
        raise Failure(f"the key's org has no user {email!r}; see GET /v1/admin/users")
    path = f"/v1/admin/users/{found[0]['id']}/password"
    reset = ask(server, "POST", path, {"password": password})
    return str(reset["email"]), int(reset["sessions_ended"])


@click.group()
def audit() -> None:
    """The audit log of admin actions."""


@audit.command("list")
@data_option
@click.option("--org", default=None)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 500))
def audit_list(data: Path | None, org: str | None, limit: int) -> None:
    """Show an org's latest admin actions, newest first, one per line: time (UTC), who,
    what, target, from where (tab-separated)."""
    with failures():
        metadata = instance.open_metadata(config_of(data))
        entries = metadata.audit_log(metadata.org(org), limit)
    for e in entries:
        fields = (when(e.created, seconds=True), e.actor, e.action, e.target, e.address)
        click.echo("\t".join(printable(f) for f in fields))
