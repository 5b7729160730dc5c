"""A psycopg connection that answers like `sqlite3`: `?` placeholders, rows by name and index.

Why: most of the ledger's SQL (catalog, invoices, late events, event queries) is standard SQL
that PostgreSQL runs unchanged. Sharing those store classes with the SQLite backend, instead
of writing them twice, keeps one definition of every read and write, so a table added to the
SQLite backend works here once its migration exists, and the contract tests hold both to it.
What differs by dialect (JSON functions, bulk loads, upserts, backups) the PostgreSQL classes
override explicitly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg.rows import RowMaker

_TRANSLATED: dict[str, str] = {}


def translate_placeholders(sql: str) -> str:
    """`?` → `%s` (and a literal `%` → `%%`): psycopg's placeholder, cached per statement.
    The ledger's SQL has no `?` inside string literals."""
    found = _TRANSLATED.get(sql)
    if found is None:
        found = sql.replace("%", "%%").replace("?", "%s")
        _TRANSLATED[sql] = found
    return found


class Row(tuple):  # type: ignore[type-arg]
    """A result row readable as `row[0]` or `row["column"]`, like `sqlite3.Row`. The catalog
    tables' `rowid` column (which SQLite keeps implicit) is left out of `keys()`, so
    `dict(row)` of `SELECT *` holds the same fields on both backends."""

    __slots__ = ()
    _index: dict[str, int] = {}
    _keys: list[str] = []

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return self._keys


_ROW_CLASSES: dict[tuple[str, ...], type[Row]] = {}


def _row_class(names: tuple[str, ...]) -> type[Row]:
    cls = _ROW_CLASSES.get(names)
    if cls is None:
        index = {name: i for i, name in enumerate(names)}
        keys = [name for name in names if name != "rowid"]
        cls = type("Row", (Row,), {"__slots__": (), "_index": index, "_keys": keys})
        _ROW_CLASSES[names] = cls
    return cls


def row_factory(cursor: psycopg.Cursor[Any]) -> RowMaker[Row]:
    if cursor.description is None:
        return tuple  # type: ignore[return-value]
    cls = _row_class(tuple(c.name for c in cursor.description))
    return cls


class Connection:
    """The `sqlite3.Connection` subset the shared store classes use, over psycopg."""

    def __init__(self, conn: psycopg.Connection[Row]) -> None:
        self.raw = conn

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> psycopg.Cursor[Row]:
        cursor = self.raw.cursor()
        if params:
            cursor.execute(translate_placeholders(sql), params)  # type: ignore[arg-type]
        else:  # without parameters psycopg sends the text as it is (a `%` stays single)
            cursor.execute(sql)  # type: ignore[arg-type]
        return cursor

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> psycopg.Cursor[Row]:
        cursor = self.raw.cursor()
        cursor.executemany(translate_placeholders(sql), rows)  # type: ignore[arg-type]
        return cursor

    def close(self) -> None:
        self.raw.close()
