"""The `billing` command: root Typer app, global options, and the error → exit-code boundary.

`BillingGroup.main` is the single place where exceptions become output: a `BillingError` is one
`error:` line (+ `hint:`) and its SPEC 5.2 exit code, a click usage problem is exit 2, anything
else is exit 1 with a pointer to BILLING_DEBUG=1. Tests that use Typer's CliRunner go through
the same path, so what they see is what a user sees.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from typer.core import TyperGroup

from billing_cli import __version__
from billing_cli.api import Context
from billing_cli.errors import BillingError


def _fail(message: str, hint: str | None, code: int) -> int:
    sys.stderr.write(f"error: {message}\n")
    if hint:
        sys.stderr.write(f"hint: {hint}\n")
    return code


def _handle(exc: BaseException) -> int:
    if isinstance(exc, BillingError):
        return _fail(exc.message, exc.hint, exc.exit_code)
    if isinstance(exc, click.exceptions.NoArgsIsHelpError):
        return _fail(exc.format_message() or "missing command", "see --help", 2)
    if isinstance(exc, click.UsageError):
        cmd = exc.ctx.command_path if exc.ctx else "billing"
        return _fail(exc.format_message(), f"see `{cmd} --help`", 2)
    if isinstance(exc, click.ClickException):
        return _fail(exc.format_message(), None, exc.exit_code)
    if isinstance(exc, click.exceptions.Abort | KeyboardInterrupt):
        return _fail("interrupted", None, 130)
    if isinstance(exc, BrokenPipeError):
        return 0
    if os.environ.get("BILLING_DEBUG") == "1":
        traceback.print_exception(exc)
    return _fail(
        f"internal error: {type(exc).__name__}: {exc}",
        "this is a bug; re-run with BILLING_DEBUG=1 for the traceback and report it",
        1,
    )


class BillingGroup(TyperGroup):
    def main(self, args: Any = None, prog_name: str | None = None, **extra: Any) -> Any:
        extra.pop("standalone_mode", None)
        try:
            rv = super().main(args=args, prog_name=prog_name, standalone_mode=False, **extra)
        except click.exceptions.Exit as exc:
            code = exc.exit_code
        except BaseException as exc:  # noqa: BLE001 - this is the boundary
            if isinstance(exc, SystemExit):
                raise
            code = _handle(exc)
        else:
            code = rv if isinstance(rv, int) else 0
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            pass
        sys.exit(code)


app = typer.Typer(
    cls=BillingGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Local-first usage-based billing: meters, events, prices, subscriptions, invoices "
    "in one SQLite ledger (Stripe Billing semantics).",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"billing_cli {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def root(
    ctx: typer.Context,
    db: Annotated[
        Path,
        typer.Option(
            "--db", envvar="BILLING_DB", help="Ledger file (created on first write, mode 0600)."
        ),
    ] = Path("billing.db"),
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            envvar="BILLING_NOW",
            help="The clock for this command: Unix seconds or ISO 8601 (default: system clock).",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    from billing_cli.clock import resolve_now

    ctx.obj = Context(db_path=db, now=resolve_now(now or None))


def context(ctx: typer.Context) -> Context:
    """The root's Context (ledger path + the one clock reading) for any subcommand."""
    return ctx.find_root().obj


def _register() -> None:
    from billing_cli.cli import catalog, customers, ledger, subscriptions

    app.add_typer(catalog.meter_app, name="meter")
    app.add_typer(catalog.product_app, name="product")
    app.add_typer(catalog.price_app, name="price")
    app.add_typer(customers.customer_app, name="customer")
    app.add_typer(subscriptions.subscription_app, name="subscription")
    app.add_typer(ledger.ledger_app, name="ledger")


_register()


def main() -> None:
    app()
