"""The one comparison behind `ledger check`'s schema findings, for both backends.

Each backend describes its objects in its own terms (SQLite's `sqlite_master.sql`, PostgreSQL's
catalogs); what counts as missing, replaced or added, and how it is worded, is the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

Objects = Mapping[tuple[str, str], str]


def schema_differences(
    want: Objects, have: Objects, *, disabled: Callable[[str, str, str], bool] | None = None
) -> list[str]:
    """Objects of `want` missing or different in `have`, then objects only `have` holds.

    `disabled(kind, wanted, found)` says a differing object is the same one switched off (a
    PostgreSQL trigger's `enabled` flag), which is named as such rather than as replaced."""
    found = []
    for (kind, name), text in want.items():
        if (kind, name) not in have:
            found.append(f"schema: {kind} {name} is missing (dropped outside billing)")
        elif have[(kind, name)] != text:
            if disabled is not None and disabled(kind, text, have[(kind, name)]):
                found.append(f"schema: {kind} {name} is disabled (switched off outside billing)")
            else:
                found.append(
                    f"schema: {kind} {name} is not the one billing created"
                    " (replaced outside billing)"
                )
    found += [
        f"schema: {kind} {name} was not created by billing (added outside billing)"
        for kind, name in have
        if (kind, name) not in want
    ]
    return found
