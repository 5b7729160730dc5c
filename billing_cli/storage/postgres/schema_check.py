"""The PostgreSQL ledger's schema against the one billing creates (`ledger check`).

Why: the append-only rules are triggers. A superuser (or the tables' owner) can drop one,
disable it (`ALTER TABLE … DISABLE TRIGGER`), swap the function behind it for one that lets
everything through, add a rule or a trigger that rewrites rows, or drop an index: none of that
leaves a trace in the rows, so the check compares the schema itself, as the SQLite check
compares `sqlite_master`.

What billing creates is not written down twice: the migrations are run, up to the ledger's
version, in a scratch schema inside a transaction that is rolled back (a second connection, as
the check's own transaction is read-only), and both schemas are described from the catalogs
in the same words: tables (columns, defaults, constraints), indexes, sequences, triggers (and
whether they are enabled), functions (body, arguments, settings), views, rules and row
security policies. Each description is read with its own schema first on the search_path and
its name taken out of the definitions that print it anyway (indexes, triggers).
"""

from __future__ import annotations

import secrets
from typing import Any

import psycopg

from billing_cli.storage.postgres.schema import MIGRATIONS
from billing_cli.storage.schema_diff import schema_differences

# kind, name, description: one row per object of the schema on the search_path.
_DESCRIBE = """
SELECT 'table'::text, c.relname::text, c.relkind::text || ' ' || c.relpersistence::text
    || ' rls=' || c.relrowsecurity::text || c.relforcerowsecurity::text || ' ('
    || coalesce((SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
        || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
        || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
        || CASE WHEN a.attidentity <> '' THEN ' IDENTITY ' || a.attidentity::text ELSE '' END
        || CASE WHEN a.attgenerated <> '' THEN ' GENERATED' ELSE '' END, ', ' ORDER BY a.attnum)
        FROM pg_attribute a LEFT JOIN pg_attrdef d
            ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')
    || ') ' || coalesce((SELECT string_agg(k.conname || ' ' || pg_get_constraintdef(k.oid),
        ', ' ORDER BY k.conname) FROM pg_constraint k WHERE k.conrelid = c.oid), '')
FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace
    AND c.relkind IN ('r', 'p', 'f', 'm')
UNION ALL
SELECT 'index', c.relname, pg_get_indexdef(c.oid)
FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'i'
UNION ALL
SELECT 'sequence', c.relname, format_type(s.seqtypid, NULL) || ' ' || s.seqstart || ' '
    || s.seqincrement || ' ' || s.seqmin || ' ' || s.seqmax || ' ' || s.seqcycle::text
FROM pg_class c JOIN pg_sequence s ON s.seqrelid = c.oid
WHERE c.relnamespace = current_schema()::regnamespace
UNION ALL
SELECT 'view', c.relname, pg_get_viewdef(c.oid)
FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'v'
UNION ALL
SELECT 'trigger', t.tgname, pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal
UNION ALL
SELECT 'function', p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
    l.lanname || ' ' || pg_get_function_result(p.oid) || ' ' || p.provolatile::text
    || p.prosecdef::text || ' ' || coalesce(array_to_string(p.proconfig, ','), '') || ' '
    || p.prosrc
FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
WHERE p.pronamespace = current_schema()::regnamespace
UNION ALL
SELECT 'rule', r.rulename, pg_get_ruledef(r.oid)
FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
WHERE c.relnamespace = current_schema()::regnamespace AND r.rulename <> '_RETURN'
UNION ALL
SELECT 'policy', p.polname, c.relname || ' ' || p.polcmd::text || ' '
    || coalesce(pg_get_expr(p.polqual, p.polrelid), '') || ' '
    || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '')
FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
WHERE c.relnamespace = current_schema()::regnamespace
"""

_EXPECTED: dict[int, dict[tuple[str, str], str]] = {}


def describe(conn: Any) -> dict[tuple[str, str], str]:
    """The objects of the schema first on the connection's search_path, by (kind, name), with
    that schema's name taken out of the text (index and trigger definitions always name it)."""
    schema = conn.execute("SELECT current_schema()").fetchone()[0]
    qualified = (f'"{schema}".', f"{schema}.")
    found = {}
    for kind, name, text in conn.execute(_DESCRIBE).fetchall():
        for prefix in qualified:
            text = text.replace(prefix, "")
        found[(kind, name)] = " ".join(text.split())
    return found


def expected_objects(uri: str, version: int) -> dict[tuple[str, str], str]:
    """What migrations 1..`version` create, built in a scratch schema that is rolled back (so
    nothing is left in the database); kept per version for the rest of the process."""
    found = _EXPECTED.get(version)
    if found is not None:
        return found
    scratch = f"billing_check_{secrets.token_hex(6)}"
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("BEGIN")
        try:
            conn.execute(f"CREATE SCHEMA {scratch}")  # type: ignore[arg-type]
            conn.execute(f"SET LOCAL search_path = {scratch}")  # type: ignore[arg-type]
            conn.execute(
                "CREATE TABLE billing_schema (version INTEGER PRIMARY KEY,"
                " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            for script in MIGRATIONS[:version]:
                conn.execute(script)  # type: ignore[arg-type]
            found = describe(conn)
        finally:
            conn.execute("ROLLBACK")
    _EXPECTED[version] = found
    return found


def _definition(trigger: str) -> str:
    """A trigger's description without its `enabled=` flag (`O` fires; `D` never does)."""
    return trigger.rpartition(" enabled=")[0]


def _disabled(kind: str, wanted: str, found: str) -> bool:
    """The trigger billing created, switched off (`ALTER TABLE … DISABLE TRIGGER`)."""
    return kind == "trigger" and _definition(found) == _definition(wanted)


def schema_problems(conn: Any, uri: str) -> list[str]:
    """Every object missing, changed or added compared with billing's own schema."""
    version = conn.execute("SELECT coalesce(max(version), 0) FROM billing_schema").fetchone()[0]
    have = describe(conn)
    try:
        want = expected_objects(uri, int(version))
    except psycopg.errors.InsufficientPrivilege as exc:
        return [
            "schema: not compared: this user may not create the scratch schema the comparison"
            f" builds and rolls back ({' '.join(str(exc).split())}); run `ledger check` as the"
            " ledger's owner or grant it CREATE on the database"
        ]
    return schema_differences(want, have, disabled=_disabled)
