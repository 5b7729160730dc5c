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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import click
import typer
from typer.core import TyperGroup

from billing_cli import __version__
from billing_cli.errors import BillingError

if TYPE_CHECKING:  # the api (and with it the ledger) loads only when a command needs it
    from billing_cli.api import Context


def one_line(text: str) -> str:
    """Whatever a value holds (a newline, an escape sequence, an undecodable byte in a file name),
    an error stays one line on the terminal: unprintable characters are shown escaped."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def _fail(message: str, hint: str | None, code: int) -> int:
    sys.stderr.write(f"error: {one_line(message)}\n")
    if hint:
        sys.stderr.write(f"hint: {one_line(hint)}\n")
    return code


def _missing_command(exc: Any) -> int:
    """`billing meter` alone: name the subcommands instead of dumping the whole help."""
    ctx = exc.ctx
    path = ctx.command_path if ctx else "billing"
    names = ctx.command.list_commands(ctx) if ctx and hasattr(ctx.command, "list_commands") else []
    listed = f": {', '.join(names)}" if names else ""
    return _fail(f"`{path}` needs a command{listed}", f"see `{path} --help`", 2)


def _handle(exc: BaseException) -> int:
    if isinstance(exc, BillingError):
        return _fail(exc.message, exc.hint, exc.exit_code)
    if isinstance(exc, click.UsageError) and exc.format_message().startswith("Missing command"):
        return _missing_command(exc)
    if isinstance(exc, click.UsageError):
        cmd = exc.ctx.command_path if exc.ctx else "billing"
        message = " ".join(exc.format_message().split())
        # A value of the wrong type (`--interval-count abc`) is invalid input (exit 4); an
        # unknown option, a missing one or a missing argument is a usage error (exit 2).
        bad_value = isinstance(exc, click.BadParameter) and not isinstance(
            exc, click.MissingParameter
        )
        return _fail(message, f"see `{cmd} --help`", 4 if bad_value else 2)
    if isinstance(exc, click.ClickException):
        return _fail(" ".join(exc.format_message().split()), None, exc.exit_code)
    if isinstance(exc, typer.Abort | KeyboardInterrupt):
        return _fail("interrupted", None, 130)
    if isinstance(exc, BrokenPipeError):
        return 0
    if isinstance(exc, UnicodeEncodeError) and "surrogates" in exc.reason:
        # An argument with bytes that are not UTF-8 (Python keeps them as lone surrogates):
        # bad input, not a bug.
        return _fail(
            f"{exc.object!r} is not valid UTF-8 text",
            "billing stores text as UTF-8; re-encode the value (e.g. with iconv)",
            4,
        )
    if os.environ.get("BILLING_DEBUG") == "1":
        traceback.print_exception(exc)
    return _fail(
        f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())}",
        "this is a bug; re-run with BILLING_DEBUG=1 for the traceback and report it",
        1,
    )


class _Watched:
    """stdout, noting whether anything was written to it."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.written = False

    def write(self, text: str) -> int:
        self.written = self.written or bool(text)
        return self.stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _print_envelope(exc: BaseException, code: int) -> None:
    """`--json` scripts read errors on stdout too, in Stripe's envelope (the HTTP server's)."""
    from billing_cli.errors import InvalidInput, UsageError
    from billing_cli.present.json_text import dumps
    from billing_cli.present.stripe_errors import error_envelope

    if isinstance(exc, click.ClickException) or (
        not isinstance(exc, BillingError) and code in (2, 4)
    ):
        text = exc.format_message() if isinstance(exc, click.ClickException) else str(exc)
        exc = (InvalidInput if code == 4 else UsageError)(" ".join(text.split()))
    try:
        text = dumps(error_envelope(exc), indent=2)
        # a value with bytes that are not UTF-8 (lone surrogates) is written as a JSON escape
        sys.stdout.write(text.encode("utf-8", "backslashreplace").decode("utf-8") + "\n")
    except BrokenPipeError:
        pass


# Command groups are imported only when used: `billing invoice upcoming` should not pay for
# importing and building every other group (start-up time is most of a preview's cost).
_GROUPS: dict[str, tuple[str, ...]] = {
    "meter": ("billing_cli.cli.catalog", "meter_app", "billing_cli.cli.events"),
    "product": ("billing_cli.cli.catalog", "product_app"),
    "price": ("billing_cli.cli.catalog", "price_app"),
    "account": ("billing_cli.cli.account", "account_app"),
    "customer": ("billing_cli.cli.customers", "customer_app"),
    "subscription": ("billing_cli.cli.subscriptions", "subscription_app"),
    "tax-rate": ("billing_cli.cli.tax_rates", "tax_rate_app"),
    "event": (
        "billing_cli.cli.event_ingest",
        "event_app",
        "billing_cli.cli.events",
        "billing_cli.cli.late_events",
    ),
    "invoice": ("billing_cli.cli.invoices", "invoice_app", "billing_cli.cli.documents"),
    "credit-grant": ("billing_cli.cli.credits", "credit_grant_app"),
    "credit": ("billing_cli.cli.credits", "credit_app"),
    "ledger": ("billing_cli.cli.ledger", "ledger_app"),
    "export": ("billing_cli.cli.export", "export_app"),
    "demo": ("billing_cli.cli.demo", "demo_app"),
    "serve": ("billing_cli.cli.serve", "serve_app"),
}
_built: dict[str, Any] = {}
# What `billing --help` lists, without importing any group (each group's own `help=`, which
# tests/test_startup.py keeps equal to these).
GROUP_HELP: dict[str, str] = {
    "meter": "Meters: what usage is counted and how.",
    "product": "Products: what prices are for.",
    "price": "Prices: how usage or seats turn into money.",
    "account": "The seller profile (business name, address, VAT id) that invoices carry.",
    "customer": "Customers: who receives invoices.",
    "subscription": "Subscriptions: a customer's prices and billing periods.",
    "tax-rate": "Tax rates (VAT, sales tax): exclusive ones add tax, inclusive ones contain it.",
    "event": "Meter events: send, import, list, cancel.",
    "invoice": "Invoices: preview, month-end close, lifecycle, PDF.",
    "credit-grant": "Credit grants: prepaid or promotional credit for metered usage.",
    "credit": "Billing credit balances and their transactions.",
    "ledger": "The ledger: check it, back it up, query it with SQL, copy it between backends.",
    "export": "Export the ledger for other tools.",
    "demo": "Run the Alpaca AI example end to end (sample_data/): 19 % VAT, PDF, journal.",
    "serve": "Serve Stripe's HTTP API (meters, meter events, the v2 meter event stream, "
    "products, prices, customers, subscriptions, invoices, credit grants) on this ledger, for "
    "code that uses Stripe's SDKs, and a read-only dashboard for people under /dashboard (sign "
    "in with an API key or the one-time link printed at start); until SIGTERM or Ctrl-C.",
}


