"""User-facing errors. Each class carries the exit code of SPEC 5.2 so the CLI needs no table."""

from __future__ import annotations


class BillingError(Exception):
    """An error a user can cause; printed as one `error:` line (+ optional `hint:`)."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(BillingError):
    exit_code = 2


class NotFound(BillingError):
    exit_code = 3


class InvalidInput(BillingError):
    exit_code = 4


class Conflict(BillingError):
    exit_code = 5


class LedgerError(BillingError):
    exit_code = 6


class ImportRejected(BillingError):
    """Raised after an import finished with rejected rows (the accepted rows are kept)."""

    exit_code = 7
