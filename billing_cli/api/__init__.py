"""Use cases: one function per command, callable from tests without the CLI.

Each function takes a `Context` (where the ledger is, what time it is), opens one transaction,
calls the pure domain modules and the ledger, and returns domain records.
"""

from __future__ import annotations

from billing_cli.api.context import Context

__all__ = ["Context"]
