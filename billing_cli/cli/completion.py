"""Shell completion of ids from the ledger (`billing --install-completion`).

A completion runs on every Tab press, so it is cheap or silent: it reads the one list its
command group needs, and any problem (no ledger yet, a locked or damaged file) completes
nothing rather than printing an error into the user's command line.
"""

from __future__ import annotations

import os
from typing import Any

import typer

_LISTERS = {
    "meter": ("billing_cli.api.catalog", "list_meters"),
    "product": ("billing_cli.api.catalog", "list_products"),
    "price": ("billing_cli.api.prices", "list_prices"),
    "customer": ("billing_cli.api.catalog", "list_customers"),
    "subscription": ("billing_cli.api.subscriptions", "list_subscriptions"),
    "invoice": ("billing_cli.api.invoices", "list_invoices"),
    "tax-rate": ("billing_cli.api.tax_rates", "list_tax_rates"),
}


def complete_id(ctx: typer.Context, incomplete: str) -> list[str]:
    """The ids (and invoice numbers) of the command group's objects that start as typed."""
    try:
        import importlib

        from billing_cli.api import Context
        from billing_cli.clock import resolve_now

        group = ctx.parent.info_name if ctx.parent is not None else None
        if group not in _LISTERS:
            return []
        module, name = _LISTERS[group]
        root: Any = ctx.find_root()
        db = root.params.get("db") or os.environ.get("BILLING_DB") or "billing.db"
        found = getattr(importlib.import_module(module), name)(
            Context(db=str(db), now=resolve_now(None))
        )
        words = [o.id for o in found] + [n for o in found if (n := getattr(o, "number", None))]
        return [w for w in words if w and w.startswith(incomplete)]
    except Exception:  # noqa: BLE001 - completion must never print an error into the shell
        return []
