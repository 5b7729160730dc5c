"""`billing serve`: the ledger behind Stripe's HTTP API, for code that already uses Stripe's SDKs.

The HTTP stack (Starlette, uvicorn) is imported only here, inside the command, so no other
command pays for it at start-up.
"""

from __future__ import annotations

import os
import re
from typing import Annotated

import typer

from billing_cli.cli import context

serve_app = typer.Typer(add_completion=False)

_KEY_SPLIT = re.compile(r"[\s,]+")


def _keys(given: list[str] | None) -> tuple[str, ...]:
    keys = list(given or [])
    if not keys:
        keys = [k for k in _KEY_SPLIT.split(os.environ.get("BILLING_API_KEYS", "")) if k]
    from billing_cli.errors import InvalidInput

    for key in keys:
        if len(key) < 8 or not key.isascii() or not key.isprintable() or " " in key:
            raise InvalidInput(
                "an API key must be at least 8 printable ASCII characters without spaces",
                hint="e.g. --api-key sk_test_local_12345678",
            )
    return tuple(dict.fromkeys(keys))


def _require_http_stack() -> None:
    """The HTTP stack is the optional `serve` extra: without it, say which package is missing
    and how to install it (one error line, exit 2), rather than fail as an internal error."""
    from billing_cli.errors import UsageError

    needed = {"starlette": ("starlette",), "uvicorn": ("uvicorn",), "jinja2": ("jinja2",),
              "python-multipart": ("python_multipart", "multipart")}  # fmt: skip
    missing = [name for name, modules in needed.items() if not any(map(_importable, modules))]
    if missing:
        raise UsageError(
            f"billing serve needs the serve extra ({', '.join(missing)} not installed)",
            hint="pip install 'billing-cli[serve]'",
        )


def _importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


@serve_app.command(
    "serve",
    help="Serve Stripe's HTTP API (meters, meter events, the v2 meter event stream, products, "
    "prices, customers, subscriptions, invoices, credit grants) on this ledger, for code that "
    "uses Stripe's SDKs, and a read-only dashboard for people under /dashboard (sign in with "
    "an API key or the one-time link printed at start); until SIGTERM or Ctrl-C.",
)
def serve(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option(help="Interface to listen on (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="TCP port (0 picks a free one).")
    ] = 12111,
    api_key: Annotated[
        list[str] | None,
        typer.Option(
            "--api-key",
            help="A secret key clients send as 'Authorization: Bearer KEY' (repeatable; "
            "default: BILLING_API_KEYS, else one generated and printed on stderr).",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No access log on stderr.")] = False,
) -> None:
    """`billing serve`: bind, announce the URL (and a generated key), serve until a signal."""
    _require_http_stack()
    from billing_cli.api import ledger as ledger_api
    from billing_cli.http.server import ServeOptions
    from billing_cli.http.server import serve as run

    frozen = bool(ctx.find_root().params.get("now"))  # --now or BILLING_NOW freezes the clock
    c = context(ctx)
    keys = _keys(api_key)
    options = ServeOptions(
        db=c.db,
        host=host,
        port=port,
        api_keys=keys,
        frozen_now=c.now if frozen else None,
        quiet=quiet,
    )
    with ledger_api.held_open(c):
        code = run(options)
    raise typer.Exit(code)
