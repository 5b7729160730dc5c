"""Stripe's error envelope: one table from error class to HTTP status, `type` and `code`.

The HTTP server answers with it, and `billing --json` prints the same envelope on stdout, so
a script sees one error shape whichever face it talks to. Stripe's statuses: 400 for a bad
parameter (with the parameter in `param`), 404 `resource_missing`, 409 for a conflict with the
ledger's state, 500 `api_error` for a bug or a ledger that cannot be used.
"""

from __future__ import annotations

import re
from typing import Any

from billing_cli.errors import (
    BillingError,
    Conflict,
    IdempotencyMismatch,
    ImportRejected,
    InvalidInput,
    LedgerError,
    NotFound,
    UsageError,
)

# class → (HTTP status, Stripe `type`, default `code`); the first matching class wins.
_TABLE: tuple[tuple[type[BillingError], int, str, str | None], ...] = (
    (IdempotencyMismatch, 400, "idempotency_error", None),
    (NotFound, 404, "invalid_request_error", "resource_missing"),
    (Conflict, 409, "invalid_request_error", None),
    (UsageError, 400, "invalid_request_error", "parameter_invalid"),
    (InvalidInput, 400, "invalid_request_error", "parameter_invalid"),
    (ImportRejected, 400, "invalid_request_error", None),
    (LedgerError, 500, "api_error", None),
)

# an option as a message names it (`--unit-amount 1e3 is …`), not a quoted value ('--help')
_FLAG = re.compile(r"(?<![\w'\"-])--([a-z][a-z0-9-]*)")


def flag_param(message: str) -> str | None:
    """The first `--option` a CLI message names, as a parameter name (`--unit-amount` →
    `unit_amount`): the api layer names values by their CLI option."""
    match = _FLAG.search(message)
    return match[1].replace("-", "_") if match else None


def classify(exc: BaseException) -> tuple[int, str, str | None]:
    """(status, type, code) for any exception; anything that is not a BillingError is a bug."""
    if isinstance(exc, BillingError):
        for cls, status, kind, code in _TABLE:
            if isinstance(exc, cls):
                return status, kind, exc.code or code
        return 500, "api_error", exc.code
    return 500, "api_error", None


def error_envelope(
    exc: BaseException, *, message: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """`{"error": {"type", "code", "message", "param"}}` for `exc`; `message`/`param` override
    what the exception says (the HTTP face renames CLI options to Stripe's parameters)."""
    _, kind, code = classify(exc)
    if isinstance(exc, BillingError):
        text = message if message is not None else exc.message
        where = param if param is not None else (exc.param or flag_param(exc.message))
    else:
        text = f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())}"
        where = None
    return {"error": {"type": kind, "code": code, "message": text, "param": where}}
