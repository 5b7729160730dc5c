"""Use cases: one function per command, callable from tests without the CLI.

Each function takes a `Context` (where the ledger is, what time it is), opens one transaction,
calls the pure domain modules and the ledger, and returns domain records.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from billing_cli.api.context import Context

__all__ = ["Context"]


def __getattr__(name: str) -> Any:
    """`Context` on first use: importing a use-case module must not load the ledger before a
    command runs (`billing --help` imports nothing of it)."""
    if name == "Context":
        from billing_cli.api.context import Context

        return Context
    raise AttributeError(name)
