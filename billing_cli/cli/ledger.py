"""`billing ledger …`: integrity check and consistent backups of the ledger file."""

from __future__ import annotations

import typer

ledger_app = typer.Typer(no_args_is_help=True, help="The ledger file: check it, back it up.")