def _load(name: str) -> Any:
    """Import a group's module (plus modules that add commands to it) and build it once."""
    if name not in _built:
        import importlib

        module, attr, *extra = _GROUPS[name]
        sub_app = getattr(importlib.import_module(module), attr)
        sub_app.rich_markup_mode = None  # plain help, like the root's: it pipes and greps well
        for more in extra:
            importlib.import_module(more)
        command: click.Command
        # A one-command app is that command (`billing demo`); a group stays a group even
        # with one subcommand so far (`billing export journal`).
        single = len(sub_app.registered_commands) == 1 and not sub_app.info.no_args_is_help
        if sub_app.registered_groups or not single:
            command = typer.main.get_group(sub_app)
        else:
            command = typer.main.get_command(sub_app)
        # A group called without a subcommand is answered by `_missing_command`, not by click
        # printing the whole help on stdout (which would pollute piped output).
        command.no_args_is_help = False
        command.name = name
        _built[name] = command
    return _built[name]


class BillingGroup(TyperGroup):
    def list_commands(self, ctx: Any) -> list[str]:
        return list(_GROUPS)

    def get_command(self, ctx: Any, name: str) -> Any:
        return _load(name) if name in _GROUPS else None

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The command list of `billing --help` from GROUP_HELP: building every group just to
        print one line each would import the whole program (start-up time is a feature)."""
        limit = formatter.width - 6 - max(len(name) for name in _GROUPS)  # as click does
        rows = [
            (name, click.Command(name, help=GROUP_HELP[name]).get_short_help_str(limit))
            for name in _GROUPS
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    # click types main() with overloads on standalone_mode; this one always runs standalone.
    def main(  # type: ignore[override]
        self, args: Any = None, prog_name: str | None = None, **extra: Any
    ) -> Any:
        extra.pop("standalone_mode", None)
        watched = None
        argv = list(sys.argv[1:] if args is None else args)
        # the envelope only when JSON is the one format asked for: `--json --csv` is a usage
        # error with no format chosen, so stdout stays empty
        if "--json" in argv and not {"--csv", "--nl"} & set(argv):
            watched = sys.stdout = _Watched(sys.stdout)
        try:
            rv = super().main(args=args, prog_name=prog_name, standalone_mode=False, **extra)
        except typer.Exit as exc:
            code = exc.exit_code
        except SystemExit:
            # click answers a closed stdout (`billing … --csv | head`) with exit 1 after
            # pacifying stdout; the reader chose to stop, which is not a bug: exit 0.
            if not type(sys.stdout).__name__.endswith("PacifyFlushWrapper"):
                raise
            code = 0
        except BaseException as exc:  # noqa: BLE001 - this is the boundary
            code = _handle(exc)
            # with --json, the error is JSON on stdout too, unless the command printed its
            # own result first (`ledger check`'s report, an import's summary)
            if watched is not None and not watched.written and code not in (0, 130):
                _print_envelope(exc, code)
        else:
            code = rv if isinstance(rv, int) else 0
        finally:
            if watched is not None and sys.stdout is watched:
                sys.stdout = watched.stream
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            pass
        sys.exit(code)


app = typer.Typer(
    name="billing",
    cls=BillingGroup,
    no_args_is_help=False,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Local-first usage-based billing: meters, events, prices, subscriptions, invoices "
    "in one ledger: an SQLite file or a PostgreSQL database (Stripe Billing semantics).",
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
        str,
        typer.Option(
            "--db",
            envvar="BILLING_DB",
            help="The ledger: an SQLite file (created on first write, mode 0600) or a "
            "postgresql://user@host/dbname URI (pip install 'billing-cli[postgres]').",
        ),
    ] = "billing.db",
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
    # Resolved on first use by `context()`, so `--help` works even with a bad BILLING_NOW.
    ctx.obj = _Pending(db=db, now=now or None)


@dataclass(frozen=True)
class _Pending:
    db: str
    now: str | None


def context(ctx: typer.Context) -> Context:
    """The root's Context (ledger path + the one clock reading) for any subcommand."""
    root_ctx = ctx.find_root()
    if isinstance(root_ctx.obj, _Pending):
        from billing_cli.api import Context
        from billing_cli.clock import resolve_now

        pending = root_ctx.obj
        root_ctx.obj = Context(db=pending.db, now=resolve_now(pending.now))
    return root_ctx.obj


def main() -> None:
    app()
