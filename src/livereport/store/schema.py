"""Versioned migrations: the numbered .sql files beside this module, applied once each, in order."""

from __future__ import annotations

from importlib import resources

from livereport.store.base import Store

_LEDGER = """
CREATE TABLE IF NOT EXISTS {db}.schema_migrations (
    version UInt32, name String, applied DateTime
) ENGINE = TinyLog
"""


def migration_files() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every migration shipped with the package, in order."""
    folder = resources.files("livereport.store") / "migrations"
    found = []
    for item in folder.iterdir():
        if item.name.endswith(".sql"):
            version = int(item.name.split("_", 1)[0])
            found.append((version, item.name, item.read_text(encoding="utf-8")))
    return sorted(found)


def split_statements(sql: str) -> list[str]:
    """Split a migration on ``;`` at line ends; comments are dropped."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";\n") if s.strip().rstrip(";")]


def migrate(store: Store) -> list[str]:
    """Create the database if needed and apply the migrations not applied yet."""
    store.execute("CREATE DATABASE IF NOT EXISTS {db}")
    store.execute(_LEDGER)
    done = {int(v) for (v,) in store.execute("SELECT version FROM {db}.schema_migrations")}
    applied = []
    for version, name, sql in migration_files():
        if version in done:
            continue
        for statement in split_statements(sql):
            store.execute(statement.rstrip(";"))
        store.execute(
            "INSERT INTO {db}.schema_migrations (version, name, applied) VALUES "
            "(%(v)s, %(name)s, now())",
            {"v": version, "name": name},
        )
        applied.append(name)
    return applied
