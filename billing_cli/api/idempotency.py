"""Idempotency keys as Stripe documents them, kept in the ledger.

The first request with a key stores its status and body; the same key with the same
parameters answers that stored response again (marked replayed), with other parameters it is
refused (`idempotency_error`); keys are forgotten after 24 hours. The record is written in the
same transaction as the change it answers, so a crash can never leave a change without its
record (a retry would then repeat the change) or a record without its change. A request whose
execution fails (say, an unknown id) stores its error like a success; `keep_error` tells which
failures are answers and which (invalid parameters, a ledger that cannot be written) are not.

Meter event identifiers keep their own, permanent de-duplication (SPEC 2.3) underneath.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from billing_cli.api.context import Context
from billing_cli.errors import IdempotencyMismatch
from billing_cli.storage.port import IdempotencyRecord

KEEP_SECONDS = 24 * 60 * 60

Rendered = tuple[int, str]  # HTTP status, response body


@dataclass(frozen=True)
class Outcome:
    status: int
    body: str
    replayed: bool


def run_once(
    ctx: Context,
    *,
    key: str,
    fingerprint: str,
    execute: Callable[[Context], Rendered],
    keep_error: Callable[[BaseException], Rendered | None],
) -> Outcome:
    """Run `execute` once per key: store its answer with the change, or replay the stored one."""
    now = ctx.now_ts
    with ctx.ledger(write=True) as led, led.write():
        led.prune_idempotency_keys(before=now - KEEP_SECONDS)
        stored = led.get_idempotency_key(key)
        if stored is not None:
            if stored.fingerprint != fingerprint:
                raise IdempotencyMismatch(
                    "Keys for idempotent requests can only be used with the same parameters "
                    f"they were first used with. Try using a key other than {key!r} if you "
                    "meant to execute a different request."
                )
            return Outcome(stored.status, stored.body, replayed=True)
        bound = ctx.bound(led)
        try:
            with led.savepoint():
                status, body = execute(bound)
        except Exception as exc:
            kept = keep_error(exc)
            if kept is None:
                raise
            status, body = kept
        led.put_idempotency_key(key, IdempotencyRecord(fingerprint, status, body, now))
    return Outcome(status, body, replayed=False)
