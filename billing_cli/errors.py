"""User-facing errors. Each class carries the exit code of SPEC 5.2 so the CLI needs no table."""

from __future__ import annotations


class BillingError(Exception):
    """An error a user can cause; printed as one `error:` line (+ optional `hint:`)."""

    exit_code = 1
    # Stripe's error envelope (HTTP, and `--json` on the CLI): the parameter at fault and a
    # machine-readable code, when the raiser knows them.
    param: str | None = None
    code: str | None = None

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


class AmountOutOfRange(InvalidInput):
    """An invoice amount, quantity or balance that does not fit the ledger's signed 64-bit
    integers: refused where it is computed, so one absurd line never reaches SQLite (where it
    would abort a whole month-end close) and `invoice run` can refuse just its subscription."""


class Conflict(BillingError):
    exit_code = 5


class LedgerError(BillingError):
    exit_code = 6


class UnreadableRow(LedgerError):
    """A stored row holds a value the program never writes (edited outside billing)."""

    def __init__(self, table: str, key: str, cause: Exception) -> None:
        detail = " ".join(f"{type(cause).__name__}: {cause}".split())
        super().__init__(
            f"the ledger row {table} {key} holds a value billing never writes ({detail})",
            hint="it was edited outside billing: restore it from a backup (`billing ledger check`"
            " lists every such row)",
        )
        self.table, self.key = table, key


class ImportRejected(BillingError):
    """Raised after an import finished with rejected rows (the accepted rows are kept)."""

    exit_code = 7


class LateEventsStored(BillingError):
    """`--fail-on-late`: events were stored as late (SPEC 2.6), counted in no invoice until
    resolved; exit 7 like rejected rows, so a cron script notices."""

    exit_code = 7


class IdempotencyMismatch(BillingError):
    """An Idempotency-Key reused with other parameters (Stripe's `idempotency_error`)."""

    exit_code = 4
