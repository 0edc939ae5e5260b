"""What every part of the metadata stands on: the database (store/sqldb.py) its records are
kept in, opened for one transaction at a time."""

from __future__ import annotations

from contextlib import AbstractContextManager

from livereport.store.sqldb import Connection, Database


class Tables:
    """The records of one concept, kept in :attr:`_database`; ``Metadata`` (this package's
    ``__init__``) composes them."""

    _database: Database

    def _db(self) -> AbstractContextManager[Connection]:
        """A connection whose block is one transaction (store/sqldb.py ``Database.connect``)."""
        return self._database.connect()
