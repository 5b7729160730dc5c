"""The few places where the SQL of the two backends differs, named.

The store classes under storage/sqlite/ are written in SQL that SQLite and PostgreSQL both run;
the PostgreSQL backend reuses them over a connection that answers like `sqlite3`
(storage/postgres/adapter.py). Where the dialects part (JSON functions, passing a list as one
parameter, pinning a join order), the query takes its fragment from the ledger's `sql`
attribute, so each difference is written once per backend, here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Dialect:
    in_list: str  # `column {in_list}` with one parameter, `list_param(values)`
    list_param: Callable[[Iterable[str]], object]
    explain_identifiers: str  # a FROM item over `l.explain`'s `identifiers`, each as `j.value`
    usage_window_start: str  # an invoice line's usage window (a trial shortens it) or period
    usage_window_end: str
    original_line: str  # the line a late-usage line `l` corrects (its explain's original_line)
    pinned_join: str  # an inner join whose left side the planner must scan first
    invoice_taxes: str  # a FROM item over `i.total_taxes`, one row `t` per tax
    tax_rate_of: str  # the tax rate id of `t`
    table_names: str  # the ledger's tables, one per row
    table_columns: str  # one parameter, a table: its columns a copy writes, in order
    joined_sums: str  # an aggregate: a group's `sum` column as decimal texts joined by spaces


def _json_list(values: Iterable[str]) -> str:
    return json.dumps(list(values))


SQLITE = Dialect(
    in_list="IN (SELECT value FROM json_each(?))",
    list_param=_json_list,
    explain_identifiers="json_each(l.explain, '$.identifiers') j",
    usage_window_start="coalesce(json_extract(explain, '$.usage_window.start'), period_start)",
    usage_window_end="coalesce(json_extract(explain, '$.usage_window.end'), period_end)",
    original_line="json_extract(l.explain, '$.original_line')",
    pinned_join="CROSS JOIN",  # SQLite's rule: CROSS JOIN keeps the written order
    table_names="SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    table_columns="SELECT name FROM pragma_table_info(?) ORDER BY cid",
    invoice_taxes="json_each(i.total_taxes) t",
    tax_rate_of="json_extract(t.value, '$.tax_rate')",
    joined_sums="group_concat(sum, ' ')",
)

POSTGRES = Dialect(
    in_list="= ANY(?)",
    list_param=list,
    explain_identifiers="jsonb_array_elements_text(l.explain::jsonb -> 'identifiers') j(value)",
    usage_window_start=(
        "coalesce((explain::jsonb #>> '{usage_window,start}')::bigint, period_start)"
    ),
    usage_window_end="coalesce((explain::jsonb #>> '{usage_window,end}')::bigint, period_end)",
    original_line="l.explain::jsonb ->> 'original_line'",
    pinned_join="JOIN",
    table_names="SELECT tablename FROM pg_tables WHERE schemaname = current_schema()",
    table_columns=(  # not the identity `rowid`, which stands in for SQLite's implicit one
        "SELECT column_name FROM information_schema.columns WHERE table_schema ="
        " current_schema() AND table_name = ? AND is_identity = 'NO' ORDER BY ordinal_position"
    ),
    invoice_taxes="jsonb_array_elements(i.total_taxes::jsonb) t(value)",
    tax_rate_of="t.value ->> 'tax_rate'",
    joined_sums="string_agg(sum::text, ' ')",
)
